"""Tiling geometry and the merge of tile boxes, on synthetic boxes (no detector)."""

from __future__ import annotations

import itertools

import pytest

from vms.analytics.detect import Box
from vms.analytics.detect.persons import PersonDetectorOptions
from vms.analytics.detect.tiling import WHOLE, Tile, grid, is_cut, merge, merge_tiles, to_frame


def _right(t: Tile) -> float:
    return t.x + t.w


def _bottom(t: Tile) -> float:
    return t.y + t.h


@pytest.mark.parametrize("n", [2, 3])
def test_grid_covers_the_frame_with_overlapping_equal_tiles(n: int) -> None:
    tiles = grid(n, overlap=0.2)
    assert tiles[0] == WHOLE and len(tiles) == 1 + n * n
    cells = tiles[1:]
    side = cells[0].w
    assert all(t.w == pytest.approx(side) and t.h == pytest.approx(side) for t in cells)
    xs = sorted({round(t.x, 9) for t in cells})
    assert xs[0] == 0.0 and max(_right(t) for t in cells) == pytest.approx(1.0)
    assert max(_bottom(t) for t in cells) == pytest.approx(1.0)
    # Neighbours share 20 % of a tile: the next tile starts before this one ends.
    for a, b in itertools.pairwise(xs):
        assert a + side - b == pytest.approx(0.2 * side)


def test_one_tile_is_the_whole_frame_and_more_than_three_is_refused() -> None:
    assert grid(1) == [WHOLE]
    with pytest.raises(ValueError):
        grid(4)
    with pytest.raises(ValueError):
        grid(0)


def test_boxes_map_from_tile_to_frame_fractions() -> None:
    tile = Tile(0.5, 0.25, 0.5, 0.5)
    mapped = to_frame(Box(0.2, 0.4, 0.1, 0.2, 0.9), tile)
    assert mapped.xywh == pytest.approx((0.6, 0.45, 0.05, 0.1))
    assert mapped.score == 0.9 and mapped.label == "person"


def test_only_inner_tile_edges_cut() -> None:
    top_left = Tile(0.0, 0.0, 0.55, 0.55)
    assert not is_cut(Box(0.0, 0.0, 0.2, 0.3), top_left)  # frame edges are real edges
    assert is_cut(Box(0.85, 0.2, 0.15, 0.3), top_left)  # touches the right edge, inside the frame
    assert is_cut(Box(0.3, 0.8, 0.1, 0.2), top_left)  # touches the bottom edge
    assert not is_cut(Box(0.3, 0.3, 0.1, 0.2), top_left)
    assert not is_cut(Box(0.0, 0.0, 1.0, 1.0), WHOLE)


def test_overlapping_duplicates_keep_the_best_score() -> None:
    a = Box(0.10, 0.10, 0.10, 0.30, 0.9)
    b = Box(0.11, 0.11, 0.10, 0.30, 0.6)
    far = Box(0.60, 0.10, 0.10, 0.30, 0.5)
    assert merge([b, far, a], [False, False, False]) == [a, far]


def test_nms_is_per_class() -> None:
    person = Box(0.1, 0.1, 0.2, 0.4, 0.9, "person")
    bag = Box(0.1, 0.1, 0.2, 0.4, 0.8, "bag")
    assert merge([person, bag], [False, False]) == [person, bag]


def test_a_cut_fragment_inside_a_whole_box_is_dropped_even_with_a_better_score() -> None:
    whole = Box(0.40, 0.20, 0.10, 0.40, 0.6)
    upper_half = Box(0.40, 0.20, 0.10, 0.19, 0.9)  # NMS alone would keep this half and drop the whole person
    assert merge([whole, upper_half], [False, True]) == [whole]


def test_a_small_person_in_front_of_a_large_one_is_kept_when_not_cut() -> None:
    near = Box(0.30, 0.10, 0.30, 0.80, 0.9)
    far = Box(0.40, 0.20, 0.05, 0.15, 0.7)  # wholly inside the near box, but found whole in its tile
    assert merge([near, far], [False, False]) == [near, far]
    assert merge([near, far], [False, True]) == [near]  # the same box cut by a tile edge is a fragment


def test_merge_tiles_maps_each_frames_crops_and_merges_them() -> None:
    tiles = grid(2)
    side = tiles[1].w
    # Frame 0: one person found whole in the full frame and again in the top-left tile.
    person = Box(0.1, 0.1, 0.05, 0.2, 0.8)
    in_tile = Box(0.1 / side, 0.1 / side, 0.05 / side, 0.2 / side, 0.7)
    frame0 = [[person], [in_tile], [], [], []]
    # Frame 1: nothing in the full frame, a small person in the bottom-right tile only.
    frame1 = [[], [], [], [], [Box(0.5, 0.5, 0.1, 0.2, 0.6)]]
    merged = merge_tiles([frame0, frame1], tiles)
    assert merged[0] == [person]
    assert len(merged[1]) == 1
    corner = tiles[4]
    assert merged[1][0].xywh == pytest.approx((corner.x + 0.5 * side, corner.y + 0.5 * side, 0.1 * side, 0.2 * side))


def test_tiles_option_is_bounded_and_reads_the_old_quadrant_value() -> None:
    assert PersonDetectorOptions().tiles == 1
    assert PersonDetectorOptions(tiles=4).tiles == 2  # before n×n tiling, 4 meant quadrants
    with pytest.raises(ValueError):
        PersonDetectorOptions(tiles=5)
