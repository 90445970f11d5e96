// What a live tile is doing, as a reducer: try WebRTC, fall back to HLS when WebRTC fails, the API
// says so (503 with `fallback: "hls"`) or no frame arrives in time; offline, with what to do, when
// HLS fails too. A mode forced by the user (`?mode=hls|webrtc`) never falls back.

export type Mode = "webrtc" | "hls";
export type Phase = "connecting" | "playing" | "offline";

export interface LiveState {
  phase: Phase;
  mode: Mode;
  forced: Mode | null;
  /** Why the tile is on HLS, or why it is offline (shown in the tile). */
  note: string;
  /** Bumped by every (re)start, so the player effect re-runs even when the mode is the same. */
  attempt: number;
}

export type LiveEvent =
  | { type: "start"; forced: Mode | null; webrtcAvailable: boolean }
  | { type: "frame" }
  | { type: "webrtc-failed"; reason: string }
  | { type: "timeout" }
  | { type: "hls-failed"; reason: string };

/** No frame within this long after starting counts as a failure (WebRTC falls back to HLS). */
export const FIRST_FRAME_MS = 5_000;
/** HLS starts a few segments behind the live edge and fetches a playlist first: give it longer. */
export const HLS_FIRST_FRAME_MS = 20_000;
/** An offline tile tries again on its own after this long. */
export const RETRY_MS = 15_000;

export function initialLive(forced: Mode | null = null): LiveState {
  return { phase: "connecting", mode: forced ?? "webrtc", forced, note: "", attempt: 0 };
}

function toHls(state: LiveState, why: string): LiveState {
  if (state.forced === "webrtc") return offline(state, `WebRTC: ${why}`);
  return { ...state, phase: "connecting", mode: "hls", note: `WebRTC ${why}; playing HLS instead.` };
}

function offline(state: LiveState, reason: string): LiveState {
  return { ...state, phase: "offline", note: reason };
}

export function liveReducer(state: LiveState, event: LiveEvent): LiveState {
  switch (event.type) {
    case "start": {
      const mode: Mode = event.forced ?? (event.webrtcAvailable ? "webrtc" : "hls");
      const note = !event.forced && !event.webrtcAvailable ? "This browser has no WebRTC; playing HLS." : "";
      return { phase: "connecting", mode, forced: event.forced, note, attempt: state.attempt + 1 };
    }
    case "frame":
      return state.phase === "offline" ? state : { ...state, phase: "playing" };
    case "webrtc-failed":
      return state.mode === "webrtc" && state.phase !== "offline" ? toHls(state, event.reason) : state;
    case "timeout":
      if (state.phase !== "connecting") return state;
      return state.mode === "webrtc"
        ? toHls(state, `showed no video within ${FIRST_FRAME_MS / 1000} s`)
        : offline(state, `No video within ${HLS_FIRST_FRAME_MS / 1000} s. The camera may be offline or not recording.`);
    case "hls-failed":
      return state.mode === "hls" && state.phase !== "offline" ? offline(state, event.reason) : state;
  }
}

/** The words shown in a tile for its state. */
export function describeLive(state: LiveState): string {
  const mode = state.mode === "webrtc" ? "WebRTC" : "HLS";
  if (state.phase === "connecting") return `Connecting (${mode})…`;
  if (state.phase === "playing") return `Live · ${mode}`;
  return "Offline";
}
