// Live wall layouts and which stream a tile plays: the camera's sub stream in a small tile (4, 9 or
// 16 on screen, where the main stream's pixels would be wasted and cost bandwidth and decoding),
// the main stream when one camera fills the view.
import type { CameraRead } from "../api";

export const LAYOUTS = [1, 4, 9, 16] as const;
export type Layout = (typeof LAYOUTS)[number];
export type StreamName = "main" | "sub";

/** Keys that switch layouts (16 is "6": there is no key for two digits). */
export const LAYOUT_KEYS: Record<string, Layout> = { "1": 1, "4": 4, "9": 9, "6": 16 };

export function parseLayout(raw: string | null): Layout {
  const n = Number(raw);
  return (LAYOUTS as readonly number[]).includes(n) ? (n as Layout) : 4;
}

/** Columns of the square grid of a layout. */
export function columns(layout: Layout): number {
  return Math.round(Math.sqrt(layout));
}

/** The stream a tile plays: main when it is large (layout 1 or maximised), else sub when the camera has one. */
export function chooseStream(camera: Pick<CameraRead, "sub_url">, large: boolean): StreamName {
  if (large) return "main";
  return camera.sub_url ? "sub" : "main";
}

/** The cameras shown, one per tile: the chosen ones, else the first cameras of the list; padded with null. */
export function fillTiles(chosen: string[], available: string[], layout: Layout): (string | null)[] {
  const ids = chosen.length > 0 ? chosen : available.slice(0, layout);
  return Array.from({ length: layout }, (_, i) => ids[i] || null);
}

/** Put `camera` in tile `slot` (or the first empty tile, else the last), keeping each camera once. */
export function placeCamera(tiles: (string | null)[], camera: string, slot?: number): (string | null)[] {
  const next = tiles.map((t) => (t === camera ? null : t));
  const target = slot ?? (next.indexOf(null) >= 0 ? next.indexOf(null) : next.length - 1);
  next[target] = camera;
  return next;
}

/** The tiles as the URL keeps them: ids joined by commas, empty tiles left blank, trailing blanks dropped. */
export function encodeTiles(tiles: (string | null)[]): string {
  const out = tiles.map((t) => t ?? "");
  while (out.length && out[out.length - 1] === "") out.pop();
  return out.join(",");
}

export function decodeTiles(raw: string | null): string[] {
  return raw ? raw.split(",") : [];
}
