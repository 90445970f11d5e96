// Editing a camera's details on its page: name, stream URLs, credentials, zone and tags (the AI
// models are switched in their own panel). Only changed fields are sent (PATCH), so a concurrent
// edit of another field is not overwritten. New URLs or credentials are probed by the server before
// anything is saved: the answer is either the measured streams or the probe's 4xx reason, with
// nothing changed. Credentials are write-only: the form never shows them, it only replaces or
// removes them.
import { useState, type FormEvent } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type CameraRead, type Schemas } from "../api";
import { keys } from "../api/queries";
import { ProblemMessage } from "../components/States";
import { StreamFacts, ZoneSelect } from "./fields";
import { cameraKeys } from "./queries";

type CameraUpdate = Omit<Schemas["CameraUpdate"], "probe"> & { probe?: boolean };
type Credentials = "keep" | "change" | "remove";

/** Tags typed as "a, b , c" → ["a", "b", "c"] (trimmed, no empties, no repeats). */
export function parseTags(text: string): string[] {
  return [...new Set(text.split(",").map((t) => t.trim()).filter(Boolean))];
}

/** The PATCH body: only what differs from the camera as loaded. */
export function changes(
  c: CameraRead,
  form: { name: string; mainUrl: string; subUrl: string; zoneId: string; tags: string; probe: boolean },
  credentials: { mode: Credentials; method: "basic" | "digest"; username: string; password: string },
): CameraUpdate {
  const body: CameraUpdate = {};
  if (form.name.trim() !== c.name) body.name = form.name.trim();
  if (form.mainUrl.trim() !== c.main_url) body.main_url = form.mainUrl.trim();
  if ((form.subUrl.trim() || null) !== (c.sub_url ?? null)) body.sub_url = form.subUrl.trim() || null;
  if ((form.zoneId || null) !== (c.zone_id ?? null)) body.zone_id = form.zoneId || null;
  const tags = parseTags(form.tags);
  if (tags.join("\n") !== c.tags.join("\n")) body.tags = tags;
  if (credentials.mode === "remove") body.auth = null;
  if (credentials.mode === "change") {
    const password = credentials.password ? { password: credentials.password } : {};
    body.auth = { method: credentials.method, username: credentials.username.trim(), ...password };
  }
  if (Object.keys(body).length > 0) body.probe = form.probe;
  return body;
}

/** Whether saving `body` makes the server probe the streams again. */
const probes = (body: CameraUpdate) => body.probe === true && ("main_url" in body || "sub_url" in body || "auth" in body);

export function CameraEditForm({ camera: c, onDone }: { camera: CameraRead; onDone: () => void }) {
  const client = useQueryClient();
  const [name, setName] = useState(c.name);
  const [mainUrl, setMainUrl] = useState(c.main_url);
  const [subUrl, setSubUrl] = useState(c.sub_url ?? "");
  const [zoneId, setZoneId] = useState(c.zone_id ?? "");
  const [tags, setTags] = useState(c.tags.join(", "));
  const [probe, setProbe] = useState(true);
  const [mode, setMode] = useState<Credentials>("keep");
  const [method, setMethod] = useState<"basic" | "digest">(c.auth_method === "basic" ? "basic" : "digest");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [saved, setSaved] = useState<{ camera: CameraRead; probed: boolean } | null>(null);

  const body = changes(c, { name, mainUrl, subUrl, zoneId, tags, probe }, { mode, method, username, password });
  const save = useMutation({
    mutationFn: async (update: CameraUpdate) =>
      unwrap(await api.PATCH("/api/v1/cameras/{camera_id}", { params: { path: { camera_id: c.id } }, body: { ...update, probe: update.probe ?? true } })),
    onSuccess: (fresh, update) => {
      client.setQueryData(cameraKeys.one(c.id), fresh);
      setSaved({ camera: fresh, probed: probes(update) });
      setMode("keep");
      setPassword("");
      void client.invalidateQueries({ queryKey: cameraKeys.models(c.id) });
      void client.invalidateQueries({ queryKey: keys.cameras });
      void client.invalidateQueries({ queryKey: keys.tree });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaved(null);
    save.mutate(body);
  };
  const nothing = Object.keys(body).length === 0;
  const credentialsIncomplete = mode === "change" && !username.trim();

  return (
    <section className="panel camera-edit" aria-labelledby="edit-title">
      <h2 id="edit-title">Edit camera</h2>
      <form onSubmit={submit} aria-labelledby="edit-title">
        <div className="row">
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
          </label>
          <ZoneSelect value={zoneId} onChange={setZoneId} id="edit-zone" />
        </div>
        <label>
          Main stream URL
          <input className="mono" value={mainUrl} onChange={(e) => setMainUrl(e.target.value)} required placeholder="rtsp://host:554/path" />
        </label>
        <label>
          Sub stream URL <span className="muted">(optional; empty removes it)</span>
          <input className="mono" value={subUrl} onChange={(e) => setSubUrl(e.target.value)} placeholder="rtsp://host:554/sub" />
        </label>
        <label>
          Tags <span className="muted">(comma-separated)</span>
          <input value={tags} onChange={(e) => setTags(e.target.value)} placeholder="entrance, outdoor" />
        </label>
        <fieldset>
          <legend>Credentials</legend>
          <p className="help">
            {c.has_credentials ? `Stored (${c.auth_method}); never shown.` : "None stored."} New credentials replace the stored
            ones and are checked by probing the stream.
          </p>
          <div className="choice">
            <label className="check">
              <input type="radio" name="credentials" checked={mode === "keep"} onChange={() => setMode("keep")} />
              Keep {c.has_credentials ? "the stored credentials" : "without credentials"}
            </label>
            <label className="check">
              <input type="radio" name="credentials" checked={mode === "change"} onChange={() => setMode("change")} />
              Change credentials
            </label>
            {c.has_credentials && (
              <label className="check">
                <input type="radio" name="credentials" checked={mode === "remove"} onChange={() => setMode("remove")} />
                Remove the stored credentials
              </label>
            )}
          </div>
          {mode === "change" && (
            <div className="row">
              <label className="narrow">
                Method
                <select value={method} onChange={(e) => setMethod(e.target.value as "basic" | "digest")}>
                  <option value="digest">Digest</option>
                  <option value="basic">Basic</option>
                </select>
              </label>
              <label>
                Username
                <input value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="off" required />
              </label>
              <label>
                Password
                <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" />
              </label>
            </div>
          )}
        </fieldset>
        <label className="check">
          <input type="checkbox" checked={probe} onChange={(e) => setProbe(e.target.checked)} />
          Probe the streams when URLs or credentials change (recommended; without it the stream facts are cleared)
        </label>
        {save.isError && <ProblemMessage error={save.error} />}
        <div className="row">
          <button type="submit" className="primary" disabled={nothing || credentialsIncomplete || save.isPending}>
            {save.isPending ? (probes(body) ? "Probing and saving…" : "Saving…") : "Save changes"}
          </button>
          <button type="button" onClick={onDone}>
            {saved ? "Close" : "Cancel"}
          </button>
          {nothing && !saved && <span className="muted">Nothing changed yet.</span>}
        </div>
      </form>
      {saved && (
        <div role="status" className="edit-saved" data-testid="edit-saved">
          <p>
            <strong>Saved.</strong>{" "}
            {saved.probed
              ? saved.camera.main_stream
                ? "The server probed the main stream again:"
                : "The server probed the streams again."
              : "No stream changed, so nothing was probed."}
          </p>
          {saved.probed && saved.camera.main_stream && <StreamFacts stream={saved.camera.main_stream} />}
        </div>
      )}
    </section>
  );
}
