// Add a camera by RTSP address: the server probes the stream (a few seconds) and answers with what
// it measured, or with a problem+json saying why not (unreachable, refused credentials, codec…).
import { useState, type FormEvent } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, unwrap, type CameraRead } from "../api";
import { keys } from "../api/queries";
import { ProblemMessage } from "../components/States";
import { ModelChecklist, ProbeResult, ZoneSelect } from "./fields";
import type { AiModel } from "./queries";

export default function RtspForm({ onClose }: { onClose: () => void }) {
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [mainUrl, setMainUrl] = useState("");
  const [subUrl, setSubUrl] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [zoneId, setZoneId] = useState("");
  const [models, setModels] = useState<AiModel[]>([]);
  const [probe, setProbe] = useState(true);

  const create = useMutation({
    mutationFn: async (): Promise<CameraRead> =>
      unwrap(
        await api.POST("/api/v1/cameras", {
          body: {
            name: name.trim(),
            main_url: mainUrl.trim(),
            sub_url: subUrl.trim() || null,
            zone_id: zoneId || null,
            auth: username ? { method: "basic", username, password: password || null } : null,
            enabled_models: models,
            probe,
          },
        }),
      ),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: keys.cameras });
      void client.invalidateQueries({ queryKey: keys.tree });
    },
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  const fieldErrors = create.error instanceof ApiError ? create.error.fieldErrors : {};
  const reset = () => {
    create.reset();
    setName("");
    setMainUrl("");
    setSubUrl("");
  };

  if (create.isSuccess)
    return (
      <ProbeResult camera={create.data}>
        <div className="row">
          <button type="button" className="primary" onClick={reset}>
            Add another
          </button>
          <button type="button" onClick={onClose}>
            Done
          </button>
        </div>
      </ProbeResult>
    );

  return (
    <form className="panel add-camera" onSubmit={submit} aria-labelledby="add-title">
      <h2 id="add-title">Add a camera by its RTSP address</h2>
      <label>
        Name
        <input required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} autoFocus />
        {fieldErrors.name && <span className="field-error">{fieldErrors.name}</span>}
      </label>
      <label>
        RTSP address (main stream)
        <input
          required
          value={mainUrl}
          onChange={(e) => setMainUrl(e.target.value)}
          placeholder="rtsp://10.0.0.7:554/Streaming/Channels/101"
          className="mono"
          aria-describedby="main-url-help"
        />
        <span id="main-url-help" className="help">
          rtsp:// or rtsps:// (http(s):// for MJPEG). A user:password in the address is stored as credentials.
        </span>
        {fieldErrors.main_url && <span className="field-error">{fieldErrors.main_url}</span>}
      </label>
      <label>
        Sub stream (optional)
        <input value={subUrl} onChange={(e) => setSubUrl(e.target.value)} className="mono" />
        {fieldErrors.sub_url && <span className="field-error">{fieldErrors.sub_url}</span>}
      </label>
      <div className="row">
        <label>
          Username (optional)
          <input autoComplete="off" value={username} onChange={(e) => setUsername(e.target.value)} />
        </label>
        <label>
          Password
          <input type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
      </div>
      <ZoneSelect value={zoneId} onChange={setZoneId} />
      <ModelChecklist value={models} onChange={setModels} />
      <label className="check">
        <input type="checkbox" checked={probe} onChange={(e) => setProbe(e.target.checked)} />
        Probe the stream now (recommended: checks the address and measures codec, resolution and bitrate)
      </label>
      {create.isError && <ProblemMessage error={create.error} />}
      <div className="row">
        <button type="submit" className="primary" disabled={create.isPending}>
          {create.isPending ? (probe ? "Probing the stream…" : "Adding…") : "Add camera"}
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </form>
  );
}
