import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { session } from "../api/session";
import { fakeApi, json, ME, problem, tokens, type Call } from "../test/fakeApi";
import { renderApp } from "../test/render";
import { MOVE_TIMEOUT_S } from "./ptzPad";
import { camera, CAMERA_ID } from "./testData";

const BASE = `/api/v1/cameras/${CAMERA_ID}`;

function model(name: string, extra: Record<string, unknown> = {}) {
  return {
    model: name,
    title: name[0]!.toUpperCase() + name.slice(1),
    default_priority: "medium",
    min_height: 360,
    min_bitrate_kbps: 256,
    licensed: true,
    enabled: false,
    compatible: true,
    stream: null,
    reason: null,
    ...extra,
  };
}

function backend({ role = "admin", ptz = true, cam = camera() } = {}) {
  let current = cam;
  const presets = [{ token: "1", name: "Gate view" }];
  const api = fakeApi({
    "GET /api/v1/auth/me": () => json({ ...ME, role }),
    [`GET ${BASE}`]: () => json(current),
    [`PATCH ${BASE}`]: ({ body }: Call) => {
      current = { ...current, ...(body as object) };
      return json(current);
    },
    [`GET ${BASE}/models`]: () =>
      json([
        model("motion", { enabled: current.enabled_models.includes("motion"), stream: "sub" }),
        model("intrusion", { enabled: current.enabled_models.includes("intrusion") }),
        model("anpr", {
          compatible: false,
          min_height: 1080,
          min_bitrate_kbps: 3000,
          reason: "anpr needs 1080p at 3000 kbps; main stream is 720p at 1800 kbps",
        }),
        model("crowd", { licensed: false, reason: "The AI model 'crowd' is not part of this customer's license." }),
      ]),
    [`GET ${BASE}/ptz/status`]: () =>
      ptz
        ? json({ position: { pan: 0.5, tilt: -0.25, zoom: 0.3 }, moving: false, tour_id: null })
        : problem(422, "Not supported by the camera", "The device at 127.0.0.1:8899 has no PTZ."),
    [`POST ${BASE}/ptz/move`]: () => new Response(null, { status: 204 }),
    [`POST ${BASE}/ptz/stop`]: () => new Response(null, { status: 204 }),
    [`GET ${BASE}/ptz/presets`]: () => json(presets),
    [`POST ${BASE}/ptz/presets`]: ({ body }: Call) => {
      const p = { token: String(presets.length + 1), name: (body as { name: string }).name };
      presets.push(p);
      return json(p, 201);
    },
    [`POST ${BASE}/ptz/presets/{token}/goto`]: () => new Response(null, { status: 204 }),
    [`GET ${BASE}/ptz/tours`]: () => json({ items: [], total: 0, limit: 100, offset: 0 }),
    [`POST ${BASE}/ptz/tours`]: ({ body }: Call) =>
      json({ id: "t1", camera_id: CAMERA_ID, running: false, current_step: null, stepped_at: null, last_error: null, created_at: "", updated_at: null, ...(body as object) }, 201),
  });
  session.set(tokens(1));
  return api;
}

const ptzCalls = (api: ReturnType<typeof fakeApi>) =>
  api.calls.filter((c) => c.method === "POST" && /\/ptz\/(move|stop)$/.test(c.path)).map((c) => [c.path.split("/").at(-1), c.body]);

