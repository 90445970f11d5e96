// Tags on an event: the usual ones a click away (false alarm, critical — kept a year —, evidence —
// kept until removed), any other typed in. The API lower-cases and de-duplicates them.
import { useState } from "react";
import type { EventRead } from "../api";
import { ProblemMessage } from "../components/States";
import { tagsOf } from "./format";
import { useSetTags } from "./queries";

export const QUICK_TAGS = ["false alarm", "critical", "evidence"];

export function TagEditor({ event, editable, announce }: { event: EventRead; editable: boolean; announce: (m: string) => void }) {
  const setTags = useSetTags();
  const [draft, setDraft] = useState("");
  const tags = tagsOf(event);
  const save = (tags: string[], message: string) =>
    setTags.mutate({ event, tags }, { onSuccess: () => announce(message), onError: () => announce("The tags could not be saved") });
  const add = (tag: string) => {
    const t = tag.trim().toLowerCase();
    if (t && !tags.includes(t)) save([...tags, t], `Tagged ${t}`);
  };

  return (
    <section className="tags" aria-labelledby="tags-title">
      <h3 id="tags-title">Tags</h3>
      <ul className="tag-chips">
        {tags.length === 0 && <li className="muted">None</li>}
        {tags.map((t) => (
          <li key={t} className="tag-chip">
            {t}
            {editable && (
              <button
                type="button"
                className="tag-chip-remove"
                aria-label={`Remove tag ${t}`}
                onClick={() => save(tags.filter((x) => x !== t), `Removed tag ${t}`)}
              >
                ×
              </button>
            )}
          </li>
        ))}
      </ul>
      {editable && (
        <form
          className="tag-add"
          onSubmit={(e) => {
            e.preventDefault();
            add(draft);
            setDraft("");
          }}
        >
          {QUICK_TAGS.filter((t) => !tags.includes(t)).map((t) => (
            <button key={t} type="button" onClick={() => add(t)}>
              + {t}
            </button>
          ))}
          <label className="sr-only" htmlFor="tag-input">
            Add a tag
          </label>
          <input
            id="tag-input"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            placeholder="Add a tag"
            maxLength={40}
            size={12}
          />
          <button type="submit" disabled={!draft.trim()}>
            Add
          </button>
        </form>
      )}
      {setTags.isError && <ProblemMessage error={setTags.error} />}
    </section>
  );
}
