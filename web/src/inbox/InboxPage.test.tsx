import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { EventRead } from "../api";
import { session } from "../api/session";
import { fakeApi, json, ME, problem, tokens, type Call } from "../test/fakeApi";
import { FakeEventSource, FakeSocket, fakeStreams } from "../test/fakeStreams";
import { renderApp } from "../test/render";
// The app loads these lazily; loaded up front so their first transform does not race the waits below.
import "./InboxPage";
import "./EventDetail";

const CAMERA = "00000000-0000-0000-0000-00000000ca01";
const TICKET = "00000000-0000-0000-0000-0000000071c1";
const id = (n: number) => `00000000-0000-0000-0000-0000000000e${n}`;

function event(n: number, status = "NEW", type = "intrusion", extra: Partial<EventRead> = {}): EventRead {
  return {
    eventId: id(n),
    customerId: ME.tenant_id,
    cameraId: CAMERA,
    eventType: type,
    confidence: 0.87,
    timestamp: `2026-03-01T10:0${n}:00Z`,
    updatedAt: `2026-03-01T10:0${n}:01Z`,
    endedAt: null,
    detectionMetadata: { boundingBox: [0.1, 0.1, 0.2, 0.3], objectClass: "person", trackingId: "t1" },
    clipUrl: `/api/v1/events/${id(n)}/clip.mp4?token=tok`,
    snapshotUrl: `/api/v1/events/${id(n)}/snapshot.jpg?token=tok`,
    priority: "MEDIUM",
    status,
    tags: [],
    modelVersion: "1",
    detections: 3,
    ...extra,
  } as EventRead;
}

const TARGET: Record<string, string> = { acknowledge: "ACKNOWLEDGED", resolve: "RESOLVED", false_positive: "FALSE_POSITIVE" };
const later = (ev: EventRead) => new Date(Date.parse(ev.updatedAt ?? ev.timestamp) + 60_000).toISOString();

/** A small inbox behind the fake API: filters by status, applies actions, tags, notes and tickets. */
function inbox(initial: EventRead[], { role = "admin", refuse = "" } = {}) {
  const events = [...initial];
  const notes: { id: string; author: string; text: string; created_at: string }[] = [];
  const find = (path: string) => events.find((e) => path.includes(`/${e.eventId}`))!;
  const api = fakeApi({
    "GET /api/v1/auth/me": () => json({ ...ME, role }),
    "GET /api/v1/cameras": () => json({ items: [{ id: CAMERA, name: "Gate 1" }], total: 1, limit: 500, offset: 0 }),
    "POST /api/v1/auth/stream-ticket": () => json({ ticket: "one-time", expires_in_s: 30 }),
    "GET /api/v1/events": ({ query }: Call) => {
      const status = query.get("status");
      const items = events.filter((e) => !status || e.status === status);
      return json({ items, total: items.length, limit: 200, offset: 0 });
    },
    "GET /api/v1/events/{id}": ({ path }: Call) => json(find(path)),
    "POST /api/v1/events/{id}/actions": ({ path, body }: Call) => {
      const ev = find(path);
      const action = (body as { action: string }).action;
      if (action === refuse) return problem(409, "Conflict", `Someone else resolved it.`);
      Object.assign(ev, { status: TARGET[action], updatedAt: later(ev) });
      return json(ev);
    },
    "PUT /api/v1/events/{id}/tags": ({ path, body }: Call) => {
      if (refuse === "tags") return problem(503, "Unavailable", "Try later.");
      const ev = find(path);
      Object.assign(ev, { tags: (body as { tags: string[] }).tags.map((t) => t.toLowerCase()).sort(), updatedAt: later(ev) });
      return json(ev);
    },
    "GET /api/v1/events/{id}/notes": () => json(notes),
    "POST /api/v1/events/{id}/notes": ({ body }: Call) => {
      const note = { id: `n${notes.length}`, author: ME.email, text: (body as { text: string }).text, created_at: "2026-03-01T11:00:00Z" };
      notes.push(note);
      return json(note, 201);
    },
    "POST /api/v1/events/{id}/ticket": ({ path, body }: Call) => {
      const ev = find(path);
      ev.ticketId = TICKET;
      return json({ id: TICKET, event_id: ev.eventId, title: "Intrusion at Gate 1", status: "open", system: "builtin", external_key: null, ...(body as object) }, 201);
    },
    "GET /api/v1/tickets/{id}": () => json({ id: TICKET, title: "Intrusion at Gate 1", status: "open", system: "builtin", external_key: null }),
  });
  session.set(tokens(1));
  return { api, events, notes };
}

