import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { session } from "../api/session";
import { fakeApi, json, ME, problem, tokens, type Call } from "../test/fakeApi";
import { renderApp } from "../test/render";
import { changes, parseTags } from "./CameraEditForm";
import { camera, CAMERA_ID } from "./testData";

const BASE = `/api/v1/cameras/${CAMERA_ID}`;
const BAD_URL = "rtsp://192.0.2.1:554/nothing";
const ZONES = [
  { id: "z-lobby", kind: "zone", name: "Lobby", parent_id: "f1", path: ["HQ", "Main", "F1", "Lobby"], created_at: "" },
  { id: "z-dock", kind: "zone", name: "Dock", parent_id: "f1", path: ["HQ", "Main", "F1", "Dock"], created_at: "" },
];

function backend(role = "admin") {
  let current = camera({ device: null, zone_id: "z-lobby", tags: ["gate"] });
  const api = fakeApi({
    "GET /api/v1/auth/me": () => json({ ...ME, role }),
    [`GET ${BASE}`]: () => json(current),
    [`GET ${BASE}/models`]: () => json([]),
    "GET /api/v1/nodes": () => json({ items: ZONES, total: 2, limit: 500, offset: 0 }),
    "GET /api/v1/nodes/{id}": ({ path }: Call) => json(ZONES.find((z) => path.endsWith(z.id))),
    [`PATCH ${BASE}`]: ({ body }: Call) => {
      const update = body as Record<string, unknown>;
      if (update.main_url === BAD_URL) {
        return problem(422, "Stream unreachable", "No answer from 192.0.2.1:554 within 5 s: check the address and that the camera is on.");
      }
      const { auth, probe, ...rest } = update;
      void probe;
      current = {
        ...current,
        ...rest,
        ...(auth === undefined ? {} : { has_credentials: auth !== null, auth_method: auth ? (auth as { method: "digest" }).method : "none" }),
        ...(update.main_url ? { main_stream: { codec: "h265", width: 2560, height: 1440, fps: 20, bitrate_kbps: 6100, declared_bitrate_kbps: null, gop_s: 1 } } : {}),
      } as typeof current;
      return json(current);
    },
  });
  session.set(tokens(1));
  return api;
}

async function openEditor(user: ReturnType<typeof userEvent.setup>) {
  await user.click(await screen.findByRole("button", { name: "Edit details" }));
  return screen.getByRole("form", { name: "Edit camera" });
}

