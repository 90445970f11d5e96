// The inbox's server state: the list (pages loaded as the operator scrolls), one event, its notes
// and ticket, and the operator's changes — status actions and tags optimistically (shown at once,
// rolled back with the API's reason if refused), notes and tickets when the API confirms.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type EventRead, type Schemas } from "../api";
import { matches, listQuery, type InboxFilters } from "./filters";
import { TRANSITIONS, type Action } from "./format";
import { applyChange, eventKey, flatten, inboxKey, notesKey, patchEverywhere, type EventPage } from "./merge";

/** Events per request; more load as the list scrolls towards its end. */
export const PAGE = 200;

export function useInboxEvents(filters: InboxFilters) {
  return useInfiniteQuery({
    queryKey: inboxKey(filters),
    initialPageParam: 0,
    queryFn: async ({ pageParam }): Promise<EventPage> =>
      unwrap(await api.GET("/api/v1/events", { params: { query: { ...listQuery(filters), limit: PAGE, offset: pageParam } } })),
    // The next offset counts what still matches: events pushed in at the top move the server's
    // pages down (duplicates, dropped by `flatten`), events handled away move them up.
    getNextPageParam: (last, pages) => {
      const loaded = flatten({ pages, pageParams: [] });
      const offset = loaded.filter((e) => matches(e, filters)).length;
      return loaded.length < last.total && last.items.length > 0 ? offset : undefined;
    },
    staleTime: Infinity, // the live push keeps it current; a resync or reconnect without cursor reloads it
    refetchOnWindowFocus: false,
  });
}

export function useEventDetail(id: string | undefined, initial: EventRead | undefined) {
  return useQuery({
    queryKey: eventKey(id ?? ""),
    queryFn: async () => unwrap(await api.GET("/api/v1/events/{event_id}", { params: { path: { event_id: id! } } })),
    enabled: Boolean(id),
    initialData: initial,
    staleTime: Infinity,
  });
}

export function useNotes(id: string) {
  return useQuery({
    queryKey: notesKey(id),
    queryFn: async () => unwrap(await api.GET("/api/v1/events/{event_id}/notes", { params: { path: { event_id: id } } })),
  });
}

export function useTicket(id: string | null | undefined) {
  return useQuery({
    queryKey: ["tickets", id ?? ""],
    queryFn: async () => unwrap(await api.GET("/api/v1/tickets/{ticket_id}", { params: { path: { ticket_id: id! } } })),
    enabled: Boolean(id),
  });
}

/** Acknowledge, resolve, false positive, reopen: the new status shows at once and rolls back on a refusal. */
export function useEventAction() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async ({ event, action }: { event: EventRead; action: Action }) =>
      unwrap(await api.POST("/api/v1/events/{event_id}/actions", { params: { path: { event_id: event.eventId } }, body: { action } })),
    onMutate: ({ event, action }) => ({
      undo: patchEverywhere(client, event.eventId, (ev) => ({ ...ev, status: TRANSITIONS[action].to })),
    }),
    onError: (_error, _vars, context) => context?.undo(),
    onSuccess: (event) => void applyChange(client, event),
  });
}

/** Replace the tags (the API lower-cases them): shown at once, rolled back on a refusal. */
export function useSetTags() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async ({ event, tags }: { event: EventRead; tags: string[] }) =>
      unwrap(await api.PUT("/api/v1/events/{event_id}/tags", { params: { path: { event_id: event.eventId } }, body: { tags } })),
    onMutate: ({ event, tags }) => ({
      undo: patchEverywhere(client, event.eventId, (ev) => ({ ...ev, tags: [...new Set(tags.map((t) => t.trim().toLowerCase()))].sort() })),
    }),
    onError: (_error, _vars, context) => context?.undo(),
    onSuccess: (event) => void applyChange(client, event),
  });
}

export function useAddNote(id: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (text: string) =>
      unwrap(await api.POST("/api/v1/events/{event_id}/notes", { params: { path: { event_id: id } }, body: { text } })),
    onSuccess: (note) => {
      client.setQueryData<Schemas["NoteRead"][]>(notesKey(id), (notes) =>
        notes && !notes.some((n) => n.id === note.id) ? [...notes, note] : notes,
      );
    },
  });
}

export function useEscalate(event: EventRead) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (body: Schemas["TicketCreate"]) =>
      unwrap(await api.POST("/api/v1/events/{event_id}/ticket", { params: { path: { event_id: event.eventId } }, body })),
    onSuccess: (ticket) => {
      client.setQueryData(["tickets", ticket.id], ticket);
      // The push brings the event with its ticketId too; show it now rather than a moment later.
      const current = client.getQueryData<EventRead>(eventKey(event.eventId)) ?? event;
      patchEverywhere(client, event.eventId, (ev) => ({ ...ev, ticketId: ticket.id }));
      if (!client.getQueryData(eventKey(event.eventId))) client.setQueryData(eventKey(event.eventId), { ...current, ticketId: ticket.id });
    },
  });
}
