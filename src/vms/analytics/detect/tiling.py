"""Tiled detection: overlapping n×n crops of a frame, their boxes mapped back and merged.

A detector with a fixed small input (SSDLite: 300×300) shrinks a 640×480 frame so far that people
under ~60 px tall vanish. Running it also on an n×n grid of overlapping crops magnifies each crop
n-fold, so small people are found there, while the whole frame still finds people too large for
one tile. The same person then comes back several times — whole, from two overlapping tiles, or
cut in half by a tile's inner edge — so the boxes are merged:

1. containment: a box touching a tile edge that lies inside the frame (a cut) and lying mostly
   inside a larger box of the same class is a fragment of that larger box, and is dropped. Only cut
   boxes are tested, so a small far person standing in front of a large near one survives;
2. class-aware greedy NMS on IoU keeps the best-scored of boxes that overlap.

Boxes are frame fractions (x, y, w, h), as everywhere in `vms.analytics.detect`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vms.analytics.detect import Box, iou

MAX_TILES = 3  # 3×3 = 10 detector runs per frame with the whole frame; more costs too much CPU for what it finds
OVERLAP = 0.2  # share of a tile shared with its neighbour: wider than one far person, so each is whole in a tile
NMS_IOU = 0.45
CONTAINED = 0.7  # share of a cut box inside a larger one that makes it a fragment
EDGE = 0.01  # how close (tile fraction) a box side must be to a tile side to count as cut by it


@dataclass(frozen=True, slots=True)
class Tile:
    """A crop of the frame, in frame fractions."""

    x: float
    y: float
    w: float
    h: float


WHOLE = Tile(0.0, 0.0, 1.0, 1.0)


def grid(n: int, overlap: float = OVERLAP) -> list[Tile]:
    """The whole frame, then n×n tiles of equal size that overlap their neighbours by `overlap` of a tile.

    n = 1 is the whole frame alone. Tile side s solves n·s − (n − 1)·overlap·s = 1.
    """
    if not 1 <= n <= MAX_TILES:
        raise ValueError(f"tiles must be 1..{MAX_TILES}, got {n}")
    if n == 1:
        return [WHOLE]
    side = 1.0 / (n - (n - 1) * overlap)
    starts = [min(i * side * (1 - overlap), 1.0 - side) for i in range(n)]
    return [WHOLE, *(Tile(x, y, side, side) for y in starts for x in starts)]


def to_frame(box: Box, tile: Tile) -> Box:
    """A box found in a tile (fractions of the tile) as fractions of the frame."""
    return Box(tile.x + box.x * tile.w, tile.y + box.y * tile.h, box.w * tile.w, box.h * tile.h, box.score, box.label)


def is_cut(box: Box, tile: Tile) -> bool:
    """Whether a box (tile fractions) touches a side of the tile that is not a side of the frame."""
    inner_left, inner_top = tile.x > 0, tile.y > 0
    inner_right, inner_bottom = tile.x + tile.w < 1 - 1e-9, tile.y + tile.h < 1 - 1e-9
    return (
        (inner_left and box.x <= EDGE)
        or (inner_top and box.y <= EDGE)
        or (inner_right and box.x + box.w >= 1 - EDGE)
        or (inner_bottom and box.y + box.h >= 1 - EDGE)
    )


def _inside_share(a: Box, b: Box) -> float:
    """Share of a's area that lies inside b."""
    ix = max(0.0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0.0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    area = a.w * a.h
    return ix * iy / area if area > 0 else 0.0


def merge(
    boxes: Sequence[Box], cut: Sequence[bool], *, nms_iou: float = NMS_IOU, contained: float = CONTAINED
) -> list[Box]:
    """Boxes (frame fractions) with tile-edge fragments and duplicates removed, best score first.

    `cut[i]` says whether boxes[i] touched an inner tile edge where it was found.
    """
    whole = [
        b
        for b, c in zip(boxes, cut, strict=True)
        if not c
        or not any(
            o is not b and o.label == b.label and o.w * o.h > b.w * b.h and _inside_share(b, o) >= contained
            for o in boxes
        )
    ]
    kept: list[Box] = []
    for b in sorted(whole, key=lambda b: -b.score):
        if all(k.label != b.label or iou(k.xywh, b.xywh) < nms_iou for k in kept):
            kept.append(b)
    return kept


def merge_tiles(frame_crops: Sequence[Sequence[list[Box]]], tiles: Sequence[Tile]) -> list[list[Box]]:
    """Per frame: the boxes found in each of its crops (tile fractions, in `tiles` order), merged in frame fractions."""
    out: list[list[Box]] = []
    for per_tile in frame_crops:
        mapped: list[Box] = []
        cut: list[bool] = []
        for tile, found in zip(tiles, per_tile, strict=True):
            for box in found:
                mapped.append(to_frame(box, tile))
                cut.append(is_cut(box, tile))
        out.append(merge(mapped, cut))
    return out
