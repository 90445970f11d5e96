// Playback: pick up to four cameras and a time window (the last hour by default), see what is
// recorded on the timeline (ranges, gaps, events), click or drag to play from a moment, and export
// a range as MP4. The cameras and window are in the URL (?camera=…&camera=…&period=1h, or
// period=custom&from=…&to=… in ISO time), so a view can be bookmarked or shared.
import { useMemo, useState } from "react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router-dom";
import { api, unwrap } from "../api";
import { useCameraNames } from "../api/queries";
import { EmptyState, ErrorState, Loading } from "../components/States";
import { ExportPanel } from "./ExportPanel";
import { Timeline, type TimelineRead } from "./Timeline";
import { DEFAULT_PRESET, formatDuration, fromLocalInput, PRESETS, presetWindow, toLocalInput, type TimeWindow } from "./timeline";
import { VodPlayers, type Seek } from "./VodPlayers";
import "./playback.css";

export const MAX_CAMERAS = 4;

function customWindow(from: string | null, to: string | null): TimeWindow | null {
  const start = from ? Date.parse(from) : NaN;
  const end = to ? Date.parse(to) : NaN;
  return Number.isNaN(start) || Number.isNaN(end) || end <= start ? null : { start, end };
}

export default function PlaybackPage() {
  const [params, setParams] = useSearchParams();
  const cameras = useCameraNames();
  const chosen = params.getAll("camera").slice(0, MAX_CAMERAS);
  const period = params.get("period") ?? DEFAULT_PRESET;
  const [anchor, setAnchor] = useState(() => Date.now());
  const custom = customWindow(params.get("from"), params.get("to"));
  // Keyed on the numbers, so the window (and the players built on it) survive re-renders.
  const w = useMemo(
    () => (period === "custom" && custom ? custom : presetWindow(period, anchor)),
    [period, anchor, custom?.start, custom?.end],
  );
  const [seek, setSeek] = useState<Seek | null>(null);
  const [playhead, setPlayhead] = useState<number | null>(null);
  const [fromText, setFromText] = useState(toLocalInput(w.start));
  const [toText, setToText] = useState(toLocalInput(w.end));

  const all = useMemo(() => [...(cameras.data?.values() ?? [])], [cameras.data]);
  const ids = chosen.length ? chosen : all.slice(0, 1).map((c) => c.id);
  const picked = ids.map((id) => ({ id, name: cameras.data?.get(id)?.name ?? "Unknown camera" }));

  const update = (changes: Record<string, string | string[] | undefined>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      next.delete(k);
      for (const item of Array.isArray(v) ? v : v ? [v] : []) next.append(k, item);
    }
    setParams(next, { replace: true });
    setSeek(null);
    setPlayhead(null);
  };

  const timelines = useQuery({
    queryKey: ["playback", "timeline", ids.join(","), w.start, w.end],
    enabled: ids.length > 0,
    placeholderData: keepPreviousData,
    refetchInterval: 30_000, // events and status change while the page is open
    queryFn: async (): Promise<TimelineRead[]> => {
      const start = new Date(w.start).toISOString();
      const end = new Date(w.end).toISOString();
      if (ids.length === 1)
        return [unwrap(await api.GET("/api/v1/cameras/{camera_id}/timeline", { params: { path: { camera_id: ids[0]! }, query: { start, end } } }))];
      const multi = unwrap(await api.GET("/api/v1/playback/timeline", { params: { query: { camera_ids: ids.join(","), start, end } } }));
      return multi.cameras;
    },
  });
  const recorded = (timelines.data ?? []).some((t) => t.ranges.length > 0);

  if (cameras.isPending) return <Loading label="Loading cameras…" />;
  if (cameras.isError) return <ErrorState error={cameras.error} onRetry={() => void cameras.refetch()} />;

  return (
    <section aria-labelledby="playback-title" className="playback">
      <div className="page-head">
        <h1 id="playback-title">Playback</h1>
      </div>
      {all.length === 0 ? (
        <EmptyState title="No cameras yet">
          <p>
            Add a camera on the <Link to="/cameras?add=1">Cameras</Link> page; its recordings can be played here.
          </p>
        </EmptyState>
      ) : (
        <>
          <form className="filters" aria-label="What to play" onSubmit={(e) => e.preventDefault()}>
            <fieldset className="camera-chips">
              <legend>Cameras (up to {MAX_CAMERAS}, played in step)</legend>
              {picked.map((c) => (
                <span key={c.id} className="chip">
                  {c.name}
                  {picked.length > 1 && (
                    <button
                      type="button"
                      aria-label={`Stop playing ${c.name}`}
                      onClick={() => update({ camera: ids.filter((id) => id !== c.id) })}
                    >
                      ×
                    </button>
                  )}
                </span>
              ))}
              {ids.length < MAX_CAMERAS && (
                <label className="inline">
                  <span className="sr-only">Add a camera</span>
                  <select
                    value=""
                    aria-label="Add a camera"
                    onChange={(e) => e.target.value && update({ camera: [...ids, e.target.value] })}
                  >
                    <option value="">Add a camera…</option>
                    {all
                      .filter((c) => !ids.includes(c.id))
                      .map((c) => (
                        <option key={c.id} value={c.id}>
                          {c.name}
                        </option>
                      ))}
                  </select>
                </label>
              )}
              {ids.length === 1 && all.length > 1 && (
                <label className="inline">
                  <span className="sr-only">Switch camera</span>
                  <select value={ids[0]} aria-label="Camera" onChange={(e) => update({ camera: e.target.value })}>
                    {all.map((c) => (
                      <option key={c.id} value={c.id}>
                        {c.name}
                      </option>
                    ))}
                  </select>
                </label>
              )}
            </fieldset>
            <label>
              Window
              <select value={period} onChange={(e) => update({ period: e.target.value, from: undefined, to: undefined })}>
                {Object.entries(PRESETS).map(([key, p]) => (
                  <option key={key} value={key}>
                    {p.label}
                  </option>
                ))}
                <option value="custom">Custom…</option>
              </select>
            </label>
            {period === "custom" ? (
              <>
                <label>
                  From
                  <input type="datetime-local" step={1} value={fromText} onChange={(e) => setFromText(e.target.value)} />
                </label>
                <label>
                  To
                  <input type="datetime-local" step={1} value={toText} onChange={(e) => setToText(e.target.value)} />
                </label>
                <button
                  type="button"
                  onClick={() => {
                    const start = fromLocalInput(fromText);
                    const end = fromLocalInput(toText);
                    if (!Number.isNaN(start) && !Number.isNaN(end) && end > start)
                      update({ from: new Date(start).toISOString(), to: new Date(end).toISOString() });
                  }}
                >
                  Show
                </button>
                {!custom && <span className="field-error">Choose a start and a later end, then Show.</span>}
              </>
            ) : (
              <button type="button" onClick={() => setAnchor(Date.now())} title="Move the window to end now">
                Up to now
              </button>
            )}
          </form>

          {timelines.isPending ? (
            <Loading label="Loading the timeline…" />
          ) : timelines.isError ? (
            <ErrorState error={timelines.error} onRetry={() => void timelines.refetch()} />
          ) : (
            <>
              <p className="help" data-testid="coverage">
                {timelines.data.map((t) => {
                  const name = picked.find((c) => c.id === t.camera_id)?.name ?? "Camera";
                  return (
                    <span key={t.camera_id} className="coverage">
                      {name}: {formatDuration(t.recorded_s)} recorded ({Math.round(t.coverage * 100)}%), {t.gaps.length} gap
                      {t.gaps.length === 1 ? "" : "s"}, {t.events_total} event{t.events_total === 1 ? "" : "s"}.{" "}
                    </span>
                  );
                })}
              </p>
              <Timeline
                window={w}
                rows={timelines.data.map((line) => ({ line, name: picked.find((c) => c.id === line.camera_id)?.name ?? "Camera" }))}
                playhead={playhead}
                onSeek={(at) => setSeek((s) => ({ at, nonce: (s?.nonce ?? 0) + 1 }))}
              />
              {recorded ? (
                <VodPlayers cameras={picked} window={w} seek={seek} onPlayhead={setPlayhead} />
              ) : (
                <EmptyState title="Nothing recorded in this window">
                  <p>
                    Choose a longer window, or check on the <Link to="/cameras">Cameras</Link> page that the camera is online:
                    recording starts as soon as the server receives its stream.
                  </p>
                </EmptyState>
              )}
              <ExportPanel key={ids.join(",")} cameras={picked} window={w} playhead={playhead} />
            </>
          )}
        </>
      )}
    </section>
  );
}
