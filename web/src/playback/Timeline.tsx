// The playback timeline: one row per camera with its recorded ranges, gaps and event markers on a
// shared time axis. Click or drag to scrub (the video plays from where the pointer is let go); as a
// slider it answers the arrow keys (10 s, Shift 1 min), Page Up/Down (a tenth of the window), Home
// and End, and Enter plays from the cursor. Event markers show the recording's thumbnail on hover or
// focus and play from the event when chosen.
import { useEffect, useRef, useState, type KeyboardEvent, type PointerEvent } from "react";
import type { Schemas } from "../api";
import { formatDuration, formatTick, formatTime, fractionOf, spanBox, ticks, timeAt, type TimeWindow } from "./timeline";

export type TimelineRead = Schemas["TimelineRead"];
type TimelineEvent = Schemas["TimelineEvent"];

const KEY_STEP_MS = 10_000;
const SEEK_DEBOUNCE_MS = 400;

export interface TimelineProps {
  window: TimeWindow;
  rows: { name: string; line: TimelineRead }[];
  /** Where the video is (wall clock), moving as it plays; null before playback. */
  playhead: number | null;
  onSeek(at: number): void;
}

export function Timeline({ window: w, rows, playhead, onSeek }: TimelineProps) {
  const trackRef = useRef<HTMLDivElement>(null);
  const [cursor, setCursor] = useState<number | null>(null);
  const [dragging, setDragging] = useState(false);
  const debounce = useRef<ReturnType<typeof setTimeout>>();
  useEffect(() => () => clearTimeout(debounce.current), []);

  const at = (e: PointerEvent) => {
    const box = trackRef.current!.getBoundingClientRect();
    return timeAt(box.width ? (e.clientX - box.left) / box.width : 0, w);
  };
  const shown = cursor ?? playhead ?? w.start;

  const onPointerDown = (e: PointerEvent<HTMLDivElement>) => {
    if (e.button !== 0) return;
    trackRef.current?.setPointerCapture?.(e.pointerId);
    setDragging(true);
    setCursor(at(e));
  };
  const onPointerMove = (e: PointerEvent<HTMLDivElement>) => dragging && setCursor(at(e));
  const onPointerUp = (e: PointerEvent<HTMLDivElement>) => {
    if (!dragging) return;
    setDragging(false);
    const t = at(e);
    setCursor(null);
    onSeek(t);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const span = w.end - w.start;
    const step = e.shiftKey ? 60_000 : KEY_STEP_MS;
    const moves: Record<string, number> = {
      ArrowRight: step,
      ArrowUp: step,
      ArrowLeft: -step,
      ArrowDown: -step,
      PageUp: span / 10,
      PageDown: -span / 10,
    };
    let next: number | null = null;
    if (e.key in moves) next = shown + moves[e.key]!;
    else if (e.key === "Home") next = w.start;
    else if (e.key === "End") next = w.end;
    else if (e.key === "Enter") {
      clearTimeout(debounce.current);
      onSeek(shown);
      setCursor(null);
      e.preventDefault();
      return;
    }
    if (next === null) return;
    e.preventDefault();
    const t = Math.min(w.end, Math.max(w.start, next));
    setCursor(t);
    clearTimeout(debounce.current);
    debounce.current = setTimeout(() => {
      onSeek(t);
      setCursor(null);
    }, SEEK_DEBOUNCE_MS);
  };

  return (
    <div className="timeline">
      <div className="timeline-labels" aria-hidden="true">
        <span className="timeline-axis-label" />
        {rows.map((r) => (
          <span key={r.line.camera_id} className="timeline-label" title={r.name}>
            {r.name}
          </span>
        ))}
      </div>
      <div
        ref={trackRef}
        className="timeline-track"
        role="slider"
        tabIndex={0}
        aria-label="Timeline: choose the moment to play"
        aria-valuemin={Math.floor(w.start / 1000)}
        aria-valuemax={Math.floor(w.end / 1000)}
        aria-valuenow={Math.floor(shown / 1000)}
        aria-valuetext={formatTime(shown)}
        aria-describedby="timeline-help"
        data-testid="timeline"
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onPointerCancel={() => {
          setDragging(false);
          setCursor(null);
        }}
        onKeyDown={onKeyDown}
      >
        <div className="timeline-axis">
          {ticks(w).map((t) => (
            <span key={t} className="timeline-tick" style={{ left: `${fractionOf(t, w) * 100}%` }}>
              {formatTick(t, w)}
            </span>
          ))}
        </div>
        {rows.map(({ name, line }) => (
          <div key={line.camera_id} className="timeline-row" data-testid="timeline-row" aria-label={`${name} recordings`}>
            {line.gaps.map((g) => {
              const box = spanBox(g, w);
              return box && <span key={`g${g.start}`} className="timeline-gap" data-testid="timeline-gap" style={{ left: `${box.left}%`, width: `${box.width}%` }} />;
            })}
            {line.ranges.map((r) => {
              const box = spanBox(r, w);
              return (
                box && (
                  <span
                    key={`r${r.start}`}
                    className="timeline-range"
                    data-testid="timeline-range"
                    title={`Recorded ${formatTime(Date.parse(r.start))} – ${formatTime(Date.parse(r.end))} (${formatDuration(r.seconds)})`}
                    style={{ left: `${box.left}%`, width: `${box.width}%` }}
                  />
                )
              );
            })}
            {line.events.map((ev) => (
              <EventMarker key={ev.id} event={ev} camera={name} left={fractionOf(Date.parse(ev.at), w) * 100} onPlay={onSeek} />
            ))}
          </div>
        ))}
        {playhead !== null && (
          <span className="timeline-playhead" data-testid="timeline-playhead" style={{ left: `${fractionOf(playhead, w) * 100}%` }} />
        )}
        {cursor !== null && <span className="timeline-cursor" style={{ left: `${fractionOf(cursor, w) * 100}%` }} />}
      </div>
      <p id="timeline-help" className="help timeline-help">
        <span className="legend legend-range" /> recorded <span className="legend legend-gap" /> gap{" "}
        <span className="legend legend-event" /> event · Click or drag to play from a moment; keys: <kbd>←</kbd>/
        <kbd>→</kbd> 10 s (<kbd>Shift</kbd> 1 min), <kbd>PgUp</kbd>/<kbd>PgDn</kbd>, <kbd>Home</kbd>/<kbd>End</kbd>,{" "}
        <kbd>Enter</kbd> plays from the cursor. At {formatTime(shown)}.
      </p>
    </div>
  );
}

