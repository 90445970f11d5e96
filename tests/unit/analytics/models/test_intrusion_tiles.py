"""Intrusion's tiles where needed (detect/regions.py) on the hand-annotated vtest frames."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import pytest

from tests.scenes.intrusion import evaluate, footage
from vms.analytics.detect import Box
from vms.analytics.detect.regions import (
    MIN_CROP,
    MIN_REGION,
    detect_in_tiles,
    foreground,
    region_grid,
    region_of,
    worth_running,
)
from vms.analytics.detect.tiling import WHOLE, Tile, grid
from vms.analytics.models.intrusion import Intrusion, IntrusionConfig

# Where people walk in vtest: the path across the middle of the picture.
PATH = [(0.3, 0.4), (0.7, 0.4), (0.7, 0.6), (0.3, 0.6)]


@cache
def _clip(index: int) -> tuple[np.ndarray, int]:
    """The clip of 30 source frames that ends at an annotated frame, and that frame's position in it."""
    ((frames, position),) = [(f, p) for i, f, p in evaluate.clips() if i == index]
    return frames, position


class _Counting:
    """Wraps a detector's `detect_whole` to count the crops it is given."""

    def __init__(self, model: Intrusion) -> None:
        self.crops: list[tuple[int, int]] = []
        self._whole = model.detector.detect_whole  # type: ignore[union-attr]
        model.detector.detect_whole = self  # type: ignore[union-attr,method-assign,assignment]

    def __call__(self, frames: Sequence[np.ndarray]) -> list[list[Box]]:
        self.crops += [f.shape[:2] for f in frames]
        return self._whole(frames)


def test_tiles_where_people_move_find_the_far_people_with_fewer_runs_than_every_tile() -> None:
    frames, position = _clip(300)  # six people, several of them far up the path
    truth = footage.ground_truth()[300]
    default = Intrusion(IntrusionConfig())
    runs = _Counting(default)
    (boxes,) = default.find_people(frames, [position])
    true, false, _missed = evaluate._count(truth, boxes)
    (before,) = Intrusion(IntrusionConfig(tiles=2, tiles_where_needed=False)).find_people(frames, [position])
    true_before, _, _ = evaluate._count(truth, before)
    assert true >= 5 and false == 0
    assert true > true_before  # the previous default (2×2 everywhere) misses far people found here
    # The whole frame plus only some of the 3×3 tiles: the empty lawn at the bottom is not searched.
    assert 1 < len(runs.crops) < 1 + 9


def test_a_still_clip_runs_the_whole_frame_only_unless_someone_was_tracked() -> None:
    frames, position = _clip(300)
    still = np.repeat(frames[position][None], 10, axis=0)  # nothing moves
    model = Intrusion(IntrusionConfig())
    runs = _Counting(model)
    model.find_people(still, [9])
    assert len(runs.crops) == 1
    runs.crops.clear()
    # A person tracked a moment ago may have stopped: the tiles round them still run.
    model.find_people(still, [9], known=[Box(0.45, 0.3, 0.05, 0.12)])
    assert 2 <= len(runs.crops) <= 1 + 4  # the whole frame and the tiles overlapping the box


def test_zones_confine_the_tiles_to_their_box_raised_by_a_persons_height() -> None:
    region = region_of([PATH])
    assert (region.x, region.y, region.w, region.h) == pytest.approx((0.3, 0.2, 0.4, 0.4))
    frames, position = _clip(300)
    model = Intrusion(IntrusionConfig(zones=[PATH]))
    runs = _Counting(model)
    model.find_people(frames, [position])
    # Tiles of the 0.4 × 0.4 region are 0.4 / 2.6 of the frame: magnified ~2.5× more than the frame's.
    tile_h, tile_w = round(480 * 0.4 / 2.6), round(640 * 0.4 / 2.6)
    assert runs.crops[0] == (480, 640) and len(runs.crops) > 1
    assert all(abs(h - tile_h) <= 1 and abs(w - tile_w) <= 1 for h, w in runs.crops[1:])


def test_region_grid_over_the_whole_frame_is_the_tiling_grid() -> None:
    for n in (2, 3):
        assert region_grid(n, WHOLE) == grid(n)[1:]
    assert region_of([]) == WHOLE


