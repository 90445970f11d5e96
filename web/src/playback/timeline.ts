// Geometry of the playback timeline, in epoch milliseconds: where a time falls on the bar (as a
// share of its width), which time a point of the bar stands for, tick marks at round steps, and the
// time windows the page offers. Pure functions, so they are tested without a browser.

export interface TimeWindow {
  start: number;
  end: number;
}

export interface Span {
  start: string;
  end: string;
}

export const PRESETS: Record<string, { label: string; ms: number }> = {
  "15m": { label: "Last 15 minutes", ms: 15 * 60_000 },
  "1h": { label: "Last hour", ms: 3_600_000 },
  "6h": { label: "Last 6 hours", ms: 6 * 3_600_000 },
  "24h": { label: "Last 24 hours", ms: 24 * 3_600_000 },
};
export const DEFAULT_PRESET = "1h";

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** Where `t` falls on the bar, 0 (window start) to 1 (window end), clamped. */
export function fractionOf(t: number, w: TimeWindow): number {
  return w.end > w.start ? clamp((t - w.start) / (w.end - w.start), 0, 1) : 0;
}

/** The time at `fraction` of the bar, rounded to the second. */
export function timeAt(fraction: number, w: TimeWindow): number {
  const t = w.start + clamp(fraction, 0, 1) * (w.end - w.start);
  return Math.round(t / 1000) * 1000;
}

/** A span's box on the bar in percent (left, width); null when it lies outside the window. */
export function spanBox(span: Span, w: TimeWindow): { left: number; width: number } | null {
  const s = Date.parse(span.start);
  const e = Date.parse(span.end);
  if (!(e > w.start && s < w.end)) return null;
  const left = fractionOf(s, w) * 100;
  return { left, width: Math.max(fractionOf(e, w) * 100 - left, 0.15) }; // a 1 s range stays visible on a day
}

const STEPS = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((s) => s * 1000);

/** Round-time tick marks inside the window, at most `most` of them. */
export function ticks(w: TimeWindow, most = 8): number[] {
  const span = w.end - w.start;
  if (span <= 0) return [];
  const step = STEPS.find((s) => span / s <= most) ?? STEPS[STEPS.length - 1]!;
  // Round in local time, so hour ticks fall on the hour of the viewer's clock.
  const offset = new Date(w.start).getTimezoneOffset() * 60_000;
  const out: number[] = [];
  for (let t = Math.ceil((w.start - offset) / step) * step + offset; t <= w.end; t += step) out.push(t);
  return out;
}

export function formatTick(t: number, w: TimeWindow): string {
  const d = new Date(t);
  const seconds = w.end - w.start <= 10 * 60_000;
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", ...(seconds ? { second: "2-digit" } : {}) });
  return w.end - w.start > 24 * 3_600_000 ? `${d.toLocaleDateString([], { month: "short", day: "numeric" })} ${time}` : time;
}

/** Whether `t` is inside a recorded range. */
export function isRecorded(t: number, ranges: Span[]): boolean {
  return ranges.some((r) => Date.parse(r.start) <= t && t < Date.parse(r.end));
}

/** `t` when recorded, else the start of the next recorded range, else null. */
export function nextRecorded(t: number, ranges: Span[]): number | null {
  if (isRecorded(t, ranges)) return t;
  const later = ranges.map((r) => Date.parse(r.start)).filter((s) => s > t);
  return later.length ? Math.min(...later) : null;
}

/** The window of a preset ending at `now`. */
export function presetWindow(preset: string, now: number): TimeWindow {
  const ms = (PRESETS[preset] ?? PRESETS[DEFAULT_PRESET]!).ms;
  const end = Math.ceil(now / 1000) * 1000;
  return { start: end - ms, end };
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Epoch ms as a `datetime-local` value (the viewer's local time, to the second). */
export function toLocalInput(t: number): string {
  const d = new Date(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A `datetime-local` value (local time) as epoch ms; NaN when empty or malformed. */
export function fromLocalInput(value: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (!m) return NaN;
  const [, y, mo, d, h, mi, s] = m;
  return new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0)).getTime();
}

export function formatTime(t: number): string {
  return new Date(t).toLocaleString([], { dateStyle: "medium", timeStyle: "medium" });
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
