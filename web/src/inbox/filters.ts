// The inbox's filters live in the URL (?status=NEW&type=fire_smoke&q=…), so a filtered inbox can be
// bookmarked, shared and survives a reload. The same filters decide whether a pushed event belongs
// in the list on screen (`matches`), mirroring the API's `GET /events` rules.
import type { EventRead, EventStatus } from "../api";
import type { EventType, Priority } from "./format";

export interface InboxFilters {
  /** Absent from the URL means NEW (the inbox opens on what needs attention); "" in the URL means any. */
  status?: EventStatus;
  priority?: Priority;
  type?: EventType;
  camera?: string;
  tag?: string;
  /** Text in notes or the object class (the API's `q`). */
  q?: string;
  /** "1h" | "24h" | "7d" relative to now, or "custom" with `from` / `to` (datetime-local values). */
  period?: string;
  from?: string;
  to?: string;
  /** One object's trail across cameras. */
  correlation?: string;
}

export const PERIODS: Record<string, { label: string; seconds: number }> = {
  "1h": { label: "Last hour", seconds: 3600 },
  "24h": { label: "Last 24 hours", seconds: 86_400 },
  "7d": { label: "Last 7 days", seconds: 7 * 86_400 },
};

const KEYS = ["priority", "type", "camera", "tag", "q", "period", "from", "to", "correlation"] as const;

export function readFilters(params: URLSearchParams): InboxFilters {
  const filters: InboxFilters = {};
  const status = params.has("status") ? params.get("status") : "NEW";
  if (status) filters.status = status as EventStatus;
  for (const key of KEYS) {
    const value = params.get(key)?.trim();
    if (value) (filters as Record<string, string>)[key] = value;
  }
  if (filters.period !== "custom") {
    delete filters.from;
    delete filters.to;
  }
  return filters;
}

/** `params` with `changes` applied (undefined or "" removes a key, except status where "" means any). */
export function writeFilters(params: URLSearchParams, changes: Partial<Record<keyof InboxFilters | "event", string | undefined>>): URLSearchParams {
  const next = new URLSearchParams(params);
  for (const [key, value] of Object.entries(changes)) {
    if (key === "status") next.set("status", value ?? "");
    else if (value) next.set(key, value);
    else next.delete(key);
  }
  return next;
}

function isoOf(local: string | undefined): string | undefined {
  if (!local) return undefined;
  const t = new Date(local);
  return Number.isNaN(t.getTime()) ? undefined : t.toISOString();
}

/** The time window [since, until) the filters select, as ISO strings; relative periods end now. */
export function timeWindow(filters: InboxFilters, now = Date.now()): { since?: string; until?: string } {
  const relative = filters.period ? PERIODS[filters.period] : undefined;
  if (relative) return { since: new Date(now - relative.seconds * 1000).toISOString() };
  if (filters.period === "custom") return { since: isoOf(filters.from), until: isoOf(filters.to) };
  return {};
}

/** The query of `GET /api/v1/events` for these filters. */
export function listQuery(filters: InboxFilters, now = Date.now()) {
  return {
    status: filters.status,
    priority: filters.priority,
    event_type: filters.type,
    camera_id: filters.camera ? [filters.camera] : undefined,
    tag: filters.tag,
    q: filters.q,
    correlation_id: filters.correlation,
    ...timeWindow(filters, now),
  };
}

/** The filters the live stream applies server-side (camera, type, priority); the rest are checked here. */
export function streamQuery(filters: InboxFilters): string {
  const params = new URLSearchParams();
  if (filters.camera) params.append("camera_id", filters.camera);
  if (filters.type) params.append("event_type", filters.type);
  if (filters.priority) params.append("priority", filters.priority);
  return params.toString();
}

/** Whether `event` belongs in a list with these filters (the API's rules; text in notes cannot be
 * checked here, so with `q` set only the object class is matched). */
export function matches(event: EventRead, filters: InboxFilters, now = Date.now()): boolean {
  if (filters.status && event.status !== filters.status) return false;
  if (filters.priority && event.priority !== filters.priority) return false;
  if (filters.type && event.eventType !== filters.type) return false;
  if (filters.camera && event.cameraId !== filters.camera) return false;
  if (filters.correlation && event.correlationId !== filters.correlation) return false;
  if (filters.tag && !(event.tags ?? []).includes(filters.tag.toLowerCase())) return false;
  if (filters.q && !event.detectionMetadata.objectClass.toLowerCase().includes(filters.q.toLowerCase())) return false;
  const { since, until } = timeWindow(filters, now);
  const t = Date.parse(event.timestamp);
  if (since && t < Date.parse(since)) return false;
  if (until && t >= Date.parse(until)) return false;
  return true;
}

export function activeFilterCount(filters: InboxFilters): number {
  return Object.entries(filters).filter(([k, v]) => v && k !== "from" && k !== "to" && !(k === "status" && v === "NEW")).length;
}
