// Pan, tilt and zoom for a camera with a control interface: a pad (press and hold a button, or an
// arrow key, to move; release to stop; + and − zoom), where the head points, presets, auto-tracking
// of an AI event (PtzTrack.tsx) and tours.
// A Viewer sees the position, presets and tours; Admins and Supervisors move the camera.
import { useCallback, useState, type KeyboardEvent, type PointerEvent } from "react";
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api";
import { ErrorState, Loading, ProblemMessage } from "../components/States";
import { KEYS, usePtzPad, type Direction } from "./ptzPad";
import { PresetsPanel } from "./PtzPresets";
import { ToursPanel } from "./PtzTours";
import { TrackPanel } from "./PtzTrack";
import { cameraKeys } from "./queries";

export default function PtzPanel({ cameraId, operator }: { cameraId: string; operator: boolean }) {
  const status = useQuery({
    queryKey: [...cameraKeys.ptz(cameraId), "status"],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/cameras/{camera_id}/ptz/status", { params: { path: { camera_id: cameraId } } })),
    refetchInterval: (q) => (q.state.status === "error" ? false : 3000),
  });

  return (
    <section className="panel ptz" aria-labelledby="ptz-title">
      <h2 id="ptz-title">Pan, tilt and zoom</h2>
      {status.isPending ? (
        <Loading label="Asking the camera where it points…" />
      ) : status.isError && !status.data ? (
        <ErrorState error={status.error} onRetry={() => void status.refetch()} />
      ) : (
        <>
          <p className="ptz-status" data-testid="ptz-status">
            {status.data.position
              ? `Pan ${fmt(status.data.position.pan)} · tilt ${fmt(status.data.position.tilt)} · zoom ${fmt(status.data.position.zoom)}`
              : "The camera does not report its position."}
            {status.data.moving ? " · moving" : ""}
            {status.data.tour_id ? " · a tour is running" : ""}
          </p>
          <div className="ptz-grid">
            {operator && <Pad cameraId={cameraId} onMoved={() => void status.refetch()} />}
            <PresetsPanel cameraId={cameraId} operator={operator} />
          </div>
          {operator && <TrackPanel cameraId={cameraId} />}
          <ToursPanel cameraId={cameraId} operator={operator} />
        </>
      )}
    </section>
  );
}

const fmt = (n: number) => (n >= 0 ? "+" : "−") + Math.abs(n).toFixed(2);

const BUTTONS: { d: Direction; label: string; glyph: string; area: string }[] = [
  { d: "up", label: "Tilt up", glyph: "▲", area: "up" },
  { d: "left", label: "Pan left", glyph: "◀", area: "left" },
  { d: "right", label: "Pan right", glyph: "▶", area: "right" },
  { d: "down", label: "Tilt down", glyph: "▼", area: "down" },
  { d: "zoom-in", label: "Zoom in", glyph: "+", area: "zin" },
  { d: "zoom-out", label: "Zoom out", glyph: "−", area: "zout" },
];

export function Pad({ cameraId, onMoved }: { cameraId: string; onMoved?: () => void }) {
  const [speed, setSpeed] = useState(0.5);
  const [error, setError] = useState<unknown>(null);
  const onError = useCallback((e: unknown) => setError(e), []);
  const { start, stop } = usePtzPad(cameraId, speed, onError);
  const press = (d: Direction) => {
    setError(null);
    start(d);
  };
  const release = () => {
    stop();
    onMoved?.();
  };

  // Arrow keys and +/− anywhere in the pad; Enter/Space on a focused button. Held = moving.
  const onKeyDown = (e: KeyboardEvent) => {
    const d = KEYS[e.key] ?? ((e.key === "Enter" || e.key === " ") && (e.target as HTMLElement).dataset.direction);
    if (!d) return;
    e.preventDefault();
    if (!e.repeat) press(d as Direction);
  };
  const onKeyUp = (e: KeyboardEvent) => {
    if (KEYS[e.key] || e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      release();
    }
  };
  const onPointerDown = (e: PointerEvent<HTMLButtonElement>, d: Direction) => {
    e.preventDefault(); // no text selection or focus jump on a long press
    e.currentTarget.setPointerCapture?.(e.pointerId); // keeps the release even if the finger slides off
    press(d);
  };

  return (
    <div className="ptz-pad-wrap">
      <div
        className="ptz-pad"
        role="group"
        aria-label="PTZ pad"
        aria-describedby="ptz-pad-help"
        tabIndex={0}
        onKeyDown={onKeyDown}
        onKeyUp={onKeyUp}
        onBlur={(e) => {
          if (!e.currentTarget.contains(e.relatedTarget as Node | null)) release(); // focus left the pad
        }}
        data-testid="ptz-pad"
      >
        {BUTTONS.map((b) => (
          <button
            key={b.d}
            type="button"
            aria-label={b.label}
            title={b.label}
            data-direction={b.d}
            style={{ gridArea: b.area }}
            onPointerDown={(e) => onPointerDown(e, b.d)}
            onPointerUp={release}
            onPointerCancel={release}
            onContextMenu={(e) => e.preventDefault()}
          >
            {b.glyph}
          </button>
        ))}
      </div>
      <p id="ptz-pad-help" className="help">
        Press and hold to move, release to stop. Keyboard: focus the pad, then hold the arrow keys to pan and tilt,{" "}
        <kbd>+</kbd> or <kbd>-</kbd> to zoom.
      </p>
      <label className="narrow">
        Speed {Math.round(speed * 100)} %
        <input type="range" min={0.1} max={1} step={0.1} value={speed} onChange={(e) => setSpeed(Number(e.target.value))} />
      </label>
      {error !== null && <ProblemMessage error={error} />}
    </div>
  );
}
