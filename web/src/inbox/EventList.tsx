// The event list, virtualised: only the rows in view (plus a few either side) are in the DOM, so
// 10,000 events scroll as smoothly as 10. Rows have one fixed height, which keeps the list's
// geometry arithmetic (no measuring). Rows inserted above the view (live pushes) do not move what
// the operator is looking at; reaching the end loads the next page.
import { memo, useCallback, useEffect, useLayoutEffect, useRef } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import type { EventRead } from "../api";
import { matches, type InboxFilters } from "./filters";
import { ACTION_LABEL, allowed, describeEvent, percent, shortWhen, statusLabel, tagsOf, typeLabel, when, type Action } from "./format";

export const ROW_HEIGHT = 56;
const OVERSCAN = 6;
/** Start loading the next page this many rows before the end. */
const PREFETCH_ROWS = 40;

export interface EventListProps {
  items: EventRead[];
  total: number;
  filters: InboxFilters;
  selectedId: string | undefined;
  onSelect: (id: string) => void;
  cameraName: (id: string) => string;
  /** Events pushed in just now, highlighted for a few seconds. */
  fresh: ReadonlySet<string>;
  /** Admins and Supervisors get row buttons. */
  onAction?: (event: EventRead, action: Action) => void;
  hasMore?: boolean;
  loadingMore?: boolean;
  onLoadMore?: () => void;
}

const ROW_ACTIONS: Action[] = ["acknowledge", "resolve", "false_positive"];

export function EventList(props: EventListProps) {
  const { items, total, filters, selectedId, cameraName, fresh, hasMore, loadingMore, onLoadMore } = props;
  // Stable callbacks, so a row re-renders only when its own event, selection or highlight changes.
  const latest = useRef(props);
  latest.current = props;
  const select = useCallback((id: string) => latest.current.onSelect(id), []);
  const act = useCallback((ev: EventRead, a: Action) => latest.current.onAction?.(ev, a), []);
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: items.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: OVERSCAN,
    getItemKey: (i) => items[i]!.eventId,
  });
  const rows = virtualizer.getVirtualItems();
  const now = Date.now();

  // Keep the row at the top of the view in place when events arrive above it.
  const anchor = useRef<{ id: string; index: number } | null>(null);
  useLayoutEffect(() => {
    const el = scroller.current;
    const previous = anchor.current;
    if (el && previous && el.scrollTop > 0) {
      const index = items.findIndex((e) => e.eventId === previous.id);
      if (index >= 0 && index !== previous.index) el.scrollTop += (index - previous.index) * ROW_HEIGHT;
    }
    const top = el ? Math.floor(el.scrollTop / ROW_HEIGHT) : 0;
    anchor.current = items[top] ? { id: items[top]!.eventId, index: top } : null;
  }, [items]);

  // Keyboard moves (j/k) keep the selected row in view.
  const selectedIndex = items.findIndex((e) => e.eventId === selectedId);
  useEffect(() => {
    if (selectedIndex >= 0) virtualizer.scrollToIndex(selectedIndex, { align: "auto" });
  }, [selectedId]); // only when the selection changes, not when rows arrive above it

  const last = rows.at(-1)?.index ?? -1;
  useEffect(() => {
    if (hasMore && !loadingMore && last >= items.length - PREFETCH_ROWS) onLoadMore?.();
  }, [hasMore, loadingMore, last, items.length, onLoadMore]);

  return (
    <div
      ref={scroller}
      className="inbox-scroller"
      onScroll={() => {
        const el = scroller.current!;
        const top = Math.floor(el.scrollTop / ROW_HEIGHT);
        anchor.current = items[top] ? { id: items[top]!.eventId, index: top } : null;
      }}
    >
      <ul
        className="event-list"
        aria-label={`Events, ${total.toLocaleString()} in all`}
        aria-describedby="inbox-keys"
        style={{ height: virtualizer.getTotalSize() }}
      >
        {rows.map((row) => {
          const ev = items[row.index]!;
          return (
            <Row
              key={row.key}
              ev={ev}
              position={row.index + 1}
              start={row.start}
              total={total}
              selected={ev.eventId === selectedId}
              fresh={fresh.has(ev.eventId)}
              handled={!matches(ev, filters, now)}
              camera={cameraName(ev.cameraId)}
              onSelect={select}
              onAction={props.onAction ? act : undefined}
            />
          );
        })}
      </ul>
      {loadingMore && <p className="state state-loading">Loading more events…</p>}
    </div>
  );
}

interface RowProps {
  ev: EventRead;
  position: number;
  start: number;
  total: number;
  selected: boolean;
  fresh: boolean;
  /** No longer matches the filters: dimmed, leaves at the next reload. */
  handled: boolean;
  camera: string;
  onSelect: (id: string) => void;
  onAction?: (event: EventRead, action: Action) => void;
}

const Row = memo(function Row({ ev, position, start, total, selected, fresh, handled, camera, onSelect, onAction }: RowProps) {
  const classes = ["event"];
  if (selected) classes.push("selected");
  if (fresh) classes.push("fresh");
  if (handled) classes.push("handled");
  return (
    <li
      className={classes.join(" ")}
      style={{ transform: `translateY(${start}px)`, height: ROW_HEIGHT }}
      aria-current={selected ? "true" : undefined}
      aria-setsize={total}
      aria-posinset={position}
      data-testid="event-row"
      data-event-id={ev.eventId}
      onClick={() => onSelect(ev.eventId)}
    >
      <span className={`badge badge-priority-${ev.priority.toLowerCase()}`}>{ev.priority}</span>
      <span className="event-what">
        <span className="event-type">{typeLabel(ev.eventType)}</span>
        <span className="event-sub">
          <span className="event-camera">{camera}</span>
          {ev.ticketId && (
            <span className="tag-chip tag-chip-ticket" title="Escalated to a ticket">
              ticket
            </span>
          )}
          {tagsOf(ev)
            .slice(0, 3)
            .map((t) => (
              <span key={t} className="tag-chip">
                {t}
              </span>
            ))}
        </span>
      </span>
      <span className="event-when">
        <time dateTime={ev.timestamp} title={when(ev.timestamp)}>
          {shortWhen(ev.timestamp)}
        </time>
        <span className="event-conf" title="Confidence">
          {percent(ev.confidence)}
        </span>
      </span>
      <span className={`badge badge-status-${ev.status.toLowerCase()}`} data-testid="event-status">
        {statusLabel(ev.status)}
      </span>
      {onAction && (
        <span className="event-actions">
          {ROW_ACTIONS.map((a) => (
            <button
              key={a}
              type="button"
              disabled={!allowed(a, ev.status)}
              onClick={(e) => {
                e.stopPropagation();
                onSelect(ev.eventId);
                onAction(ev, a);
              }}
              aria-label={`${ACTION_LABEL[a]}: ${describeEvent(ev, camera)}`}
              title={ACTION_LABEL[a]}
            >
              {a === "acknowledge" ? "Ack" : a === "resolve" ? "Resolve" : "False"}
            </button>
          ))}
        </span>
      )}
    </li>
  );
});
