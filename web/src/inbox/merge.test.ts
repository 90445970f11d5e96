import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import type { EventRead } from "../api";
import { applyChange, eventKey, flatten, inboxKey, mergeEvent, patchEverywhere, type InboxData } from "./merge";

const NOW = Date.parse("2026-03-01T12:00:00Z");

function ev(n: number, overrides: Partial<EventRead> = {}): EventRead {
  return {
    eventId: `e${n}`,
    customerId: "c",
    cameraId: "cam",
    eventType: "intrusion",
    confidence: 0.9,
    timestamp: `2026-03-01T11:${String(n).padStart(2, "0")}:00Z`,
    updatedAt: `2026-03-01T11:${String(n).padStart(2, "0")}:05Z`,
    detectionMetadata: { boundingBox: [0, 0, 1, 1], objectClass: "person", trackingId: "t" },
    priority: "HIGH",
    status: "NEW",
    tags: [],
    ...overrides,
  } as EventRead;
}

/** Pages of newest-first events, as the API would answer them. */
function data(pages: EventRead[][], total = pages.flat().length): InboxData {
  return { pages: pages.map((items, i) => ({ items, total, limit: 2, offset: i * 2 })), pageParams: pages.map((_, i) => i * 2) };
}
const ids = (d: InboxData | undefined) => flatten(d).map((e) => e.eventId);

describe("merging pushed events into the inbox", () => {
  it("puts a new matching event in date order and counts it", () => {
    const before = data([[ev(5), ev(3)], [ev(2)]]);
    const top = mergeEvent(before, ev(9), { status: "NEW" }, NOW);
    expect(top.added).toBe(true);
    expect(ids(top.data)).toEqual(["e9", "e5", "e3", "e2"]);
    expect(top.data!.pages.map((p) => p.total)).toEqual([4, 4]);
    const middle = mergeEvent(before, ev(4), {}, NOW);
    expect(ids(middle.data)).toEqual(["e5", "e4", "e3", "e2"]);
    expect(before.pages[0]!.items).toHaveLength(2); // the cached object is never mutated
  });

  it("updates a shown event in place, even when it no longer matches, and ignores older or equal versions", () => {
    const before = data([[ev(5), ev(3)]]);
    const acked = ev(3, { status: "ACKNOWLEDGED", updatedAt: "2026-03-01T11:59:00Z" });
    const after = mergeEvent(before, acked, { status: "NEW" }, NOW);
    expect(after.added).toBe(false);
    expect(flatten(after.data)[1]).toBe(acked);
    expect(mergeEvent(after.data, ev(3), { status: "NEW" }, NOW).data).toBe(after.data); // a replayed older change
    expect(mergeEvent(after.data, { ...acked }, {}, NOW).data).toBe(after.data); // the same version twice
  });

  it("leaves out new events that do not match, and old ones that paging will bring", () => {
    const before = data([[ev(5), ev(3)]], 10);
    expect(mergeEvent(before, ev(9, { status: "RESOLVED" }), { status: "NEW" }, NOW).data).toBe(before);
    expect(mergeEvent(before, ev(1), {}, NOW).data).toBe(before); // older than all loaded, 8 more on the server
    const complete = data([[ev(5), ev(3)]]);
    expect(ids(mergeEvent(complete, ev(1), {}, NOW).data)).toEqual(["e5", "e3", "e1"]); // nothing more to page: append
    expect(mergeEvent(undefined, ev(1), {}, NOW)).toEqual({ data: undefined, added: false });
  });

  it("flatten drops the duplicates that paging over a growing list returns", () => {
    expect(ids(data([[ev(9), ev(5)], [ev(5), ev(3)]]))).toEqual(["e9", "e5", "e3"]);
  });

  it("applies a change to every cached list by its own filters, and to the event's detail", () => {
    const client = new QueryClient();
    client.setQueryData(inboxKey({ status: "NEW" }), data([[ev(5)]]));
    client.setQueryData(inboxKey({ status: "RESOLVED" }), data([[ev(4, { status: "RESOLVED" })]]));
    client.setQueryData(eventKey("e9"), ev(9, { updatedAt: "2026-03-01T10:00:00Z" }));
    const added = applyChange(client, ev(9), NOW);
    expect(added).toEqual([{ status: "NEW" }]);
    expect(ids(client.getQueryData(inboxKey({ status: "NEW" })))).toEqual(["e9", "e5"]);
    expect(ids(client.getQueryData(inboxKey({ status: "RESOLVED" })))).toEqual(["e4"]);
    expect(client.getQueryData<EventRead>(eventKey("e9"))!.updatedAt).toBe(ev(9).updatedAt);
  });

  it("an optimistic patch is undone where it still stands, never over a newer push", () => {
    const client = new QueryClient();
    client.setQueryData(inboxKey({}), data([[ev(5), ev(3)]]));
    client.setQueryData(inboxKey({ status: "NEW" }), data([[ev(5)]]));
    client.setQueryData(eventKey("e5"), ev(5));
    const undo = patchEverywhere(client, "e5", (e) => ({ ...e, status: "RESOLVED" }));
    expect(flatten(client.getQueryData(inboxKey({})))[0]!.status).toBe("RESOLVED");
    expect(client.getQueryData<EventRead>(eventKey("e5"))!.status).toBe("RESOLVED");
    // Meanwhile a newer version reaches one list (someone else acknowledged it).
    applyChange(client, ev(5, { status: "ACKNOWLEDGED", updatedAt: "2026-03-01T11:59:00Z" }), NOW);
    undo();
    expect(flatten(client.getQueryData(inboxKey({})))[0]!.status).toBe("ACKNOWLEDGED");
    expect(flatten(client.getQueryData(inboxKey({ status: "NEW" })))[0]!.status).toBe("ACKNOWLEDGED");
    expect(client.getQueryData<EventRead>(eventKey("e5"))!.status).toBe("ACKNOWLEDGED");

    const undo2 = patchEverywhere(client, "e3", (e) => ({ ...e, status: "FALSE_POSITIVE" }));
    undo2();
    expect(flatten(client.getQueryData(inboxKey({})))[1]!.status).toBe("NEW");
  });
});
