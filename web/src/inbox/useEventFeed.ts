// The inbox's live connection: a one-time ticket (POST /auth/stream-ticket), then the WebSocket
// (or SSE, see liveFeed.ts) with the server-side filters and the last cursor, so a reconnect
// replays every change missed meanwhile. Changes go to `onEvent`; a hello without a cursor (first
// connection, or after the server asked for a resync) means changes may have been missed: `onFresh`
// reloads the list.
import { useEffect, useReducer, useRef } from "react";
import { api, ApiError, describeError, unwrap, type EventRead } from "../api";
import { feedReducer, initialFeed, type FeedState } from "./liveFeed";

/** No message (not even a keep-alive, sent every 15 s) for this long: the connection is dead. */
export const SILENCE_MS = 40_000;

type Message =
  | { type: "hello"; cursor?: string }
  | { type: "event"; cursor: string; event: EventRead }
  | { type: "resync"; detail?: string }
  | { type: "keep-alive" };

interface Connection {
  close(): void;
}

export interface FeedHandlers {
  onEvent: (event: EventRead) => void;
  onFresh: () => void;
}

export function useEventFeed(stream: string, handlers: FeedHandlers): FeedState & { reconnectNow: () => void } {
  const [state, dispatch] = useReducer(feedReducer, initialFeed);
  const cursor = useRef<string | null>(null);
  const latest = useRef({ handlers, state });
  latest.current = { handlers, state };

  useEffect(() => {
    const { transport, phase } = latest.current.state;
    if (phase === "stopped") return;
    let done = false;
    let opened = false;
    let resynced = false;
    let connection: Connection | null = null;
    let heard = Date.now();
    const finish = (code?: number, reason?: string) => {
      if (done) return;
      done = true;
      connection?.close();
      if (code === 4422) cursor.current = null; // a cursor the server does not know: start afresh
      dispatch({ type: "closed", code: resynced ? 4409 : code, opened, reason });
    };
    const handle = (raw: string) => {
      heard = Date.now();
      let message: Message;
      try {
        message = JSON.parse(raw) as Message;
      } catch {
        return; // not ours; the next message will do
      }
      if (message.type === "hello") {
        opened = true;
        const resumed = cursor.current !== null;
        if (!resumed && message.cursor) cursor.current = message.cursor;
        dispatch({ type: "hello" });
        if (!resumed) latest.current.handlers.onFresh();
      } else if (message.type === "event") {
        cursor.current = message.cursor;
        latest.current.handlers.onEvent(message.event);
      } else if (message.type === "resync") {
        resynced = true;
        cursor.current = null;
      }
    };

    void (async () => {
      let ticket: string;
      try {
        ticket = unwrap(await api.POST("/api/v1/auth/stream-ticket")).ticket;
      } catch (error) {
        const forbidden = error instanceof ApiError && error.status === 403;
        finish(forbidden ? 4403 : undefined, describeError(error).title);
        return;
      }
      if (done) return;
      const query = new URLSearchParams(stream);
      query.set("ticket", ticket);
      if (cursor.current) query.set("cursor", cursor.current);
      const { protocol, host } = window.location;
      if (transport === "ws") {
        const socket = new WebSocket(`${protocol === "https:" ? "wss" : "ws"}://${host}/api/v1/events/ws?${query}`);
        connection = socket;
        socket.onmessage = (m: MessageEvent) => handle(String(m.data));
        socket.onclose = (e: CloseEvent) => finish(e.code, e.reason);
      } else {
        // EventSource would reconnect by itself, but with the spent ticket: we reconnect ourselves.
        const source = new EventSource(`/api/v1/events/stream?${query}`);
        connection = source;
        for (const type of ["hello", "event", "resync"]) {
          source.addEventListener(type, (m) => handle(String((m as MessageEvent).data)));
        }
        source.onerror = () => finish(undefined, opened ? "The live connection dropped." : "Cannot reach the live stream.");
      }
    })();

    const watchdog = window.setInterval(() => {
      if (Date.now() - heard > SILENCE_MS) finish(undefined, "The live connection went silent.");
    }, SILENCE_MS / 4);
    return () => {
      done = true;
      window.clearInterval(watchdog);
      connection?.close();
    };
  }, [state.attempt, stream]);

  useEffect(() => {
    if (state.phase !== "waiting") return;
    const timer = window.setTimeout(() => dispatch({ type: "retry" }), state.retryInMs);
    const online = () => dispatch({ type: "retry" });
    window.addEventListener("online", online);
    return () => {
      window.clearTimeout(timer);
      window.removeEventListener("online", online);
    };
  }, [state.phase, state.retryInMs, state.failures]);

  return { ...state, reconnectNow: () => dispatch({ type: "retry" }) };
}
