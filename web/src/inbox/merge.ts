// Pushed changes → the TanStack Query cache. Every inbox list in the cache (one per filter set) and
// the event's detail entry take the change: an event already shown is updated in place — even when
// it no longer matches the filters, so nothing vanishes under the operator's eyes (it is shown
// dimmed and leaves at the next reload) —, a new event that matches is inserted in date order, and
// a change older than what is shown (the stream is at-least-once) is ignored.
import type { InfiniteData, QueryClient } from "@tanstack/react-query";
import type { EventRead, Schemas } from "../api";
import { keys } from "../api/queries";
import { matches, type InboxFilters } from "./filters";

export type EventPage = Schemas["Page_EventRead_"];
export type InboxData = InfiniteData<EventPage, unknown>;

export const inboxKey = (filters: InboxFilters) => [...keys.events, "inbox", filters] as const;
export const inboxRoot = [...keys.events, "inbox"] as const;
export const eventKey = (id: string) => [...keys.events, "detail", id] as const;
export const notesKey = (id: string) => [...keys.events, "notes", id] as const;

const stamp = (ev: EventRead): number => (ev.updatedAt ? Date.parse(ev.updatedAt) : -Infinity);

/** Whether `incoming` is a later version than `current` (equal stamps are the same version). */
export function isNewer(incoming: EventRead, current: EventRead): boolean {
  return stamp(incoming) > stamp(current);
}

/** Newest first, as the API orders them: by timestamp descending, then id. */
function before(a: EventRead, b: EventRead): boolean {
  const ta = Date.parse(a.timestamp);
  const tb = Date.parse(b.timestamp);
  return ta !== tb ? ta > tb : a.eventId < b.eventId;
}

export interface Merged {
  data: InboxData | undefined;
  /** The event was not in the list and now is. */
  added: boolean;
}

/** `data` with `event` merged in (see the module comment); the same object when nothing changed. */
export function mergeEvent(data: InboxData | undefined, event: EventRead, filters: InboxFilters, now = Date.now()): Merged {
  if (!data) return { data, added: false };
  for (let p = 0; p < data.pages.length; p++) {
    const items = data.pages[p]!.items;
    const i = items.findIndex((e) => e.eventId === event.eventId);
    if (i < 0) continue;
    if (!isNewer(event, items[i]!)) return { data, added: false };
    const pages = data.pages.slice();
    pages[p] = { ...pages[p]!, items: items.map((e, j) => (j === i ? event : e)) };
    return { data: { ...data, pages }, added: false };
  }
  if (!matches(event, filters, now)) return { data, added: false };
  // Find its place; an event older than everything loaded while more pages remain comes with paging.
  let p = 0;
  let i = -1;
  for (; p < data.pages.length; p++) {
    i = data.pages[p]!.items.findIndex((e) => before(event, e));
    if (i >= 0) break;
  }
  const last = data.pages.length - 1;
  if (i < 0) {
    const loaded = data.pages.reduce((n, page) => n + page.items.length, 0);
    if (loaded < (data.pages[last]?.total ?? 0)) return { data, added: false };
    p = last;
    i = data.pages[last]!.items.length;
  }
  const pages = data.pages.map((page, n) => {
    const total = page.total + 1;
    if (n !== p) return { ...page, total };
    const items = page.items.slice();
    items.splice(i, 0, event);
    return { ...page, items, total };
  });
  return { data: { ...data, pages }, added: true };
}

/** Replace `event` wherever it is shown (no filter check, no insertion): an optimistic change or its rollback. */
export function replaceEvent(data: InboxData | undefined, event: EventRead): InboxData | undefined {
  if (!data) return data;
  let changed = false;
  const pages = data.pages.map((page) => {
    const i = page.items.findIndex((e) => e.eventId === event.eventId);
    if (i < 0) return page;
    changed = true;
    return { ...page, items: page.items.map((e, j) => (j === i ? event : e)) };
  });
  return changed ? { ...data, pages } : data;
}

/** Every event loaded in a list, in order, without duplicates (paging over a list that grows at the top can repeat one). */
export function flatten(data: InboxData | undefined): EventRead[] {
  if (!data) return [];
  const seen = new Set<string>();
  const out: EventRead[] = [];
  for (const page of data.pages) {
    for (const ev of page.items) {
      if (seen.has(ev.eventId)) continue;
      seen.add(ev.eventId);
      out.push(ev);
    }
  }
  return out;
}

/** A pushed change into every cached inbox list and the event's detail. Returns the filter sets it was added to. */
export function applyChange(client: QueryClient, event: EventRead, now = Date.now()): InboxFilters[] {
  const addedTo: InboxFilters[] = [];
  for (const query of client.getQueryCache().findAll({ queryKey: inboxRoot })) {
    const filters = query.queryKey[2] as InboxFilters;
    const merged = mergeEvent(query.state.data as InboxData | undefined, event, filters, now);
    if (merged.data !== query.state.data) client.setQueryData(query.queryKey, merged.data);
    if (merged.added) addedTo.push(filters);
  }
  const detail = client.getQueryData<EventRead>(eventKey(event.eventId));
  if (!detail || isNewer(event, detail)) client.setQueryData(eventKey(event.eventId), event);
  return addedTo;
}

/** Whether two copies are the same version with the same content (the cache copies objects, so not identity). */
const same = (a: EventRead | undefined, b: EventRead): boolean => a !== undefined && JSON.stringify(a) === JSON.stringify(b);

/** Apply `patch` to every cached copy of the event (an optimistic update); returns the undo, which
 * restores each copy only where it is still the patched one (a newer push is never reverted). */
export function patchEverywhere(client: QueryClient, eventId: string, patch: (ev: EventRead) => EventRead): () => void {
  const undo: (() => void)[] = [];
  for (const query of client.getQueryCache().findAll({ queryKey: inboxRoot })) {
    const data = query.state.data as InboxData | undefined;
    const before = flatten(data).find((e) => e.eventId === eventId);
    if (!before) continue;
    const after = patch(before);
    client.setQueryData(query.queryKey, replaceEvent(data, after));
    undo.push(() => {
      const now = client.getQueryData<InboxData>(query.queryKey);
      if (same(flatten(now).find((e) => e.eventId === eventId), after)) client.setQueryData(query.queryKey, replaceEvent(now, before));
    });
  }
  const detail = client.getQueryData<EventRead>(eventKey(eventId));
  if (detail) {
    const after = patch(detail);
    client.setQueryData(eventKey(eventId), after);
    undo.push(() => {
      if (same(client.getQueryData<EventRead>(eventKey(eventId)), after)) client.setQueryData(eventKey(eventId), detail);
    });
  }
  return () => undo.forEach((u) => u());
}
