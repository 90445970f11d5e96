// Auto-tracking on the PTZ pad: pick an AI event of this camera (or paste its id) and the camera
// re-centres on the event's bounding box; while the event goes on, its box follows the object, so
// the panel asks again every few seconds until the event ends or the operator presses Stop. The
// server's deadband keeps a centred target from jittering; every track stops a running tour.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type EventRead, type Schemas } from "../api";
import { ProblemMessage } from "../components/States";
import { cameraKeys, MODEL_TITLES } from "./queries";

type TrackRead = Schemas["TrackRead"];
export const TRACK_EVERY_MS = 2_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const clock = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const signed = (n: number) => (n >= 0 ? "+" : "−") + Math.abs(n).toFixed(2);

export type TrackState =
  | { phase: "idle" }
  | { phase: "tracking"; eventId: string; last: TrackRead | null; at: Date | null }
  | { phase: "ended"; eventId: string; why: string };

/** The state in words, for the status line. */
export function trackWords(state: TrackState): string {
  if (state.phase === "idle") return "Not tracking.";
  if (state.phase === "ended") return state.why;
  if (!state.last) return "Tracking: turning to the target…";
  const t = state.last.translation;
  const move = state.last.moved
    ? `last move pan ${signed(t.pan)}, tilt ${signed(t.tilt)}${t.zoom ? `, zoom ${signed(t.zoom)}` : ""}`
    : "target centred, no move needed";
  return `Tracking: ${move} (${clock.format(state.at!)}).`;
}

function eventLabel(e: EventRead): string {
  const title = MODEL_TITLES[e.eventType as keyof typeof MODEL_TITLES] ?? e.eventType;
  return `${title} at ${clock.format(new Date(e.timestamp))}${e.endedAt ? "" : " (ongoing)"}`;
}

export function TrackPanel({ cameraId }: { cameraId: string }) {
  const client = useQueryClient();
  const recent = useQuery({
    queryKey: [...cameraKeys.ptz(cameraId), "track-events"],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/events", { params: { query: { camera_id: [cameraId], limit: 10 } } })).items,
    refetchInterval: 10_000,
  });
  const [chosen, setChosen] = useState("");
  const [pasted, setPasted] = useState("");
  const [zoom, setZoom] = useState(false);
  const [state, setState] = useState<TrackState>({ phase: "idle" });
  const [error, setError] = useState<unknown>(null);
  const timer = useRef<number | null>(null);
  const active = useRef<string | null>(null); // the event being followed; null once stopped or unmounted
  const eventId = pasted.trim() || chosen;
  const valid = UUID.test(eventId);

  const halt = () => {
    active.current = null;
    if (timer.current !== null) window.clearTimeout(timer.current);
    timer.current = null;
  };
  useEffect(() => halt, []); // leaving the page stops following

  const step = async (id: string, zoomTo: number | null) => {
    try {
      const body = { event_id: id, ...(zoomTo ? { zoom_to_fraction: zoomTo } : {}) };
      const result = unwrap(await api.POST("/api/v1/cameras/{camera_id}/ptz/track", { params: { path: { camera_id: cameraId } }, body }));
      if (active.current !== id) return; // stopped while the camera moved
      setState({ phase: "tracking", eventId: id, last: result, at: new Date() });
      void client.invalidateQueries({ queryKey: [...cameraKeys.ptz(cameraId), "status"] });
      const event = unwrap(await api.GET("/api/v1/events/{event_id}", { params: { path: { event_id: id } } }));
      if (active.current !== id) return;
      if (event.endedAt) {
        active.current = null;
        setState({ phase: "ended", eventId: id, why: "The event has ended: tracking stopped where the object was last seen." });
        return;
      }
      timer.current = window.setTimeout(() => void step(id, null), TRACK_EVERY_MS); // zoom once, then only re-centre
    } catch (e) {
      if (active.current !== id) return;
      active.current = null;
      setError(e);
      setState({ phase: "ended", eventId: id, why: "Tracking stopped: the camera or the server refused (see below)." });
    }
  };

  const start = (e: FormEvent) => {
    e.preventDefault();
    if (!valid) return;
    halt();
    active.current = eventId;
    setError(null);
    setState({ phase: "tracking", eventId, last: null, at: null });
    void step(eventId, zoom ? 0.5 : null);
  };
  const stop = async () => {
    halt();
    setState({ phase: "idle" });
    try {
      unwrap(await api.POST("/api/v1/cameras/{camera_id}/ptz/stop", { params: { path: { camera_id: cameraId } } }));
    } catch (e) {
      setError(e);
    }
  };
  const tracking = state.phase === "tracking";

  return (
    <section className="ptz-track" aria-labelledby="track-title">
      <h3 id="track-title">Auto-track an event</h3>
      <form onSubmit={start} aria-labelledby="track-title">
        <label>
          Event of this camera
          <select value={chosen} onChange={(e) => setChosen(e.target.value)} disabled={tracking}>
            <option value="">{recent.isPending ? "Loading events…" : recent.data?.length ? "Choose an event" : "No recent events"}</option>
            {recent.data?.map((ev) => (
              <option key={ev.eventId} value={ev.eventId}>
                {eventLabel(ev)}
              </option>
            ))}
          </select>
        </label>
        <label>
          or its event id
          <input
            className="mono"
            value={pasted}
            onChange={(e) => setPasted(e.target.value)}
            disabled={tracking}
            placeholder="00000000-0000-0000-0000-000000000000"
            aria-invalid={pasted.trim() !== "" && !UUID.test(pasted.trim())}
          />
        </label>
        {pasted.trim() !== "" && !UUID.test(pasted.trim()) && <span className="field-error">An event id looks like 8-4-4-4-12 hexadecimal digits.</span>}
        <label className="check">
          <input type="checkbox" checked={zoom} onChange={(e) => setZoom(e.target.checked)} disabled={tracking} />
          Zoom so the target fills half the picture
        </label>
        <div className="row">
          {tracking ? (
            <button type="button" className="danger" onClick={() => void stop()}>
              Stop tracking
            </button>
          ) : (
            <button type="submit" className="primary" disabled={!valid}>
              Start tracking
            </button>
          )}
        </div>
      </form>
      <p role="status" aria-live="polite" data-testid="track-state" className={tracking ? "track-on" : "muted"}>
        {trackWords(state)}
      </p>
      {recent.isError && <ProblemMessage error={recent.error} />}
      {error !== null && <ProblemMessage error={error} />}
      <p className="help">
        The camera turns to the event's detection box and follows it every {TRACK_EVERY_MS / 1000} s while the event goes on.
        Moving the camera by hand, a preset or a tour takes over.
      </p>
    </section>
  );
}
