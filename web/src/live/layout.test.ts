import { describe, expect, it } from "vitest";
import { chooseStream, columns, decodeTiles, encodeTiles, fillTiles, LAYOUT_KEYS, parseLayout, placeCamera } from "./layout";

describe("live layouts", () => {
  it("a small tile plays the sub stream when the camera has one; a large tile always the main stream", () => {
    expect(chooseStream({ sub_url: "rtsp://cam/sub" }, false)).toBe("sub");
    expect(chooseStream({ sub_url: null }, false)).toBe("main");
    expect(chooseStream({ sub_url: "rtsp://cam/sub" }, true)).toBe("main");
  });

  it("knows the four layouts, their keys and grid columns, and falls back to 4 on nonsense", () => {
    expect([1, 4, 9, 16].map((l) => columns(l as 1 | 4 | 9 | 16))).toEqual([1, 2, 3, 4]);
    expect(LAYOUT_KEYS).toEqual({ "1": 1, "4": 4, "9": 9, "6": 16 });
    expect(parseLayout("9")).toBe(9);
    expect(parseLayout("7")).toBe(4);
    expect(parseLayout(null)).toBe(4);
  });

  it("fills tiles with the chosen cameras, else the first ones available, padding with empty tiles", () => {
    expect(fillTiles([], ["a", "b", "c"], 4)).toEqual(["a", "b", "c", null]);
    expect(fillTiles(["c", "", "a"], ["a", "b", "c"], 4)).toEqual(["c", null, "a", null]);
    expect(fillTiles([], ["a", "b", "c", "d", "e"], 1)).toEqual(["a"]);
  });

  it("places a camera once: in the given tile, else the first empty one", () => {
    expect(placeCamera(["a", null, "b", null], "c")).toEqual(["a", "c", "b", null]);
    expect(placeCamera(["a", null, "b", null], "b", 0)).toEqual(["b", null, null, null]); // moved, not copied
    expect(placeCamera(["a", "b"], "c")).toEqual(["a", "c"]); // full: the last tile
  });

  it("keeps the tiles in the URL compactly and reads them back", () => {
    expect(encodeTiles(["a", null, "b", null, null])).toBe("a,,b");
    expect(decodeTiles("a,,b")).toEqual(["a", "", "b"]);
    expect(fillTiles(decodeTiles(encodeTiles(["a", null, "b", null])), ["x"], 4)).toEqual(["a", null, "b", null]);
    expect(decodeTiles(null)).toEqual([]);
  });
});
