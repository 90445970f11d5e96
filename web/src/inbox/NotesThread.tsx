// An event's comment thread, oldest first, and the box to add one (Ctrl+Enter sends).
import { forwardRef, useState } from "react";
import { ErrorState, Loading, ProblemMessage } from "../components/States";
import { when } from "./format";
import { useAddNote, useNotes } from "./queries";

export const NotesThread = forwardRef<HTMLTextAreaElement, { eventId: string; editable: boolean; announce: (m: string) => void }>(
  function NotesThread({ eventId, editable, announce }, ref) {
    const notes = useNotes(eventId);
    const add = useAddNote(eventId);
    const [text, setText] = useState("");
    const send = () => {
      if (!text.trim() || add.isPending) return;
      add.mutate(text.trim(), {
        onSuccess: () => {
          setText("");
          announce("Note added");
        },
      });
    };

    return (
      <section className="notes" aria-labelledby="notes-title">
        <h3 id="notes-title">Notes</h3>
        {notes.isPending ? (
          <Loading label="Loading notes…" />
        ) : notes.isError ? (
          <ErrorState error={notes.error} onRetry={() => void notes.refetch()} />
        ) : notes.data.length === 0 ? (
          <p className="muted">No notes yet.</p>
        ) : (
          <ol className="note-list">
            {notes.data.map((n) => (
              <li key={n.id} data-testid="note">
                <p className="note-text">{n.text}</p>
                <p className="muted">
                  {n.author ?? "system"} · <time dateTime={n.created_at}>{when(n.created_at)}</time>
                </p>
              </li>
            ))}
          </ol>
        )}
        {editable && (
          <form
            className="note-add"
            onSubmit={(e) => {
              e.preventDefault();
              send();
            }}
          >
            <label htmlFor="note-input">Add a note</label>
            <textarea
              id="note-input"
              ref={ref}
              rows={2}
              maxLength={4000}
              value={text}
              onChange={(e) => setText(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
                  e.preventDefault();
                  send();
                } else if (e.key === "Escape") {
                  e.currentTarget.blur();
                }
              }}
              placeholder="What you saw, what you did… (Ctrl+Enter sends)"
            />
            <button type="submit" disabled={!text.trim() || add.isPending}>
              {add.isPending ? "Adding…" : "Add note"}
            </button>
            {add.isError && <ProblemMessage error={add.error} />}
          </form>
        )}
      </section>
    );
  },
);
