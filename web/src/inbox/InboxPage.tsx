// The events inbox: newest first, filtered (state in the URL), pushed live over a WebSocket (SSE
// when the socket cannot be opened), virtualised so 10,000 events stay smooth, with the selected
// event's clip, actions, tags, ticket and notes beside the list, and keyboard triage (shortcuts.ts).
import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { useSearchParams } from "react-router-dom";
import { describeError, type EventRead } from "../api";
import { useCameraNames } from "../api/queries";
import { canOperate, useMe } from "../auth/useAuth";
import { EmptyState, ErrorState, Loading, ProblemMessage } from "../components/States";
import type { DetailHandle } from "./EventDetail";
import { EventList } from "./EventList";
import { FilterBar } from "./FilterBar";
import { readFilters, streamQuery, writeFilters, type InboxFilters } from "./filters";
import { ACTION_DONE, allowed, describeEvent, refusal, type Action } from "./format";
import { describeFeed } from "./liveFeed";
import { applyChange, flatten, inboxRoot, notesKey } from "./merge";
import { useEventAction, useEventDetail, useInboxEvents } from "./queries";
import { ShortcutHelp } from "./ShortcutHelp";
import { useShortcuts, type Command } from "./shortcuts";
import { useEventFeed } from "./useEventFeed";
import "./inbox.css";

const EventDetail = lazy(() => import("./EventDetail"));

/** How long a pushed event stays highlighted. */
export const FRESH_MS = 6_000;
const SELECTION_URL_MS = 300;

function useFilters(): [InboxFilters, (changes: Partial<Record<keyof InboxFilters | "event", string | undefined>>) => void, string | null] {
  const [params, setParams] = useSearchParams();
  const key = JSON.stringify(readFilters(params));
  const filters = useMemo(() => JSON.parse(key) as InboxFilters, [key]);
  const update = useCallback(
    (changes: Partial<Record<keyof InboxFilters | "event", string | undefined>>) =>
      setParams((current) => writeFilters(current, changes), { replace: true }),
    [setParams],
  );
  return [filters, update, params.get("event")];
}

