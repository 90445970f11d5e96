import { describe, expect, it } from "vitest";
import { hlsProblem, levelFor, playlistTimeFor, swapToken, tokenOf } from "./hls";

describe("HLS helpers", () => {
  it("swaps the media token of a URL and leaves URLs without one alone", () => {
    const url = "http://127.0.0.1:8000/api/v1/cameras/c1/hls/segments/main-1.ts?token=old&x=1";
    expect(swapToken(url, "new")).toBe("http://127.0.0.1:8000/api/v1/cameras/c1/hls/segments/main-1.ts?token=new&x=1");
    expect(swapToken(url, null)).toBe(url);
    expect(swapToken("http://h/a.m3u8", "new")).toBe("http://h/a.m3u8");
    expect(tokenOf(url)).toBe("old");
  });

  it("picks the tallest variant for main and the smallest for sub", () => {
    const levels = [
      { height: 360, bitrate: 500_000 },
      { height: 1080, bitrate: 4_000_000 },
      { height: 720, bitrate: 2_000_000 },
    ];
    expect(levelFor(levels, "main")).toBe(1);
    expect(levelFor(levels, "sub")).toBe(0);
    expect(levelFor([], "main")).toBe(-1);
  });

  it("maps a wall-clock moment to playlist time across a gap", () => {
    const t0 = Date.parse("2026-01-01T00:00:00Z");
    // two runs of 5 s segments; 20 s unrecorded between them (not part of playlist time)
    const fragments = [
      { start: 0, duration: 5, programDateTime: t0 },
      { start: 5, duration: 5, programDateTime: t0 + 5_000 },
      { start: 10, duration: 5, programDateTime: t0 + 30_000 },
    ];
    expect(playlistTimeFor(fragments, t0 + 7_500)).toBe(7.5);
    expect(playlistTimeFor(fragments, t0 + 31_000)).toBe(11);
    expect(playlistTimeFor(fragments, t0 + 20_000)).toBeNull(); // in the gap
    expect(playlistTimeFor(fragments, t0 - 1)).toBeNull();
  });

  it("says what to do for each kind of failure", () => {
    expect(hlsProblem(404, "network", true)).toMatch(/offline or not being recorded/);
    expect(hlsProblem(404, "network", false)).toMatch(/Nothing is recorded in this range/);
    expect(hlsProblem(403, "network", true)).toMatch(/expired/);
    expect(hlsProblem(502, "network", true)).toMatch(/HTTP 502/);
    expect(hlsProblem(undefined, "media", true)).toMatch(/cannot decode/);
  });
});
