"""Fallen-person detection on a real person composited into real footage (tests/scenes/fallen)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from tests.scenes.fallen import evaluate, scenes
from vms.analytics.detect import Box, iou
from vms.analytics.models.fallen import Fallen, FallenConfig, _rotated_to_roi
from vms.analytics.plugin import REGISTRY
from vms.kernel.ai_models import MODEL_SPECS, AiModel
from vms.kernel.priority import Priority


@pytest.fixture(scope="module")
def model() -> Fallen:
    return Fallen(FallenConfig())


@pytest.fixture(scope="module")
def fall() -> scenes.Rendered:
    """A real person standing on the lawn for 2 s, falling, and lying there for 4.4 s."""
    return scenes.render(scenes.scene("fall-lawn-left-1"))


def test_fallen_is_registered_with_the_table_defaults() -> None:
    assert REGISTRY[AiModel.FALLEN] is Fallen
    assert Fallen.spec is MODEL_SPECS[AiModel.FALLEN] and Fallen.default_priority is Priority.HIGH


def test_a_person_who_falls_and_stays_down_is_reported_where_they_lie(model: Fallen, fall: scenes.Rendered) -> None:
    rendered = fall
    found, _ = evaluate.run_scene(model, rendered)
    assert found, "the fall was not reported"
    assert rendered.lying_box is not None and rendered.down_at is not None
    for d in found:
        assert d.model is AiModel.FALLEN and d.object_class == "fallen" and d.track_id
        assert iou(d.box, rendered.lying_box) >= 0.3  # the box is the lying body
        assert d.frame_time >= rendered.down_at  # not before they are down …
        assert d.attributes["downSeconds"] >= model.config.min_down_s  # … and only once down for min_down_s
    assert len({d.segment_sequence for d in found}) == len(found)  # one report per segment


def test_standing_and_a_short_stumble_are_not_falls(model: Fallen) -> None:
    for name in ("stand-path-1", "stumble-lawn-1"):
        found, _ = evaluate.run_scene(model, scenes.render(scenes.scene(name)))
        assert found == [], name


def test_a_zone_elsewhere_ignores_the_fall(fall: scenes.Rendered) -> None:
    top_right = [(0.6, 0.0), (1.0, 0.0), (1.0, 0.4), (0.6, 0.4)]
    zoned = Fallen(FallenConfig(zones=[top_right]))
    found, _ = evaluate.run_scene(zoned, fall)
    assert found == []


@pytest.mark.parametrize("clockwise", [True, False])
def test_boxes_found_in_a_rotated_crop_map_back_to_the_crop(clockwise: bool) -> None:
    crop = np.zeros((100, 100), np.uint8)
    crop[40:55, 20:80] = 255  # a lying shape: x 0.2..0.8, y 0.4..0.55
    turned = cv2.rotate(crop, cv2.ROTATE_90_CLOCKWISE if clockwise else cv2.ROTATE_90_COUNTERCLOCKWISE)
    ys, xs = np.nonzero(turned)
    standing = Box(xs.min() / 100, ys.min() / 100, (xs.max() + 1 - xs.min()) / 100, (ys.max() + 1 - ys.min()) / 100)
    assert standing.h > standing.w  # upright in the rotated crop, as the detector sees it
    assert _rotated_to_roi(standing, clockwise).xywh == pytest.approx((0.2, 0.4, 0.6, 0.15))


def test_config_bounds_are_enforced() -> None:
    with pytest.raises(ValidationError):
        FallenConfig(min_down_s=-1)
    with pytest.raises(ValidationError):
        FallenConfig(lying_ratio=0.1)
    with pytest.raises(ValidationError):
        FallenConfig(type="tailgating")  # type: ignore[arg-type]


@pytest.mark.slow
def test_accuracy_over_every_scene() -> None:
    figures = evaluate.evaluate()
    assert figures["precision"] >= 0.9, figures
    assert figures["recall"] >= 0.6, figures  # measured 5 of 8 falls; see docs/analytics.md
