import { describe, expect, it } from "vitest";
import { fractionOf, fromLocalInput, isRecorded, nextRecorded, presetWindow, spanBox, ticks, timeAt, toLocalInput } from "./timeline";

const T0 = Date.parse("2026-03-01T10:00:00Z");
const HOUR = { start: T0, end: T0 + 3_600_000 };
const iso = (ms: number) => new Date(ms).toISOString();

describe("timeline geometry", () => {
  it("places times on the bar and reads them back", () => {
    expect(fractionOf(T0 + 900_000, HOUR)).toBe(0.25);
    expect(fractionOf(T0 - 1, HOUR)).toBe(0);
    expect(fractionOf(T0 + 7_200_000, HOUR)).toBe(1);
    expect(timeAt(0.5, HOUR)).toBe(T0 + 1_800_000);
    expect(timeAt(1.5, HOUR)).toBe(HOUR.end);
    expect(timeAt(0.1234567, HOUR) % 1000).toBe(0); // whole seconds
  });

  it("boxes spans in percent, clipped to the window, and drops spans outside it", () => {
    expect(spanBox({ start: iso(T0 + 900_000), end: iso(T0 + 1_800_000) }, HOUR)).toEqual({ left: 25, width: 25 });
    expect(spanBox({ start: iso(T0 - 600_000), end: iso(T0 + 360_000) }, HOUR)).toEqual({ left: 0, width: 10 });
    expect(spanBox({ start: iso(T0 - 600_000), end: iso(T0 - 1) }, HOUR)).toBeNull();
    expect(spanBox({ start: iso(T0), end: iso(T0 + 1_000) }, { start: T0, end: T0 + 86_400_000 })!.width).toBeGreaterThan(0.1);
  });

  it("puts at most 8 ticks at round steps inside the window", () => {
    const t = ticks(HOUR);
    expect(t.length).toBeGreaterThan(2);
    expect(t.length).toBeLessThanOrEqual(8);
    const step = t[1]! - t[0]!;
    expect(step).toBe(600_000); // ten minutes over an hour
    expect(t.every((x) => x >= HOUR.start && x <= HOUR.end)).toBe(true);
    expect(ticks({ start: T0, end: T0 + 86_400_000 }).length).toBeLessThanOrEqual(8);
    expect(ticks({ start: T0, end: T0 })).toEqual([]);
  });

  it("finds the recorded moment at or after a time", () => {
    const ranges = [
      { start: iso(T0), end: iso(T0 + 10_000) },
      { start: iso(T0 + 30_000), end: iso(T0 + 40_000) },
    ];
    expect(isRecorded(T0 + 5_000, ranges)).toBe(true);
    expect(nextRecorded(T0 + 5_000, ranges)).toBe(T0 + 5_000);
    expect(nextRecorded(T0 + 15_000, ranges)).toBe(T0 + 30_000); // in the gap: the next range
    expect(nextRecorded(T0 + 50_000, ranges)).toBeNull();
  });

  it("converts datetime-local values both ways and refuses garbage", () => {
    const t = Date.parse("2026-03-01T10:11:12Z");
    expect(fromLocalInput(toLocalInput(t))).toBe(t);
    expect(fromLocalInput("2026-03-01T10:11")).toBe(new Date(2026, 2, 1, 10, 11).getTime());
    expect(fromLocalInput("yesterday")).toBeNaN();
    expect(fromLocalInput("")).toBeNaN();
  });

  it("presets end now (to the second) and last as long as they say", () => {
    const w = presetWindow("1h", T0 + 500);
    expect(w).toEqual({ start: T0 + 1_000 - 3_600_000, end: T0 + 1_000 });
    expect(presetWindow("nonsense", T0).end - presetWindow("nonsense", T0).start).toBe(3_600_000);
  });
});
