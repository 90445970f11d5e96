import { describe, expect, it } from "vitest";
import { backoffMs, describeFeed, feedReducer, initialFeed, MAX_MS, SOCKET_TRIES, type FeedEvent, type FeedState } from "./liveFeed";

const mid = () => 0.5; // no jitter
const run = (events: FeedEvent[], from: FeedState = initialFeed) => events.reduce((s, e) => feedReducer(s, e, mid), from);
const drop: FeedEvent = { type: "closed", code: 1006, opened: true };
const refused: FeedEvent = { type: "closed", code: 1006, opened: false };

describe("live feed state", () => {
  it("backs off 1 s, 2 s, 4 s … up to 30 s, with ±20 % jitter", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 10].map((n) => backoffMs(n, mid))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(backoffMs(1, () => 0)).toBe(800);
    expect(backoffMs(1, () => 1)).toBe(1200);
    expect(backoffMs(20, () => 1)).toBe(MAX_MS * 1.2);
  });

  it("goes live on hello, waits with growing delays after drops, and a hello resets the delay", () => {
    let s = run([{ type: "hello" }]);
    expect(describeFeed(s)).toBe("Live");
    s = run([drop], s);
    expect(s).toMatchObject({ phase: "waiting", failures: 1, retryInMs: 1000, transport: "ws" });
    expect(describeFeed(s)).toBe("Reconnecting in 1 s…");
    s = run([{ type: "retry" }], s);
    expect(s).toMatchObject({ phase: "connecting", attempt: 1 });
    expect(describeFeed(s)).toBe("Reconnecting…");
    s = run([drop, { type: "retry" }, drop], s);
    expect(s).toMatchObject({ failures: 3, retryInMs: 4000, attempt: 2 });
    s = run([{ type: "retry" }, { type: "hello" }, drop], s);
    expect(s).toMatchObject({ failures: 1, retryInMs: 1000 });
  });

  it(`falls back to SSE after ${SOCKET_TRIES} sockets that never said hello, and stays there`, () => {
    let s = run([refused]);
    expect(s.transport).toBe("ws");
    s = run([{ type: "retry" }, refused], s);
    expect(s.transport).toBe("sse");
    s = run([{ type: "retry" }, { type: "hello" }, drop, { type: "retry" }, refused], s);
    expect(s.transport).toBe("sse");
  });

  it("a socket that worked before and dropped does not count towards the fallback", () => {
    const s = run([{ type: "hello" }, drop, { type: "retry" }, { type: "hello" }, drop]);
    expect(s.transport).toBe("ws");
    expect(s.socketFailures).toBe(0);
  });

  it("reconnects at once after a resync (4409) or an unknown cursor (4422), and stops on 4403", () => {
    for (const code of [4409, 4422]) {
      const s = run([{ type: "hello" }, { type: "closed", code, opened: true }]);
      expect(s).toMatchObject({ phase: "connecting", attempt: 1, failures: 0 });
    }
    const stopped = run([{ type: "closed", code: 4403, opened: false, reason: "Not allowed." }]);
    expect(stopped).toMatchObject({ phase: "stopped", note: "Not allowed." });
    expect(run([{ type: "retry" }, drop], stopped)).toBe(stopped);
    expect(describeFeed(stopped)).toBe("Live updates off");
  });

  it("retry only acts while waiting", () => {
    const live = run([{ type: "hello" }]);
    expect(run([{ type: "retry" }], live)).toBe(live);
  });
});
