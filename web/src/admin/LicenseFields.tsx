// The license's fields: camera limit, validity and purchased models (shared by create and edit).
import { AI_MODELS, type Errors, type LicenseDraft } from "./validate";

export function LicenseFields({ draft, onChange, errors }: { draft: LicenseDraft; onChange: (d: LicenseDraft) => void; errors: Errors<keyof LicenseDraft> }) {
  const set = <K extends keyof LicenseDraft>(k: K, v: LicenseDraft[K]) => onChange({ ...draft, [k]: v });
  return (
    <>
      <div className="row">
        <div className="field">
          <label htmlFor="license-camera_limit">Camera limit</label>
          <input id="license-camera_limit" type="number" min={0} step={1} value={draft.camera_limit} onChange={(e) => set("camera_limit", e.target.value)} aria-invalid={!!errors.camera_limit} />
          {errors.camera_limit && <span className="field-error">{errors.camera_limit}</span>}
        </div>
        <div className="field">
          <label htmlFor="license-valid_from">Valid from</label>
          <input id="license-valid_from" type="date" value={draft.valid_from} onChange={(e) => set("valid_from", e.target.value)} aria-invalid={!!errors.valid_from} />
          {errors.valid_from && <span className="field-error">{errors.valid_from}</span>}
        </div>
        <div className="field">
          <label htmlFor="license-valid_until">Valid until</label>
          <input id="license-valid_until" type="date" value={draft.valid_until} onChange={(e) => set("valid_until", e.target.value)} aria-invalid={!!errors.valid_until} />
          {errors.valid_until && <span className="field-error">{errors.valid_until}</span>}
        </div>
      </div>
      <fieldset className="model-checklist">
        <legend>AI models purchased</legend>
        {AI_MODELS.map((m) => (
          <label key={m} className="check">
            <input type="checkbox" checked={draft.models.includes(m)} onChange={(e) => set("models", e.target.checked ? [...draft.models, m] : draft.models.filter((x) => x !== m))} />
            {m.replace(/_/g, " ")}
          </label>
        ))}
      </fieldset>
    </>
  );
}

const day = (d: Date) => d.toISOString().slice(0, 10);

export function newLicense(): LicenseDraft {
  const now = new Date();
  return { camera_limit: "10", valid_from: day(now), valid_until: day(new Date(now.getTime() + 365 * 86_400_000)), models: [] };
}

export function licenseDraft(l: { camera_limit: number; valid_from: string; valid_until: string; models: string[] }): LicenseDraft {
  return { camera_limit: String(l.camera_limit), valid_from: l.valid_from.slice(0, 10), valid_until: l.valid_until.slice(0, 10), models: [...l.models] };
}
