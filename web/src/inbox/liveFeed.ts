// The live connection's state, as a reducer: WebSocket first, Server-Sent Events when the socket
// cannot be opened twice in a row (a proxy that drops upgrades), reconnect with exponential backoff
// (1 s doubling to 30 s, with jitter so a restarted server is not hit by every console at once),
// and stop only when the server says this user may not listen (4403).

export type Transport = "ws" | "sse";
export type Phase = "connecting" | "live" | "waiting" | "stopped";

export interface FeedState {
  phase: Phase;
  transport: Transport;
  /** Bumped by every (re)connect: the connection effect re-runs on it. */
  attempt: number;
  /** Failed connections since the last good one (drives the backoff). */
  failures: number;
  /** WebSocket connections in a row that never said hello. */
  socketFailures: number;
  /** Milliseconds until the next try, while waiting. */
  retryInMs: number;
  /** Why the last connection ended, shown while waiting or stopped. */
  note: string;
}

export type FeedEvent =
  | { type: "hello" }
  | { type: "closed"; code?: number; opened: boolean; reason?: string }
  | { type: "retry" };

export const BASE_MS = 1_000;
export const MAX_MS = 30_000;
/** A socket that fails this many times in a row without a hello: switch to SSE for this page. */
export const SOCKET_TRIES = 2;

export const initialFeed: FeedState = {
  phase: "connecting",
  transport: "ws",
  attempt: 0,
  failures: 0,
  socketFailures: 0,
  retryInMs: 0,
  note: "",
};

/** Delay before try number `failures` (1-based): 1 s, 2 s, 4 s … capped at 30 s, ±20 % by `random` (0..1). */
export function backoffMs(failures: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_MS, BASE_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

function why(event: Extract<FeedEvent, { type: "closed" }>): string {
  if (event.code === 4401) return "The live connection was refused (sign-in); getting a new ticket.";
  if (event.code === 4409 || event.code === 4422) return "Fell behind; reloading the list.";
  return event.reason || (event.opened ? "The live connection dropped." : "Cannot reach the live stream.");
}

export function feedReducer(state: FeedState, event: FeedEvent, random: () => number = Math.random): FeedState {
  switch (event.type) {
    case "hello":
      return { ...state, phase: "live", failures: 0, socketFailures: 0, retryInMs: 0, note: "" };
    case "closed": {
      if (state.phase === "stopped") return state;
      if (event.code === 4403)
        return { ...state, phase: "stopped", note: event.reason || "Your role does not receive events live." };
      // A resync or a stale cursor is not a failure: reconnect at once, without a cursor.
      if (event.code === 4409 || event.code === 4422)
        return { ...state, phase: "connecting", attempt: state.attempt + 1, failures: 0, note: why(event) };
      const failures = state.failures + 1;
      const socketFailures = state.transport === "ws" && !event.opened ? state.socketFailures + 1 : 0;
      const transport: Transport = state.transport === "ws" && socketFailures >= SOCKET_TRIES ? "sse" : state.transport;
      return {
        ...state,
        phase: "waiting",
        transport,
        failures,
        socketFailures,
        retryInMs: backoffMs(failures, random),
        note: why(event),
      };
    }
    case "retry":
      return state.phase === "waiting" ? { ...state, phase: "connecting", attempt: state.attempt + 1, retryInMs: 0 } : state;
  }
}

/** The words of the connection indicator. */
export function describeFeed(state: FeedState): string {
  switch (state.phase) {
    case "live":
      return "Live";
    case "connecting":
      return state.attempt === 0 ? "Connecting…" : "Reconnecting…";
    case "waiting":
      return `Reconnecting in ${Math.max(1, Math.round(state.retryInMs / 1000))} s…`;
    case "stopped":
      return "Live updates off";
  }
}