export default function InboxPage() {
  const [filters, update, linked] = useFilters();
  const me = useMe();
  const operator = canOperate(me.data);
  const cameras = useCameraNames();
  const client = useQueryClient();
  const events = useInboxEvents(filters);
  const items = useMemo(() => flatten(events.data), [events.data]);
  const total = events.data?.pages[0]?.total ?? 0;
  const [selectedId, setSelectedId] = useState<string | null>(linked);
  const selectedIndex = items.findIndex((e) => e.eventId === selectedId);
  const listed = selectedIndex >= 0 ? items[selectedIndex] : undefined;
  const detail = useEventDetail(selectedId ?? undefined, listed);
  const current = detail.data ?? listed;
  const [announcement, setAnnouncement] = useState("");
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const [help, setHelp] = useState(false);
  const search = useRef<HTMLInputElement>(null);
  const detailRef = useRef<DetailHandle>(null);
  const act = useEventAction();

  const cameraName = useCallback((id: string) => cameras.data?.get(id)?.name ?? "Unknown camera", [cameras.data]);
  const cameraList = useMemo(() => [...(cameras.data?.values() ?? [])], [cameras.data]);
  // The selection is written to the URL (for links and reloads) once the keys stop: holding j
  // must not navigate per row.
  const urlWrite = useRef<number | undefined>(undefined);
  const select = useCallback(
    (id: string) => {
      setSelectedId(id);
      window.clearTimeout(urlWrite.current);
      urlWrite.current = window.setTimeout(() => update({ event: id }), SELECTION_URL_MS);
    },
    [update],
  );
  useEffect(() => () => window.clearTimeout(urlWrite.current), []);
  const changeFilters = (changes: Partial<Record<keyof InboxFilters, string | undefined>>) => {
    window.clearTimeout(urlWrite.current);
    setSelectedId(null); // the new list opens on its first event
    update({ ...changes, event: undefined });
  };

  // With nothing chosen, the first event is selected (and stays selected when newer ones arrive above it).
  useEffect(() => {
    if (!selectedId && items[0]) setSelectedId(items[0].eventId);
  }, [selectedId, items]);

  const feed = useEventFeed(streamQuery(filters), {
    onEvent: (event) => {
      const addedTo = applyChange(client, event);
      void client.invalidateQueries({ queryKey: notesKey(event.eventId), refetchType: "active" });
      if (!addedTo.some((f) => JSON.stringify(f) === JSON.stringify(filters))) return;
      setFresh((s) => new Set(s).add(event.eventId));
      window.setTimeout(
        () =>
          setFresh((s) => {
            const next = new Set(s);
            next.delete(event.eventId);
            return next;
          }),
        FRESH_MS,
      );
      setAnnouncement(`New ${event.priority.toLowerCase()} event: ${describeEvent(event, cameraName(event.cameraId))}`);
    },
    // Connected without a cursor: changes made before this moment may be missing from the list.
    onFresh: () => void client.invalidateQueries({ queryKey: inboxRoot }),
  });

  const runAction = (event: EventRead, action: Action) => {
    const label = describeEvent(event, cameraName(event.cameraId));
    if (!allowed(action, event.status)) {
      setAnnouncement(refusal(action, event.status));
      return;
    }
    act.mutate(
      { event, action },
      {
        onSuccess: () => setAnnouncement(`${ACTION_DONE[action]}: ${label}`),
        onError: (error) => setAnnouncement(`Not ${ACTION_DONE[action].toLowerCase()}: ${describeError(error).title}`),
      },
    );
  };

  useShortcuts((command: Command) => {
    const move = (by: number) => {
      const next = items[Math.min(Math.max((selectedIndex < 0 ? -1 : selectedIndex) + by, 0), items.length - 1)];
      if (next) select(next.eventId);
    };
    switch (command) {
      case "next":
        return move(1);
      case "previous":
        return move(selectedIndex < 0 ? 1 : -1);
      case "acknowledge":
      case "resolve":
      case "false_positive":
        if (!operator || !current) return false;
        return runAction(current, command);
      case "note":
        return operator && Boolean(detailRef.current?.focusNote());
      case "ticket":
        return operator && Boolean(detailRef.current?.openTicket());
      case "play":
        return Boolean(detailRef.current?.togglePlay());
      case "search":
        search.current?.focus();
        return;
      case "help":
        setHelp(true);
        return;
    }
  }, !help);

  const list = events.isPending ? (
    <Loading label="Loading events…" />
  ) : events.isError ? (
    <ErrorState error={events.error} onRetry={() => void events.refetch()} />
  ) : items.length === 0 ? (
    <EmptyState title={filters.status === "NEW" && Object.keys(filters).length === 1 ? "No new events — all caught up" : "No events match these filters"}>
      <p>
        {filters.status === "NEW"
          ? "New AI events from your cameras appear here by themselves, within a second. Choose “Any” status to see handled ones."
          : "Widen the period or clear a filter. Matching events that arrive appear here by themselves."}
      </p>
    </EmptyState>
  ) : (
    <EventList
      items={items}
      total={total}
      filters={filters}
      selectedId={selectedId ?? undefined}
      onSelect={select}
      cameraName={cameraName}
      fresh={fresh}
      onAction={operator ? runAction : undefined}
      hasMore={events.hasNextPage}
      loadingMore={events.isFetchingNextPage}
      onLoadMore={() => void events.fetchNextPage()}
    />
  );

  return (
    <section aria-labelledby="inbox-title" className="inbox">
      <div className="page-head inbox-head">
        <h1 id="inbox-title">Events</h1>
        {events.data && (
          <span className="muted" data-testid="event-total">
            {total.toLocaleString()} {total === 1 ? "event" : "events"}
          </span>
        )}
        <p className={`live-indicator live-${feed.phase}`} data-testid="live-indicator" title={feed.note || `Transport: ${feed.transport === "ws" ? "WebSocket" : "Server-Sent Events"}`}>
          <span className="live-dot" aria-hidden="true" />
          {describeFeed(feed)}
          {feed.phase === "waiting" && (
            <button type="button" className="link" onClick={feed.reconnectNow}>
              Reconnect now
            </button>
          )}
          {feed.phase === "stopped" && <span className="muted"> — {feed.note}</span>}
        </p>
        <p className="help" id="inbox-keys">
          <kbd>j</kbd>/<kbd>k</kbd> move
          {operator && (
            <>
              , <kbd>a</kbd> acknowledge, <kbd>r</kbd> resolve, <kbd>f</kbd> false positive
            </>
          )}
          ,{" "}
          <button type="button" className="link" onClick={() => setHelp(true)}>
            <kbd>?</kbd> all shortcuts
          </button>
        </p>
      </div>
      <FilterBar ref={search} filters={filters} cameras={cameraList} onChange={changeFilters} />
      <p className="sr-only" role="status" aria-live="polite" data-testid="announcement">
        {announcement}
      </p>
      {act.isError && <ProblemMessage error={act.error} />}
      <div className="inbox-body">
        <div className="inbox-list">{list}</div>
        <div className="inbox-detail">
          {current ? (
            <Suspense fallback={<Loading label="Loading the event…" />}>
              <EventDetail
                ref={detailRef}
                event={current}
                cameraName={cameraName(current.cameraId)}
                operator={operator}
                onAction={runAction}
                announce={setAnnouncement}
              />
            </Suspense>
          ) : detail.isError ? (
            <ErrorState error={detail.error} onRetry={() => void detail.refetch()} />
          ) : (
            items.length > 0 && <p className="muted">Select an event to see its clip and details.</p>
          )}
        </div>
      </div>
      {help && <ShortcutHelp operator={operator} onClose={() => setHelp(false)} />}
    </section>
  );
}
