import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { session } from "../api/session";
import { EMPTY_TREE, fakeApi, json, ME, problem, tokens, type Call } from "../test/fakeApi";
import { renderApp } from "../test/render";

const TREE = {
  sites: [],
  unassigned: { camera_count: 10, online_count: 6, offline_count: 2 },
  total: { camera_count: 10, online_count: 6, offline_count: 2 },
};
const GB = 1024 ** 3;

function health(forecast: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return {
    checked_at: "2026-11-24T12:00:00Z",
    retention: { alive: true, last_finished_at: null, age_s: 60, interval_s: 3600, last_error: null },
    forecast: { write_bytes_per_s: 4 * 1024 * 1024, free_bytes: 120 * GB, total_bytes: 500 * GB, hours_until_full: 8.5, ...forecast },
    alarms: [],
    cameras: [],
    ...extra,
  };
}

/** Events per hour: the hour's index from now (0 = this hour) decides the count. */
const hourly = (since: number) => {
  const ago = Math.round((Date.now() - since) / 3_600_000 - 0.5);
  return ago === 0 ? 3 : ago === 5 ? 12 : ago === 23 ? 1 : 0;
};

/** GET /statistics/events as the API answers it: hour buckets from `since` to `until`. */
function statistics(query: URLSearchParams, count: (start: number) => number = hourly) {
  const since = Date.parse(query.get("since")!);
  const until = Date.parse(query.get("until")!);
  const buckets = [];
  for (let start = since; start < until; start += 3_600_000) {
    buckets.push({ start: new Date(start).toISOString(), end: new Date(Math.min(start + 3_600_000, until)).toISOString(), count: count(start) });
  }
  const total = buckets.reduce((sum, b) => sum + b.count, 0);
  return json({ since: query.get("since"), until: query.get("until"), bucket: "hour", total, buckets });
}

const NO_INCIDENTS = { items: [], total: 0, limit: 5, offset: 0 };

function backend(over: Record<string, (call: Call) => Response> = {}) {
  const api = fakeApi({
    "GET /api/v1/auth/me": () => json(ME),
    "GET /api/v1/sites/tree": () => json(TREE),
    "GET /api/v1/cameras": ({ query }) => json({ items: [], total: query.get("status") === "degraded" ? 1 : 0, limit: 1, offset: 0 }),
    "GET /api/v1/events": ({ query }) => {
      const status = query.get("status");
      const total = status === "NEW" ? 4 : status === "ACKNOWLEDGED" ? 2 : 0;
      return json({ items: [], total, limit: 1, offset: 0 });
    },
    "GET /api/v1/statistics/events": ({ query }) => statistics(query),
    "GET /api/v1/incidents": () => json(NO_INCIDENTS),
    "GET /api/v1/recordings/health": () => json(health()),
    ...over,
  });
  session.set(tokens(1));
  return api;
}

