// Fakes of the browser's WebSocket and EventSource for the live inbox: every connection is recorded
// (its URL), and the test speaks for the server — messages, closes with a code, errors.
import { vi } from "vitest";

export class FakeSocket {
  static all: FakeSocket[] = [];
  readonly url: URL;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  closed = false;

  constructor(url: string) {
    this.url = new URL(url);
    FakeSocket.all.push(this);
  }

  /** The client closing it. */
  close(): void {
    this.closed = true;
  }

  send(): void {}

  /** The server sending a message. */
  receive(message: unknown): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }

  /** The server (or the network) ending the connection. */
  drop(code = 1006, reason = ""): void {
    this.closed = true;
    this.onclose?.({ code, reason });
  }

  static last(): FakeSocket {
    const socket = FakeSocket.all.at(-1);
    if (!socket) throw new Error("no WebSocket was opened");
    return socket;
  }
}

export class FakeEventSource {
  static all: FakeEventSource[] = [];
  readonly url: URL;
  onerror: (() => void) | null = null;
  closed = false;
  private listeners = new Map<string, ((m: { data: string }) => void)[]>();

  constructor(url: string) {
    this.url = new URL(url, window.location.origin);
    FakeEventSource.all.push(this);
  }

  addEventListener(type: string, listener: (m: { data: string }) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  close(): void {
    this.closed = true;
  }

  /** The server sending `event: <type>` with the message as data. */
  receive(message: { type: string } & Record<string, unknown>): void {
    for (const l of this.listeners.get(message.type) ?? []) l({ data: JSON.stringify(message) });
  }

  fail(): void {
    this.onerror?.();
  }
}

/** Install both fakes (undone by vi.unstubAllGlobals in setup.ts). */
export function fakeStreams() {
  FakeSocket.all = [];
  FakeEventSource.all = [];
  vi.stubGlobal("WebSocket", FakeSocket);
  vi.stubGlobal("EventSource", FakeEventSource);
  return { sockets: FakeSocket.all, sources: FakeEventSource.all };
}
