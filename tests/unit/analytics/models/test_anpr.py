"""ANPR on plates composited onto real footage (tests/scenes/anpr/plates.json) and its text rules."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.scenes.anpr.footage import plate_scenes, scene_frames
from tests.scenes.motion.footage import as_clip, frame_index
from vms.analytics.models.anpr import Anpr, AnprConfig, PlateFormat, clean, edit_distance, normalise
from vms.analytics.plugin import REGISTRY
from vms.kernel.ai_models import AiModel
from vms.kernel.priority import Priority

SCENES = {s["name"]: s for s in plate_scenes()}


def _run(model: Anpr, name: str, *, camera: uuid.UUID | None = None, first_index: int = 0) -> list[str]:
    images, _ = scene_frames(SCENES[name])
    found = model.analyze(
        as_clip(images, first_index=first_index), camera_id=camera or uuid.uuid4(), segment_sequence=0
    )
    return [str(d.attributes["plate"]) for d in found]


# One read per 10-frame scene keeps this file fast; the full scene set runs in evaluate.py.
ONE_READ = {"ocr_every": 10}


@pytest.fixture(scope="module")
def model() -> Anpr:
    return Anpr(AnprConfig(**ONE_READ))


def test_anpr_is_registered_with_the_table_defaults():
    assert REGISTRY[AiModel.ANPR] is Anpr
    assert Anpr.default_priority is Priority.MEDIUM
    assert AnprConfig().type == "anpr"


@pytest.mark.parametrize("name", ["in_car", "us_road"])
def test_a_composited_plate_is_read_once_with_its_box_on_the_plate(model: Anpr, name: str):
    spec = SCENES[name]
    images, boxes = scene_frames(spec)
    found = model.analyze(as_clip(images), camera_id=uuid.uuid4(), segment_sequence=3)
    assert [d.attributes["plate"] for d in found] == [spec["text"]]
    d = found[0]
    truth = boxes[frame_index(d.frame_time)]
    assert abs((d.box[0] + d.box[2] / 2) - (truth[0] + truth[2] / 2)) < truth[2] / 2
    assert abs((d.box[1] + d.box[3] / 2) - (truth[1] + truth[3] / 2)) < truth[3]
    assert d.object_class == "plate" and d.segment_sequence == 3 and d.score >= 0.8
    assert d.attributes["alert"] is False and d.attributes["list"] is None


@pytest.mark.parametrize("name", ["car_blurred_plate", "road_people_and_sign"])
def test_real_footage_without_a_readable_plate_reports_nothing(model: Anpr, name: str):
    assert _run(model, name) == []


def test_deny_list_and_not_allowed_plates_raise_alerts():
    denied = Anpr(AnprConfig(deny_list=["ab-12 cde"], report_all_reads=False, **ONE_READ))
    images, _ = scene_frames(SCENES["gb_car"])
    (hit,) = denied.analyze(as_clip(images), camera_id=uuid.uuid4(), segment_sequence=0)
    assert hit.attributes | {"raw": None} == {
        "plate": "AB12CDE",
        "raw": None,
        "region": "GB",
        "list": "deny",
        "alert": True,
        "reason": "deny_list",
    }
    allowed_only = AnprConfig(allow_list=["AB12CDE"], alert_on_not_allowed=True, report_all_reads=False, **ONE_READ)
    assert Anpr(allowed_only).analyze(as_clip(images), camera_id=uuid.uuid4(), segment_sequence=0) == []
    other = AnprConfig(allow_list=["ZZ99ZZZ"], alert_on_not_allowed=True, report_all_reads=False, **ONE_READ)
    (stranger,) = Anpr(other).analyze(as_clip(images), camera_id=uuid.uuid4(), segment_sequence=0)
    assert stranger.attributes["reason"] == "not_allowed" and stranger.attributes["list"] is None


def test_the_same_plate_is_reported_once_per_camera_within_the_window(model: Anpr):
    camera = uuid.uuid4()
    assert _run(model, "fr_car", camera=camera) == ["FG345HJ"]
    assert _run(model, "fr_car", camera=camera, first_index=30) == []  # 2 s later: same car, deduped
    assert _run(model, "fr_car", camera=uuid.uuid4()) == ["FG345HJ"]  # another camera reports its own
    # change_gate=0: the repeated scene is pixel-identical, which the change gate would skip as a parked car.
    short = Anpr(AnprConfig(dedupe_window_s=1.0, change_gate=0.0, **ONE_READ))
    assert _run(short, "fr_car", camera=camera) == ["FG345HJ"]
    assert _run(short, "fr_car", camera=camera, first_index=30) == ["FG345HJ"]  # window over: again


def test_normalisation_fixes_confusable_characters_only_where_the_format_needs_it():
    gb = [PlateFormat(region="GB", pattern=r"^[A-Z]{2}[0-9]{2}[A-Z]{3}$")]
    assert normalise("ab 12 cde", gb, 2) == ("AB12CDE", "GB")
    assert normalise("A8I2CDE", gb, 2) == ("AB12CDE", "GB")  # 8→B, I→1
    assert normalise("AB1ZCDE", gb, 2) == ("AB12CDE", "GB")
    assert normalise("A8I2C0E", gb, 2) is None  # three fixes needed, two allowed
    assert normalise("A8I2C0E", gb, 3) == ("AB12COE", "GB")
    assert normalise("HELLO WORLD", gb, 2) is None
    assert normalise("XY", [], 2) is None  # too short to be a plate, whatever the formats
    assert normalise("x-y 12", [], 2) == ("XY12", "any")
    assert clean(" ab-12.cd ") == "AB12CD"
    assert edit_distance("AB12CDE", "AB12CDF") == 1 and edit_distance("AB12CDE", "AB12CDE") == 0


def test_config_is_bounded_and_lists_are_cleaned():
    assert AnprConfig(deny_list=["ab 12-cde"]).deny_list == ["AB12CDE"]
    with pytest.raises(ValueError):
        AnprConfig(formats=[PlateFormat(region="XX", pattern="([A-Z")])
    with pytest.raises(ValueError):
        AnprConfig(ocr_every=0)
    with pytest.raises(ValueError):
        AnprConfig.model_validate({"type": "fire_smoke"})
    assert all(f.description for n, f in AnprConfig.model_fields.items() if n != "type")


def test_zones_limit_reading_to_the_lane(model: Anpr):
    elsewhere = Anpr(AnprConfig(zones=[[(0.0, 0.0), (0.3, 0.0), (0.3, 0.3), (0.0, 0.3)]], **ONE_READ))
    assert _run(elsewhere, "gb_car") == []
    lane = Anpr(AnprConfig(zones=[[(0.2, 0.3), (0.9, 0.3), (0.9, 0.7), (0.2, 0.7)]], **ONE_READ))
    assert _run(lane, "gb_car") == ["AB12CDE"]


def test_overlapping_frames_of_the_next_segment_are_not_read_again():
    model, camera = Anpr(AnprConfig(dedupe_window_s=0.0)), uuid.uuid4()
    images, _ = scene_frames(SCENES["gb_car"])
    first = model.analyze(as_clip(images), camera_id=camera, segment_sequence=0)
    again = model.analyze(as_clip(images), camera_id=camera, segment_sequence=1)  # same stamps: all overlap
    # No dedupe window: each read frame (0 and 5) reports, and none of the repeated frames does.
    assert [d.attributes["plate"] for d in first] == ["AB12CDE", "AB12CDE"] and again == []
    assert first[0].frame_time - as_clip(images).timestamps[0] < timedelta(seconds=1)
