// Export a range of one camera as an MP4: choose the range (or take it from the playhead), send
// POST /exports, watch its progress, download it when done. Recent exports of the camera are listed
// with their state, so a long export can be left and picked up again.
import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../api";
import { ErrorState, ProblemMessage } from "../components/States";
import { formatTime, fromLocalInput, toLocalInput, type TimeWindow } from "./timeline";

type ExportRead = Schemas["ExportRead"];
const POLL_MS = 1_000;
const STATUS_WORDS: Record<ExportRead["status"], string> = {
  queued: "Waiting to start",
  running: "Cutting",
  done: "Ready",
  failed: "Failed",
};

function megabytes(bytes: number | null | undefined): string {
  return bytes == null ? "" : `${(bytes / 1_000_000).toFixed(1)} MB`;
}

export function ExportPanel({
  cameras,
  window: w,
  playhead,
}: {
  cameras: { id: string; name: string }[];
  window: TimeWindow;
  playhead: number | null;
}) {
  const client = useQueryClient();
  const [cameraId, setCameraId] = useState(cameras[0]?.id ?? "");
  const camera = cameras.find((c) => c.id === cameraId) ?? cameras[0];
  const [from, setFrom] = useState(() => toLocalInput(Math.max(w.start, w.end - 5 * 60_000)));
  const [to, setTo] = useState(() => toLocalInput(w.end));
  const [stream, setStream] = useState<"main" | "sub">("main");
  const [hold, setHold] = useState<Schemas["ExportHold"]>("none");
  const [reference, setReference] = useState("");
  const [formError, setFormError] = useState("");
  const listKey = ["exports", camera?.id];

  const exports = useQuery({
    queryKey: listKey,
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/exports", { params: { query: { camera_id: camera!.id, limit: 10 } } })),
    enabled: Boolean(camera),
    refetchInterval: (q) =>
      q.state.data?.items.some((e) => e.status === "queued" || e.status === "running") ? POLL_MS : false,
  });

  const create = useMutation({
    mutationFn: async (body: Schemas["ExportCreate"]) => unwrap(await api.POST("/api/v1/exports", { body })),
    onSuccess: () => void client.invalidateQueries({ queryKey: listKey }),
  });
  const remove = useMutation({
    mutationFn: async (id: string) => unwrap(await api.DELETE("/api/v1/exports/{export_id}", { params: { path: { export_id: id } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: listKey }),
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const start = fromLocalInput(from);
    const end = fromLocalInput(to);
    if (Number.isNaN(start) || Number.isNaN(end)) return setFormError("Give both the start and the end of the range.");
    if (end <= start) return setFormError("The end must be after the start.");
    if (hold === "evidence" && !reference.trim()) return setFormError("An evidence hold needs a case or ticket number.");
    setFormError("");
    create.mutate({
      camera_id: camera!.id,
      start: new Date(start).toISOString(),
      end: new Date(end).toISOString(),
      stream,
      hold,
      reference_id: reference.trim() || null,
    });
  };

  if (!camera) return null;
  return (
    <section className="panel export-panel" aria-labelledby="export-title">
      <h2 id="export-title">Export MP4</h2>
      <form onSubmit={submit} noValidate>
        <div className="row">
          {cameras.length > 1 && (
            <label>
              Camera
              <select value={camera.id} onChange={(e) => setCameraId(e.target.value)}>
                {cameras.map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.name}
                  </option>
                ))}
              </select>
            </label>
          )}
          <label>
            From
            <input type="datetime-local" step={1} value={from} onChange={(e) => setFrom(e.target.value)} />
          </label>
          <label>
            To
            <input type="datetime-local" step={1} value={to} onChange={(e) => setTo(e.target.value)} />
          </label>
        </div>
        <div className="row export-marks">
          <button type="button" disabled={playhead === null} onClick={() => playhead !== null && setFrom(toLocalInput(playhead))}>
            From the playhead
          </button>
          <button type="button" disabled={playhead === null} onClick={() => playhead !== null && setTo(toLocalInput(playhead))}>
            To the playhead
          </button>
          <button
            type="button"
            onClick={() => {
              setFrom(toLocalInput(w.start));
              setTo(toLocalInput(w.end));
            }}
          >
            Whole window
          </button>
        </div>
        <div className="row">
          <label>
            Stream
            <select value={stream} onChange={(e) => setStream(e.target.value as "main" | "sub")}>
              <option value="main">Main (full resolution)</option>
              <option value="sub">Sub (smaller file)</option>
            </select>
          </label>
          <label>
            Keep the recording
            <select value={hold} onChange={(e) => setHold(e.target.value as Schemas["ExportHold"])}>
              <option value="none">Only while cutting</option>
              <option value="export">Until the export is deleted</option>
              <option value="evidence">Evidence hold (until released)</option>
            </select>
          </label>
          {hold === "evidence" && (
            <label>
              Case or ticket number
              <input value={reference} onChange={(e) => setReference(e.target.value)} maxLength={100} />
            </label>
          )}
        </div>
        {formError && (
          <p className="problem" role="alert">
            {formError}
          </p>
        )}
        {create.isError && <ProblemMessage error={create.error} />}
        <button type="submit" className="primary" disabled={create.isPending}>
          {create.isPending ? "Starting…" : "Export MP4"}
        </button>
      </form>
      <h3 className="export-list-title">Recent exports of {camera.name}</h3>
      {exports.isError ? (
        <ErrorState error={exports.error} onRetry={() => void exports.refetch()} />
      ) : exports.data && exports.data.items.length === 0 ? (
        <p className="muted">None yet. Exports are cut from the recording on the server; you can leave this page meanwhile.</p>
      ) : (
        <ul className="export-list" aria-label="Exports">
          {(exports.data?.items ?? []).map((x) => (
            <li key={x.id} data-testid="export-row" data-status={x.status}>
              <span>
                {formatTime(Date.parse(x.start))} – {formatTime(Date.parse(x.end))} · {x.stream}
              </span>
              <span className={`badge export-${x.status}`}>{STATUS_WORDS[x.status]}</span>
              {(x.status === "queued" || x.status === "running") && (
                <progress max={1} value={x.progress} aria-label={`Export progress ${Math.round(x.progress * 100)}%`}>
                  {Math.round(x.progress * 100)}%
                </progress>
              )}
              {x.status === "done" && x.download_url && (
                <a href={x.download_url} download data-testid="export-download">
                  Download MP4 ({megabytes(x.bytes)})
                </a>
              )}
              {x.error && <span className={x.status === "failed" ? "field-error" : "muted"}>{x.error}</span>}
              {x.status !== "queued" && x.status !== "running" && (
                <button
                  type="button"
                  className="link"
                  disabled={remove.isPending}
                  onClick={() => remove.mutate(x.id)}
                  aria-label={`Delete the export of ${formatTime(Date.parse(x.start))}`}
                >
                  Delete
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {remove.isError && <ProblemMessage error={remove.error} />}
    </section>
  );
}
