// Drives one live tile's <video>: WebRTC first, HLS when that fails (liveState.ts decides), with
// the peer connection or hls.js instance torn down whenever the camera, stream or mode changes and
// when the tile goes away. An offline tile tries again by itself every RETRY_MS.
import { useCallback, useEffect, useReducer, type RefObject } from "react";
import { api, unwrap } from "../api";
import { attachHls, onFirstFrame, tokenOf } from "./hls";
import type { StreamName } from "./layout";
import { FIRST_FRAME_MS, HLS_FIRST_FRAME_MS, initialLive, liveReducer, RETRY_MS, type LiveState, type Mode } from "./liveState";
import { startWebRtc, webrtcAvailable } from "./webrtc";

/** Refresh signed live URLs this long before they expire. */
const TOKEN_MARGIN_MS = 60_000;

async function startLiveHls(
  video: HTMLVideoElement,
  cameraId: string,
  stream: StreamName,
  onFatal: (reason: string) => void,
): Promise<() => void> {
  const fetchUrls = async () => {
    const urls = unwrap(await api.POST("/api/v1/playback/urls", { body: { camera_ids: [cameraId] } }));
    const camera = urls.cameras[0];
    if (!camera) throw new Error("The server returned no live URL for this camera.");
    return camera;
  };
  let urls = await fetchUrls();
  let token = tokenOf(urls.live_master);
  let refresh: ReturnType<typeof setTimeout> | undefined;
  const schedule = () => {
    const left = new Date(urls.expires_at).getTime() - Date.now() - TOKEN_MARGIN_MS;
    const wait = Math.min(Math.max(left, 10_000), 3_600_000); // a timer above 2^31 ms would fire at once
    refresh = setTimeout(() => {
      fetchUrls()
        .then((fresh) => {
          urls = fresh;
          token = tokenOf(fresh.live_master);
        })
        .catch(() => undefined) // the next playlist request fails and the tile shows why
        .finally(schedule);
    }, wait);
  };
  schedule();
  const handle = await attachHls(video, urls.live_master, { live: true, stream, onFatal, currentToken: () => token });
  return () => {
    clearTimeout(refresh);
    handle.destroy();
  };
}

export function useLiveStream(
  videoRef: RefObject<HTMLVideoElement>,
  cameraId: string,
  stream: StreamName,
  forced: Mode | null,
): [LiveState, () => void] {
  const [state, dispatch] = useReducer(liveReducer, forced, initialLive);
  const restart = useCallback(() => dispatch({ type: "start", forced, webrtcAvailable: webrtcAvailable() }), [forced]);

  useEffect(restart, [restart, cameraId, stream]);

  useEffect(() => {
    const video = videoRef.current;
    if (!video || state.attempt === 0) return;
    let stopped = false;
    let stop = () => {};
    const timer = setTimeout(() => dispatch({ type: "timeout" }), state.mode === "webrtc" ? FIRST_FRAME_MS : HLS_FIRST_FRAME_MS);
    const unwatch = onFirstFrame(video, () => {
      clearTimeout(timer);
      dispatch({ type: "frame" });
    });
    const started =
      state.mode === "webrtc"
        ? startWebRtc(video, cameraId, stream, (reason) => dispatch({ type: "webrtc-failed", reason }))
        : startLiveHls(video, cameraId, stream, (reason) => dispatch({ type: "hls-failed", reason }));
    started.then(
      (s) => (stopped ? s() : (stop = s)),
      (error: unknown) => {
        if (stopped) return;
        const reason = error instanceof Error ? error.message : String(error);
        dispatch(state.mode === "webrtc" ? { type: "webrtc-failed", reason } : { type: "hls-failed", reason: hlsStartProblem(reason) });
      },
    );
    return () => {
      stopped = true;
      clearTimeout(timer);
      unwatch();
      stop();
    };
    // The player restarts on a new attempt or mode only; phase changes (playing) must not tear it down.
  }, [state.attempt, state.mode]);

  useEffect(() => {
    if (state.phase !== "offline") return;
    const timer = setTimeout(restart, RETRY_MS);
    return () => clearTimeout(timer);
  }, [state.phase, state.attempt, restart]);

  return [state, restart];
}

function hlsStartProblem(reason: string): string {
  return `Live video could not start: ${reason}`;
}
