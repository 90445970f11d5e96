// One parameter: its effective value and the level that set it, and (for writers) an editor
// bounded by the registry, plus "use the level below" when this node overrides it.
import { draftOf, editorKind, formatValue, parseDraft, type Draft, type EffectiveValue, type Parameter } from "./model";
import { LevelBadge } from "./DiffView";

export function ParameterRow({
  param,
  effective,
  ownOverride,
  draft,
  unset,
  canWrite,
  onDraft,
  onUnset,
}: {
  param: Parameter;
  effective: EffectiveValue | undefined;
  ownOverride: boolean;
  draft: Draft | undefined;
  unset: boolean;
  canWrite: boolean;
  onDraft: (d: Draft | undefined) => void;
  onUnset: (u: boolean) => void;
}) {
  const schema = param.value_schema as { enum?: string[]; items?: { enum?: string[] }; minimum?: number; maximum?: number };
  const kind = editorKind(schema);
  const id = `p-${param.key.replace(/[^a-z0-9]/gi, "-")}`;
  const current = draft ?? draftOf(kind, effective?.value);
  const parsed = draft === undefined ? null : parseDraft(param, draft);
  const set = (d: Draft) => onDraft(JSON.stringify(d) === JSON.stringify(draftOf(kind, effective?.value)) ? undefined : d);

  return (
    <li className={draft !== undefined || unset ? "param changed" : "param"} data-testid={`param-${param.key}`}>
      <div className="param-head">
        <label htmlFor={id} className="mono param-key">
          {param.key}
        </label>
        <span className="param-value">
          {formatValue(effective?.value)} {param.unit} {effective && <LevelBadge level={effective.level} />}
        </span>
      </div>
      <p id={`${id}-help`} className="help">
        {param.description} Allowed: {param.bounds}.
      </p>
      {canWrite && (
        <div className="row param-edit">
          {kind === "boolean" ? (
            <input id={id} type="checkbox" checked={current as boolean} disabled={unset} onChange={(e) => set(e.target.checked)} />
          ) : kind === "choice" ? (
            <select id={id} value={current as string} disabled={unset} onChange={(e) => set(e.target.value)} aria-describedby={`${id}-help`}>
              {schema.enum!.map((o) => (
                <option key={o}>{o}</option>
              ))}
            </select>
          ) : kind === "multi" ? (
            <fieldset id={id} className="multi" disabled={unset}>
              <legend className="sr-only">{param.key}</legend>
              {schema.items!.enum!.map((o) => (
                <label key={o} className="check">
                  <input
                    type="checkbox"
                    checked={(current as string[]).includes(o)}
                    onChange={(e) => set(e.target.checked ? [...(current as string[]), o] : (current as string[]).filter((x) => x !== o))}
                  />
                  {o}
                </label>
              ))}
            </fieldset>
          ) : (
            <input
              id={id}
              type={kind === "json" ? "text" : "number"}
              inputMode={kind === "json" ? "text" : "decimal"}
              step={kind === "integer" ? 1 : "any"}
              min={schema.minimum}
              max={schema.maximum}
              value={current as string}
              disabled={unset}
              aria-invalid={parsed !== null && !parsed.ok}
              aria-describedby={`${id}-help ${id}-error`}
              onChange={(e) => set(e.target.value)}
            />
          )}
          {ownOverride && (
            <label className="check">
              <input type="checkbox" checked={unset} onChange={(e) => onUnset(e.target.checked)} />
              Use the level below
            </label>
          )}
        </div>
      )}
      {parsed && !parsed.ok && (
        <span id={`${id}-error`} className="field-error">
          {parsed.error}
        </span>
      )}
    </li>
  );
}
