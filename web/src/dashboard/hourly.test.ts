import { describe, expect, it } from "vitest";
import { niceMax } from "./BarChart";
import { forecastWords, formatBytes, hourWindows } from "./hourly";

describe("hourWindows", () => {
  it("gives 24 back-to-back clock hours, oldest first, the last one holding now", () => {
    const now = new Date(2026, 10, 24, 14, 37, 12);
    const w = hourWindows(now);
    expect(w).toHaveLength(24);
    for (let i = 1; i < w.length; i++) expect(w[i]!.since).toBe(w[i - 1]!.until);
    for (const h of w) expect(Date.parse(h.until) - Date.parse(h.since)).toBe(3_600_000);
    const last = w.at(-1)!;
    expect(last.current).toBe(true);
    expect(w.filter((h) => h.current)).toHaveLength(1);
    expect(Date.parse(last.since)).toBe(new Date(2026, 10, 24, 14, 0, 0).getTime());
    expect(Date.parse(last.since)).toBeLessThanOrEqual(now.getTime());
    expect(Date.parse(last.until)).toBeGreaterThan(now.getTime());
    expect(Date.parse(w[0]!.since)).toBe(new Date(2026, 10, 23, 15, 0, 0).getTime());
    expect(last.label).toMatch(/14.00/);
  });
});

describe("forecastWords", () => {
  const base = { write_bytes_per_s: 2 * 1024 * 1024, free_bytes: 50 * 1024 ** 3, total_bytes: 100 * 1024 ** 3 };

  it("says disk full in N hours, alarming below a day", () => {
    const w = forecastWords({ ...base, hours_until_full: 7.9 });
    expect(w).toMatchObject({ headline: "Disk full in 7 hours", tone: "bad" });
    expect(w.detail).toContain("2.0 MB/s");
    expect(w.detail).toContain("50.0 GB free of 100 GB");
    expect(w.detail).toMatch(/shorten retention/);
  });

  it("counts in days beyond 48 hours, warning within a week", () => {
    expect(forecastWords({ ...base, hours_until_full: 30 })).toMatchObject({ headline: "Disk full in 30 hours", tone: "warn" });
    expect(forecastWords({ ...base, hours_until_full: 100 })).toMatchObject({ headline: "Disk full in 4 days", tone: "warn" });
    expect(forecastWords({ ...base, hours_until_full: 24 * 30 })).toMatchObject({ headline: "Disk full in 30 days", tone: "ok" });
    expect(forecastWords({ ...base, hours_until_full: 0.4 }).headline).toBe("Disk full in less than an hour");
  });

  it("explains a missing forecast: not filling, or not a local disk", () => {
    expect(forecastWords({ ...base, write_bytes_per_s: 0, hours_until_full: null })).toMatchObject({
      headline: "Not filling",
      tone: "neutral",
    });
    const remote = forecastWords({ write_bytes_per_s: 0, free_bytes: null, total_bytes: null, hours_until_full: null });
    expect(remote.headline).toBe("No forecast");
    expect(remote.detail).toMatch(/not on a local disk/);
  });

  it("formats bytes in binary units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(300 * 1024 ** 3)).toBe("300 GB");
  });
});

describe("niceMax", () => {
  it("rounds the axis up to 1, 2 or 5 times a power of ten", () => {
    expect([0, 1, 3, 7, 12, 180, 501].map(niceMax)).toEqual([1, 1, 5, 10, 20, 200, 1000]);
  });
});
