// The inbox's filters. Selects apply at once; text (search, tag) applies after a pause in typing or
// on Enter, so the list is not reloaded per keystroke. Everything is in the URL (filters.ts).
import { forwardRef, useEffect, useState } from "react";
import type { CameraRead } from "../api";
import { activeFilterCount, PERIODS, type InboxFilters } from "./filters";
import { PRIORITIES, STATUSES, TYPES, statusLabel, typeLabel } from "./format";

export const TYPING_PAUSE_MS = 350;

type Change = Partial<Record<keyof InboxFilters, string | undefined>>;

/** A text filter that commits after a pause in typing (or on Enter / leaving the field). */
function useCommitted(value: string | undefined, commit: (v: string) => void): [string, (v: string) => void, () => void] {
  const [draft, setDraft] = useState(value ?? "");
  useEffect(() => setDraft(value ?? ""), [value]);
  useEffect(() => {
    if (draft === (value ?? "")) return;
    const timer = window.setTimeout(() => commit(draft.trim()), TYPING_PAUSE_MS);
    return () => window.clearTimeout(timer);
  }, [draft]); // only a change of the text starts the pause
  return [draft, setDraft, () => draft.trim() !== (value ?? "") && commit(draft.trim())];
}

export const FilterBar = forwardRef<HTMLInputElement, {
  filters: InboxFilters;
  cameras: CameraRead[];
  onChange: (changes: Change) => void;
}>(function FilterBar({ filters, cameras, onChange }, searchRef) {
  const [q, setQ, commitQ] = useCommitted(filters.q, (v) => onChange({ q: v }));
  const [tag, setTag, commitTag] = useCommitted(filters.tag, (v) => onChange({ tag: v }));
  const count = activeFilterCount(filters);

  return (
    <form
      className="filters inbox-filters"
      role="search"
      aria-label="Event filters"
      onSubmit={(e) => {
        e.preventDefault();
        commitQ();
        commitTag();
      }}
    >
      <label className="inbox-search">
        Search
        <input
          ref={searchRef}
          type="search"
          value={q}
          placeholder="Notes, object class…  ( / )"
          onChange={(e) => setQ(e.target.value)}
          onBlur={commitQ}
          maxLength={200}
        />
      </label>
      <label>
        Status
        <select value={filters.status ?? ""} onChange={(e) => onChange({ status: e.target.value })}>
          <option value="">Any</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {statusLabel(s)}
            </option>
          ))}
        </select>
      </label>
      <label>
        Priority
        <select value={filters.priority ?? ""} onChange={(e) => onChange({ priority: e.target.value })}>
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
        <select value={filters.type ?? ""} onChange={(e) => onChange({ type: e.target.value })}>
          <option value="">Any</option>
          {TYPES.map((t) => (
            <option key={t} value={t}>
              {typeLabel(t)}
            </option>
          ))}
        </select>
      </label>
      <label>
        Camera
        <select value={filters.camera ?? ""} onChange={(e) => onChange({ camera: e.target.value })}>
          <option value="">Any</option>
          {filters.camera && !cameras.some((c) => c.id === filters.camera) && <option value={filters.camera}>Unknown camera</option>}
          {cameras.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Tag
        <input
          value={tag}
          onChange={(e) => setTag(e.target.value)}
          onBlur={commitTag}
          placeholder="e.g. critical"
          maxLength={40}
          size={10}
        />
      </label>
      <label>
        Period
        <select value={filters.period ?? ""} onChange={(e) => onChange({ period: e.target.value })}>
          <option value="">All time</option>
          {Object.entries(PERIODS).map(([key, p]) => (
            <option key={key} value={key}>
              {p.label}
            </option>
          ))}
          <option value="custom">From … to …</option>
        </select>
      </label>
      {filters.period === "custom" && (
        <>
          <label>
            From
            <input type="datetime-local" value={filters.from ?? ""} onChange={(e) => onChange({ from: e.target.value })} />
          </label>
          <label>
            To
            <input type="datetime-local" value={filters.to ?? ""} onChange={(e) => onChange({ to: e.target.value })} />
          </label>
        </>
      )}
      {filters.correlation && (
        <button type="button" onClick={() => onChange({ correlation: undefined })} aria-label="Show all events, not only this trail">
          Trail only ×
        </button>
      )}
      {count > 0 && (
        <button
          type="button"
          className="link"
          onClick={() =>
            onChange({ status: "NEW", priority: undefined, type: undefined, camera: undefined, tag: undefined, q: undefined, period: undefined, from: undefined, to: undefined, correlation: undefined })
          }
        >
          Clear filters ({count})
        </button>
      )}
    </form>
  );
});
