import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { session } from "../api/session";
import { fakeApi, json, ME, problem, tokens, type Call } from "../test/fakeApi";
import { renderApp } from "../test/render";
import { attachHls, type HlsHandle } from "../live/hls";

// hls.js is faked (jsdom has no Media Source Extensions): each player gets a playlist of 5 s
// fragments whose wall-clock dates follow the recorded ranges the fake API's timeline reports.
vi.mock("../live/hls", async (original) => ({ ...(await original<typeof import("../live/hls")>()), attachHls: vi.fn() }));
const hls = vi.mocked(attachHls);

const CAM = "00000000-0000-0000-0000-00000000ca01";
const CAM2 = "00000000-0000-0000-0000-00000000ca02";
const NOW = Date.now();
const REC_START = Math.floor((NOW - 40 * 60_000) / 1000) * 1000; // recorded 40 → 30 min ago, then 10 → 5 min ago
const iso = (t: number) => new Date(t).toISOString();

function timeline(cameraId: string, recorded = true) {
  return {
    camera_id: cameraId,
    stream: "main",
    start: iso(NOW - 3_600_000),
    end: iso(NOW),
    recorded_s: recorded ? 900 : 0,
    coverage: recorded ? 0.25 : 0,
    ranges: recorded
      ? [
          { start: iso(REC_START), end: iso(REC_START + 600_000), seconds: 600 },
          { start: iso(REC_START + 1_800_000), end: iso(REC_START + 2_100_000), seconds: 300 },
        ]
      : [],
    gaps: recorded ? [{ start: iso(REC_START + 600_000), end: iso(REC_START + 1_800_000), seconds: 1200 }] : [],
    events: recorded
      ? [
          {
            id: "00000000-0000-0000-0000-0000000000e1",
            event_type: "intrusion",
            at: iso(REC_START + 60_000),
            ended_at: null,
            priority: "HIGH",
            status: "new",
            clip_url: null,
            thumbnail_url: `/api/v1/cameras/${cameraId}/hls/thumbnail.jpg?token=tk&at=x`,
          },
        ]
      : [],
    events_total: recorded ? 1 : 0,
  };
}

/** Fragments of 5 s over the two recorded runs: playlist time skips the gap. */
function fragments() {
  const out: { start: number; duration: number; programDateTime: number }[] = [];
  let start = 0;
  for (const [from, seconds] of [
    [REC_START, 600],
    [REC_START + 1_800_000, 300],
  ] as const)
    for (let s = 0; s < seconds; s += 5) {
      out.push({ start, duration: 5, programDateTime: from + s * 1000 });
      start += 5;
    }
  return out;
}

let positions: Map<HTMLMediaElement, number>;

function setup({ recorded = true, cameras = [{ id: CAM, name: "Gate 1" }, { id: CAM2, name: "Dock" }] } = {}) {
  let exportState = { status: "queued", progress: 0 };
  const exports: Record<string, unknown>[] = [];
  const api = fakeApi({
    "GET /api/v1/auth/me": () => json(ME),
    "GET /api/v1/cameras": () => json({ items: cameras.map((c) => ({ ...c, status: "online", sub_url: null })), total: cameras.length, limit: 500, offset: 0 }),
    "GET /api/v1/cameras/{id}/timeline": ({ path }: Call) => json(timeline(path.split("/")[4]!, recorded)),
    "GET /api/v1/playback/timeline": ({ query }: Call) =>
      json({ start: iso(NOW - 3_600_000), end: iso(NOW), cameras: query.get("camera_ids")!.split(",").map((id) => timeline(id, recorded)) }),
    "POST /api/v1/playback/urls": ({ body }: Call) =>
      json({
        cameras: (body as { camera_ids: string[] }).camera_ids.map((id) => ({
          camera_id: id,
          live_master: `/api/v1/cameras/${id}/hls/live/master.m3u8?token=t`,
          vod_master: `/api/v1/cameras/${id}/hls/vod/master.m3u8?token=t`,
          expires_at: "2099-01-01T00:00:00Z",
        })),
      }),
    "GET /api/v1/exports": () => json({ items: exports.map((x) => ({ ...x, ...exportState })), total: exports.length, limit: 10, offset: 0 }),
    "POST /api/v1/exports": ({ body }: Call) => {
      const b = body as { start: string; end: string };
      if (Date.parse(b.end) - Date.parse(b.start) > 4 * 3_600_000) return problem(422, "Export too long", "An export covers at most 4 h.");
      const x = { id: "00000000-0000-0000-0000-0000000000x1", camera_id: CAM, stream: "main", created_at: iso(NOW), finished_at: null, bytes: null, duration_s: null, sha256: null, hold: null, reference_id: null, error: null, download_url: null, ...b };
      exports.push(x);
      return json({ ...x, ...exportState }, 202);
    },
  });
  session.set(tokens(1));
  return {
    api,
    advance(state: Record<string, unknown>) {
      exportState = state as typeof exportState;
    },
  };
}

