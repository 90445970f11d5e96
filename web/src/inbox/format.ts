// Words for event fields, shared by the list, the detail pane and announcements.
import type { EventRead, EventStatus, Schemas } from "../api";

export type Priority = Schemas["Priority"];
export type EventType = Schemas["AiModel"];
export type Action = "acknowledge" | "resolve" | "false_positive" | "reopen";

export const STATUSES: EventStatus[] = ["NEW", "ACKNOWLEDGED", "RESOLVED", "FALSE_POSITIVE"];
export const PRIORITIES: Priority[] = ["CRITICAL", "HIGH", "MEDIUM", "STANDARD"];
export const TYPES: EventType[] = [
  "intrusion",
  "motion",
  "tampering",
  "fire_smoke",
  "crowd",
  "missing_object",
  "abnormal_behavior",
  "fallen",
  "tailgating",
  "anpr",
];

/** The status each action leads to, and the statuses it may start from (the API's TRANSITIONS). */
export const TRANSITIONS: Record<Action, { from: EventStatus[]; to: EventStatus }> = {
  acknowledge: { from: ["NEW"], to: "ACKNOWLEDGED" },
  resolve: { from: ["NEW", "ACKNOWLEDGED"], to: "RESOLVED" },
  false_positive: { from: ["NEW", "ACKNOWLEDGED"], to: "FALSE_POSITIVE" },
  reopen: { from: ["RESOLVED", "FALSE_POSITIVE"], to: "ACKNOWLEDGED" },
};

export const ACTION_LABEL: Record<Action, string> = {
  acknowledge: "Acknowledge",
  resolve: "Resolve",
  false_positive: "False positive",
  reopen: "Reopen",
};

export const ACTION_DONE: Record<Action, string> = {
  acknowledge: "Acknowledged",
  resolve: "Resolved",
  false_positive: "Marked as false positive",
  reopen: "Reopened",
};

export function allowed(action: Action, status: EventStatus): boolean {
  return TRANSITIONS[action].from.includes(status);
}

/** Why `action` cannot apply to an event in `status` (for the live region when a key does nothing). */
export function refusal(action: Action, status: EventStatus): string {
  if (TRANSITIONS[action].to === status) return `Already ${statusLabel(status)}`;
  return `A ${statusLabel(status)} event cannot be ${ACTION_DONE[action].toLowerCase()}`;
}

export const typeLabel = (t: string): string => t.replace(/_/g, " ");
export const statusLabel = (s: string): string => s.replace(/_/g, " ").toLowerCase();
export const percent = (x: number): string => `${Math.round(x * 100)}%`;

/** "fire smoke at Gate 1", the phrase announcements and labels use for an event. */
export function describeEvent(ev: EventRead, cameraName: string): string {
  return `${typeLabel(ev.eventType)} at ${cameraName}`;
}

// Formatters are built once: creating an Intl.DateTimeFormat per call costs more than rendering a row.
const FULL = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});
const TIME = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const DAY = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const DAY_YEAR = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", year: "numeric" });

/** Local date and time, seconds included (operators compare events seconds apart). */
export function when(iso: string): string {
  return FULL.format(new Date(iso));
}

/** Compact for list rows: the time alone today, the date without the year this year, else in full. */
export function shortWhen(iso: string, now = Date.now()): string {
  const t = new Date(iso);
  const today = new Date(now);
  const time = TIME.format(t);
  if (t.toDateString() === today.toDateString()) return time;
  return `${(t.getFullYear() === today.getFullYear() ? DAY : DAY_YEAR).format(t)} ${time}`;
}

/** The event's tags (the API may leave the list out when empty). */
export const tagsOf = (ev: EventRead): string[] => ev.tags ?? [];
