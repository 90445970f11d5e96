// The events inbox: newest first, filtered and paged, refreshed by polling (a websocket push
// replaces the polling once the API has one). Keyboard triage: j/k or arrows move, a acknowledges,
// r resolves, f marks a false positive.
import { useEffect, useMemo, useState } from "react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSearchParams } from "react-router-dom";
import { api, describeError, unwrap, type EventRead, type EventStatus, type Schemas } from "../api";
import { keys, useCameraNames } from "../api/queries";
import { canOperate, useMe } from "../auth/useAuth";
import { EmptyState, ErrorState, Loading } from "../components/States";
import { Pager } from "../components/Pager";

export const PAGE = 50;
export const POLL_MS = 5_000;
type Action = "acknowledge" | "resolve" | "false_positive" | "reopen";
const STATUSES: EventStatus[] = ["NEW", "ACKNOWLEDGED", "RESOLVED", "FALSE_POSITIVE"];
const PRIORITIES: Schemas["Priority"][] = ["CRITICAL", "HIGH", "MEDIUM", "STANDARD"];
const TYPES: Schemas["AiModel"][] = [
  "intrusion",
  "motion",
  "tampering",
  "fire_smoke",
  "crowd",
  "missing_object",
  "abnormal_behavior",
  "fallen",
  "tailgating",
  "anpr",
];
const PERIODS: Record<string, number> = { "1h": 3600, "24h": 86400, "7d": 7 * 86400 };
const SHORTCUTS: Record<string, Action> = { a: "acknowledge", r: "resolve", f: "false_positive" };
const ACTION_DONE: Record<Action, string> = {
  acknowledge: "Acknowledged",
  resolve: "Resolved",
  false_positive: "Marked as false positive",
  reopen: "Reopened",
};

function allowed(action: Action, status: EventStatus): boolean {
  if (action === "reopen") return status === "RESOLVED" || status === "FALSE_POSITIVE";
  if (action === "acknowledge") return status === "NEW";
  return status === "NEW" || status === "ACKNOWLEDGED";
}

