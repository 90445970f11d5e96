// HLS in a <video>: hls.js where the browser has Media Source Extensions, the browser's own HLS
// otherwise (Safari, iOS). hls.js is loaded on first use, so it weighs on no page that never plays.
// Media URLs carry a signed `?token=` (a <video> cannot send the bearer header); `currentToken`
// lets the caller hand newer tokens to every later playlist and segment request.
import type Hls from "hls.js";
import type { ErrorData, Fragment, Level } from "hls.js";
import type { StreamName } from "./layout";

export interface HlsHandle {
  /** The hls.js instance; null when the browser plays HLS itself. */
  hls: Hls | null;
  destroy(): void;
}

export interface AttachOptions {
  live: boolean;
  /** Which variant of the master to play: main (highest resolution) or sub (lowest); ABR when unset. */
  stream?: StreamName;
  onFatal(reason: string): void;
  /** The newest media token; every request's `token=` is swapped for it. */
  currentToken?: () => string | null;
  /** Called once, when the first media playlist is loaded (its fragments and their dates are known). */
  onFirstLevel?: () => void;
}

/** `url` with its `token` query parameter replaced (relative URLs are resolved against the page). */
export function swapToken(url: string, token: string | null): string {
  if (!token) return url;
  const u = new URL(url, window.location.href);
  if (!u.searchParams.has("token")) return url;
  u.searchParams.set("token", token);
  return u.toString();
}

export function tokenOf(url: string): string | null {
  return new URL(url, window.location.href).searchParams.get("token");
}

/** The level index playing `stream`: main is the tallest variant, sub the smallest. */
export function levelFor(levels: Pick<Level, "height" | "bitrate">[], stream: StreamName): number {
  if (levels.length === 0) return -1;
  let best = 0;
  levels.forEach((l, i) => {
    const b = levels[best]!;
    const bigger = l.height - b.height || l.bitrate - b.bitrate;
    if (stream === "main" ? bigger > 0 : bigger < 0) best = i;
  });
  return best;
}

/** A sentence for a failed HLS request or decode: what went wrong and what to do. */
export function hlsProblem(status: number | undefined, kind: "network" | "media" | "other", live: boolean): string {
  if (status === 404)
    return live
      ? "No recent recording of this camera: it is offline or not being recorded. Check its status on the Cameras page."
      : "Nothing is recorded in this range. Pick a range with a recorded (coloured) part on the timeline.";
  if (status === 403) return "The media link expired or was refused. Try again; if it persists, sign in again.";
  if (status && status >= 500) return `The server failed to serve the video (HTTP ${status}). Try again.`;
  if (kind === "media") return "This browser cannot decode the camera's video (e.g. H.265). Use a camera sub stream in H.264.";
  if (kind === "network") return "The video could not be loaded. Check your network connection, then try again.";
  return "The video stopped. Try again.";
}

export function supportsNativeHls(video: HTMLVideoElement): boolean {
  return video.canPlayType("application/vnd.apple.mpegurl") !== "";
}

/** Play the HLS playlist at `url` in `video`. */
export async function attachHls(video: HTMLVideoElement, url: string, options: AttachOptions): Promise<HlsHandle> {
  const { default: HlsClass, Events, ErrorTypes } = await import("hls.js/dist/hls.light.mjs");
  const token = options.currentToken ?? (() => null);
  if (!HlsClass.isSupported()) {
    if (!supportsNativeHls(video)) throw new Error("This browser cannot play HLS video.");
    const onError = () => options.onFatal(hlsProblem(undefined, "other", options.live));
    video.addEventListener("error", onError);
    video.src = url;
    void video.play().catch(() => undefined);
    return {
      hls: null,
      destroy() {
        video.removeEventListener("error", onError);
        video.removeAttribute("src");
        video.load();
      },
    };
  }
  const hls = new HlsClass({
    // Live tiles keep little buffer (a 16-tile wall holds 16 of them); playback buffers more ahead.
    maxBufferLength: options.live ? 10 : 30,
    backBufferLength: options.live ? 10 : 60,
    // No liveSyncDuration here: the server's EXT-X-SERVER-CONTROL:HOLD-BACK sets the live distance.
    enableWorker: true,
    xhrSetup: (xhr, requestUrl) => xhr.open("GET", swapToken(requestUrl, token()), true),
  });
  let recoveredMedia = false;
  hls.on(Events.MANIFEST_PARSED, (_e, data) => {
    if (options.stream) {
      const level = levelFor(data.levels, options.stream);
      if (level >= 0) hls.currentLevel = level;
    }
    void video.play().catch(() => undefined);
  });
  hls.once(Events.LEVEL_LOADED, () => options.onFirstLevel?.());
  hls.on(Events.ERROR, (_e, data: ErrorData) => {
    if (!data.fatal) return;
    if (data.type === ErrorTypes.MEDIA_ERROR && !recoveredMedia) {
      recoveredMedia = true; // one decode hiccup is recoverable; a second means the codec cannot play
      hls.recoverMediaError();
      return;
    }
    const kind = data.type === ErrorTypes.NETWORK_ERROR ? "network" : data.type === ErrorTypes.MEDIA_ERROR ? "media" : "other";
    options.onFatal(hlsProblem(data.response?.code, kind, options.live));
  });
  hls.loadSource(url);
  hls.attachMedia(video);
  return {
    hls,
    destroy() {
      hls.destroy();
      video.removeAttribute("src");
      video.load();
    },
  };
}

/** Position in the playlist's own time of the wall-clock moment `dateMs`, or null when not in it. */
export function playlistTimeFor(fragments: Pick<Fragment, "start" | "duration" | "programDateTime">[], dateMs: number): number | null {
  for (const f of fragments) {
    if (f.programDateTime == null) continue;
    const offset = (dateMs - f.programDateTime) / 1000;
    if (offset >= 0 && offset < f.duration) return f.start + offset;
  }
  return null;
}

/** Calls `onFrame` once when the first video frame is shown (requestVideoFrameCallback, else time advancing). */
export function onFirstFrame(video: HTMLVideoElement, onFrame: () => void): () => void {
  type WithRvfc = HTMLVideoElement & {
    requestVideoFrameCallback?: (cb: () => void) => number;
    cancelVideoFrameCallback?: (id: number) => void;
  };
  const v = video as WithRvfc;
  if (v.requestVideoFrameCallback) {
    const id = v.requestVideoFrameCallback(onFrame);
    return () => v.cancelVideoFrameCallback?.(id);
  }
  let start = -1;
  const onTime = () => {
    if (start < 0) start = video.currentTime;
    else if (video.currentTime > start) {
      video.removeEventListener("timeupdate", onTime);
      onFrame();
    }
  };
  video.addEventListener("timeupdate", onTime);
  return () => video.removeEventListener("timeupdate", onTime);
}