/** jsdom has no PointerEvent; a MouseEvent with a pointer id is all the timeline reads. */
class FakePointerEvent extends MouseEvent {
  readonly pointerId: number;
  constructor(type: string, init: PointerEventInit = {}) {
    super(type, init);
    this.pointerId = init.pointerId ?? 1;
  }
}

beforeEach(() => {
  if (typeof window.PointerEvent === "undefined") vi.stubGlobal("PointerEvent", FakePointerEvent);
  positions = new Map();
  vi.spyOn(HTMLMediaElement.prototype, "play").mockImplementation(() => Promise.resolve());
  vi.spyOn(HTMLMediaElement.prototype, "pause").mockImplementation(() => undefined);
  vi.spyOn(HTMLMediaElement.prototype, "load").mockImplementation(() => undefined);
  Object.defineProperty(HTMLMediaElement.prototype, "currentTime", {
    configurable: true,
    get(this: HTMLMediaElement) {
      return positions.get(this) ?? 0;
    },
    set(this: HTMLMediaElement, t: number) {
      positions.set(this, t);
    },
  });
  hls.mockImplementation(async (_video, _url, options) => {
    const handle = { hls: { levels: [{ details: { fragments: fragments() } }], currentLevel: 0, firstLevel: 0, playingDate: null }, destroy: vi.fn() };
    setTimeout(() => options.onFirstLevel?.(), 0);
    return handle as unknown as HlsHandle;
  });
});

