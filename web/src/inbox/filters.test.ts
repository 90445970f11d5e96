import { describe, expect, it } from "vitest";
import type { EventRead } from "../api";
import { listQuery, matches, readFilters, streamQuery, writeFilters } from "./filters";

const CAMERA = "00000000-0000-0000-0000-00000000ca01";
const NOW = Date.parse("2026-03-01T12:00:00Z");

function ev(overrides: Partial<EventRead> = {}): EventRead {
  return {
    eventId: "e1",
    customerId: "c",
    cameraId: CAMERA,
    eventType: "intrusion",
    confidence: 0.9,
    timestamp: "2026-03-01T11:30:00Z",
    detectionMetadata: { boundingBox: [0, 0, 1, 1], objectClass: "person", trackingId: "t" },
    priority: "HIGH",
    status: "NEW",
    tags: ["critical"],
    ...overrides,
  } as EventRead;
}

describe("inbox filters", () => {
  it("open on NEW; an empty status in the URL means any; custom dates only with the custom period", () => {
    expect(readFilters(new URLSearchParams(""))).toEqual({ status: "NEW" });
    expect(readFilters(new URLSearchParams("status="))).toEqual({});
    expect(readFilters(new URLSearchParams("status=RESOLVED&type=fire_smoke&q=%20van%20&from=2026-01-01T00:00"))).toEqual({
      status: "RESOLVED",
      type: "fire_smoke",
      q: "van",
    });
    const next = writeFilters(new URLSearchParams("status=NEW&q=van&event=e1"), { status: "", q: undefined, tag: "critical" });
    expect(next.toString()).toBe("status=&event=e1&tag=critical");
  });

  it("turn into the list query and the stream's server-side filters", () => {
    const f = readFilters(new URLSearchParams(`status=&camera=${CAMERA}&priority=CRITICAL&tag=evidence&period=1h`));
    expect(listQuery(f, NOW)).toEqual({
      status: undefined,
      priority: "CRITICAL",
      event_type: undefined,
      camera_id: [CAMERA],
      tag: "evidence",
      q: undefined,
      correlation_id: undefined,
      since: "2026-03-01T11:00:00.000Z",
    });
    expect(streamQuery(f)).toBe(`camera_id=${CAMERA}&priority=CRITICAL`);
  });

  it("decide whether a pushed event belongs in the list, as the API would", () => {
    expect(matches(ev(), { status: "NEW" }, NOW)).toBe(true);
    expect(matches(ev({ status: "ACKNOWLEDGED" }), { status: "NEW" }, NOW)).toBe(false);
    expect(matches(ev(), { tag: "Critical" }, NOW)).toBe(true);
    expect(matches(ev(), { tag: "evidence" }, NOW)).toBe(false);
    expect(matches(ev(), { q: "PERS" }, NOW)).toBe(true);
    expect(matches(ev(), { q: "van" }, NOW)).toBe(false);
    expect(matches(ev(), { period: "1h" }, NOW)).toBe(true);
    expect(matches(ev({ timestamp: "2026-03-01T10:30:00Z" }), { period: "1h" }, NOW)).toBe(false);
    expect(matches(ev(), { period: "custom", to: "2026-03-01T11:30:00Z" }, NOW)).toBe(false); // until is exclusive
    expect(matches(ev(), { camera: "other" }, NOW)).toBe(false);
    expect(matches(ev(), { type: "intrusion", priority: "HIGH" }, NOW)).toBe(true);
  });
});