def test_a_tile_runs_for_foreground_or_a_known_box() -> None:
    mask = np.zeros((120, 160), bool)
    left, right = Tile(0.0, 0.0, 0.5, 1.0), Tile(0.5, 0.0, 0.5, 1.0)
    mask[50:53, 10:12] = True  # six pixels: a far person on the left
    assert worth_running(left, mask, []) and not worth_running(right, mask, [])
    assert worth_running(right, mask, [Box(0.7, 0.4, 0.05, 0.1)])
    mask[:] = False
    mask[60, 20] = True  # one pixel is noise
    assert not worth_running(left, mask, [])


def test_foreground_marks_walkers_not_the_still_lawn() -> None:
    frames, position = _clip(100)
    (mask,) = foreground(frames, [position])
    truth = footage.ground_truth()[100]
    h, w = mask.shape
    # Every annotated walker has foreground on them; the lawn at the bottom left has next to none.
    for x, y, bw, bh in truth:
        assert mask[int(y * h) : int((y + bh) * h) + 1, int(x * w) : int((x + bw) * w) + 1].any()
    assert mask[int(0.8 * h) :, : int(0.4 * w)].mean() < 0.01


# A zone drawn as a line down the middle: refused by IntrusionConfig now, but a model must survive
# one that slipped through (an older stored config, a config built without validation).
LINE = [(0.5, 0.2), (0.5, 0.6), (0.5, 0.9)]


def test_a_degenerate_zone_gives_a_region_of_real_size_inside_the_frame() -> None:
    for zones in ([LINE], [[(0.5, 0.5)] * 3], [[(1.2, 1.3), (1.5, 1.3), (1.5, 1.6)]], [[(-0.4, -0.2), (-0.1, 0.1)]]):
        region = region_of(zones)
        assert region.w >= MIN_REGION and region.h >= MIN_REGION, zones
        assert region.x >= 0.0 and region.x + region.w <= 1.0 + 1e-9, zones
        assert region.y >= 0.0 and region.y + region.h <= 1.0 + 1e-9, zones
    assert region_of([[]]) == WHOLE  # no points at all: the whole frame, not a ValueError
    assert region_of([LINE]).x == pytest.approx(0.5 - MIN_REGION / 2)  # widened about the line


def test_a_line_zone_that_slipped_through_still_runs_the_whole_frame_and_real_tiles() -> None:
    frames, position = _clip(300)  # people walk across the middle column the line lies in
    model = Intrusion(IntrusionConfig().model_copy(update={"zones": [LINE]}))  # skips validation
    runs = _Counting(model)
    (boxes,) = model.find_people(frames, [position], known=[Box(0.48, 0.3, 0.05, 0.12)])
    assert runs.crops[0] == (480, 640)  # the whole frame ran
    assert len(runs.crops) > 1  # and tiles over the widened line, for the known box at least
    assert all(h >= MIN_CROP and w >= MIN_CROP for h, w in runs.crops)
    assert boxes  # the whole-frame pass still finds the walkers


def test_tiles_are_clamped_to_the_frame_and_slivers_are_skipped() -> None:
    frame = np.zeros((480, 640, 3), np.uint8)
    seen: list[tuple[int, int]] = []

    class Recording:
        def detect_whole(self, frames: np.ndarray | Sequence[np.ndarray]) -> list[list[Box]]:
            seen.extend(f.shape[:2] for f in frames)
            return [[] for _ in frames]

    sliver = Tile(0.5, 0.2, 0.0004, 0.4)  # 0.26 px wide at 640: crops to nothing
    overhang = Tile(0.9, 0.9, 0.3, 0.3)  # reaches past the bottom-right corner
    off = Tile(1.1, 0.0, 0.2, 0.2)  # wholly outside
    out = detect_in_tiles(Recording(), [frame], [[sliver, overhang, off, Tile(0.0, 0.0, 0.5, 0.5)]])
    assert out == [[]]
    assert seen == [(480, 640), (48, 64), (240, 320)]  # the frame, the overhang clamped, the real tile