function EventMarker({ event, camera, left, onPlay }: { event: TimelineEvent; camera: string; left: number; onPlay(at: number): void }) {
  const [open, setOpen] = useState(false);
  const at = Date.parse(event.at);
  const what = `${event.event_type.replace("_", " ")} (${event.priority.toLowerCase()}, ${event.status.replace("_", " ").toLowerCase()})`;
  return (
    <span className="timeline-event-wrap" style={{ left: `${left}%` }}>
      <button
        type="button"
        className={`timeline-event timeline-event-${event.priority.toLowerCase()}`}
        data-testid="timeline-event"
        aria-label={`Play ${what} at ${camera}, ${formatTime(at)}`}
        onPointerDown={(e) => e.stopPropagation()}
        onClick={() => onPlay(at)}
        onMouseEnter={() => setOpen(true)}
        onMouseLeave={() => setOpen(false)}
        onFocus={() => setOpen(true)}
        onBlur={() => setOpen(false)}
        onKeyDown={(e) => e.stopPropagation()}
      />
      {open && (
        <span className="timeline-popover" role="tooltip">
          {event.thumbnail_url ? (
            <img src={event.thumbnail_url} alt={`Recording at ${formatTime(at)}`} width={160} />
          ) : (
            <span className="muted">No recording at this moment</span>
          )}
          <span className="timeline-popover-text">
            {what}
            <br />
            {formatTime(at)}
          </span>
        </span>
      )}
    </span>
  );
}
