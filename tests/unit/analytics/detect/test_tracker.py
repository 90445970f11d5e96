"""The IoU + Kalman tracker on synthetic box sequences (frame fractions, one step per detection frame)."""

from __future__ import annotations

from vms.analytics.detect import Box
from vms.analytics.detect.tracker import Tracker


def walker(x0: float, y0: float, vx: float, vy: float, step: int, *, w: float = 0.05, h: float = 0.15) -> Box:
    return Box(x0 + vx * step, y0 + vy * step, w, h, 0.9)


def ids_by_position(tracks: list, boxes: list[Box]) -> list[str]:
    """The track id whose box is closest to each detection, in detection order."""
    out = []
    for box in boxes:
        best = min(tracks, key=lambda t: abs(t.box[0] - box.x) + abs(t.box[1] - box.y))
        out.append(best.id)
    return out


def test_a_track_is_born_after_min_hits_and_keeps_its_id() -> None:
    tracker = Tracker(min_hits=3, prefix="cam")
    seen = [tracker.update([walker(0.1, 0.5, 0.01, 0, i)]) for i in range(6)]
    assert [len(s) for s in seen] == [0, 0, 1, 1, 1, 1]
    assert {s[0].id for s in seen[2:]} == {"cam-1"}


def test_a_single_false_detection_never_becomes_a_track() -> None:
    tracker = Tracker(min_hits=2, max_misses=2)
    assert tracker.update([Box(0.5, 0.5, 0.05, 0.1)]) == []
    for _ in range(4):
        assert tracker.update([]) == []
    assert tracker.tracks == []


def test_crossing_people_keep_their_ids() -> None:
    # A walks right, B walks left on a slightly lower line; their boxes overlap heavily mid-way.
    tracker = Tracker(min_hits=2)
    first: dict[str, str] = {}
    for step in range(21):
        a = walker(0.1, 0.40, 0.03, 0, step)
        b = walker(0.7, 0.42, -0.03, 0, step)
        tracks = tracker.update([a, b])
        if step < 2:
            continue
        ida, idb = ids_by_position(tracks, [a, b])
        assert ida != idb
        if not first:
            first = {"a": ida, "b": idb}
        assert (ida, idb) == (first["a"], first["b"]), f"ids swapped at step {step}"
    assert len({t.id for t in tracker.tracks}) == 2


def test_an_occluded_person_keeps_the_id_when_reappearing_where_expected() -> None:
    tracker = Tracker(min_hits=2, max_misses=5)
    ids = set()
    for step in range(12):
        hidden = 5 <= step < 9  # behind a pillar for four steps, still walking
        tracks = tracker.update([] if hidden else [walker(0.1, 0.5, 0.02, 0.005, step)])
        if hidden:
            assert tracks == []
        elif step >= 1:
            ids.update(t.id for t in tracks)
    assert len(ids) == 1


def test_a_track_dies_after_max_misses_and_a_newcomer_gets_a_new_id() -> None:
    tracker = Tracker(min_hits=1, max_misses=2)
    first = tracker.update([walker(0.2, 0.2, 0, 0, 0)])[0].id
    for _ in range(3):
        tracker.update([])
    assert tracker.tracks == []
    second = tracker.update([walker(0.2, 0.2, 0, 0, 0)])[0].id
    assert second != first


def test_classes_are_never_associated_with_each_other() -> None:
    tracker = Tracker(min_hits=1)
    person = tracker.update([Box(0.3, 0.3, 0.1, 0.2, 0.9, "person")])[0].id
    tracks = tracker.update([Box(0.3, 0.3, 0.1, 0.2, 0.9, "car")])
    assert [t.label for t in tracks] == ["car"] and tracks[0].id != person