export default function InboxPage() {
  const [params, setParams] = useSearchParams();
  const status = params.has("status") ? (params.get("status") as EventStatus) || undefined : "NEW";
  const priority = (params.get("priority") as Schemas["Priority"] | null) || undefined;
  const eventType = (params.get("type") as Schemas["AiModel"] | null) || undefined;
  const period = params.get("period") ?? "";
  const offset = Number(params.get("offset") ?? 0) || 0;
  const me = useMe();
  const operator = canOperate(me.data);
  const cameras = useCameraNames();
  const client = useQueryClient();
  const [selected, setSelected] = useState(0);
  const [announcement, setAnnouncement] = useState("");

  const update = (changes: Record<string, string | undefined>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) next.set(k, v ?? "");
    if (!("offset" in changes)) next.delete("offset");
    setParams(next, { replace: true });
    setSelected(0);
  };

  const events = useQuery({
    queryKey: [...keys.events, "inbox", { status, priority, eventType, period, offset }],
    queryFn: async () => {
      const seconds = PERIODS[period];
      const since = seconds ? new Date(Date.now() - seconds * 1000).toISOString() : undefined;
      return unwrap(
        await api.GET("/api/v1/events", {
          params: { query: { status, priority, event_type: eventType, since, limit: PAGE, offset } },
        }),
      );
    },
    placeholderData: keepPreviousData,
    refetchInterval: POLL_MS,
  });
  const items = useMemo(() => events.data?.items ?? [], [events.data]);
  const current = items[Math.min(selected, items.length - 1)];

  const act = useMutation({
    mutationFn: async ({ event, action }: { event: EventRead; action: Action }) =>
      unwrap(
        await api.POST("/api/v1/events/{event_id}/actions", {
          params: { path: { event_id: event.eventId } },
          body: { action },
        }),
      ),
    onSuccess: (event, { action }) => {
      setAnnouncement(`${ACTION_DONE[action]}: ${event.eventType.replace("_", " ")} event`);
      void client.invalidateQueries({ queryKey: keys.events });
    },
    onError: (error) => setAnnouncement(describeError(error).title),
  });

  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      const target = e.target as HTMLElement | null;
      if (target && /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) return; // typing in a filter is not a command
      if (e.key === "j" || e.key === "ArrowDown") {
        setSelected((s) => Math.min(s + 1, Math.max(items.length - 1, 0)));
        e.preventDefault();
      } else if (e.key === "k" || e.key === "ArrowUp") {
        setSelected((s) => Math.max(s - 1, 0));
        e.preventDefault();
      } else if (SHORTCUTS[e.key] && current && operator && !act.isPending) {
        const action = SHORTCUTS[e.key]!;
        if (allowed(action, current.status)) act.mutate({ event: current, action });
        e.preventDefault();
      }
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [items, current, operator, act]);

  useEffect(() => {
    if (selected > 0 && selected >= items.length) setSelected(Math.max(items.length - 1, 0));
  }, [items.length, selected]);

  const cameraName = (id: string) => cameras.data?.get(id)?.name ?? "Unknown camera";

  return (
    <section aria-labelledby="inbox-title" className="inbox">
      <div className="page-head">
        <h1 id="inbox-title">Events</h1>
        <p className="help" id="inbox-keys">
          Keys: <kbd>j</kbd>/<kbd>k</kbd> move{operator && (
            <>
              , <kbd>a</kbd> acknowledge, <kbd>r</kbd> resolve, <kbd>f</kbd> false positive
            </>
          )}
          . Updates every {POLL_MS / 1000} s.
        </p>
      </div>
      <form className="filters" role="search" aria-label="Event filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select value={status ?? ""} onChange={(e) => update({ status: e.target.value })}>
            <option value="">Any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.replace("_", " ").toLowerCase()}
              </option>
            ))}
          </select>
        </label>
        <label>
          Priority
          <select value={priority ?? ""} onChange={(e) => update({ priority: e.target.value })}>
            <option value="">Any</option>
            {PRIORITIES.map((p) => (
              <option key={p} value={p}>
                {p.toLowerCase()}
              </option>
            ))}
          </select>
        </label>
        <label>
          Type
          <select value={eventType ?? ""} onChange={(e) => update({ type: e.target.value })}>
            <option value="">Any</option>
            {TYPES.map((t) => (
              <option key={t} value={t}>
                {t.replace("_", " ")}
              </option>
            ))}
          </select>
        </label>
        <label>
          Period
          <select value={period} onChange={(e) => update({ period: e.target.value })}>
            <option value="">All time</option>
            <option value="1h">Last hour</option>
            <option value="24h">Last 24 hours</option>
            <option value="7d">Last 7 days</option>
          </select>
        </label>
      </form>
      <p className="sr-only" role="status" aria-live="polite">
        {announcement}
      </p>
      {act.isError && <ErrorState error={act.error} />}
      {events.isPending ? (
        <Loading label="Loading events…" />
      ) : events.isError ? (
        <ErrorState error={events.error} onRetry={() => void events.refetch()} />
      ) : items.length === 0 ? (
        <EmptyState title={status === "NEW" ? "No new events — all caught up" : "No events match these filters"}>
          <p>
            {status === "NEW"
              ? "New AI events from your cameras appear here within seconds. Choose “Any” status to see handled ones."
              : "Widen the period or clear a filter."}
          </p>
        </EmptyState>
      ) : (
        <>
          <ul className="event-list" aria-label="Events" aria-describedby="inbox-keys">
            {items.map((ev, i) => (
              <li
                key={ev.eventId}
                className={i === selected ? "event selected" : "event"}
                aria-current={i === selected ? "true" : undefined}
                data-testid="event-row"
                onClick={() => setSelected(i)}
              >
                <span className={`badge badge-priority-${ev.priority.toLowerCase()}`}>{ev.priority}</span>
                <span className="event-type">{ev.eventType.replace("_", " ")}</span>
                <span className="event-camera">{cameraName(ev.cameraId)}</span>
                <time dateTime={ev.timestamp}>{new Date(ev.timestamp).toLocaleString()}</time>
                <span className="event-conf">{Math.round(ev.confidence * 100)}%</span>
                <span className={`badge badge-status-${ev.status.toLowerCase()}`} data-testid="event-status">
                  {ev.status.replace("_", " ").toLowerCase()}
                </span>
                {operator && (
                  <span className="event-actions">
                    {(["acknowledge", "resolve", "false_positive"] as const).map((a) => (
                      <button
                        key={a}
                        type="button"
                        disabled={!allowed(a, ev.status) || act.isPending}
                        onClick={(e) => {
                          e.stopPropagation();
                          setSelected(i);
                          act.mutate({ event: ev, action: a });
                        }}
                        aria-label={`${a === "false_positive" ? "False positive" : a[0]!.toUpperCase() + a.slice(1)}: ${ev.eventType.replace("_", " ")} at ${cameraName(ev.cameraId)}`}
                      >
                        {a === "acknowledge" ? "Acknowledge" : a === "resolve" ? "Resolve" : "False positive"}
                      </button>
                    ))}
                  </span>
                )}
              </li>
            ))}
          </ul>
          <Pager
            offset={offset}
            total={events.data.total}
            shown={items.length}
            size={PAGE}
            onPage={(o) => update({ offset: String(o) })}
          />
        </>
      )}
    </section>
  );
}
