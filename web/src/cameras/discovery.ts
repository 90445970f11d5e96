// A discovery job as the console follows it: the job's Server-Sent Events (snapshot, progress,
// device, done) folded by a reducer, over an EventSource opened with a one-time stream ticket.
import { useEffect, useReducer } from "react";
import { api, unwrap } from "../api";
import type { DiscoveredDevice, DiscoveryJobRead } from "./queries";

export type DiscoveryEvent =
  | { type: "snapshot"; job: DiscoveryJobRead }
  | { type: "progress"; hosts_total: number; hosts_done: number; devices_found: number; progress: number }
  | { type: "device"; index: number; device: DiscoveredDevice }
  | { type: "done"; job: DiscoveryJobRead }
  | { type: "added"; index: number; camera_id: string } // local: a result was added from this screen
  | { type: "lost"; message: string } // local: the event stream broke and could not be re-opened
  | { type: "reset" }; // local: following another job

export interface DiscoveryState {
  job: DiscoveryJobRead | null;
  results: DiscoveredDevice[]; // ordered by index
  finished: boolean;
  connectionError: string | null;
}

export const INITIAL: DiscoveryState = { job: null, results: [], finished: false, connectionError: null };
const FINISHED = new Set(["completed", "failed", "cancelled"]);

function upsert(results: DiscoveredDevice[], device: DiscoveredDevice): DiscoveredDevice[] {
  const rest = results.filter((r) => r.index !== device.index);
  return [...rest, device].sort((a, b) => a.index - b.index);
}

/** Fold one event into the state; a snapshot replaces everything (so a re-opened stream starts clean). */
export function discoveryReducer(state: DiscoveryState, event: DiscoveryEvent): DiscoveryState {
  switch (event.type) {
    case "snapshot": {
      const results = [...(event.job.results ?? [])].sort((a, b) => a.index - b.index);
      return { job: event.job, results, finished: FINISHED.has(event.job.status), connectionError: null };
    }
    case "progress":
      if (!state.job) return state;
      return {
        ...state,
        job: {
          ...state.job,
          status: state.job.status === "queued" ? "running" : state.job.status,
          hosts_total: event.hosts_total,
          hosts_done: event.hosts_done,
          devices_found: event.devices_found,
          progress: event.progress,
        },
      };
    case "device":
      return { ...state, results: upsert(state.results, event.device) };
    case "done":
      // `done` carries the job without results: keep the ones already streamed.
      return { ...state, job: { ...event.job, results: null }, finished: true, connectionError: null };
    case "added":
      return {
        ...state,
        results: state.results.map((r) => (r.index === event.index ? { ...r, camera_id: event.camera_id } : r)),
      };
    case "lost":
      return { ...state, connectionError: event.message };
    case "reset":
      return INITIAL;
  }
}

/** Share of the job done, 0-1 (a finished job is whole whatever it counted). */
export function progressOf(state: DiscoveryState): number {
  if (state.finished) return 1;
  return Math.max(0, Math.min(1, state.job?.progress ?? 0));
}

const RETRIES = 3;

/**
 * Follow job `jobId` over SSE. EventSource cannot send a bearer header, so each connection takes a
 * fresh one-time ticket; when the stream breaks before `done` it is re-opened (the new snapshot
 * replaces the state), up to RETRIES times in a row.
 */
export function useDiscoveryJob(jobId: string | null): [DiscoveryState, (e: DiscoveryEvent) => void] {
  const [state, dispatch] = useReducer(discoveryReducer, INITIAL);

  useEffect(() => {
    if (!jobId) return;
    let source: EventSource | null = null;
    let closed = false;
    let failures = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const open = async () => {
      let ticket: string;
      try {
        ticket = unwrap(await api.POST("/api/v1/auth/stream-ticket")).ticket;
      } catch (e) {
        return fail(e instanceof Error ? e.message : String(e));
      }
      if (closed) return;
      const url = `${window.location.origin}/api/v1/cameras/discovery/${encodeURIComponent(jobId)}/events?ticket=${encodeURIComponent(ticket)}`;
      source = new EventSource(url);
      const on = (name: string) =>
        source!.addEventListener(name, (m) => {
          failures = 0;
          const event = JSON.parse((m as MessageEvent<string>).data) as DiscoveryEvent;
          dispatch(event);
          if (event.type === "done") stop();
        });
      ["snapshot", "progress", "device", "done"].forEach(on);
      source.onerror = () => {
        source?.close();
        source = null;
        if (!closed) fail("The connection to the server dropped.");
      };
    };
    const fail = (message: string) => {
      if (closed) return;
      failures += 1;
      if (failures > RETRIES) {
        dispatch({ type: "lost", message: `${message} Progress is no longer shown; reload the page to follow the job again.` });
        return;
      }
      timer = setTimeout(() => void open(), 500 * failures);
    };
    const stop = () => {
      closed = true;
      source?.close();
      clearTimeout(timer);
    };

    dispatch({ type: "reset" });
    void open();
    return stop;
  }, [jobId]);

  return [state, dispatch];
}
