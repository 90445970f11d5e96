"""Missing and abandoned objects: a real object photo pasted into / removed from real footage."""

from __future__ import annotations

import uuid

import pytest

from tests.scenes.missing_object.evaluate import config_for
from tests.scenes.missing_object.footage import SET, scene_frames, truth_box
from tests.scenes.motion.footage import as_clip, frame_index
from vms.analytics.models.missing_object import MissingObject, MissingObjectConfig
from vms.analytics.plugin import REGISTRY
from vms.kernel.ai_models import AiModel
from vms.kernel.priority import Priority

SCENES = {s["name"]: s for s in SET["scenes"]}


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_missing_object_is_registered_with_the_table_defaults():
    assert REGISTRY[AiModel.MISSING_OBJECT] is MissingObject
    assert MissingObject.default_priority is Priority.STANDARD
    assert MissingObjectConfig().type == "missing_object"
    assert MissingObjectConfig().missing_after_s == 10.0


@pytest.mark.parametrize("name", ["removed_from_busy_path", "left_on_busy_path"])
def test_an_object_taken_or_left_where_people_walk_is_reported_once_after_the_delay(name: str):
    spec = SCENES[name]
    images = scene_frames(spec)
    model, camera = MissingObject(config_for(spec)), uuid.uuid4()
    # Two consecutive segments: the reference and the clocks carry over.
    found = model.analyze(as_clip(images[:60]), camera_id=camera, segment_sequence=0)
    found += model.analyze(as_clip(images[60:], first_index=60), camera_id=camera, segment_sequence=1)
    ((expected,),) = [spec["expect"]]
    assert [d.object_class for d in found] == [expected["class"]]
    d = found[0]
    at = frame_index(d.frame_time)
    assert expected["from"] <= at <= expected["from"] + SET["tolerance_frames"]
    truth = truth_box(spec)
    assert truth is not None and _overlaps(d.box, truth)
    assert d.segment_sequence == 1 and 0.6 <= d.score <= 1.0


@pytest.mark.parametrize("name", ["guarded_object_stays_people_pass", "set_down_and_picked_up"])
def test_occlusion_by_passers_by_and_an_object_picked_up_again_are_not_reported(name: str):
    spec = SCENES[name]
    found = MissingObject(config_for(spec)).analyze(
        as_clip(scene_frames(spec)), camera_id=uuid.uuid4(), segment_sequence=0
    )
    assert found == []


def test_a_person_standing_still_is_not_an_abandoned_object_thanks_to_the_person_check():
    spec = SCENES["people_walking"]  # the start of vtest: a man stands still near the lamp post
    images = scene_frames(SCENES["left_on_lawn"])  # same footage, with a box left on the lawn at frame 30
    checked = MissingObject(config_for(spec)).analyze(as_clip(images), camera_id=uuid.uuid4(), segment_sequence=0)
    unchecked = MissingObject(config_for(spec, person_check=False)).analyze(
        as_clip(images), camera_id=uuid.uuid4(), segment_sequence=0
    )
    box = truth_box(SCENES["left_on_lawn"])
    assert box is not None
    assert [d.object_class for d in checked] == ["abandoned_object"] and _overlaps(checked[0].box, box)
    # Control: without the check, the standing man is reported as well (the check is what drops him).
    assert any(not _overlaps(d.box, box) for d in unchecked)


def test_a_shorter_clock_than_the_absence_is_needed():
    spec = SCENES["removed_from_lawn"]
    slow = MissingObject(config_for(spec).model_copy(update={"missing_after_s": 60.0}))
    assert slow.analyze(as_clip(scene_frames(spec)), camera_id=uuid.uuid4(), segment_sequence=0) == []


def test_config_bounds_are_enforced():
    with pytest.raises(ValueError):
        MissingObjectConfig(regions=[[(0.0, 0.0), (1.5, 0.0), (0.0, 1.0)]])
    with pytest.raises(ValueError):
        MissingObjectConfig(missing_after_s=0.0)
    with pytest.raises(ValueError):
        MissingObjectConfig.model_validate({"type": "anpr"})
    assert all(f.description for n, f in MissingObjectConfig.model_fields.items() if n != "type")
