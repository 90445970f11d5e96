"""Intrusion detection on real pedestrian footage (OpenCV's vtest.avi), and its schedule rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

import pytest

from tests.scenes.intrusion import footage
from tests.unit.analytics.detect.test_onnx_loader import v8, yolo_model
from vms.analytics.detect.zones import Schedule, inside
from vms.analytics.models.intrusion import Intrusion, IntrusionConfig
from vms.analytics.plugin import REGISTRY
from vms.kernel.ai_models import AiModel

# Where people walk in the first seconds of vtest: the path across the middle of the picture.
PATH = [(0.3, 0.4), (0.7, 0.4), (0.7, 0.6), (0.3, 0.6)]
# The lawn at the bottom left: nobody steps on it in those seconds.
LAWN = [(0.0, 0.75), (0.5, 0.75), (0.5, 1.0), (0.0, 1.0)]


@pytest.fixture(scope="module")
def walk():
    """Three seconds of vtest (30 frames at 10 fps), starting on a Monday at noon UTC."""
    return footage.clip(0, 30)


def test_intrusion_is_registered() -> None:
    assert REGISTRY[AiModel.INTRUSION] is Intrusion


def test_people_walking_through_a_zone_are_reported_with_track_ids(walk) -> None:
    model = Intrusion(IntrusionConfig(zones=[PATH], detect_every=2))
    camera = uuid.uuid4()
    found = model.analyze(walk, camera_id=camera, segment_sequence=7)
    assert len(found) >= 2  # at least two people cross the path
    assert len({d.track_id for d in found}) == len(found)  # one report per person per segment
    for d in found:
        assert d.model is AiModel.INTRUSION and d.object_class == "person" and d.camera_id == camera
        assert d.segment_sequence == 7 and d.track_id and d.score >= 0.4
        x, y, w, h = d.box
        assert inside((x + w / 2, y + h), PATH)
        assert d.attributes["zone"] == 0 and d.attributes["dwellSteps"] >= 2


def test_a_zone_nobody_enters_stays_quiet(walk) -> None:
    model = Intrusion(IntrusionConfig(zones=[LAWN], detect_every=2))
    assert model.analyze(walk, camera_id=uuid.uuid4(), segment_sequence=1) == []


def test_nothing_is_reported_outside_the_armed_schedule(walk) -> None:
    # The clip is Monday 12:00 UTC = 13:00 in Berlin.
    night = Schedule(start=time(22, 0), end=time(6, 0), timezone="Europe/Berlin")
    weekend = Schedule(weekdays=[5, 6])
    lunch = Schedule(weekdays=[0], start=time(12, 30), end=time(13, 30), timezone="Europe/Berlin")
    for schedule, expected in ((night, False), (weekend, False), (lunch, True)):
        model = Intrusion(IntrusionConfig(zones=[PATH], schedule=schedule, detect_every=3))
        found = model.analyze(walk, camera_id=uuid.uuid4(), segment_sequence=1)
        assert bool(found) is expected, schedule


def test_tracks_continue_across_segments_of_the_same_camera() -> None:
    first = footage.clip(0, 20)
    second = footage.clip(20, 20, started_at=first.timestamps[0] + timedelta(seconds=2))  # the next segment
    model = Intrusion(IntrusionConfig(zones=[PATH], detect_every=3, min_dwell_frames=1))
    camera = uuid.uuid4()
    ids_1 = {d.track_id for d in model.analyze(first, camera_id=camera, segment_sequence=1)}
    ids_2 = {d.track_id for d in model.analyze(second, camera_id=camera, segment_sequence=2)}
    assert ids_1 & ids_2, (ids_1, ids_2)  # someone still walking keeps their id into the next segment
    other = {d.track_id for d in model.analyze(second, camera_id=uuid.uuid4(), segment_sequence=2)}
    assert not (other & ids_1)  # another camera has its own tracker and ids


@pytest.mark.parametrize(
    ("at", "schedule", "armed"),
    [
        (datetime(2026, 3, 2, 23, 0, tzinfo=UTC), Schedule(start=time(22), end=time(6), weekdays=[0]), True),
        (datetime(2026, 3, 3, 5, 0, tzinfo=UTC), Schedule(start=time(22), end=time(6), weekdays=[0]), True),
        (datetime(2026, 3, 3, 7, 0, tzinfo=UTC), Schedule(start=time(22), end=time(6), weekdays=[0]), False),
        (datetime(2026, 3, 3, 23, 0, tzinfo=UTC), Schedule(start=time(22), end=time(6), weekdays=[0]), False),
        (
            datetime(2026, 3, 2, 8, 30, tzinfo=UTC),
            Schedule(start=time(9), end=time(17), timezone="Europe/Berlin"),
            True,
        ),
        (
            datetime(2026, 3, 2, 7, 30, tzinfo=UTC),
            Schedule(start=time(9), end=time(17), timezone="Europe/Berlin"),
            False,
        ),
    ],
)
def test_schedule_windows_use_local_time_and_run_over_midnight(at: datetime, schedule: Schedule, armed: bool) -> None:
    assert schedule.armed(at) is armed


def test_schedule_rejects_unknown_zones_and_days() -> None:
    with pytest.raises(ValueError, match="time zone"):
        Schedule(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="weekdays"):
        Schedule(weekdays=[7])


def test_operator_onnx_weights_replace_the_builtin_detector(tmp_path, walk) -> None:
    # A stand-in for YOLO weights dropped into the model store: it always "sees" a person standing
    # at x 270..370, y 140..340 of the 640×480 frame (foot at 0.5, 0.71) and a car next to them.
    weights = tmp_path / "yolo.onnx"
    raw = v8((320, 320, 100, 200, [0.9, 0.0]), (500, 320, 100, 100, [0.0, 0.9]))
    weights.write_bytes(yolo_model(raw, names="['person', 'car']"))
    yard = [(0.4, 0.6), (0.6, 0.6), (0.6, 0.8), (0.4, 0.8)]
    model = Intrusion(IntrusionConfig(zones=[yard], detect_every=5, onnx_weights=str(weights)))
    found = model.analyze(walk, camera_id=uuid.uuid4(), segment_sequence=1)
    assert [d.object_class for d in found] == ["person"]
    assert abs(found[0].box[0] - 270 / 640) < 1e-3 and found[0].track_id