describe("editing a camera's details", () => {
  it("sends only what changed: name, zone and tags; the page shows the new name", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp(`/cameras/${CAMERA_ID}`);
    const form = await openEditor(user);
    expect(within(form).getByRole("button", { name: "Save changes" })).toBeDisabled();
    const name = within(form).getByLabelText("Name");
    await user.clear(name);
    await user.type(name, "Gate east");
    await waitFor(() => expect(within(form).getByRole("option", { name: "HQ › Main › F1 › Dock" })).toBeInTheDocument());
    await user.selectOptions(within(form).getByLabelText("Zone"), "z-dock");
    const tags = within(form).getByLabelText(/Tags/);
    await user.clear(tags);
    await user.type(tags, "gate, outdoor, gate");
    await user.click(within(form).getByRole("button", { name: "Save changes" }));

    expect(await screen.findByTestId("edit-saved")).toHaveTextContent("No stream changed, so nothing was probed.");
    expect(api.called(`PATCH ${BASE}`)[0]!.body).toEqual({ name: "Gate east", zone_id: "z-dock", tags: ["gate", "outdoor"], probe: true });
    expect(screen.getByRole("heading", { level: 1 })).toHaveTextContent("Gate east");
    expect(within(form).getByRole("button", { name: "Save changes" })).toBeDisabled(); // saved: nothing left to send
  });

  it("a new main URL is probed: the measured stream is shown", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp(`/cameras/${CAMERA_ID}`);
    const form = await openEditor(user);
    const main = within(form).getByLabelText("Main stream URL");
    await user.clear(main);
    await user.type(main, "rtsp://127.0.0.1:58554/cam9");
    await user.click(within(form).getByRole("button", { name: "Save changes" }));
    const saved = await screen.findByTestId("edit-saved");
    expect(saved).toHaveTextContent("The server probed the main stream again:");
    expect(saved).toHaveTextContent("2560×1440");
    expect(saved).toHaveTextContent("H265");
    expect(api.called(`PATCH ${BASE}`)[0]!.body).toEqual({ main_url: "rtsp://127.0.0.1:58554/cam9", probe: true });
  });

  it("a failing probe shows the API's reason and keeps what was typed", async () => {
    backend();
    const user = userEvent.setup();
    renderApp(`/cameras/${CAMERA_ID}`);
    const form = await openEditor(user);
    const main = within(form).getByLabelText("Main stream URL");
    await user.clear(main);
    await user.type(main, BAD_URL);
    await user.click(within(form).getByRole("button", { name: "Save changes" }));
    expect(await within(form).findByRole("alert")).toHaveTextContent("Stream unreachable — No answer from 192.0.2.1:554 within 5 s");
    expect(main).toHaveValue(BAD_URL);
    expect(screen.queryByTestId("edit-saved")).not.toBeInTheDocument();
  });

  it("credentials are write-only: never shown, changed or removed on request", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp(`/cameras/${CAMERA_ID}`);
    const form = await openEditor(user);
    expect(within(form).getByText(/Stored \(digest\); never shown/)).toBeInTheDocument();
    expect(within(form).queryByLabelText("Password")).not.toBeInTheDocument();
    await user.click(within(form).getByRole("radio", { name: "Change credentials" }));
    expect(within(form).getByLabelText("Password")).toHaveValue("");
    expect(within(form).getByRole("button", { name: "Save changes" })).toBeDisabled(); // a username is needed
    await user.type(within(form).getByLabelText("Username"), "operator");
    await user.type(within(form).getByLabelText("Password"), "n3w-secret");
    await user.click(within(form).getByRole("button", { name: "Save changes" }));
    await screen.findByTestId("edit-saved");
    expect(api.called(`PATCH ${BASE}`)[0]!.body).toEqual({
      auth: { method: "digest", username: "operator", password: "n3w-secret" },
      probe: true,
    });
    expect(within(form).queryByLabelText("Password")).not.toBeInTheDocument(); // the secret leaves the form

    await user.click(within(form).getByRole("radio", { name: "Remove the stored credentials" }));
    await user.click(within(form).getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(api.called(`PATCH ${BASE}`)).toHaveLength(2));
    expect(api.called(`PATCH ${BASE}`)[1]!.body).toEqual({ auth: null, probe: true });
  });

  it("a Viewer gets no Edit button", async () => {
    backend("viewer");
    renderApp(`/cameras/${CAMERA_ID}`);
    expect(await screen.findByRole("heading", { name: /Gate PTZ/ })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Edit details" })).not.toBeInTheDocument();
  });
});

describe("the edit form's body", () => {
  const c = camera({ sub_url: "rtsp://h/sub", zone_id: null, tags: ["a"] });
  const same = { name: c.name, mainUrl: c.main_url, subUrl: "rtsp://h/sub", zoneId: "", tags: "a", probe: true };
  const keep = { mode: "keep" as const, method: "digest" as const, username: "", password: "" };

  it("is empty when nothing changed, and clears the sub stream with null", () => {
    expect(changes(c, same, keep)).toEqual({});
    expect(changes(c, { ...same, subUrl: "  " }, keep)).toEqual({ sub_url: null, probe: true });
    expect(changes(c, { ...same, tags: "a,, b ", probe: false }, keep)).toEqual({ tags: ["a", "b"], probe: false });
  });

  it("parses tags trimmed and without repeats", () => {
    expect(parseTags(" x , y,x,, ")).toEqual(["x", "y"]);
  });
});
