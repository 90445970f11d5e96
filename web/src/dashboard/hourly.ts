// Pure helpers of the dashboard: the 24 hourly windows of the events chart and the words of the
// storage forecast. No React here, so they are tested on their own (hourly.test.ts).

export const HOURS = 24;
/** Below this the API raises `disk_filling` (FORECAST_ALERT_HOURS in media/integrity.py). */
export const FORECAST_ALERT_HOURS = 24;

export interface HourWindow {
  /** Inclusive start, ISO (the API's `since`). */
  since: string;
  /** Exclusive end, ISO (the API's `until`; the events API filters [since, until)). */
  until: string;
  /** "14:00", local time. */
  label: string;
  /** The hour that is still running. */
  current: boolean;
}

const HOUR_MS = 3_600_000;
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hour12: false });

/** The last `hours` clock hours, oldest first, the last one being the hour now running. */
export function hourWindows(now: Date, hours = HOURS): HourWindow[] {
  const top = new Date(now);
  top.setMinutes(0, 0, 0); // local clock hour (also right where the offset is not whole hours)
  const out: HourWindow[] = [];
  for (let i = hours - 1; i >= 0; i--) {
    const start = new Date(top.getTime() - i * HOUR_MS);
    out.push({
      since: start.toISOString(),
      until: new Date(start.getTime() + HOUR_MS).toISOString(),
      label: clock.format(start),
      current: i === 0,
    });
  }
  return out;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 || value >= 100 ? 0 : 1)} ${units[unit]}`;
}

export interface ForecastFigures {
  write_bytes_per_s: number;
  free_bytes: number | null;
  total_bytes: number | null;
  hours_until_full: number | null;
}

export interface ForecastWords {
  headline: string;
  detail: string;
  tone: "ok" | "warn" | "bad" | "neutral";
}

/** "Disk full in N hours" and what to make of it, from `GET /recordings/health`'s forecast. */
export function forecastWords(f: ForecastFigures): ForecastWords {
  const free =
    f.free_bytes !== null && f.total_bytes ? `${formatBytes(f.free_bytes)} free of ${formatBytes(f.total_bytes)}` : null;
  const rate = `${formatBytes(f.write_bytes_per_s)}/s written over the last 6 h`;
  if (f.free_bytes === null) {
    return {
      headline: "No forecast",
      detail: "The recordings are not on a local disk (object storage), so the server cannot measure free space.",
      tone: "neutral",
    };
  }
  if (f.hours_until_full === null) {
    return {
      headline: "Not filling",
      detail: `Nothing was recorded in the last 6 h; ${free ?? "free space unknown"}. Check that cameras are recording if you expected some.`,
      tone: "neutral",
    };
  }
  const h = f.hours_until_full;
  const when = h < 1 ? "less than an hour" : h < 48 ? `${Math.floor(h)} hours` : `${Math.floor(h / 24)} days`;
  if (h < FORECAST_ALERT_HOURS) {
    return {
      headline: `Disk full in ${when}`,
      detail: `${rate}; ${free}. Free space now: shorten retention, release holds or add storage.`,
      tone: "bad",
    };
  }
  return { headline: `Disk full in ${when}`, detail: `${rate}; ${free}.`, tone: h < 7 * 24 ? "warn" : "ok" };
}
