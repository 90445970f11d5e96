import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { session } from "../api/session";
import { fakeApi, json, ME, problem, tokens, type Call } from "../test/fakeApi";
import { renderApp } from "../test/render";
import { TRACK_EVERY_MS, trackWords } from "./PtzTrack";
import { camera, CAMERA_ID } from "./testData";

const BASE = `/api/v1/cameras/${CAMERA_ID}`;
const EVENT = "00000000-0000-0000-0000-0000000e0001";
const OTHER = "00000000-0000-0000-0000-0000000e0099";

function event(id: string, endedAt: string | null = null) {
  return {
    eventId: id,
    customerId: ME.tenant_id,
    cameraId: CAMERA_ID,
    eventType: "intrusion",
    confidence: 0.9,
    timestamp: "2026-11-24T12:00:00Z",
    endedAt,
    detectionMetadata: { boundingBox: [0.7, 0.4, 0.1, 0.2], objectClass: "person", trackingId: "t1" },
    priority: "HIGH",
    status: "NEW",
    tags: [],
  };
}

function backend({ role = "admin", ended = false } = {}) {
  let moves = 0;
  const api = fakeApi({
    "GET /api/v1/auth/me": () => json({ ...ME, role }),
    [`GET ${BASE}`]: () => json(camera()),
    [`GET ${BASE}/models`]: () => json([]),
    [`GET ${BASE}/ptz/status`]: () => json({ position: { pan: 0, tilt: 0, zoom: 0 }, moving: false, tour_id: null }),
    [`GET ${BASE}/ptz/presets`]: () => json([]),
    [`GET ${BASE}/ptz/tours`]: () => json({ items: [], total: 0, limit: 100, offset: 0 }),
    [`POST ${BASE}/ptz/stop`]: () => new Response(null, { status: 204 }),
    "GET /api/v1/events": () => json({ items: [event(EVENT)], total: 1, limit: 10, offset: 0 }),
    "GET /api/v1/events/{id}": ({ path }: Call) => json(event(path.split("/").at(-1)!, ended ? "2026-11-24T12:00:30Z" : null)),
    [`POST ${BASE}/ptz/track`]: ({ body }: Call) => {
      if ((body as { event_id: string }).event_id === OTHER) {
        return problem(422, "Validation failed", `Event ${OTHER} was seen by another camera; track it with that camera.`);
      }
      moves++;
      return json({ translation: { pan: moves === 1 ? 0.1 : 0, tilt: moves === 1 ? -0.05 : 0, zoom: 0 }, moved: moves === 1 });
    },
  });
  session.set(tokens(1));
  return api;
}

// PtzPanel is a lazy chunk: the first test of a cold run waits for it to load.
const trackPanel = () => screen.findByRole("region", { name: "Auto-track an event" }, { timeout: 5000 });
const tracks = (api: ReturnType<typeof fakeApi>) => api.called(`POST ${BASE}/ptz/track`).map((c) => c.body);

describe("PTZ auto-tracking", () => {
  it("tracks a chosen event while it goes on, then stops on request", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp(`/cameras/${CAMERA_ID}`);
    const panel = await trackPanel();
    const select = within(panel).getByLabelText("Event of this camera");
    await waitFor(() => expect(within(select).getAllByRole("option")).toHaveLength(2));
    expect(api.called("GET /api/v1/events")[0]!.query.get("camera_id")).toBe(CAMERA_ID);
    await user.selectOptions(select, EVENT);
    await user.click(within(panel).getByLabelText("Zoom so the target fills half the picture"));
    await user.click(within(panel).getByRole("button", { name: "Start tracking" }));

    await waitFor(() => expect(within(panel).getByTestId("track-state")).toHaveTextContent("last move pan +0.10, tilt −0.05"));
    expect(tracks(api)[0]).toEqual({ event_id: EVENT, zoom_to_fraction: 0.5 });
    // still going on: asked again, re-centring only
    await waitFor(() => expect(tracks(api)).toHaveLength(2), { timeout: TRACK_EVERY_MS + 1500 });
    expect(tracks(api)[1]).toEqual({ event_id: EVENT });
    await waitFor(() => expect(within(panel).getByTestId("track-state")).toHaveTextContent("target centred, no move needed"));

    await user.click(within(panel).getByRole("button", { name: "Stop tracking" }));
    await waitFor(() => expect(api.called(`POST ${BASE}/ptz/stop`)).toHaveLength(1));
    expect(within(panel).getByTestId("track-state")).toHaveTextContent("Not tracking.");
    const sent = tracks(api).length;
    await new Promise((r) => setTimeout(r, TRACK_EVERY_MS + 300));
    expect(tracks(api)).toHaveLength(sent); // stopped means stopped
  }, 15_000);

  it("stops by itself when the event has ended", async () => {
    const api = backend({ ended: true });
    const user = userEvent.setup();
    renderApp(`/cameras/${CAMERA_ID}`);
    const panel = await trackPanel();
    await user.type(within(panel).getByLabelText("or its event id"), EVENT);
    await user.click(within(panel).getByRole("button", { name: "Start tracking" }));
    await waitFor(() => expect(within(panel).getByTestId("track-state")).toHaveTextContent("The event has ended"));
    expect(tracks(api)).toEqual([{ event_id: EVENT }]);
    expect(within(panel).getByRole("button", { name: "Start tracking" })).toBeEnabled();
  });

  it("shows the API's refusal and a bad id before sending anything", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp(`/cameras/${CAMERA_ID}`);
    const panel = await trackPanel();
    const input = within(panel).getByLabelText("or its event id");
    await user.type(input, "not-an-id");
    expect(within(panel).getByText(/An event id looks like/)).toBeInTheDocument();
    expect(within(panel).getByRole("button", { name: "Start tracking" })).toBeDisabled();
    await user.clear(input);
    await user.type(input, OTHER);
    await user.click(within(panel).getByRole("button", { name: "Start tracking" }));
    expect(await within(panel).findByRole("alert")).toHaveTextContent("was seen by another camera");
    expect(within(panel).getByTestId("track-state")).toHaveTextContent("Tracking stopped");
    expect(tracks(api)).toHaveLength(1);
  });

  it("a Viewer gets no tracking controls", async () => {
    backend({ role: "viewer" });
    renderApp(`/cameras/${CAMERA_ID}`);
    expect(await screen.findByTestId("ptz-status")).toBeInTheDocument();
    expect(screen.queryByRole("region", { name: "Auto-track an event" })).not.toBeInTheDocument();
  });

  it("words the state", () => {
    expect(trackWords({ phase: "idle" })).toBe("Not tracking.");
    expect(trackWords({ phase: "tracking", eventId: EVENT, last: null, at: null })).toBe("Tracking: turning to the target…");
  });
});
