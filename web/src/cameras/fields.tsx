// Form pieces shared by the add-camera forms: a zone picker, the licensed-model checkboxes, and the
// probe result shown once a camera is added.
import type { ReactNode } from "react";
import { Link } from "react-router-dom";
import type { CameraRead } from "../api";
import { StatusBadge } from "../components/StatusBadge";
import { MODEL_TITLES, useLicensedModels, useZones, type AiModel, type StreamInfo } from "./queries";

export function ZoneSelect({ value, onChange, id }: { value: string; onChange: (v: string) => void; id?: string }) {
  const zones = useZones();
  return (
    <label htmlFor={id}>
      Zone
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">No zone</option>
        {zones.data?.items.map((z) => (
          <option key={z.id} value={z.id}>
            {z.path.join(" › ")}
          </option>
        ))}
      </select>
      {zones.isError && <span className="field-error">Zones could not be loaded; the camera can be placed later.</span>}
    </label>
  );
}

/** Checkboxes for the AI models the licence includes; unlicensed ones are not offered. */
export function ModelChecklist({ value, onChange }: { value: AiModel[]; onChange: (v: AiModel[]) => void }) {
  const licensed = useLicensedModels();
  const models = licensed.data ?? [];
  return (
    <fieldset className="model-checklist">
      <legend>AI models to enable</legend>
      {licensed.isPending ? (
        <span className="muted">Loading the licence…</span>
      ) : models.length === 0 ? (
        <span className="muted">Your licence includes no AI models.</span>
      ) : (
        models.map((m) => (
          <label key={m} className="check">
            <input
              type="checkbox"
              checked={value.includes(m)}
              onChange={(e) => onChange(e.target.checked ? [...value, m] : value.filter((x) => x !== m))}
            />
            {MODEL_TITLES[m] ?? m}
          </label>
        ))
      )}
      <span className="help">Each is checked against the probed streams; the server says why a model does not fit.</span>
    </fieldset>
  );
}

export function StreamFacts({ stream }: { stream: StreamInfo }) {
  return (
    <dl className="facts">
      <dt>Codec</dt>
      <dd>{stream.codec.toUpperCase()}</dd>
      <dt>Resolution</dt>
      <dd>
        {stream.width}×{stream.height}
      </dd>
      <dt>Frame rate</dt>
      <dd>{stream.fps ? `${stream.fps.toFixed(1)} fps` : "unknown"}</dd>
      <dt>Bitrate</dt>
      <dd>{stream.bitrate_kbps} kbit/s</dd>
      {stream.gop_s != null && (
        <>
          <dt>Keyframe interval</dt>
          <dd>{stream.gop_s.toFixed(1)} s</dd>
        </>
      )}
    </dl>
  );
}

/** What the server measured when it added the camera. */
export function ProbeResult({ camera, children }: { camera: CameraRead; children?: ReactNode }) {
  return (
    <section className="panel probe-result" aria-labelledby={`probe-title-${camera.id}`} data-testid="probe-result">
      <h2 id={`probe-title-${camera.id}`}>Added “{camera.name}”</h2>
      <p>
        Status: <StatusBadge status={camera.status} /> · <Link to={`/cameras/${camera.id}`}>Open the camera page</Link>
      </p>
      {camera.main_stream ? (
        <StreamFacts stream={camera.main_stream} />
      ) : (
        <p>The stream was not probed; use “Probe again” on the camera page to check it.</p>
      )}
      {children}
    </section>
  );
}
