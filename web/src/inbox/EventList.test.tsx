import { act, fireEvent, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { EventRead } from "../api";
import { EventList, ROW_HEIGHT } from "./EventList";

const N = 10_000;
const VIEW = 560; // px: ten rows of 56

function events(n: number): EventRead[] {
  const start = Date.parse("2026-03-01T12:00:00Z");
  return Array.from({ length: n }, (_, i) => ({
    eventId: `e${i}`,
    customerId: "c",
    cameraId: `cam${i % 50}`,
    eventType: i % 7 === 0 ? "fire_smoke" : "intrusion",
    confidence: 0.5 + (i % 50) / 100,
    timestamp: new Date(start - i * 1000).toISOString(),
    detectionMetadata: { boundingBox: [0, 0, 1, 1], objectClass: "person", trackingId: `t${i}` },
    priority: i % 11 === 0 ? "CRITICAL" : "MEDIUM",
    status: "NEW",
    tags: i % 13 === 0 ? ["critical"] : [],
  })) as EventRead[];
}

const rows = () => screen.getAllByTestId("event-row");
const positions = () => rows().map((r) => Number(r.getAttribute("aria-posinset")));

beforeEach(() => {
  vi.spyOn(HTMLElement.prototype, "clientHeight", "get").mockImplementation(function (this: HTMLElement) {
    return this.classList.contains("inbox-scroller") ? VIEW : 0;
  });
});

describe("virtualised event list", () => {
  it("renders 10,000 events as a window of rows, and scrolling moves the window", () => {
    const items = events(N);
    const onSelect = vi.fn();
    const started = performance.now();
    render(
      <EventList items={items} total={N} filters={{}} selectedId="e0" onSelect={onSelect} cameraName={(id) => `Camera ${id}`} fresh={new Set()} />,
    );
    const ms = performance.now() - started;
    console.info(JSON.stringify({ inbox_first_render_10k_ms: +ms.toFixed(1), rows_in_dom: rows().length }));

    expect(rows().length).toBeGreaterThanOrEqual(VIEW / ROW_HEIGHT);
    expect(rows().length).toBeLessThan(30); // a window, not 10,000
    expect(positions()[0]).toBe(1);
    expect(rows()[0]).toHaveAttribute("aria-setsize", String(N));
    expect(screen.getByRole("list")).toHaveStyle({ height: `${N * ROW_HEIGHT}px` }); // the scrollbar is the full list's

    const scroller = screen.getByRole("list").parentElement!;
    act(() => {
      scroller.scrollTop = 5000 * ROW_HEIGHT;
      fireEvent.scroll(scroller);
    });
    expect(rows().length).toBeLessThan(30);
    expect(positions()).toContain(5001);
    expect(positions()).not.toContain(1);
    const row = rows().find((r) => r.getAttribute("aria-posinset") === "5001")!;
    expect(row).toHaveStyle({ transform: `translateY(${5000 * ROW_HEIGHT}px)` });
    expect(row).toHaveTextContent("Camera cam0"); // 5000 % 50
  });

  it("clicking a row selects it, and reaching the end asks for the next page", async () => {
    const onSelect = vi.fn();
    const onLoadMore = vi.fn();
    const items = events(30);
    const { rerender } = render(
      <EventList items={items} total={500} filters={{}} selectedId={undefined} onSelect={onSelect} cameraName={() => "Gate"} fresh={new Set(["e1"])} hasMore onLoadMore={onLoadMore} />,
    );
    expect(rows()[1]).toHaveClass("fresh");
    await userEvent.click(rows()[2]!);
    expect(onSelect).toHaveBeenCalledWith("e2");
    expect(onLoadMore).toHaveBeenCalled(); // 30 loaded: the window is already within 40 rows of the end

    const scroller = screen.getByRole("list").parentElement!;
    const more = events(600).slice(0, 600);
    onLoadMore.mockClear();
    rerender(
      <EventList items={more} total={5000} filters={{}} selectedId={undefined} onSelect={onSelect} cameraName={() => "Gate"} fresh={new Set()} hasMore onLoadMore={onLoadMore} />,
    );
    expect(onLoadMore).not.toHaveBeenCalled(); // far from the end now
    act(() => {
      scroller.scrollTop = 580 * ROW_HEIGHT;
      fireEvent.scroll(scroller);
    });
    expect(onLoadMore).toHaveBeenCalled();
  });

  it("events that no longer match the filters are dimmed, not removed", () => {
    const items = events(3);
    items[1] = { ...items[1]!, status: "RESOLVED" };
    render(<EventList items={items} total={3} filters={{ status: "NEW" }} selectedId="e0" onSelect={() => {}} cameraName={() => "Gate"} fresh={new Set()} />);
    expect(rows().map((r) => r.classList.contains("handled"))).toEqual([false, true, false]);
  });
});
