// One camera on the live wall: its video, name, transport (WebRTC / HLS) and state, and what to do
// when it is offline. The stream follows the tile's size (layout.ts).
import { useRef } from "react";
import type { CameraRead } from "../api";
import { chooseStream } from "./layout";
import { describeLive, type Mode } from "./liveState";
import { useLiveStream } from "./useLiveStream";

export interface LiveTileProps {
  camera: CameraRead;
  large: boolean;
  forced: Mode | null;
  selected: boolean;
  maximised: boolean;
  onSelect(): void;
  onMaximise(): void;
  onRemove(): void;
}

export function LiveTile({ camera, large, forced, selected, maximised, onSelect, onMaximise, onRemove }: LiveTileProps) {
  const videoRef = useRef<HTMLVideoElement>(null);
  const stream = chooseStream(camera, large);
  const [state, retry] = useLiveStream(videoRef, camera.id, stream, forced);
  const label = `${camera.name}: ${describeLive(state)}`;

  return (
    <figure
      className={`live-tile live-${state.phase}${selected ? " selected" : ""}`}
      data-testid="live-tile"
      data-mode={state.mode}
      data-phase={state.phase}
      data-stream={stream}
      aria-label={label}
      tabIndex={0}
      onFocus={onSelect}
      onClick={onSelect}
      onDoubleClick={onMaximise}
    >
      <video ref={videoRef} muted autoPlay playsInline aria-label={`Live video of ${camera.name}`} />
      <figcaption className="live-caption">
        <span className="live-name">{camera.name}</span>
        <span className={`badge live-mode live-mode-${state.mode}`} title="Transport">
          {state.mode === "webrtc" ? "WebRTC" : "HLS"}
        </span>
        <span className="badge live-stream" title="Stream">
          {stream}
        </span>
        <span className="live-phase" role="status" aria-live="polite">
          {describeLive(state)}
        </span>
        <span className="live-actions">
          <button
            type="button"
            onClick={(e) => {
              e.stopPropagation();
              onMaximise();
            }}
            aria-label={maximised ? `Back to the grid from ${camera.name}` : `Full screen: ${camera.name}`}
          >
            {maximised ? "Grid" : "Full"}
          </button>
          <button
            type="button"
            onClick={(e) => {
              e.stopPropagation();
              onRemove();
            }}
            aria-label={`Remove ${camera.name} from the wall`}
          >
            ×
          </button>
        </span>
      </figcaption>
      {state.note && state.phase !== "offline" && <p className="live-note">{state.note}</p>}
      {state.phase === "offline" && (
        <div className="live-offline" role="alert">
          <strong>{camera.name} is not playing</strong>
          <p>{state.note}</p>
          <p className="help">It tries again by itself every 15 s.</p>
          <button type="button" onClick={retry}>
            Try again
          </button>
        </div>
      )}
    </figure>
  );
}
