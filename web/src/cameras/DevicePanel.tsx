// The camera's control interface (ONVIF, Hikvision ISAPI, Dahua HTTP API): what PTZ and device
// queries talk to. Discovery fills it in; here an operator can link, change or remove it.
import { useState, type FormEvent } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, unwrap, type CameraRead, type Schemas } from "../api";
import { ProblemMessage } from "../components/States";
import { cameraKeys } from "./queries";

type DeviceKind = Schemas["DeviceLink"]["kind"];
const KINDS: { key: DeviceKind; label: string }[] = [
  { key: "onvif", label: "ONVIF" },
  { key: "hikvision", label: "Hikvision ISAPI" },
  { key: "dahua", label: "Dahua HTTP API" },
];

export function DevicePanel({ camera, operator }: { camera: CameraRead; operator: boolean }) {
  const client = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [kind, setKind] = useState<DeviceKind>(camera.device?.kind ?? "onvif");
  const [url, setUrl] = useState(camera.device?.url ?? "");
  const save = useMutation({
    mutationFn: async (device: Schemas["DeviceLink"] | null) =>
      unwrap(
        await api.PATCH("/api/v1/cameras/{camera_id}", { params: { path: { camera_id: camera.id } }, body: { device, probe: true } }),
      ),
    onSuccess: (fresh) => {
      client.setQueryData(cameraKeys.one(camera.id), fresh);
      void client.invalidateQueries({ queryKey: cameraKeys.ptz(camera.id) });
      setEditing(false);
    },
  });
  const fieldErrors = save.error instanceof ApiError ? save.error.fieldErrors : {};
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate({ kind, url: url.trim() });
  };

  return (
    <section className="panel" aria-labelledby="device-title">
      <h2 id="device-title">Control interface</h2>
      {!editing ? (
        <>
          {camera.device ? (
            <dl className="facts">
              <dt>Protocol</dt>
              <dd>{KINDS.find((k) => k.key === camera.device!.kind)?.label ?? camera.device.kind}</dd>
              <dt>Address</dt>
              <dd className="mono url">{camera.device.url}</dd>
            </dl>
          ) : (
            <p className="muted">None linked: the camera is used through its streams only (no PTZ, no device queries).</p>
          )}
          {operator && (
            <div className="row">
              <button type="button" onClick={() => setEditing(true)}>
                {camera.device ? "Change" : "Link a control interface"}
              </button>
              {camera.device && (
                <button type="button" onClick={() => save.mutate(null)} disabled={save.isPending}>
                  Remove
                </button>
              )}
            </div>
          )}
        </>
      ) : (
        <form onSubmit={submit} aria-label="Control interface">
          <label>
            Protocol
            <select value={kind} onChange={(e) => setKind(e.target.value as DeviceKind)}>
              {KINDS.map((k) => (
                <option key={k.key} value={k.key}>
                  {k.label}
                </option>
              ))}
            </select>
          </label>
          <div className="field">
          <label>
            Address
            <input
              required
              className="mono"
              value={url}
              onChange={(e) => setUrl(e.target.value)}
              placeholder="http://10.0.0.7/onvif/device_service"
              aria-describedby="device-url-help"
            />
          </label>
          <span id="device-url-help" className="help">
            http(s) only, without credentials: the camera's stored username and password are used.
          </span>
          {fieldErrors["device.url"] && <span className="field-error">{fieldErrors["device.url"]}</span>}
          </div>
          <div className="row">
            <button type="submit" className="primary" disabled={save.isPending}>
              Save
            </button>
            <button type="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      {save.isError && <ProblemMessage error={save.error} />}
    </section>
  );
}