describe("camera page", () => {
  it("shows both streams as probed, with links to live and playback", async () => {
    backend();
    renderApp(`/cameras/${CAMERA_ID}`);
    expect(await screen.findByRole("heading", { name: /Gate PTZ/ })).toBeInTheDocument();
    const streams = within(screen.getByTestId("streams"));
    const main = streams.getByRole("row", { name: /^Main/ });
    expect(main).toHaveTextContent("H264");
    expect(main).toHaveTextContent("1920×1080");
    expect(main).toHaveTextContent("25.0 fps");
    expect(main).toHaveTextContent("3900 kbit/s");
    expect(main).toHaveTextContent("2.0 s");
    expect(streams.getByRole("row", { name: /^Sub/ })).toHaveTextContent("640×360");
    expect(screen.getByRole("link", { name: "Watch live" })).toHaveAttribute("href", `/live?camera=${CAMERA_ID}`);
    expect(screen.getByRole("link", { name: "Play back" })).toHaveAttribute("href", `/playback?camera=${CAMERA_ID}`);
  });

  it("lists the models: unlicensed and incompatible ones are off with the reason, the others toggle", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp(`/cameras/${CAMERA_ID}`);
    const anpr = await screen.findByRole("switch", { name: "Anpr" });
    expect(anpr).toBeDisabled();
    expect(anpr).toHaveAccessibleDescription("anpr needs 1080p at 3000 kbps; main stream is 720p at 1800 kbps");
    expect(screen.getByRole("switch", { name: "Crowd" })).toHaveAccessibleDescription(/not part of this customer's license/);
    expect(screen.getByRole("switch", { name: /Motion/ })).toBeChecked();

    await user.click(screen.getByRole("switch", { name: "Intrusion" }));
    await waitFor(() => expect(screen.getByRole("switch", { name: "Intrusion" })).toBeChecked());
    expect(api.called(`PATCH ${BASE}`)[0]?.body).toMatchObject({ enabled_models: ["motion", "intrusion"] });
  });

  it("PTZ pad: press and hold moves continuously with a timeout, release stops; arrow keys do the same", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp(`/cameras/${CAMERA_ID}`);
    expect(await screen.findByTestId("ptz-status")).toHaveTextContent("Pan +0.50 · tilt −0.25 · zoom +0.30");

    const right = screen.getByRole("button", { name: "Pan right" });
    await user.pointer({ keys: "[MouseLeft>]", target: right });
    await waitFor(() => expect(ptzCalls(api)).toHaveLength(1));
    expect(ptzCalls(api)[0]).toEqual(["move", { mode: "continuous", pan: 0.5, tilt: 0, zoom: 0, timeout_s: MOVE_TIMEOUT_S }]);
    await user.pointer({ keys: "[/MouseLeft]", target: right });
    await waitFor(() => expect(ptzCalls(api).map((c) => c[0])).toEqual(["move", "stop"]));

    const pad = screen.getByRole("group", { name: "PTZ pad" });
    pad.focus();
    fireEvent.keyDown(pad, { key: "ArrowUp" });
    fireEvent.keyDown(pad, { key: "ArrowUp", repeat: true }); // auto-repeat sends nothing more
    fireEvent.keyUp(pad, { key: "ArrowUp" });
    fireEvent.keyDown(pad, { key: "+" });
    fireEvent.keyUp(pad, { key: "+" });
    await waitFor(() => expect(ptzCalls(api)).toHaveLength(6));
    expect(ptzCalls(api).slice(2)).toEqual([
      ["move", { mode: "continuous", pan: 0, tilt: 0.5, zoom: 0, timeout_s: MOVE_TIMEOUT_S }],
      ["stop", undefined],
      ["move", { mode: "continuous", pan: 0, tilt: 0, zoom: 0.5, timeout_s: MOVE_TIMEOUT_S }],
      ["stop", undefined],
    ]);
  });

  it("presets: save the current position under a name, go to one", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp(`/cameras/${CAMERA_ID}`);
    await user.type(await screen.findByLabelText("Preset name"), "Car park");
    await user.click(screen.getByRole("button", { name: "Save current position" }));
    await waitFor(() => expect(screen.getAllByTestId("preset")).toHaveLength(2));
    expect(api.called(`POST ${BASE}/ptz/presets`)[0]?.body).toEqual({ name: "Car park" });
    await user.click(screen.getByRole("button", { name: "Go to Gate view" }));
    await waitFor(() => expect(api.called(`POST ${BASE}/ptz/presets/1/goto`)).toHaveLength(1));
  });

  it("a tour is built from presets with dwell and speed", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp(`/cameras/${CAMERA_ID}`);
    await user.click(await screen.findByRole("button", { name: "New tour" }));
    await user.type(screen.getByLabelText("Tour name"), "Night round");
    const dwell = screen.getByLabelText("Step 2 dwell in seconds");
    await user.clear(dwell);
    await user.type(dwell, "20");
    await user.type(screen.getByLabelText("Step 2 speed"), "0.5");
    await user.click(screen.getByRole("button", { name: "Create the tour" }));
    await waitFor(() => expect(api.called(`POST ${BASE}/ptz/tours`)).toHaveLength(1));
    expect(api.called(`POST ${BASE}/ptz/tours`)[0]?.body).toEqual({
      name: "Night round",
      loop: true,
      steps: [
        { preset_token: "1", dwell_s: 10, speed: null },
        { preset_token: "1", dwell_s: 20, speed: 0.5 },
      ],
    });
  });

  it("says clearly when the camera has no PTZ and offers no pad", async () => {
    backend({ ptz: false });
    renderApp(`/cameras/${CAMERA_ID}`);
    expect(await screen.findByText("Not supported by the camera")).toBeInTheDocument();
    expect(screen.queryByRole("group", { name: "PTZ pad" })).not.toBeInTheDocument();
  });

  it("a Viewer sees models and presets but cannot change or move anything", async () => {
    backend({ role: "viewer" });
    renderApp(`/cameras/${CAMERA_ID}`);
    expect(await screen.findByRole("switch", { name: "Intrusion" })).toBeDisabled();
    expect(await screen.findByText("Gate view")).toBeInTheDocument();
    expect(screen.queryByRole("group", { name: "PTZ pad" })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Go to Gate view" })).not.toBeInTheDocument();
  });

  it("a camera that does not exist says so", async () => {
    fakeApi({ "GET /api/v1/auth/me": () => json(ME), [`GET ${BASE}`]: () => problem(404, "Not found", "No camera.") });
    session.set(tokens(1));
    renderApp(`/cameras/${CAMERA_ID}`);
    expect(await screen.findByText("No such camera")).toBeInTheDocument();
  });
});