describe("dashboard", () => {
  it("counts cameras by status, open events, and says when the disk is full", async () => {
    const api = backend();
    renderApp("/");
    expect(await screen.findByTestId("card-cameras")).toHaveTextContent("10");
    expect(screen.getByTestId("card-online")).toHaveTextContent("6");
    expect(screen.getByTestId("card-offline")).toHaveTextContent("2");
    await waitFor(() => expect(screen.getByTestId("card-degraded")).toHaveTextContent("1Degraded"));
    expect(screen.getByTestId("card-other")).toHaveTextContent("1Other");
    expect(screen.getByTestId("card-degraded")).toHaveAttribute("href", "/cameras?status=degraded");

    expect(await screen.findByTestId("card-new")).toHaveTextContent("4");
    expect(screen.getByTestId("card-acknowledged")).toHaveTextContent("2");
    expect(screen.queryByText(/not recorded yet/)).not.toBeInTheDocument();

    const forecast = await screen.findByTestId("storage-forecast");
    expect(forecast).toHaveClass("forecast-bad");
    expect(forecast).toHaveTextContent("Disk full in 8 hours");
    expect(forecast).toHaveTextContent("4.0 MB/s written over the last 6 h; 120 GB free of 500 GB");
    expect(within(forecast).getByRole("meter", { name: "Disk used" })).toHaveAttribute("value", String(380 * GB));
    expect(api.called("GET /api/v1/cameras")[0]!.query.get("limit")).toBe("1");
  });

  it("draws events per hour from one statistics request over the last 24 local hours, with the same figures as a table", async () => {
    const api = backend();
    renderApp("/");
    expect(await screen.findByTestId("hourly-summary")).toHaveTextContent("16 events; busiest hour");
    const [stats, ...more] = api.called("GET /api/v1/statistics/events");
    expect(more).toHaveLength(0);
    expect(stats!.query.get("bucket")).toBe("hour");
    const since = Date.parse(stats!.query.get("since")!);
    expect(Date.parse(stats!.query.get("until")!) - since).toBe(24 * 3_600_000);
    expect(new Date(since).getMinutes()).toBe(0); // a local clock hour
    expect(Date.now() - since).toBeGreaterThan(23 * 3_600_000);
    expect(Date.now() - since).toBeLessThanOrEqual(24 * 3_600_000);
    expect(api.called("GET /api/v1/events").filter((c) => c.query.get("since"))).toHaveLength(0);

    const table = screen.getByRole("table", { name: "Events per hour over the last 24 hours, oldest first" });
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows).toHaveLength(24);
    expect(rows.map((r) => Number(within(r).getByRole("cell").textContent))).toEqual([1, ...Array(17).fill(0), 12, 0, 0, 0, 0, 3]);
    expect(within(rows[23]!).getByRole("rowheader")).toHaveTextContent("(so far)");

    const bars = screen.getByTestId("bar-chart").querySelectorAll("rect");
    expect([...bars].map((b) => Number(b.getAttribute("data-value")))).toEqual([1, ...Array(17).fill(0), 12, 0, 0, 0, 0, 3]);
    const heights = [...bars].map((b) => Number(b.getAttribute("height")));
    expect(heights[18]).toBeGreaterThan(heights[23]!); // 12 drawn taller than 3
    expect(heights[23]).toBeGreaterThan(heights[0]!); // 3 taller than 1
    expect(heights[1]).toBe(0);
    expect(screen.getByTestId("bar-chart")).toHaveAttribute("aria-hidden", "true");
    expect(screen.getByRole("link", { name: "Open them in the inbox" })).toHaveAttribute("href", "/events?period=24h&status=");
  });

  it("empty states say what to do: no cameras, no events, nothing filling", async () => {
    backend({
      "GET /api/v1/sites/tree": () => json(EMPTY_TREE),
      "GET /api/v1/events": () => json({ items: [], total: 0, limit: 1, offset: 0 }),
      "GET /api/v1/statistics/events": ({ query }) => statistics(query, () => 0),
      "GET /api/v1/recordings/health": () => json(health({ write_bytes_per_s: 0, hours_until_full: null })),
    });
    renderApp("/");
    expect(await screen.findByText("No cameras yet")).toBeInTheDocument();
    const cameras = screen.getByRole("region", { name: "Cameras" });
    expect(within(cameras).getByRole("link", { name: "Cameras" })).toHaveAttribute("href", "/cameras?add=1");
    expect(await screen.findByText("No events in the last 24 hours")).toBeInTheDocument();
    expect(screen.getByText(/Turn models on from a camera's page/)).toBeInTheDocument();
    expect(await screen.findByText("Nothing open: every event has been handled.")).toBeInTheDocument();
    expect(await screen.findByTestId("storage-forecast")).toHaveTextContent("Not filling");
    expect(screen.queryByTestId("bar-chart")).not.toBeInTheDocument();
  });

  it("each card fails on its own with the API's reason and recovers on Try again", async () => {
    let healthUp = false;
    let eventsUp = false;
    backend({
      "GET /api/v1/recordings/health": () =>
        healthUp ? json(health({ hours_until_full: 24 * 20 })) : problem(503, "Service unavailable", "The database is not answering."),
      "GET /api/v1/events": () => (eventsUp ? json({ items: [], total: 0, limit: 1, offset: 0 }) : problem(500, "Internal error", "Boom.")),
      "GET /api/v1/statistics/events": ({ query }) =>
        eventsUp ? statistics(query, () => 1) : problem(422, "Validation failed", "The window spans more than 168 hours."),
    });
    const user = userEvent.setup();
    renderApp("/");
    expect(await screen.findByTestId("card-cameras")).toHaveTextContent("10"); // unaffected
    const storage = screen.getByRole("region", { name: "Storage" });
    expect(await within(storage).findByRole("alert")).toHaveTextContent(/The database is not answering/);
    const hourlySection = screen.getByRole("region", { name: "Events per hour, last 24 hours" });
    expect(await within(hourlySection).findByRole("alert")).toHaveTextContent(/more than 168 hours/);
    const openSection = screen.getByRole("region", { name: "Open events" });
    expect(await within(openSection).findByRole("alert")).toBeInTheDocument();

    healthUp = true;
    await user.click(within(storage).getByRole("button", { name: "Try again" }));
    expect(await within(storage).findByTestId("storage-forecast")).toHaveTextContent("Disk full in 20 days");
    expect(within(storage).getByTestId("storage-forecast")).toHaveClass("forecast-ok");

    eventsUp = true;
    await user.click(within(hourlySection).getByRole("button", { name: "Try again" }));
    expect(await within(hourlySection).findByTestId("hourly-summary")).toHaveTextContent("24 events");
  });

  it("shows a stalled retention and the server's alarms", async () => {
    backend({
      "GET /api/v1/recordings/health": () =>
        json(
          health(
            { hours_until_full: 3 },
            {
              retention: { alive: false, last_finished_at: null, age_s: null, interval_s: 3600, last_error: "disk read-only" },
              alarms: ["Disk full in 3.0 h at the current write rate"],
            },
          ),
        ),
    });
    renderApp("/");
    const forecast = await screen.findByTestId("storage-forecast");
    expect(forecast).toHaveTextContent("Retention has stalled: disk read-only");
    expect(within(forecast).getByRole("list", { name: "Storage alarms" })).toHaveTextContent("Disk full in 3.0 h");
  });
});
