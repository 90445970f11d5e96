// Press-and-hold PTZ: pressing a direction sends a continuous move, releasing sends a stop. Commands
// go out one after another (a stop must never overtake the move it ends), each move carries a short
// timeout so a lost connection never leaves the head spinning, and a held press is renewed before
// that timeout runs out.
import { useCallback, useEffect, useRef } from "react";
import { api, unwrap } from "../api";

export type Direction = "up" | "down" | "left" | "right" | "zoom-in" | "zoom-out";

/** Pan right and tilt up count positive (the API's normalised space); zoom in is positive. */
export const VECTORS: Record<Direction, { pan: number; tilt: number; zoom: number }> = {
  up: { pan: 0, tilt: 1, zoom: 0 },
  down: { pan: 0, tilt: -1, zoom: 0 },
  left: { pan: -1, tilt: 0, zoom: 0 },
  right: { pan: 1, tilt: 0, zoom: 0 },
  "zoom-in": { pan: 0, tilt: 0, zoom: 1 },
  "zoom-out": { pan: 0, tilt: 0, zoom: -1 },
};

/** Keyboard keys of the pad: arrows pan and tilt, + and − zoom. */
export const KEYS: Record<string, Direction> = {
  ArrowUp: "up",
  ArrowDown: "down",
  ArrowLeft: "left",
  ArrowRight: "right",
  "+": "zoom-in",
  "=": "zoom-in",
  "-": "zoom-out",
  _: "zoom-out",
};

export const MOVE_TIMEOUT_S = 3; // the camera stops by itself this long after the last move
export const RENEW_MS = 1500; // a held press re-sends its move this often

export function usePtzPad(cameraId: string, speed: number, onError: (e: unknown) => void) {
  const queue = useRef<Promise<void>>(Promise.resolve());
  const active = useRef<Direction | null>(null);
  const pending = useRef(0);
  const timer = useRef<ReturnType<typeof setInterval>>();
  const latest = useRef({ cameraId, speed, onError });
  latest.current = { cameraId, speed, onError };

  const send = useCallback((command: (cameraId: string) => Promise<unknown>) => {
    pending.current += 1;
    const { cameraId: id } = latest.current;
    queue.current = queue.current
      .then(() => command(id))
      .then(
        () => undefined,
        (e: unknown) => {
          clearInterval(timer.current);
          active.current = null;
          latest.current.onError(e);
        },
      )
      .finally(() => {
        pending.current -= 1;
      });
  }, []);

  const moveCommand = useCallback(
    (d: Direction) => async (id: string) => {
      const v = VECTORS[d];
      const s = latest.current.speed;
      unwrap(
        await api.POST("/api/v1/cameras/{camera_id}/ptz/move", {
          params: { path: { camera_id: id } },
          body: { mode: "continuous", pan: v.pan * s, tilt: v.tilt * s, zoom: v.zoom * s, timeout_s: MOVE_TIMEOUT_S },
        }),
      );
    },
    [],
  );

  const start = useCallback(
    (d: Direction) => {
      if (active.current === d) return; // key repeat, or a second pointer on the same button
      clearInterval(timer.current);
      active.current = d;
      send(moveCommand(d));
      timer.current = setInterval(() => {
        if (pending.current === 0) send(moveCommand(d)); // a slow camera: do not pile up renewals
      }, RENEW_MS);
    },
    [send, moveCommand],
  );

  const stop = useCallback(() => {
    if (active.current === null) return;
    active.current = null;
    clearInterval(timer.current);
    send(async (id) => unwrap(await api.POST("/api/v1/cameras/{camera_id}/ptz/stop", { params: { path: { camera_id: id } } })));
  }, [send]);

  useEffect(() => stop, [stop]); // leaving the page releases the head
  return { start, stop };
}