const actions = (api: ReturnType<typeof fakeApi>) =>
  api.calls.filter((c) => c.method === "POST" && c.path.endsWith("/actions")).map((c) => [c.path.split("/")[4], (c.body as { action: string }).action]);
const rows = () => screen.getAllByTestId("event-row");
const statusOf = (row: HTMLElement) => within(row).getByTestId("event-status").textContent;

/** The page connected: the socket said hello. */
async function live(cursor = "c0") {
  await waitFor(() => expect(FakeSocket.all.length).toBeGreaterThan(0));
  act(() => FakeSocket.last().receive({ type: "hello", cursor }));
  await isLive();
}

const isLive = () => waitFor(() => expect(screen.getByTestId("live-indicator")).toHaveTextContent(/^Live$/));

beforeEach(() => {
  fakeStreams();
  // jsdom has no layout: give the list's scroller a height so the virtualiser has a window to fill.
  vi.spyOn(HTMLElement.prototype, "clientHeight", "get").mockImplementation(function (this: HTMLElement) {
    return this.classList.contains("inbox-scroller") ? 560 : 0;
  });
});

describe("events inbox", () => {
  it("lists new events with their camera and shows the first one's clip; keys act on the selected event in place", async () => {
    const { api } = inbox([event(3), event(2, "NEW", "fire_smoke"), event(1)]);
    const user = userEvent.setup();
    renderApp("/events");
    await waitFor(() => expect(rows()).toHaveLength(3));
    expect(rows()[0]).toHaveTextContent("Gate 1");
    expect(rows()[0]).toHaveAttribute("aria-current", "true");
    expect(api.called("GET /api/v1/events")[0]?.query.get("status")).toBe("NEW"); // opens on new events
    const detail = await screen.findByTestId("event-detail");
    expect(within(detail).getByTestId("clip-player")).toHaveAttribute("src", event(3).clipUrl);
    expect(within(detail).getByTestId("clip-player")).toHaveAttribute("poster", event(3).snapshotUrl);
    expect(within(detail).getByTestId("bounding-box")).toHaveStyle({ left: "10%", top: "10%", width: "20%", height: "30%" });

    await user.keyboard("a"); // acknowledge the selected (first) event: shown at once, stays in the list, dimmed
    expect(statusOf(rows()[0]!)).toBe("acknowledged");
    await waitFor(() => expect(actions(api)).toEqual([[id(3), "acknowledge"]]));
    expect(rows()).toHaveLength(3);
    expect(rows()[0]).toHaveClass("handled");
    expect(await screen.findByText("Acknowledged: intrusion at Gate 1")).toBeInTheDocument(); // announced

    await user.keyboard("jr"); // next, resolve
    expect(rows()[1]).toHaveAttribute("aria-current", "true");
    await waitFor(() => expect(actions(api).at(-1)).toEqual([id(2), "resolve"]));
    expect(within(screen.getByTestId("event-detail")).getByTestId("detail-status")).toHaveTextContent("resolved");
    await user.keyboard("a"); // a resolved event cannot be acknowledged: nothing sent, told why
    expect(actions(api)).toHaveLength(2);
    expect(screen.getByText("A resolved event cannot be acknowledged")).toBeInTheDocument();
    await user.keyboard("kk"); // back up, stops at the top
    expect(rows()[0]).toHaveAttribute("aria-current", "true");
  });

  it("a refused action is rolled back and the API's reason shown", async () => {
    const { api } = inbox([event(1)], { refuse: "false_positive" });
    const user = userEvent.setup();
    renderApp("/events");
    await waitFor(() => expect(rows()).toHaveLength(1));
    await user.keyboard("f");
    await waitFor(() => expect(actions(api)).toEqual([[id(1), "false_positive"]]));
    await screen.findByText("Not marked as false positive: Conflict");
    expect(statusOf(rows()[0]!)).toBe("new");
    expect(within(screen.getByTestId("event-detail")).getByTestId("detail-status")).toHaveTextContent("new");
    expect(screen.getAllByRole("alert")[0]).toHaveTextContent("Someone else resolved it.");
  });

  it("row buttons act on their own row, and typing in a filter is not a shortcut", async () => {
    const { api } = inbox([event(2), event(1)]);
    const user = userEvent.setup();
    renderApp("/events");
    await waitFor(() => expect(rows()).toHaveLength(2));
    await user.click(within(rows()[1]!).getByRole("button", { name: "False positive: intrusion at Gate 1" }));
    await waitFor(() => expect(actions(api)).toEqual([[id(1), "false_positive"]]));
    expect(rows()[1]).toHaveAttribute("aria-current", "true");

    screen.getByLabelText("Tag").focus();
    await user.keyboard("a");
    expect(actions(api)).toHaveLength(1);
  });

  it("a pushed new event appears at the top, highlighted and announced; changes update rows in place; old replays are ignored", async () => {
    inbox([event(2), event(1)]);
    renderApp("/events");
    await waitFor(() => expect(rows()).toHaveLength(2));
    await live();
    const socket = FakeSocket.last();
    expect(socket.url.pathname).toBe("/api/v1/events/ws");
    expect(socket.url.searchParams.get("ticket")).toBe("one-time");
    expect(socket.url.searchParams.has("cursor")).toBe(false);

    act(() => socket.receive({ type: "event", cursor: "c1", event: event(5, "NEW", "fire_smoke", { priority: "CRITICAL" }) }));
    await waitFor(() => expect(rows()).toHaveLength(3));
    expect(rows()[0]).toHaveTextContent("fire smoke");
    expect(rows()[0]).toHaveClass("fresh");
    expect(rows()[1]).toHaveAttribute("aria-current", "true"); // the selection stays on what the operator was reading
    expect(screen.getByTestId("announcement")).toHaveTextContent("New critical event: fire smoke at Gate 1");
    expect(screen.getByTestId("event-total")).toHaveTextContent("3 events");

    const resolved = event(1, "RESOLVED", "intrusion", { updatedAt: "2026-03-01T11:00:00Z", tags: ["critical"] });
    act(() => socket.receive({ type: "event", cursor: "c2", event: resolved }));
    await waitFor(() => expect(statusOf(rows()[2]!)).toBe("resolved"));
    expect(rows()[2]).toHaveTextContent("critical");
    act(() => socket.receive({ type: "event", cursor: "c3", event: event(1) })); // a replay of the older version
    expect(statusOf(rows()[2]!)).toBe("resolved");

    act(() => socket.receive({ type: "event", cursor: "c4", event: event(6, "RESOLVED") })); // not a NEW event
    expect(rows()).toHaveLength(3);
  });

  it("reconnects after a drop with the last cursor and a growing delay, and shows it", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      inbox([event(1)]);
      renderApp("/events");
      await live();
      act(() => FakeSocket.last().receive({ type: "event", cursor: "c7", event: event(2) }));
      act(() => FakeSocket.last().drop(1006));
      expect(await screen.findByText(/Reconnecting in 1 s/)).toBeInTheDocument();
      await act(async () => {
        await vi.advanceTimersByTimeAsync(1300);
      });
      await waitFor(() => expect(FakeSocket.all).toHaveLength(2));
      expect(FakeSocket.last().url.searchParams.get("cursor")).toBe("c7");
      act(() => FakeSocket.last().drop(1006)); // fails again before hello: twice the delay
      expect(await screen.findByText(/Reconnecting in 2 s/)).toBeInTheDocument();
      await act(async () => {
        await vi.advanceTimersByTimeAsync(1300);
      });
      expect(FakeSocket.all).toHaveLength(2); // not yet
      await act(async () => {
        await vi.advanceTimersByTimeAsync(1200);
      });
      await waitFor(() => expect(FakeSocket.all).toHaveLength(3));
      act(() => FakeSocket.last().receive({ type: "hello", cursor: "c7" }));
      await isLive();
    } finally {
      vi.useRealTimers();
    }
  });

  it("a resync reloads the list and reconnects without a cursor", async () => {
    const { api, events } = inbox([event(1)]);
    renderApp("/events");
    await live();
    const loads = () => api.called("GET /api/v1/events").length;
    await waitFor(() => expect(loads()).toBe(2)); // the first hello (no cursor) reloads once: nothing is missed
    events.unshift(event(4, "NEW", "anpr"));
    act(() => FakeSocket.last().receive({ type: "event", cursor: "c9", event: event(2) }));
    act(() => FakeSocket.last().receive({ type: "resync", detail: "Too many changes" }));
    act(() => FakeSocket.last().drop(4409, "resync"));
    await waitFor(() => expect(FakeSocket.all).toHaveLength(2));
    expect(FakeSocket.last().url.searchParams.has("cursor")).toBe(false);
    act(() => FakeSocket.last().receive({ type: "hello", cursor: "c10" }));
    await waitFor(() => expect(loads()).toBe(3));
    await waitFor(() => expect(rows()[0]).toHaveTextContent("anpr"));
  });

  it("falls back to Server-Sent Events when the WebSocket cannot be opened", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      inbox([event(1)]);
      renderApp("/events");
      await waitFor(() => expect(rows()).toHaveLength(1));
      for (let i = 1; i <= 2; i++) {
        await waitFor(() => expect(FakeSocket.all).toHaveLength(i));
        act(() => FakeSocket.last().drop(1006));
        await act(async () => {
          await vi.advanceTimersByTimeAsync(2500);
        });
      }
      await waitFor(() => expect(FakeEventSource.all).toHaveLength(1));
      const source = FakeEventSource.all[0]!;
      expect(source.url.pathname).toBe("/api/v1/events/stream");
      act(() => source.receive({ type: "hello", cursor: "s1" }));
      await isLive();
      act(() => source.receive({ type: "event", cursor: "s2", event: event(3, "NEW", "crowd") }));
      await waitFor(() => expect(rows()[0]).toHaveTextContent("crowd"));
    } finally {
      vi.useRealTimers();
    }
  });

  it("n writes a note, t escalates to a ticket, tags are added with a click", async () => {
    const { api } = inbox([event(1)]);
    const user = userEvent.setup();
    renderApp("/events");
    await screen.findByTestId("event-detail");
    await screen.findByText("No notes yet.");
    await user.keyboard("n");
    expect(screen.getByLabelText("Add a note")).toHaveFocus();
    await user.keyboard("Called the guard{Control>}{Enter}{/Control}");
    expect(await screen.findByTestId("note")).toHaveTextContent("Called the guard");
    expect(api.called(`POST /api/v1/events/${id(1)}/notes`)[0]?.body).toEqual({ text: "Called the guard" });

    (document.activeElement as HTMLElement).blur();
    await user.keyboard("t");
    expect(screen.getByLabelText("What needs doing")).toHaveFocus();
    await user.keyboard("Check the fence");
    await user.click(screen.getByRole("button", { name: "Create ticket" }));
    expect(await screen.findByTestId("ticket")).toHaveTextContent("#00000000");
    expect(api.called(`POST /api/v1/events/${id(1)}/ticket`)[0]?.body).toMatchObject({ description: "Check the fence", priority: "MEDIUM" });
    expect(rows()[0]).toHaveTextContent("ticket");

    await user.click(screen.getByRole("button", { name: "+ critical" }));
    expect(within(screen.getByRole("region", { name: "Tags" })).getByText("critical")).toBeInTheDocument();
    await waitFor(() => expect(api.called(`PUT /api/v1/events/${id(1)}/tags`)[0]?.body).toEqual({ tags: ["critical"] }));
  });

  it("a refused tag change is rolled back", async () => {
    inbox([event(1)], { refuse: "tags" });
    const user = userEvent.setup();
    renderApp("/events");
    await screen.findByTestId("event-detail");
    await user.click(screen.getByRole("button", { name: "+ evidence" }));
    expect(await screen.findByText("The tags could not be saved")).toBeInTheDocument();
    expect(within(screen.getByRole("region", { name: "Tags" })).getByText("None")).toBeInTheDocument();
  });

  it("? lists the shortcuts, / focuses the search, and the search goes to the API", async () => {
    const { api } = inbox([event(1)]);
    const user = userEvent.setup();
    renderApp("/events");
    await waitFor(() => expect(rows()).toHaveLength(1));
    await user.keyboard("?");
    const dialog = screen.getByRole("dialog", { name: "Keyboard shortcuts" });
    expect(dialog).toHaveTextContent("Acknowledge");
    expect(dialog).toHaveTextContent("Escalate to a ticket");
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).toBeNull();

    await user.keyboard("/");
    expect(screen.getByLabelText("Search")).toHaveFocus();
    await user.keyboard("person{Enter}");
    await waitFor(() => expect(api.called("GET /api/v1/events").at(-1)?.query.get("q")).toBe("person"));
  });

  it("filters in the URL go to the API and the stream", async () => {
    const { api } = inbox([]);
    renderApp(`/events?status=&type=fire_smoke&camera=${CAMERA}&priority=CRITICAL&tag=evidence&period=custom&from=2026-03-01T08:00&to=2026-03-01T09:00`);
    expect(await screen.findByText("No events match these filters")).toBeInTheDocument();
    const query = api.called("GET /api/v1/events")[0]!.query;
    expect(Object.fromEntries(query)).toMatchObject({ event_type: "fire_smoke", camera_id: CAMERA, priority: "CRITICAL", tag: "evidence" });
    expect(query.has("status")).toBe(false);
    expect(query.get("since")).toBe(new Date("2026-03-01T08:00").toISOString());
    expect(query.get("until")).toBe(new Date("2026-03-01T09:00").toISOString());
    await waitFor(() => expect(FakeSocket.all.length).toBeGreaterThan(0));
    expect(FakeSocket.last().url.searchParams.get("event_type")).toBe("fire_smoke");
    expect(FakeSocket.last().url.searchParams.get("priority")).toBe("CRITICAL");
    expect(screen.getByLabelText("Camera")).toHaveValue(CAMERA);
    fireEvent.change(screen.getByLabelText("Status"), { target: { value: "RESOLVED" } });
    await waitFor(() => expect(api.called("GET /api/v1/events").at(-1)?.query.get("status")).toBe("RESOLVED"));
  });

  it("a Viewer sees events and clips but no actions, and action keys do nothing", async () => {
    const { api } = inbox([event(1)], { role: "viewer" });
    const user = userEvent.setup();
    renderApp("/events");
    await screen.findByTestId("event-detail");
    await screen.findByText(/viewer/);
    expect(screen.queryByRole("button", { name: /^Acknowledge/ })).toBeNull();
    expect(screen.queryByLabelText("Add a note")).toBeNull();
    expect(screen.getByTestId("clip-player")).toBeInTheDocument();
    await user.keyboard("an");
    expect(actions(api)).toHaveLength(0);
  });

  it("says what to do when there are no new events", async () => {
    inbox([]);
    renderApp("/events");
    expect(await screen.findByText("No new events — all caught up")).toBeInTheDocument();
  });

  it("shows the error with a retry that works", async () => {
    let fail = true;
    fakeApi({
      "GET /api/v1/auth/me": () => json(ME),
      "GET /api/v1/cameras": () => json({ items: [], total: 0, limit: 500, offset: 0 }),
      "POST /api/v1/auth/stream-ticket": () => json({ ticket: "t", expires_in_s: 30 }),
      "GET /api/v1/events": () =>
        fail ? problem(500, "Internal error", "Something went wrong.") : json({ items: [event(1)], total: 1, limit: 200, offset: 0 }),
    });
    session.set(tokens(1));
    const user = userEvent.setup();
    renderApp("/events");
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("The server had a problem");
    expect(alert).toHaveTextContent("req-1");
    fail = false;
    await user.click(within(alert).getByRole("button", { name: "Try again" }));
    await waitFor(() => expect(rows()).toHaveLength(1));
  });
});