describe("playback", () => {
  it("draws recorded ranges, the gap and the event of the last hour, with the event's thumbnail on focus", async () => {
    const { api } = setup();
    renderApp(`/playback?camera=${CAM}`);
    const row = await screen.findByTestId("timeline-row");
    const ranges = within(row).getAllByTestId("timeline-range");
    expect(ranges).toHaveLength(2);
    const left = parseFloat(ranges[0]!.style.left);
    expect(left).toBeGreaterThan(32); // 40 min ago in a 60 min window ≈ 33 %
    expect(left).toBeLessThan(35);
    expect(parseFloat(ranges[0]!.style.width)).toBeCloseTo(16.7, 0);
    expect(within(row).getAllByTestId("timeline-gap")).toHaveLength(1);
    expect(screen.getByTestId("coverage")).toHaveTextContent("Gate 1: 15 min 0 s recorded (25%), 1 gap, 1 event.");
    const query = api.called(`GET /api/v1/cameras/${CAM}/timeline`)[0]!.query;
    expect(Date.parse(query.get("end")!) - Date.parse(query.get("start")!)).toBe(3_600_000);

    const marker = within(row).getByRole("button", { name: /^Play intrusion \(high, new\) at Gate 1/ });
    act(() => marker.focus());
    const tip = await screen.findByRole("tooltip");
    expect(within(tip).getByRole("img")).toHaveAttribute("src", expect.stringContaining("/hls/thumbnail.jpg?token=tk"));
  });

  it("plays the window's VOD playlist and a click on the timeline or an event seeks to that wall-clock moment", async () => {
    const { api } = setup();
    const user = userEvent.setup();
    renderApp(`/playback?camera=${CAM}`);
    await waitFor(() => expect(hls).toHaveBeenCalledTimes(1));
    expect(hls.mock.calls[0]![1]).toBe(`/api/v1/cameras/${CAM}/hls/vod/master.m3u8?token=t`);
    const body = api.called("POST /api/v1/playback/urls")[0]!.body as { camera_ids: string[]; start: string; end: string };
    expect(body.camera_ids).toEqual([CAM]);
    expect(Date.parse(body.end) - Date.parse(body.start)).toBe(3_600_000);
    const video = screen.getByLabelText("Recorded video of Gate 1") as HTMLVideoElement;

    await user.click(screen.getByRole("button", { name: /^Play intrusion/ })); // one minute into the first run
    await waitFor(() => expect(video.currentTime).toBe(60));

    const track = screen.getByTestId("timeline");
    track.getBoundingClientRect = () => ({ left: 0, width: 1000, top: 0, height: 40, right: 1000, bottom: 40, x: 0, y: 0, toJSON: () => ({}) });
    const x = (t: number) => ((t - (NOW - 3_600_000)) / 3_600_000) * 1000;
    // press in the gap, drag into the second run, let go: playback goes there (playlist time skips the gap)
    fireEvent.pointerDown(track, { button: 0, clientX: x(REC_START + 1_200_000), pointerId: 1 });
    fireEvent.pointerMove(track, { clientX: x(REC_START + 1_860_000), pointerId: 1 });
    fireEvent.pointerUp(track, { clientX: x(REC_START + 1_860_000), pointerId: 1 });
    await waitFor(() => expect(Math.abs(video.currentTime - 660)).toBeLessThan(4)); // 600 s of run one + 60 s
  });

  it("the timeline is a slider: arrows move the cursor, Enter plays from it, a gap plays from the next recording", async () => {
    setup();
    const user = userEvent.setup();
    renderApp(`/playback?camera=${CAM}`);
    const slider = await screen.findByRole("slider", { name: "Timeline: choose the moment to play" });
    await waitFor(() => expect(hls).toHaveBeenCalled());
    const video = screen.getByLabelText("Recorded video of Gate 1") as HTMLVideoElement;
    const start = Number(slider.getAttribute("aria-valuenow"));
    slider.focus();
    await user.keyboard("{ArrowRight}{ArrowRight}");
    expect(Number(slider.getAttribute("aria-valuenow"))).toBe(start + 20);
    video.currentTime = 123;
    await user.keyboard("{Home}{Enter}"); // window start: 20 min before anything is recorded
    await waitFor(() => expect(video.currentTime).toBe(0)); // → the first recorded moment
  });

  it("plays up to four cameras side by side, all sent to the same moment", async () => {
    const { api } = setup();
    const user = userEvent.setup();
    renderApp(`/playback?camera=${CAM}&camera=${CAM2}`);
    expect(await screen.findAllByTestId("timeline-row")).toHaveLength(2);
    expect(api.called("GET /api/v1/playback/timeline")[0]!.query.get("camera_ids")).toBe(`${CAM},${CAM2}`);
    await waitFor(() => expect(hls).toHaveBeenCalledTimes(2));
    expect(hls.mock.calls.map((c) => c[2].stream)).toEqual(["sub", "sub"]); // small tiles: the sub variant
    await user.click(screen.getAllByRole("button", { name: /^Play intrusion/ })[1]!);
    const videos = screen.getAllByLabelText(/^Recorded video of/) as HTMLVideoElement[];
    await waitFor(() => expect(videos.map((v) => v.currentTime)).toEqual([60, 60]));
    expect(screen.getByText("Gate 1 (leads)")).toBeInTheDocument();
  });

  it("says what to do when nothing is recorded in the window", async () => {
    setup({ recorded: false });
    renderApp(`/playback?camera=${CAM}`);
    expect(await screen.findByText("Nothing recorded in this window")).toBeInTheDocument();
    expect(hls).not.toHaveBeenCalled();
  });

  it("exports a range: checks it, sends it, shows progress, then a download link", async () => {
    const { api, advance } = setup();
    const user = userEvent.setup();
    renderApp(`/playback?camera=${CAM}`);
    const panel = await screen.findByRole("region", { name: "Export MP4" });
    const from = within(panel).getByLabelText("From");
    const to = within(panel).getByLabelText("To");
    fireEvent.change(to, { target: { value: "2020-01-01T00:00:00" } });
    await user.click(within(panel).getByRole("button", { name: "Export MP4" }));
    expect(within(panel).getByRole("alert")).toHaveTextContent("The end must be after the start.");
    expect(api.called("POST /api/v1/exports")).toHaveLength(0);

    await user.click(within(panel).getByRole("button", { name: "Whole window" }));
    fireEvent.change(from, { target: { value: "2020-01-01T00:00:00" } });
    await user.click(within(panel).getByRole("button", { name: "Export MP4" }));
    expect(await within(panel).findByRole("alert")).toHaveTextContent("An export covers at most 4 h."); // the API's problem

    await user.click(within(panel).getByRole("button", { name: "Whole window" }));
    advance({ status: "running", progress: 0.4 });
    await user.click(within(panel).getByRole("button", { name: "Export MP4" }));
    const sent = api.called("POST /api/v1/exports").at(-1)!.body as Record<string, string>;
    expect(sent).toMatchObject({ camera_id: CAM, stream: "main", hold: "none" });
    expect(Date.parse(sent.end!) - Date.parse(sent.start!)).toBe(3_600_000);
    expect(await within(panel).findByRole("progressbar", { name: "Export progress 40%" })).toBeInTheDocument();

    advance({ status: "done", progress: 1, bytes: 2_500_000, download_url: "/api/v1/exports/x1/download?token=d" });
    const link = await within(panel).findByTestId("export-download", {}, { timeout: 3000 }); // polled every second
    expect(link).toHaveAttribute("href", "/api/v1/exports/x1/download?token=d");
    expect(link).toHaveTextContent("Download MP4 (2.5 MB)");
  });
});
