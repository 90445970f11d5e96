import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { session } from "../api/session";
import { fakeApi, json, ME, tokens } from "../test/fakeApi";
import { renderApp } from "../test/render";
import { attachHls, onFirstFrame } from "./hls";
import { startWebRtc, WebRtcUnavailable } from "./webrtc";

// The browser's media engines are faked (jsdom has no RTCPeerConnection or MSE); the API is the
// fake HTTP API, and the real tile state machine and page run on top.
vi.mock("./webrtc", async (original) => ({
  ...(await original<typeof import("./webrtc")>()),
  startWebRtc: vi.fn(),
  webrtcAvailable: () => true,
}));
vi.mock("./hls", async (original) => ({
  ...(await original<typeof import("./hls")>()),
  attachHls: vi.fn(),
  onFirstFrame: vi.fn(),
}));

const webrtc = vi.mocked(startWebRtc);
const hls = vi.mocked(attachHls);
const firstFrame = vi.mocked(onFirstFrame);

function camera(n: number, sub = true) {
  return {
    id: `00000000-0000-0000-0000-00000000ca0${n}`,
    name: `Gate ${n}`,
    status: "online",
    main_url: `rtsp://127.0.0.1:58554/cam${n}`,
    sub_url: sub ? `rtsp://127.0.0.1:58554/cam${n}_sub` : null,
  };
}

let frames: Map<HTMLVideoElement, () => void>;
let stops: ReturnType<typeof vi.fn>[];

function setup(cameras = [camera(1), camera(2, false), camera(3), camera(4), camera(5)], webrtcStatus = "available") {
  const api = fakeApi({
    "GET /api/v1/auth/me": () => json(ME),
    "GET /api/v1/cameras": () => json({ items: cameras, total: cameras.length, limit: 500, offset: 0 }),
    "GET /api/v1/live/status": () =>
      json({ webrtc: webrtcStatus, state: webrtcStatus === "available" ? "running" : "unavailable", reason: webrtcStatus === "available" ? null : "go2rtc not installed", version: null, streams: 0, restarts: 0, since: "2026-01-01T00:00:00Z" }),
    "POST /api/v1/playback/urls": ({ body }) => {
      const id = (body as { camera_ids: string[] }).camera_ids[0];
      return json({
        cameras: [{ camera_id: id, live_master: `http://localhost:3000/api/v1/cameras/${id}/hls/live/master.m3u8?token=t1`, vod_master: null, expires_at: "2099-01-01T00:00:00Z" }],
      });
    },
  });
  session.set(tokens(1));
  return api;
}

beforeEach(() => {
  frames = new Map();
  stops = [];
  firstFrame.mockImplementation((video, cb) => {
    frames.set(video, cb);
    return () => frames.delete(video);
  });
  webrtc.mockImplementation(async () => {
    const stop = vi.fn();
    stops.push(stop);
    return stop;
  });
  hls.mockImplementation(async () => ({ hls: null, destroy: vi.fn() }));
});

/** Show a first frame in every tile that is waiting for one. */
function playAll() {
  act(() => [...frames.values()].forEach((cb) => cb()));
}

