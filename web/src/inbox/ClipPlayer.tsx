// The event's 20 s clip (10 s before to 10 s after) in a plain <video>: the API signs the URL, so
// no header is needed, and the MP4 seeks by Range requests. The snapshot is the poster.
import { forwardRef, useRef } from "react";
import type { EventRead } from "../api";

/** The signed URL changes every ten minutes (a new token); keep the one playing while it is the same file. */
function useStableUrl(url: string | null | undefined): string | null {
  const kept = useRef<string | null>(null);
  const path = (u: string | null | undefined) => u?.split("?")[0] ?? null;
  if (path(url) !== path(kept.current)) kept.current = url ?? null;
  return kept.current;
}

export const ClipPlayer = forwardRef<HTMLVideoElement, { event: EventRead; label: string }>(function ClipPlayer({ event, label }, ref) {
  const clip = useStableUrl(event.clipUrl);
  const poster = useStableUrl(event.snapshotUrl);
  if (!clip) {
    return (
      <div className="clip clip-missing" role="note">
        {poster && <img src={poster} alt={`Snapshot: ${label}`} />}
        <p>
          {event.clipError ??
            "The clip is cut once the 10 s after the event have been recorded; it appears here by itself."}
        </p>
      </div>
    );
  }
  return (
    <div className="clip">
      <video
        key={clip}
        ref={ref}
        src={clip}
        poster={poster ?? undefined}
        controls
        muted
        playsInline
        preload="metadata"
        aria-label={`Clip: ${label}`}
        data-testid="clip-player"
      />
      <a className="clip-download" href={clip} download={`event-${event.eventId}.mp4`}>
        Download clip
      </a>
    </div>
  );
});
