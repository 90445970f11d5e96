// Escalation: an event becomes a ticket (built in, ServiceNow or Jira, as the customer configured).
// Once escalated the panel shows the ticket — the tracker's key and link when it has been delivered.
import { forwardRef, useImperativeHandle, useRef, useState } from "react";
import type { EventRead } from "../api";
import { ProblemMessage } from "../components/States";
import { PRIORITIES } from "./format";
import { useEscalate, useTicket } from "./queries";

export interface TicketPanelHandle {
  open(): void;
}

export const TicketPanel = forwardRef<TicketPanelHandle, { event: EventRead; editable: boolean; announce: (m: string) => void }>(
  function TicketPanel({ event, editable, announce }, ref) {
    const ticket = useTicket(event.ticketId);
    const escalate = useEscalate(event);
    const [open, setOpen] = useState(false);
    const [description, setDescription] = useState("");
    const [assignee, setAssignee] = useState("");
    const [priority, setPriority] = useState(event.priority);
    const first = useRef<HTMLTextAreaElement>(null);
    useImperativeHandle(ref, () => ({
      open: () => {
        if (event.ticketId || !editable) return;
        setOpen(true);
        window.setTimeout(() => first.current?.focus(), 0);
      },
    }));

    if (event.ticketId) {
      const t = ticket.data;
      const name = t?.external_key ?? `#${event.ticketId.slice(0, 8)}`;
      return (
        <section className="ticket" aria-labelledby="ticket-title" data-testid="ticket">
          <h3 id="ticket-title">Ticket</h3>
          <p>
            {t?.external_url ? (
              <a href={t.external_url} target="_blank" rel="noreferrer">
                {name}
              </a>
            ) : (
              <strong title={event.ticketId}>{name}</strong>
            )}
            {t && (
              <>
                {" "}
                · {t.status.replace("_", " ")} · {t.system}
                {t.assignee && <> · {t.assignee}</>}
              </>
            )}
          </p>
          {t?.title && <p className="muted">{t.title}</p>}
          {t?.sync_error && <p className="problem">{t.sync_error} It is retried automatically.</p>}
        </section>
      );
    }
    if (!editable) return null;
    if (!open) {
      return (
        <section className="ticket" aria-label="Ticket">
          <button type="button" onClick={() => (setOpen(true), window.setTimeout(() => first.current?.focus(), 0))}>
            Escalate to ticket <kbd>t</kbd>
          </button>
        </section>
      );
    }
    return (
      <section className="ticket" aria-labelledby="ticket-title">
        <h3 id="ticket-title">Escalate to a ticket</h3>
        <form
          className="ticket-form"
          onSubmit={(e) => {
            e.preventDefault();
            escalate.mutate(
              { description, assignee: assignee.trim() || null, priority },
              {
                onSuccess: (t) => {
                  setOpen(false);
                  announce(`Ticket ${t.external_key ?? t.id.slice(0, 8)} created`);
                },
              },
            );
          }}
          onKeyDown={(e) => e.key === "Escape" && setOpen(false)}
        >
          <label>
            What needs doing
            <textarea ref={first} rows={2} maxLength={8000} value={description} onChange={(e) => setDescription(e.target.value)} />
          </label>
          <label>
            Assignee
            <input value={assignee} maxLength={320} onChange={(e) => setAssignee(e.target.value)} placeholder="Name or email" />
          </label>
          <label>
            Priority
            <select value={priority} onChange={(e) => setPriority(e.target.value as typeof priority)}>
              {PRIORITIES.map((p) => (
                <option key={p} value={p}>
                  {p.toLowerCase()}
                </option>
              ))}
            </select>
          </label>
          <div className="row">
            <button type="submit" className="primary" disabled={escalate.isPending}>
              {escalate.isPending ? "Creating…" : "Create ticket"}
            </button>
            <button type="button" onClick={() => setOpen(false)}>
              Cancel
            </button>
          </div>
          {escalate.isError && <ProblemMessage error={escalate.error} />}
        </form>
      </section>
    );
  },
);
