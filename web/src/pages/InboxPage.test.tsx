import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { session } from "../api/session";
import { fakeApi, json, ME, problem, tokens, type Call } from "../test/fakeApi";
import { renderApp } from "../test/render";
import { POLL_MS } from "./InboxPage";

const CAMERA = "00000000-0000-0000-0000-00000000ca01";

function event(n: number, status = "NEW", type = "intrusion") {
  return {
    eventId: `00000000-0000-0000-0000-0000000000e${n}`,
    customerId: ME.tenant_id,
    cameraId: CAMERA,
    eventType: type,
    confidence: 0.87,
    timestamp: `2026-03-01T10:0${n}:00Z`,
    endedAt: null,
    detectionMetadata: { boundingBox: [0.1, 0.1, 0.2, 0.3], objectClass: "person", trackingId: "t1" },
    clipUrl: null,
    priority: "MEDIUM",
    status,
    tags: [],
    modelVersion: "1",
    detections: 3,
  };
}

/** A small in-memory inbox behind the fake API: filters by status, applies actions. */
function inbox(initial: ReturnType<typeof event>[], role = "admin") {
  const events = [...initial];
  const targets: Record<string, string> = {
    acknowledge: "ACKNOWLEDGED",
    resolve: "RESOLVED",
    false_positive: "FALSE_POSITIVE",
  };
  const api = fakeApi({
    "GET /api/v1/auth/me": () => json({ ...ME, role }),
    "GET /api/v1/cameras": () => json({ items: [{ id: CAMERA, name: "Gate 1" }], total: 1, limit: 500, offset: 0 }),
    "GET /api/v1/events": ({ query }: Call) => {
      const status = query.get("status");
      const items = events.filter((e) => !status || e.status === status);
      return json({ items, total: items.length, limit: 50, offset: 0 });
    },
    "POST /api/v1/events/{id}/actions": ({ path, body }: Call) => {
      const ev = events.find((e) => path.endsWith(`/${e.eventId}/actions`))!;
      ev.status = targets[(body as { action: string }).action]!;
      return json(ev);
    },
  });
  session.set(tokens(1));
  return { api, events };
}

const actions = (api: ReturnType<typeof fakeApi>) =>
  api.calls
    .filter((c) => c.method === "POST" && c.path.endsWith("/actions"))
    .map((c) => [c.path.split("/")[4], (c.body as { action: string }).action]);

describe("events inbox", () => {
  it("lists new events with their camera, and keyboard shortcuts acknowledge and resolve the selected one", async () => {
    const { api } = inbox([event(1), event(2, "NEW", "fire_smoke"), event(3)]);
    const user = userEvent.setup();
    renderApp("/events");
    const rows = await screen.findAllByTestId("event-row");
    expect(rows).toHaveLength(3);
    expect(rows[0]).toHaveTextContent("Gate 1");
    expect(rows[0]).toHaveAttribute("aria-current", "true");
    expect(api.called("GET /api/v1/events")[0]?.query.get("status")).toBe("NEW"); // the inbox opens on new events

    await user.keyboard("a"); // acknowledge the first
    await waitFor(() => expect(actions(api)).toEqual([[event(1).eventId, "acknowledge"]]));
    await waitFor(() => expect(screen.getAllByTestId("event-row")).toHaveLength(2)); // it left the NEW list

    await user.keyboard("j"); // move to the second remaining row (event 3)
    expect(screen.getAllByTestId("event-row")[1]).toHaveAttribute("aria-current", "true");
    await user.keyboard("r");
    await waitFor(() => expect(actions(api).at(-1)).toEqual([event(3).eventId, "resolve"]));
    await waitFor(() => expect(screen.getAllByTestId("event-row")).toHaveLength(1));
    expect(screen.getByText(/Resolved: intrusion event/)).toBeInTheDocument(); // announced for screen readers
  });

  it("buttons act on their own row, and typing in a filter is not a shortcut", async () => {
    const { api } = inbox([event(1), event(2)]);
    const user = userEvent.setup();
    renderApp("/events");
    const rows = await screen.findAllByTestId("event-row");
    await user.click(within(rows[1]!).getByRole("button", { name: /^False positive: intrusion at Gate 1/ }));
    await waitFor(() => expect(actions(api)).toEqual([[event(2).eventId, "false_positive"]]));

    const status = screen.getByLabelText("Status");
    status.focus();
    await user.keyboard("a");
    expect(actions(api)).toHaveLength(1);
  });

  it("new events appear by polling without a reload", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const { events } = inbox([event(1)]);
      renderApp("/events");
      expect(await screen.findAllByTestId("event-row")).toHaveLength(1);
      events.unshift(event(2, "NEW", "fire_smoke"));
      await act(async () => {
        await vi.advanceTimersByTimeAsync(POLL_MS + 100);
      });
      await waitFor(() => expect(screen.getAllByTestId("event-row")).toHaveLength(2));
      expect(screen.getAllByTestId("event-row")[0]).toHaveTextContent("fire smoke");
    } finally {
      vi.useRealTimers();
    }
  });

  it("a Viewer sees events but no action buttons, and shortcuts do nothing", async () => {
    const { api } = inbox([event(1)], "viewer");
    const user = userEvent.setup();
    renderApp("/events");
    await screen.findAllByTestId("event-row");
    await screen.findByText(/viewer/);
    expect(screen.queryByRole("button", { name: /^Acknowledge/ })).toBeNull();
    await user.keyboard("a");
    expect(actions(api)).toHaveLength(0);
  });

  it("says what to do when there are no new events", async () => {
    const { events } = inbox([]);
    renderApp("/events");
    expect(await screen.findByText("No new events — all caught up")).toBeInTheDocument();
    expect(events).toHaveLength(0);
  });

  it("shows the error with a retry that works", async () => {
    let fail = true;
    fakeApi({
      "GET /api/v1/auth/me": () => json(ME),
      "GET /api/v1/cameras": () => json({ items: [], total: 0, limit: 500, offset: 0 }),
      "GET /api/v1/events": () =>
        fail ? problem(500, "Internal error", "Something went wrong.") : json({ items: [event(1)], total: 1, limit: 50, offset: 0 }),
    });
    session.set(tokens(1));
    const user = userEvent.setup();
    renderApp("/events");
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("The server had a problem");
    expect(alert).toHaveTextContent("req-1");
    fail = false;
    await user.click(within(alert).getByRole("button", { name: "Try again" }));
    expect(await screen.findAllByTestId("event-row")).toHaveLength(1);
  });
});
