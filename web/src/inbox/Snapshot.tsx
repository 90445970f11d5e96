// The event's moment as a still, with the detection's bounding box drawn over it (fractions of the
// frame, so the box scales with the image).
import type { EventRead } from "../api";
import { percent } from "./format";

export function Snapshot({ event, label }: { event: EventRead; label: string }) {
  if (!event.snapshotUrl) return null;
  const [x = 0, y = 0, w = 0, h = 0] = event.detectionMetadata.boundingBox;
  const { objectClass } = event.detectionMetadata;
  return (
    <figure className="snapshot">
      <div className="snapshot-frame">
        <img src={event.snapshotUrl} alt={`Snapshot: ${label}, ${objectClass} outlined`} loading="lazy" />
        {w > 0 && h > 0 && (
          <div
            className="bbox"
            data-testid="bounding-box"
            style={{ left: `${x * 100}%`, top: `${y * 100}%`, width: `${w * 100}%`, height: `${h * 100}%` }}
            aria-hidden="true"
          >
            <span>
              {objectClass} {percent(event.confidence)}
            </span>
          </div>
        )}
      </div>
    </figure>
  );
}
