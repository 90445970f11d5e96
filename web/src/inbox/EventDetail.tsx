// The selected event: clip, actions, what was seen (with the box on the snapshot), tags, ticket and
// notes. Loaded on demand (its own chunk) — the list comes first.
import { forwardRef, useImperativeHandle, useRef } from "react";
import { Link } from "react-router-dom";
import type { EventRead } from "../api";
import { ClipPlayer } from "./ClipPlayer";
import { ACTION_LABEL, allowed, describeEvent, percent, statusLabel, typeLabel, when, type Action } from "./format";
import { NotesThread } from "./NotesThread";
import { Snapshot } from "./Snapshot";
import { TagEditor } from "./TagEditor";
import { TicketPanel, type TicketPanelHandle } from "./TicketPanel";

export interface DetailHandle {
  focusNote(): boolean;
  openTicket(): boolean;
  togglePlay(): boolean;
}

export interface EventDetailProps {
  event: EventRead;
  cameraName: string;
  operator: boolean;
  onAction: (event: EventRead, action: Action) => void;
  announce: (message: string) => void;
}

const KEY: Partial<Record<Action, string>> = { acknowledge: "a", resolve: "r", false_positive: "f" };

export default forwardRef<DetailHandle, EventDetailProps>(function EventDetail(
  { event, cameraName, operator, onAction, announce },
  ref,
) {
  const video = useRef<HTMLVideoElement>(null);
  const note = useRef<HTMLTextAreaElement>(null);
  const ticket = useRef<TicketPanelHandle>(null);
  const label = describeEvent(event, cameraName);
  useImperativeHandle(ref, () => ({
    focusNote: () => {
      note.current?.focus();
      return Boolean(note.current);
    },
    openTicket: () => {
      ticket.current?.open();
      return Boolean(ticket.current);
    },
    togglePlay: () => {
      const v = video.current;
      if (!v) return false;
      if (v.paused) void v.play().catch(() => announce("The clip could not be played"));
      else v.pause();
      return true;
    },
  }));
  const trail = event.linkedEventIds?.length ?? 0;

  return (
    <article className="event-detail" aria-labelledby="detail-title" data-testid="event-detail">
      <header className="detail-head">
        <h2 id="detail-title">
          <span className="event-type">{typeLabel(event.eventType)}</span> at {cameraName}
        </h2>
        <span className={`badge badge-priority-${event.priority.toLowerCase()}`}>{event.priority}</span>{" "}
        <span className={`badge badge-status-${event.status.toLowerCase()}`} data-testid="detail-status">
          {statusLabel(event.status)}
        </span>
      </header>

      <ClipPlayer ref={video} event={event} label={label} />

      {operator && (
        <div className="detail-actions" role="group" aria-label="Actions">
          {(["acknowledge", "resolve", "false_positive", "reopen"] as const)
            .filter((a) => a !== "reopen" || allowed("reopen", event.status))
            .map((a) => (
              <button
                key={a}
                type="button"
                className={a === "acknowledge" ? "primary" : undefined}
                disabled={!allowed(a, event.status)}
                onClick={() => onAction(event, a)}
              >
                {ACTION_LABEL[a]}
                {KEY[a] && <kbd>{KEY[a]}</kbd>}
              </button>
            ))}
        </div>
      )}

      <dl className="facts">
        <dt>Time</dt>
        <dd>
          <time dateTime={event.timestamp}>{when(event.timestamp)}</time>
          {event.endedAt && <> – {new Date(event.endedAt).toLocaleTimeString()}</>}
        </dd>
        <dt>Camera</dt>
        <dd>{cameraName}</dd>
        <dt>Seen</dt>
        <dd>
          {event.detectionMetadata.objectClass}, {percent(event.confidence)} confidence, {event.detections} detection
          {event.detections === 1 ? "" : "s"}
        </dd>
        <dt>Model</dt>
        <dd>
          {typeLabel(event.eventType)} v{event.modelVersion} · track {event.detectionMetadata.trackingId}
        </dd>
        {event.correlationId && (
          <>
            <dt>Trail</dt>
            <dd>
              <Link to={`/events?status=&correlation=${event.correlationId}&event=${event.eventId}`}>
                Seen on {trail + 1} cameras — show the trail
              </Link>
            </dd>
          </>
        )}
      </dl>

      <Snapshot event={event} label={label} />
      <TagEditor event={event} editable={operator} announce={announce} />
      <TicketPanel ref={ticket} event={event} editable={operator} announce={announce} />
      <NotesThread ref={note} eventId={event.eventId} editable={operator} announce={announce} />
    </article>
  );
});
