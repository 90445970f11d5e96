import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { session } from "../api/session";
import { EMPTY_TREE, fakeApi, json, ME, problem, tokens, type Call } from "../test/fakeApi";
import { renderApp } from "../test/render";
import { parsePorts } from "./DiscoveryPanel";
import { camera, device, FakeEventSource, job } from "./testData";

function backend() {
  const api = fakeApi({
    "GET /api/v1/auth/me": () => json(ME),
    "GET /api/v1/sites/tree": () => json(EMPTY_TREE),
    "GET /api/v1/cameras": () => json({ items: [], total: 0, limit: 25, offset: 0 }),
    "GET /api/v1/nodes": () => json({ items: [], total: 0, limit: 500, offset: 0 }),
    "GET /api/v1/license": () => json({ models: ["intrusion", "motion"] }),
    "POST /api/v1/auth/stream-ticket": () => json({ ticket: "t-1", expires_in_s: 30 }),
    "POST /api/v1/cameras/discovery": ({ body }: Call) => json(job({ status: "queued", ...(body as object) }), 202),
    "POST /api/v1/cameras/discovery/{id}/cancel": () => json(job({ status: "cancelled" }), 202),
    "POST /api/v1/cameras/discovery/{id}/devices/{index}/add": ({ body }: Call) =>
      (body as { auth?: { password?: string } }).auth?.password === "right"
        ? json(camera({ name: "Gate PTZ" }), 201)
        : problem(422, "Camera device refused the credentials", "The device at 127.0.91.1:10080 refused the username or password."),
  });
  session.set(tokens(1));
  FakeEventSource.install();
  return api;
}

const stream = async () => {
  await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
  return FakeEventSource.instances[0]!;
};

describe("discovery", () => {
  it("starts a scan, follows its progress and results live over SSE with a ticket, and cancels", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp("/cameras?add=discover");
    await user.type(await screen.findByLabelText("Addresses"), "127.0.91.0/29");
    const ports = screen.getByLabelText("Ports");
    await user.clear(ports);
    await user.type(ports, "10554, 10080");
    await user.type(screen.getByLabelText("Device username (optional)"), "admin");
    await user.click(screen.getByRole("button", { name: "Start discovery" }));

    const source = await stream();
    expect(api.called("POST /api/v1/cameras/discovery")[0]?.body).toMatchObject({
      method: "scan",
      targets: "127.0.91.0/29",
      ports: [10554, 10080],
      credentials: { username: "admin", password: "" },
    });
    expect(source.url).toContain("/api/v1/cameras/discovery/job-1/events?ticket=t-1");

    act(() => source.emit("snapshot", { job: job({ results: [] }) }));
    act(() => source.emit("progress", { hosts_total: 6, hosts_done: 3, devices_found: 1, progress: 0.5 }));
    act(() => source.emit("device", { index: 0, device: device(0) }));
    const bar = screen.getByRole("progressbar", { name: "Discovery progress" });
    expect(bar).toHaveAttribute("value", "0.5");
    expect(screen.getByTestId("discovery-status")).toHaveTextContent("3 of 6 addresses checked · 1 device found");
    expect(screen.getAllByTestId("discovered-row")).toHaveLength(1);

    act(() => source.emit("device", { index: 1, device: device(1, { kind: "rtsp", known_camera_id: "cam-7" }) }));
    const rows = screen.getAllByTestId("discovered-row");
    expect(rows[1]).toHaveTextContent("RTSP");
    expect(within(rows[1]!).getByRole("link", { name: "Already added" })).toHaveAttribute("href", "/cameras/cam-7");

    await user.click(screen.getByRole("button", { name: "Cancel" }));
    expect(api.called("POST /api/v1/cameras/discovery/job-1/cancel")).toHaveLength(1);
    act(() => source.emit("done", { job: job({ status: "cancelled", hosts_done: 3, devices_found: 2, results: null }) }));
    expect(screen.getByTestId("discovery-status")).toHaveTextContent("Cancelled: 3 of 6 addresses checked · 2 devices found");
    expect(screen.getAllByTestId("discovered-row")).toHaveLength(2); // results kept
    expect(source.closed).toBe(true);
    expect(screen.queryByRole("button", { name: "Cancel" })).not.toBeInTheDocument();
  });

  it("adds a result in one call: the device's refusal is shown, then the probe result", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp("/cameras?add=discover&job=job-1"); // a reload follows the job in the URL
    const source = await stream();
    act(() => source.emit("snapshot", { job: job({ status: "completed", results: [device(0, { name: "Gate" })] }) }));

    await user.click(screen.getByRole("button", { name: "Add 127.0.91.1" }));
    const form = screen.getByRole("form", { name: "Add 127.0.91.1 as a camera" });
    expect(within(form).getByLabelText("Name")).toHaveValue("Gate"); // the announced name
    await user.type(within(form).getByLabelText("Device username"), "installer");
    await user.type(within(form).getByLabelText("Device password"), "wrong");
    await user.click(await within(form).findByLabelText("Motion"));
    await user.click(within(form).getByRole("button", { name: "Add this camera" }));
    expect(await within(form).findByRole("alert")).toHaveTextContent("Camera device refused the credentials");
    expect(api.called("POST /api/v1/cameras/discovery/job-1/devices/0/add")[0]?.body).toEqual({
      name: "Gate",
      zone_id: null,
      auth: { method: "digest", username: "installer", password: "wrong" },
      main_url: null,
      enabled_models: ["motion"],
    });

    const password = within(form).getByLabelText("Device password");
    await user.clear(password);
    await user.type(password, "right");
    await user.click(within(form).getByRole("button", { name: "Add this camera" }));
    const result = await screen.findByTestId("probe-result");
    expect(result).toHaveTextContent("Added “Gate PTZ”");
    expect(result).toHaveTextContent("1920×1080");
    expect(within(screen.getAllByTestId("discovered-row")[0]!).getByRole("link", { name: "Added" })).toBeInTheDocument();
  });

  it("reopens a dropped event stream with a fresh ticket", async () => {
    const api = backend();
    renderApp("/cameras?add=discover&job=job-1");
    const first = await stream();
    act(() => first.onerror?.(new Event("error")));
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(2), { timeout: 2000 });
    expect(first.closed).toBe(true);
    expect(api.called("POST /api/v1/auth/stream-ticket")).toHaveLength(2);
  });

  it("reads ports, refusing what is not a port", () => {
    expect(parsePorts("554, 80 8080")).toEqual([554, 80, 8080]);
    expect(parsePorts("554, http")).toBeNull();
    expect(parsePorts("70000")).toBeNull();
    expect(parsePorts("")).toBeNull();
  });
});
