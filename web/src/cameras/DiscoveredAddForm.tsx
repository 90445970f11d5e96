// Add one discovery result as a camera in one call: the server opens the device's control interface
// with these credentials, reads who it is and its stream profiles, probes the streams and creates the
// camera (or answers with the problem: credentials refused, unreachable, licence full…).
import { useState, type FormEvent } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, unwrap, type CameraRead } from "../api";
import { keys } from "../api/queries";
import { ProblemMessage } from "../components/States";
import { ModelChecklist, ProbeResult, ZoneSelect } from "./fields";
import type { AiModel, DiscoveredDevice } from "./queries";

/** A name to start from: what the device announced, else maker and model, else its address. */
export function suggestedName(d: DiscoveredDevice): string {
  return d.name || [d.manufacturer, d.model].filter(Boolean).join(" ") || d.host;
}

export function DiscoveredAddForm({
  device,
  jobId,
  onAdded,
  onCancel,
}: {
  device: DiscoveredDevice;
  jobId: string;
  onAdded: (cameraId: string) => void;
  onCancel: () => void;
}) {
  const client = useQueryClient();
  const id = `add-${device.index}`;
  const [name, setName] = useState(suggestedName(device));
  const [zoneId, setZoneId] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [mainUrl, setMainUrl] = useState(device.rtsp_url ?? "");
  const [models, setModels] = useState<AiModel[]>([]);
  const isRtsp = device.kind === "rtsp"; // no control interface: the stream address is what we add

  const add = useMutation({
    mutationFn: async (): Promise<CameraRead> =>
      unwrap(
        await api.POST("/api/v1/cameras/discovery/{job_id}/devices/{index}/add", {
          params: { path: { job_id: jobId, index: device.index } },
          body: {
            name: name.trim(),
            zone_id: zoneId || null,
            auth: username ? { method: isRtsp ? "basic" : "digest", username, password: password || null } : null,
            main_url: isRtsp && mainUrl.trim() ? mainUrl.trim() : null,
            enabled_models: models,
          },
        }),
      ),
    onSuccess: (camera) => {
      onAdded(camera.id);
      void client.invalidateQueries({ queryKey: keys.cameras });
      void client.invalidateQueries({ queryKey: keys.tree });
    },
  });
  const fieldErrors = add.error instanceof ApiError ? add.error.fieldErrors : {};

  if (add.isSuccess)
    return (
      <ProbeResult camera={add.data}>
        <button type="button" onClick={onCancel}>
          Done
        </button>
      </ProbeResult>
    );

  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate();
  };
  return (
    <form className="add-discovered" onSubmit={submit} aria-label={`Add ${device.host} as a camera`}>
      <div className="row">
        <label htmlFor={`${id}-name`}>
          Name
          <input id={`${id}-name`} required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} autoFocus />
          {fieldErrors.name && <span className="field-error">{fieldErrors.name}</span>}
        </label>
        <ZoneSelect id={`${id}-zone`} value={zoneId} onChange={setZoneId} />
      </div>
      {isRtsp && (
        <label htmlFor={`${id}-url`}>
          RTSP address
          <input id={`${id}-url`} className="mono" value={mainUrl} onChange={(e) => setMainUrl(e.target.value)} required />
        </label>
      )}
      <div className="row">
        <label htmlFor={`${id}-user`}>
          {device.requires_auth ? "Device username" : "Device username (optional)"}
          <input
            id={`${id}-user`}
            autoComplete="off"
            required={device.requires_auth}
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </label>
        <label htmlFor={`${id}-password`}>
          Device password
          <input
            id={`${id}-password`}
            type="password"
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
      </div>
      <ModelChecklist value={models} onChange={setModels} />
      {add.isError && <ProblemMessage error={add.error} />}
      <div className="row">
        <button type="submit" className="primary" disabled={add.isPending}>
          {add.isPending ? "Connecting and probing…" : "Add this camera"}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
