import { describe, expect, it } from "vitest";
import { describeLive, initialLive, liveReducer, type LiveEvent, type LiveState, type Mode } from "./liveState";

const run = (events: LiveEvent[], forced: Mode | null = null): LiveState => events.reduce(liveReducer, initialLive(forced));
const start = (forced: Mode | null = null, webrtcAvailable = true): LiveEvent => ({ type: "start", forced, webrtcAvailable });

describe("live fallback state machine", () => {
  it("starts on WebRTC and plays on the first frame", () => {
    const s = run([start(), { type: "frame" }]);
    expect([s.mode, s.phase, s.attempt]).toEqual(["webrtc", "playing", 1]);
    expect(describeLive(s)).toBe("Live · WebRTC");
  });

  it("falls back to HLS when WebRTC fails or the API says so, saying why", () => {
    const s = run([start(), { type: "webrtc-failed", reason: "is unavailable (no gateway)" }]);
    expect([s.mode, s.phase]).toEqual(["hls", "connecting"]);
    expect(s.note).toBe("WebRTC is unavailable (no gateway); playing HLS instead.");
    expect(describeLive(run([start(), { type: "webrtc-failed", reason: "x" }, { type: "frame" }]))).toBe("Live · HLS");
  });

  it("falls back to HLS when WebRTC shows no frame in time", () => {
    const s = run([start(), { type: "timeout" }]);
    expect([s.mode, s.phase]).toEqual(["hls", "connecting"]);
    expect(s.note).toMatch(/no video within 5 s/);
  });

  it("goes offline with the reason when HLS fails or times out too", () => {
    const failed = run([start(), { type: "webrtc-failed", reason: "x" }, { type: "hls-failed", reason: "No recent recording" }]);
    expect([failed.mode, failed.phase, failed.note]).toEqual(["hls", "offline", "No recent recording"]);
    const silent = run([start(), { type: "timeout" }, { type: "timeout" }]);
    expect(silent.phase).toBe("offline");
    expect(describeLive(silent)).toBe("Offline");
  });

  it("a timeout after the first frame changes nothing", () => {
    const s = run([start(), { type: "frame" }, { type: "timeout" }]);
    expect([s.mode, s.phase]).toEqual(["webrtc", "playing"]);
  });

  it("a forced mode never falls back: forced HLS starts on HLS, forced WebRTC goes offline", () => {
    expect(run([start("hls")], "hls").mode).toBe("hls");
    const s = run([start("webrtc"), { type: "webrtc-failed", reason: "was refused (H.265)" }], "webrtc");
    expect([s.mode, s.phase, s.note]).toEqual(["webrtc", "offline", "WebRTC: was refused (H.265)"]);
  });

  it("a browser without WebRTC starts on HLS and says so", () => {
    const s = run([start(null, false)]);
    expect(s.mode).toBe("hls");
    expect(s.note).toMatch(/no WebRTC/);
  });

  it("a retry starts over from WebRTC with a new attempt", () => {
    const s = run([start(), { type: "webrtc-failed", reason: "x" }, { type: "hls-failed", reason: "y" }, start()]);
    expect([s.mode, s.phase, s.attempt, s.note]).toEqual(["webrtc", "connecting", 2, ""]);
  });

  it("late failures of a mode no longer playing are ignored", () => {
    const s = run([start(), { type: "webrtc-failed", reason: "x" }, { type: "frame" }, { type: "webrtc-failed", reason: "late" }]);
    expect([s.mode, s.phase]).toEqual(["hls", "playing"]);
  });
});
