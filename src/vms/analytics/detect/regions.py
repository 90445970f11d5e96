"""Tiles only where they can matter: over the guarded zones, where something moves or a person was.

`tiling.grid(n)` magnifies every part of every detection frame, though people can only be where
something moves or where one was seen a moment ago, and only matter where a rule looks. This picks,
per detection frame, the magnified tiles worth a detector run:

- the tiles cover the *region* of interest (the zones' bounding box, raised by a person's height,
  since a person stands in a zone with their feet; the whole frame without zones), so a small
  zone is magnified more for the same number of tiles;
- a tile runs only when *foreground* touches it: pixels that differ from the clip's median (the
  scene without the people walking through it) or from the frame a moment before (people who
  hardly moved during the clip still shift between those), or when a box known from the step
  before (a tracked person, who may have stopped) overlaps it.

The whole frame is always run as well (for people too tall for a tile), and the boxes are merged
as `tiling.merge_tiles` does. The detector's `detect_whole` runs every crop as one batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np

from vms.analytics.detect import Box
from vms.analytics.detect.tiling import OVERLAP, WHOLE, Tile, merge_tiles

_SMALL = (160, 120)  # size (w, h) at which foreground is measured: a far person is still a few pixels
FOREGROUND_LEVEL = 25.0  # grey-level difference that counts as foreground (above sensor and compression noise)
MIN_FOREGROUND = 4  # foreground pixels (at 160×120) a tile needs: less is noise, not a person
HEAD_ROOM = 0.2  # how far (frame fraction) the region reaches above the zones: a standing person's height
PREVIOUS = 5  # frames between a detection frame and the one it is compared with for motion
# Smallest region side (frame fraction): its n×n tiles still crop to tens of pixels at 640×480.
MIN_REGION = 0.05
MIN_CROP = 2  # pixels per side a tile's crop needs; less is skipped (the detector cannot take an empty image)


class WholeFrameDetector(Protocol):
    """A detector that runs on each image as given (`PersonDetector.detect_whole`)."""

    def detect_whole(self, frames: np.ndarray | Sequence[np.ndarray]) -> list[list[Box]]: ...


def region_of(zones: Sequence[Sequence[tuple[float, float]]], *, head_room: float = HEAD_ROOM) -> Tile:
    """The bounding box of the zones raised by `head_room`, inside the frame and at least `MIN_REGION`
    on each side (whole frame when there are no zone points).

    Zones are validated where they are configured (`zones.Polygon`), but a zone that is a line, a
    dot or outside the frame must still give tiles that crop to real pixels, never an empty crop.
    """
    points = [(float(x), float(y)) for zone in zones for x, y in zone if math.isfinite(x) and math.isfinite(y)]
    if not points:
        return WHOLE
    xs = [min(1.0, max(0.0, x)) for x, _ in points]
    ys = [min(1.0, max(0.0, y)) for _, y in points]
    x0, x1 = _at_least(min(xs), max(xs))
    y0, y1 = _at_least(max(0.0, min(ys) - head_room), max(ys))
    return Tile(x0, y0, x1 - x0, y1 - y0)


def _at_least(lo: float, hi: float) -> tuple[float, float]:
    """[lo, hi] (within 0..1) widened about its middle to `MIN_REGION`, shifted to stay within 0..1."""
    if hi - lo >= MIN_REGION:
        return lo, hi
    start = min(max(0.0, (lo + hi - MIN_REGION) / 2), 1.0 - MIN_REGION)
    return start, start + MIN_REGION


def region_grid(n: int, region: Tile = WHOLE, overlap: float = OVERLAP) -> list[Tile]:
    """n×n tiles over `region` overlapping their neighbours by `overlap` of a tile (not the whole frame).

    Over the whole frame these are `tiling.grid(n)`'s tiles.
    """
    side = 1.0 / (n - (n - 1) * overlap)
    starts = [min(i * side * (1 - overlap), 1.0 - side) for i in range(n)]
    return [
        Tile(region.x + sx * region.w, region.y + sy * region.h, side * region.w, side * region.h)
        for sy in starts
        for sx in starts
    ]


def foreground(frames: np.ndarray, steps: Sequence[int]) -> list[np.ndarray]:
    """Per detection step: where its frame differs from the clip's median or from `PREVIOUS` frames before.

    Masks at 160×120, dilated a little so a person's parts join. With one frame there is nothing to
    compare: everything counts as foreground (every tile runs).
    """
    grey = np.stack(
        [cv2.cvtColor(cv2.resize(f, _SMALL, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY) for f in frames]
    )
    grey = grey.astype(np.int16)
    if len(grey) < 2:
        return [np.ones(grey.shape[1:], bool) for _ in steps]
    median = np.median(grey[:: max(1, len(grey) // 15)], axis=0)  # ≤ 15 samples: the scene without passers-by
    kernel = np.ones((3, 3), np.uint8)
    out = []
    for i in steps:
        before = grey[max(0, i - PREVIOUS)] if i > 0 else grey[min(len(grey) - 1, PREVIOUS)]
        moved = (np.abs(grey[i] - median) > FOREGROUND_LEVEL) | (np.abs(grey[i] - before) > FOREGROUND_LEVEL)
        out.append(cv2.dilate(moved.astype(np.uint8), kernel).astype(bool))
    return out


def worth_running(tile: Tile, mask: np.ndarray, known: Sequence[Box]) -> bool:
    """Whether foreground touches the tile or a known box overlaps it."""
    h, w = mask.shape
    x0, y0 = int(tile.x * w), int(tile.y * h)
    x1, y1 = int(np.ceil((tile.x + tile.w) * w)), int(np.ceil((tile.y + tile.h) * h))
    if int(mask[y0:y1, x0:x1].sum()) >= MIN_FOREGROUND:
        return True
    return any(
        b.x < tile.x + tile.w and tile.x < b.x + b.w and b.y < tile.y + tile.h and tile.y < b.y + b.h for b in known
    )


def detect_in_tiles(
    detector: WholeFrameDetector, frames: Sequence[np.ndarray], tiles: Sequence[list[Tile]]
) -> list[list[Box]]:
    """Per frame: the boxes found in the whole frame and its own `tiles`, merged in frame fractions."""
    crops: list[np.ndarray] = []
    chosen: list[list[Tile]] = []
    for frame, own in zip(frames, tiles, strict=True):
        height, width = frame.shape[:2]
        chosen.append([WHOLE])
        crops.append(frame)
        for t in own:
            # Clamp to the frame and skip slivers: an empty crop makes the detector raise for the job.
            x0, y0 = max(0, round(t.x * width)), max(0, round(t.y * height))
            x1, y1 = min(width, x0 + round(t.w * width)), min(height, y0 + round(t.h * height))
            if x1 - x0 < MIN_CROP or y1 - y0 < MIN_CROP:
                continue
            # Boxes found in the crop map back through the crop actually taken.
            chosen[-1].append(Tile(x0 / width, y0 / height, (x1 - x0) / width, (y1 - y0) / height))
            crops.append(frame[y0:y1, x0:x1])
    found = detector.detect_whole(crops)
    out: list[list[Box]] = []
    start = 0
    for frame_tiles in chosen:
        out.extend(merge_tiles([found[start : start + len(frame_tiles)]], frame_tiles))
        start += len(frame_tiles)
    return out
