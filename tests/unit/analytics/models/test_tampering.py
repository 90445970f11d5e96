"""Camera tampering on real footage with realistic manipulations (tests/scenes/tampering/*.json)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable

import cv2
import numpy as np
import pytest

from tests.scenes.motion.footage import as_clip, frame_index, frames, scenes
from vms.analytics.models.tampering import CameraTampering, TamperingConfig
from vms.analytics.plugin import REGISTRY
from vms.kernel.ai_models import AiModel
from vms.kernel.priority import Priority

SET = scenes("tampering", "vtest_manipulations")
LEARN, COUNT, ONSET = SET["learn"], SET["frames"], SET["onset"]


def _dim(f: np.ndarray) -> np.ndarray:
    return (f.astype(np.float32) * 0.6).astype(np.uint8)


def _cover(f: np.ndarray) -> np.ndarray:
    return (f.astype(np.float32) * 0.05).astype(np.uint8)


def _blur(f: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(f, (31, 31), 0)


def _shift(f: np.ndarray) -> np.ndarray:
    m = np.array([[1, 0, 160], [0, 1, 0]], np.float32)
    return cv2.warpAffine(f, m, (640, 480), borderMode=cv2.BORDER_REFLECT)


def _rotate(f: np.ndarray) -> np.ndarray:
    m = cv2.getRotationMatrix2D((320, 240), 20, 1.0)
    m[0, 2] += 96
    return cv2.warpAffine(f, m, (640, 480), borderMode=cv2.BORDER_REFLECT)


def _paint(f: np.ndarray) -> np.ndarray:
    out = f.copy()
    out[:, :448] = (128, 128, 128)
    return out


def _spray(f: np.ndarray) -> np.ndarray:
    out = f.copy()
    top = out[:288].astype(np.float32)
    out[:288] = (0.5 * cv2.GaussianBlur(top, (61, 61), 0) + 0.5 * 170).astype(np.uint8)
    return out


MANIPULATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda f: f,
    "dim": _dim,
    "cover": _cover,
    "blur": _blur,
    "shift": _shift,
    "rotate": _rotate,
    "paint": _paint,
    "spray": _spray,
}


def test_tampering_is_registered_with_the_table_defaults():
    assert REGISTRY[AiModel.TAMPERING] is CameraTampering
    assert CameraTampering.default_priority is Priority.HIGH
    assert CameraTampering().config == TamperingConfig()
    assert TamperingConfig().type == "tampering"
    assert set(SET["manipulations"]) == set(MANIPULATIONS)


@pytest.mark.parametrize("offset", SET["offsets"])
def test_each_manipulation_of_real_footage_is_reported_as_its_kind_and_normal_footage_is_not(offset: int):
    footage = frames(offset, LEARN + COUNT)
    model = CameraTampering()
    camera = uuid.uuid4()
    assert model.analyze(as_clip(footage[:LEARN]), camera_id=camera, segment_sequence=0) == []
    learnt = copy.deepcopy(model._cameras[camera])
    wrong = {}
    for name, spec in SET["manipulations"].items():
        model._cameras[camera] = copy.deepcopy(learnt)  # every manipulation starts from the same reference
        test = footage[LEARN:].copy()
        test[ONSET:] = np.stack([MANIPULATIONS[name](f) for f in test[ONSET:]])
        found = model.analyze(as_clip(test, first_index=LEARN), camera_id=camera, segment_sequence=1)
        classes = sorted(d.object_class for d in found)
        if classes != sorted(spec["expected"]):
            wrong[name] = classes
        for d in found:
            assert frame_index(d.frame_time, first_index=LEARN) >= ONSET, (name, d)
            assert d.box == (0.0, 0.0, 1.0, 1.0) and 0.5 <= d.score <= 1.0
    assert not wrong, f"offset {offset}: {wrong}"


def test_a_person_passing_close_to_the_lens_is_not_tampering():
    footage = frames(300, LEARN + COUNT)
    model = CameraTampering()
    camera = uuid.uuid4()
    model.analyze(as_clip(footage[:LEARN]), camera_id=camera, segment_sequence=0)
    test = footage[LEARN:].copy()
    test[10:16] = _paint(test[10:16])  # something dark and flat fills most of the view for 0.4 s
    test[10:16, :, :448] = (20, 20, 20)
    assert model.analyze(as_clip(test, first_index=LEARN), camera_id=camera, segment_sequence=1) == []


def test_state_is_kept_per_camera():
    footage = frames(0, LEARN + 20)
    model = CameraTampering()
    a, b = uuid.uuid4(), uuid.uuid4()
    model.analyze(as_clip(footage[:LEARN]), camera_id=a, segment_sequence=0)
    # Camera b has learnt nothing yet: a blurred view is not a change from anything it knows.
    blurred = np.stack([_blur(f) for f in footage[LEARN:]])
    assert model.analyze(as_clip(blurred, first_index=LEARN), camera_id=b, segment_sequence=0) == []
    found = model.analyze(as_clip(blurred, first_index=LEARN), camera_id=a, segment_sequence=1)
    assert [d.object_class for d in found] == ["blurred"]


def test_a_lens_covered_from_the_start_is_reported_without_a_reference():
    dark = np.full((20, 480, 640, 3), 6, np.uint8)
    found = CameraTampering().analyze(as_clip(dark), camera_id=uuid.uuid4(), segment_sequence=0)
    assert [d.object_class for d in found] == ["covered"]


def test_a_tampering_that_lasts_is_reported_again_in_each_segment():
    footage = frames(450, LEARN + 30)
    model, camera = CameraTampering(), uuid.uuid4()
    model.analyze(as_clip(footage[:LEARN]), camera_id=camera, segment_sequence=0)
    covered = np.stack([_cover(f) for f in footage[LEARN:]])
    first = model.analyze(as_clip(covered[:15], first_index=LEARN), camera_id=camera, segment_sequence=1)
    second = model.analyze(as_clip(covered[15:], first_index=LEARN + 15), camera_id=camera, segment_sequence=2)
    assert [d.object_class for d in first] == ["covered"]
    # The second segment reports it from its first frame: the cover started a segment ago.
    assert [(d.object_class, frame_index(d.frame_time, first_index=LEARN + 15)) for d in second] == [("covered", 0)]
