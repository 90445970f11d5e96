import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { session } from "../api/session";
import { EMPTY_TREE, fakeApi, json, ME, problem, tokens, type Call } from "../test/fakeApi";
import { renderApp } from "../test/render";
import { HISTORY_PAGE, searched } from "./DiscoveryHistory";
import { device, FakeEventSource, job } from "./testData";

const JOBS = [
  job({ id: "job-2", status: "running", hosts_total: 254, hosts_done: 100, devices_found: 1, targets: "10.0.5.0/24" }),
  job({
    id: "job-1",
    status: "completed",
    hosts_done: 6,
    devices_found: 2,
    started_at: "2026-03-01T10:00:00Z",
    finished_at: "2026-03-01T10:00:09Z",
  }),
  job({ id: "job-0", method: "ws-discovery", targets: null, multicast: true, status: "failed", error: "No network interface for multicast." }),
];

function backend(jobs: (call: Call) => Response = ({ query }) => json({ items: JOBS, total: 23, limit: Number(query.get("limit")), offset: Number(query.get("offset")) })) {
  const api = fakeApi({
    "GET /api/v1/auth/me": () => json(ME),
    "GET /api/v1/sites/tree": () => json(EMPTY_TREE),
    "GET /api/v1/cameras": () => json({ items: [], total: 0, limit: 25, offset: 0 }),
    "GET /api/v1/nodes": () => json({ items: [], total: 0, limit: 500, offset: 0 }),
    "GET /api/v1/license": () => json({ models: ["intrusion"] }),
    "POST /api/v1/auth/stream-ticket": () => json({ ticket: "t-1", expires_in_s: 30 }),
    "GET /api/v1/cameras/discovery": jobs,
  });
  session.set(tokens(1));
  FakeEventSource.install();
  return api;
}

describe("past discoveries", () => {
  it("lists jobs newest first with status, range, found count and times, paged", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp("/cameras?add=discover");
    const table = await screen.findByRole("table", { name: "Past discoveries" });
    const rows = within(table).getAllByTestId("discovery-job");
    expect(rows).toHaveLength(3);
    expect(rows[0]).toHaveTextContent("Address scan");
    expect(rows[0]).toHaveTextContent("10.0.5.0/24");
    expect(rows[0]).toHaveTextContent("Running 100/254");
    expect(rows[1]).toHaveTextContent("Finished");
    expect(rows[1]).toHaveTextContent("127.0.91.0/29");
    expect(within(rows[1]!).getAllByRole("cell")[3]).toHaveTextContent("2"); // found
    expect(rows[2]).toHaveTextContent("WS-Discovery");
    expect(rows[2]).toHaveTextContent("local network (multicast)");
    expect(rows[2]).toHaveTextContent("No network interface for multicast.");
    const first = api.called("GET /api/v1/cameras/discovery")[0]!.query;
    expect([first.get("limit"), first.get("offset")]).toEqual([String(HISTORY_PAGE), "0"]);

    await user.click(screen.getByRole("button", { name: "Next" }));
    await waitFor(() => expect(api.called("GET /api/v1/cameras/discovery").some((c) => c.query.get("offset") === "10")).toBe(true));
  });

  it("opening a past job shows its devices, ready to add; coming back reloads the list", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp("/cameras?add=discover");
    const table = await screen.findByRole("table", { name: "Past discoveries" });
    await user.click(within(within(table).getAllByTestId("discovery-job")[1]!).getByRole("button", { name: /^Open the discovery of 127.0.91.0\/29/ }));
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    const source = FakeEventSource.instances[0]!;
    expect(source.url).toContain("/api/v1/cameras/discovery/job-1/events");
    act(() => source.emit("snapshot", { job: job({ status: "completed", devices_found: 2, results: [device(0), device(1, { known_camera_id: "cam-7" })] }) }));
    expect(screen.getByTestId("discovery-status")).toHaveTextContent("Finished");
    const rows = screen.getAllByTestId("discovered-row");
    expect(within(rows[0]!).getByRole("button", { name: "Add 127.0.91.1" })).toBeInTheDocument();
    expect(within(rows[1]!).getByRole("link", { name: "Already added" })).toHaveAttribute("href", "/cameras/cam-7");
    expect(screen.queryByRole("table", { name: "Past discoveries" })).not.toBeInTheDocument();

    const loads = api.called("GET /api/v1/cameras/discovery").length;
    await user.click(screen.getByRole("button", { name: "New discovery" }));
    expect(await screen.findByRole("table", { name: "Past discoveries" })).toBeInTheDocument();
    await waitFor(() => expect(api.called("GET /api/v1/cameras/discovery").length).toBeGreaterThan(loads)); // the job may have moved on
  });

  it("empty and failed lists say what to do", async () => {
    let up = false;
    backend(() => (up ? json({ items: [], total: 0, limit: 10, offset: 0 }) : problem(503, "Service unavailable", "The database is not answering.")));
    const user = userEvent.setup();
    renderApp("/cameras?add=discover");
    const history = await screen.findByRole("region", { name: "Past discoveries" });
    expect(await within(history).findByRole("alert")).toHaveTextContent("The database is not answering.");
    up = true;
    await user.click(within(history).getByRole("button", { name: "Try again" }));
    expect(await within(history).findByText("No discoveries yet")).toBeInTheDocument();
  });

  it("describes what a job searched", () => {
    expect(searched({ method: "scan", targets: "10.0.0.0/24", multicast: false })).toBe("10.0.0.0/24");
    expect(searched({ method: "ws-discovery", targets: "10.0.0.7", multicast: true })).toBe("local network (multicast) + 10.0.0.7");
    expect(searched({ method: "ws-discovery", targets: null, multicast: false })).toBe("—");
  });
});
