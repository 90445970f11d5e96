import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { session } from "../api/session";
import { fakeApi, json, ME, problem, tokens, type Call } from "../test/fakeApi";
import { renderApp } from "../test/render";
import type { Incident } from "./IncidentsPanel";

function incident(n: number, over: Partial<Incident> = {}): Incident {
  return {
    incidentId: `00000000-0000-0000-0000-00000000010${n}`,
    timestamp: "2026-11-24T12:00:00Z",
    customerId: null,
    cameraId: null,
    aiModel: "fire_smoke",
    incidentType: "LATENCY_BREACH",
    actualValue: 1900,
    thresholdValue: 1000,
    severity: "HIGH",
    status: "open",
    summary: `fire_smoke p95 latency 1.9 s over the 1 s SLA (${n})`,
    source: "worker fire_smoke",
    lastSeenAt: "2026-11-24T12:05:00Z",
    acknowledgedAt: null,
    resolvedAt: null,
    ...over,
  };
}

function backend(incidents: (call: Call) => Response, me = ME) {
  const api = fakeApi({
    "GET /api/v1/auth/me": () => json(me),
    "GET /api/v1/incidents": incidents,
    "POST /api/v1/incidents/{id}/acknowledge": ({ path }) => json(incident(1, { incidentId: path.split("/")[4]!, status: "acknowledged" })),
  });
  session.set(tokens(1));
  return api;
}

describe("open incidents on the dashboard", () => {
  it("shows the count, the five newest with their severity, and acknowledges one", async () => {
    let open = [incident(1, { severity: "CRITICAL", incidentType: "SERVICE_FAILURE", summary: "Worker fire_smoke stopped" }), incident(2), incident(3), incident(4), incident(5, { severity: "LOW" })];
    const api = backend(({ query }) => json({ items: open.slice(0, Number(query.get("limit"))), total: open.length + 2, limit: 5, offset: 0 }));
    const user = userEvent.setup();
    renderApp("/");
    const panel = await screen.findByRole("region", { name: "Open incidents" });
    expect(await within(panel).findByTestId("incident-count")).toHaveTextContent("7 open incidents; the 5 newest:");
    const request = api.called("GET /api/v1/incidents")[0]!.query;
    expect([request.get("status"), request.get("limit"), request.get("offset")]).toEqual(["open", "5", "0"]);
    const items = within(within(panel).getByRole("list", { name: "Newest open incidents" })).getAllByRole("listitem");
    expect(items).toHaveLength(5);
    expect(items[0]).toHaveTextContent("CRITICAL");
    expect(items[0]).toHaveTextContent("Worker fire_smoke stopped");
    expect(items[0]).toHaveTextContent("Service failure");
    expect(within(items[0]!).getByText("CRITICAL")).toHaveClass("badge-priority-critical");
    expect(within(items[4]!).getByText("LOW")).toHaveClass("badge-priority-standard");

    open = open.slice(1);
    await user.click(within(items[0]!).getByRole("button", { name: "Acknowledge: Worker fire_smoke stopped" }));
    await waitFor(() => expect(api.calls.filter((c) => c.method === "POST")).toHaveLength(1));
    expect(api.calls.filter((c) => c.method === "POST").map((c) => c.path)).toEqual([
      "/api/v1/incidents/00000000-0000-0000-0000-000000000101/acknowledge",
    ]);
    await waitFor(() => expect(within(panel).getByTestId("incident-count")).toHaveTextContent("6 open incidents"));
    expect(within(panel).queryByText("Worker fire_smoke stopped")).not.toBeInTheDocument();
  });

  it("says so when nothing is open", async () => {
    backend(() => json({ items: [], total: 0, limit: 5, offset: 0 }));
    renderApp("/");
    const panel = await screen.findByRole("region", { name: "Open incidents" });
    expect(await within(panel).findByText("No open incidents")).toBeInTheDocument();
    expect(within(panel).queryByRole("button", { name: /Acknowledge/ })).not.toBeInTheDocument();
  });

  it("a Viewer sees incidents without an Acknowledge button, and why", async () => {
    backend(() => json({ items: [incident(1)], total: 1, limit: 5, offset: 0 }), { ...ME, role: "viewer" });
    renderApp("/");
    const panel = await screen.findByRole("region", { name: "Open incidents" });
    expect(await within(panel).findByTestId("incident-count")).toHaveTextContent("1 open incident:");
    expect(await within(panel).findByText("Only an Admin or a Supervisor can acknowledge incidents.")).toBeInTheDocument();
    expect(within(panel).queryByRole("button", { name: /Acknowledge/ })).not.toBeInTheDocument();
  });

  it("shows the API's reason when acknowledging fails, and a failed list can be retried", async () => {
    let up = false;
    const api = fakeApi({
      "GET /api/v1/auth/me": () => json(ME),
      "GET /api/v1/incidents": () => (up ? json({ items: [incident(1)], total: 1, limit: 5, offset: 0 }) : problem(503, "Service unavailable", "The watchdog is not answering.")),
      "POST /api/v1/incidents/{id}/acknowledge": () => problem(409, "Conflict", "The incident was resolved in the meantime."),
    });
    session.set(tokens(1));
    const user = userEvent.setup();
    renderApp("/");
    const panel = await screen.findByRole("region", { name: "Open incidents" });
    expect(await within(panel).findByRole("alert")).toHaveTextContent("The watchdog is not answering.");
    up = true;
    await user.click(within(panel).getByRole("button", { name: "Try again" }));
    await user.click(await within(panel).findByRole("button", { name: /Acknowledge/ }));
    expect(await within(panel).findByRole("alert")).toHaveTextContent("The incident was resolved in the meantime.");
    expect(api.calls.filter((c) => c.method === "POST")).toHaveLength(1);
  });
});