describe("live wall", () => {
  it("fills four tiles over WebRTC, sub stream where the camera has one, and plays", async () => {
    setup();
    renderApp("/live");
    const tiles = await screen.findAllByTestId("live-tile");
    expect(tiles).toHaveLength(4);
    await waitFor(() => expect(webrtc).toHaveBeenCalledTimes(4));
    expect(webrtc.mock.calls.map((c) => [c[1].slice(-1), c[2]])).toEqual([
      ["1", "sub"],
      ["2", "main"], // no sub stream
      ["3", "sub"],
      ["4", "sub"],
    ]);
    playAll();
    await waitFor(() => expect(within(tiles[0]!).getByRole("status")).toHaveTextContent("Live · WebRTC"));
    expect(tiles[0]).toHaveAttribute("data-mode", "webrtc");
  });

  it("falls back to HLS with the signed live URL when WebRTC is refused, and says why", async () => {
    const api = setup();
    webrtc.mockRejectedValue(new WebRtcUnavailable("is unavailable (The streaming gateway is not running)"));
    renderApp("/live?layout=1");
    const tile = await screen.findByTestId("live-tile");
    await waitFor(() => expect(hls).toHaveBeenCalledTimes(1));
    expect(hls.mock.calls[0]![1]).toContain("/hls/live/master.m3u8?token=t1");
    expect(hls.mock.calls[0]![2]).toMatchObject({ live: true, stream: "main" });
    expect(api.called("POST /api/v1/playback/urls")[0]?.body).toEqual({ camera_ids: [camera(1).id] });
    playAll();
    await waitFor(() => expect(tile).toHaveAttribute("data-phase", "playing"));
    expect(tile).toHaveAttribute("data-mode", "hls");
    expect(tile).toHaveTextContent("WebRTC is unavailable (The streaming gateway is not running); playing HLS instead.");
  });

  it("falls back to HLS when WebRTC connects but no frame arrives in 5 s", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      setup([camera(1)]);
      renderApp("/live?layout=1");
      const tile = await screen.findByTestId("live-tile");
      await waitFor(() => expect(webrtc).toHaveBeenCalledTimes(1));
      await act(async () => {
        await vi.advanceTimersByTimeAsync(5_100);
      });
      await waitFor(() => expect(tile).toHaveAttribute("data-mode", "hls"));
      expect(stops[0]).toHaveBeenCalled(); // the silent peer connection was closed
      expect(tile).toHaveTextContent(/showed no video within 5 s/);
    } finally {
      vi.useRealTimers();
    }
  });

  it("shows an offline tile with what to do when HLS fails too, and Try again starts over", async () => {
    setup([camera(1)]);
    webrtc.mockRejectedValueOnce(new WebRtcUnavailable("is unavailable (camera offline)"));
    hls.mockImplementation(async (_video, _url, options) => {
      options.onFatal("No recent recording of this camera: it is offline or not being recorded. Check its status on the Cameras page.");
      return { hls: null, destroy: vi.fn() };
    });
    const user = userEvent.setup();
    renderApp("/live?layout=1");
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Gate 1 is not playing");
    expect(alert).toHaveTextContent("Check its status on the Cameras page.");
    await user.click(within(alert).getByRole("button", { name: "Try again" }));
    await waitFor(() => expect(webrtc).toHaveBeenCalledTimes(2));
  });

  it("keys switch layouts, sub streams become main in one tile, and closed tiles stop their players", async () => {
    setup();
    const user = userEvent.setup();
    renderApp("/live");
    expect(await screen.findAllByTestId("live-tile")).toHaveLength(4);
    await waitFor(() => expect(stops).toHaveLength(4));
    await user.keyboard("1");
    await waitFor(() => expect(screen.getAllByTestId("live-tile")).toHaveLength(1));
    expect(screen.getByRole("button", { name: "1 camera" })).toHaveAttribute("aria-pressed", "true");
    expect(screen.getByTestId("live-tile")).toHaveAttribute("data-stream", "main");
    await waitFor(() => expect(stops.slice(0, 4).every((s) => s.mock.calls.length === 1)).toBe(true));
    await user.keyboard("6");
    await waitFor(() => expect(screen.getAllByTestId("live-tile")).toHaveLength(5)); // 5 cameras in a 16 wall
    expect(screen.getAllByRole("button", { name: /^Empty tile/ })).toHaveLength(11);
  });

  it("f shows the selected tile alone on its main stream; the picker puts cameras in the selected tile", async () => {
    setup();
    const user = userEvent.setup();
    renderApp("/live");
    const tiles = await screen.findAllByTestId("live-tile");
    await user.click(tiles[2]!);
    await user.keyboard("f");
    await waitFor(() => expect(screen.getAllByTestId("live-tile")).toHaveLength(1));
    expect(screen.getByTestId("live-tile")).toHaveAccessibleName(/^Gate 3/);
    expect(screen.getByTestId("live-tile")).toHaveAttribute("data-stream", "main");
    await user.click(screen.getByRole("button", { name: "Back to the grid from Gate 3" }));
    await waitFor(() => expect(screen.getAllByTestId("live-tile")).toHaveLength(4));

    await user.click(screen.getByRole("button", { name: "Remove Gate 2 from the wall" }));
    expect(await screen.findByRole("button", { name: /^Empty tile 2/ })).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Show Gate 5 in tile 2" }));
    await waitFor(() => expect(screen.getAllByTestId("live-tile")[1]).toHaveAccessibleName(/^Gate 5/));
  });

  it("honours ?mode=hls: no WebRTC at all", async () => {
    setup([camera(1)]);
    renderApp("/live?layout=1&mode=hls");
    await waitFor(() => expect(hls).toHaveBeenCalledTimes(1));
    expect(webrtc).not.toHaveBeenCalled();
    expect(screen.getByText(/Transport forced to HLS/)).toBeInTheDocument();
  });

  it("says when WebRTC is unavailable on the server, and what to do without cameras", async () => {
    setup([], "unavailable");
    renderApp("/live");
    expect(await screen.findByText("No cameras to watch yet")).toBeInTheDocument();
    expect(within(screen.getByRole("main")).getByRole("link", { name: "Cameras" })).toHaveAttribute("href", "/cameras?add=1");
    expect(await screen.findByText(/WebRTC is unavailable on this server \(go2rtc not installed\)/)).toBeInTheDocument();
  });
});
