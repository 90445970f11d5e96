import { describe, expect, it } from "vitest";
import { discoveryReducer, INITIAL, progressOf, type DiscoveryState } from "./discovery";
import { device, job } from "./testData";

const fold = (events: Parameters<typeof discoveryReducer>[1][], from: DiscoveryState = INITIAL) =>
  events.reduce(discoveryReducer, from);

describe("discovery events reducer", () => {
  it("takes the snapshot, then progress and devices as they stream in, in index order", () => {
    const s = fold([
      { type: "snapshot", job: job({ status: "queued", results: [device(2)] }) },
      { type: "progress", hosts_total: 6, hosts_done: 3, devices_found: 2, progress: 0.5 },
      { type: "device", index: 0, device: device(0) },
    ]);
    expect(s.job?.status).toBe("running"); // progress means it has started
    expect(s.job?.hosts_done).toBe(3);
    expect(progressOf(s)).toBe(0.5);
    expect(s.results.map((r) => r.index)).toEqual([0, 2]);
    expect(s.finished).toBe(false);
  });

  it("replaces a device filled in by a later answer rather than listing it twice", () => {
    const s = fold([
      { type: "snapshot", job: job() },
      { type: "device", index: 0, device: device(0, { manufacturer: null }) },
      { type: "device", index: 0, device: device(0, { manufacturer: "Simcam" }) },
    ]);
    expect(s.results).toHaveLength(1);
    expect(s.results[0]?.manufacturer).toBe("Simcam");
  });

  it("keeps the streamed results when done arrives without them, and counts as whole", () => {
    const s = fold([
      { type: "snapshot", job: job() },
      { type: "device", index: 0, device: device(0) },
      { type: "done", job: job({ status: "completed", progress: 0.97, results: null }) },
    ]);
    expect(s.finished).toBe(true);
    expect(s.job?.status).toBe("completed");
    expect(s.results).toHaveLength(1);
    expect(progressOf(s)).toBe(1);
  });

  it("a new snapshot (a re-opened stream) starts clean, and marks a result added from this screen", () => {
    let s = fold([
      { type: "snapshot", job: job() },
      { type: "device", index: 0, device: device(0) },
      { type: "lost", message: "dropped" },
    ]);
    expect(s.connectionError).toBe("dropped");
    s = fold([{ type: "snapshot", job: job({ results: [device(0), device(1)] }) }], s);
    expect(s.connectionError).toBeNull();
    expect(s.results).toHaveLength(2);
    s = fold([{ type: "added", index: 1, camera_id: "cam-9" }], s);
    expect(s.results[1]?.camera_id).toBe("cam-9");
    expect(s.results[0]?.camera_id).toBeNull();
  });

  it("ignores progress before any snapshot (nothing to update yet)", () => {
    expect(fold([{ type: "progress", hosts_total: 1, hosts_done: 1, devices_found: 0, progress: 1 }])).toBe(INITIAL);
  });
});
