"""Advanced motion on real footage and on manipulated real scenes (tests/scenes/motion/*.json)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import pytest

from tests.scenes.motion.footage import as_clip, frame_index, frames, scenes
from vms.analytics.models.motion import AdvancedMotion, MotionConfig
from vms.analytics.plugin import REGISTRY, Detection
from vms.kernel.ai_models import AiModel
from vms.kernel.priority import Priority

PEOPLE = scenes("motion", "vtest_people")
STATIC = scenes("motion", "static_scenes")
Box = tuple[float, float, float, float]


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _people(index: str) -> list[Box]:
    return [(x1 / 640, y1 / 480, (x2 - x1) / 640, (y2 - y1) / 480) for x1, y1, x2, y2 in PEOPLE["frames"][index]]


def _per_frame(found: Sequence[Detection], first_index: int = 0) -> dict[int, list[Detection]]:
    out: dict[int, list[Detection]] = defaultdict(list)
    for d in found:
        out[frame_index(d.frame_time, first_index=first_index)].append(d)
    return out


def _static_scene(name: str) -> np.ndarray:
    """One of the manipulated static scenes of static_scenes.json, 45 frames."""
    spec = STATIC["scenes"][name]
    background = frames(STATIC["background_frame"], 1)[0].astype(np.float32)
    rng = np.random.default_rng(7)
    out = np.empty((45, 480, 640, 3), np.uint8)
    gain = np.ones(45, np.float32)
    if name == "lights_on":
        gain[20:] = 1.5
    elif name == "lights_off":
        gain[20:] = 0.55
    elif name == "cloud":
        gain[15:25] = np.linspace(1.0, 0.7, 10)
        gain[25:] = 0.7
    crop = None
    if name == "walker":
        x1, y1, x2, y2 = spec["crop"]
        crop = frames(spec["crop_frame"], 1)[0, y1:y2, x1:x2].astype(np.float32)
    for i in range(45):
        img = background.copy()
        if name == "foliage":
            for (x, y), (sx, sy), size, amp, hz in spec["patches"]:
                dx = round(amp * np.sin(2 * np.pi * hz * i / 15))
                dy = round(amp / 2 * np.cos(2 * np.pi * hz * i / 15))
                img[y + dy : y + dy + size, x + dx : x + dx + size] = background[sy : sy + size, sx : sx + size]
        if crop is not None and i >= spec["start_frame"]:
            x = spec["start_x"] + spec["step_px"] * (i - spec["start_frame"])
            h, w = crop.shape[:2]
            img[spec["y"] : spec["y"] + h, x : x + w] = crop
        img = img * gain[i] + rng.normal(0, 2, img.shape).astype(np.float32)
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def test_motion_is_registered_with_the_table_defaults():
    assert REGISTRY[AiModel.MOTION] is AdvancedMotion
    assert AdvancedMotion.default_priority is Priority.STANDARD
    assert AdvancedMotion().config == MotionConfig()
    assert MotionConfig().type == "motion"


def vtest_scores() -> dict[str, float]:
    """Frame recall, box precision and person coverage of motion over the annotated vtest windows."""
    warmup, positives = PEOPLE["warmup"], range(PEOPLE["warmup_min"], PEOPLE["warmup"] + 1)
    hit_frames = boxes_total = boxes_on_people = people_total = people_covered = 0
    for annotated in sorted(PEOPLE["frames"], key=int):
        model, camera = AdvancedMotion(), uuid.uuid4()
        footage = frames(int(annotated) - warmup, warmup + 1)
        # Two consecutive segments: the background model carries over from one to the next.
        found = model.analyze(as_clip(footage[:25]), camera_id=camera, segment_sequence=0)
        found += model.analyze(as_clip(footage[25:], first_index=25), camera_id=camera, segment_sequence=1)
        for d in found:
            assert d.object_class == "motion" and 0.5 <= d.score <= 1.0
            assert all(0.0 <= v <= 1.0 for v in d.box) and d.box[0] + d.box[2] <= 1.0001
        by_frame = _per_frame(found)
        assert all(len(dets) <= MotionConfig().max_regions for dets in by_frame.values())
        hit_frames += sum(1 for i in positives if by_frame.get(i))
        boxes, people = [d.box for d in by_frame[warmup]], _people(annotated)
        boxes_total += len(boxes)
        boxes_on_people += sum(any(_overlaps(b, p) for p in people) for b in boxes)
        people_total += len(people)
        people_covered += sum(any(_overlaps(b, p) for b in boxes) for p in people)
    return {
        "frame_recall": hit_frames / (len(positives) * len(PEOPLE["frames"])),
        "box_precision": boxes_on_people / max(1, boxes_total),
        "person_coverage": people_covered / people_total,
        "positive_frames": len(positives) * len(PEOPLE["frames"]),
        "boxes": boxes_total,
        "people": people_total,
    }


def test_walking_pedestrians_in_real_footage_are_found_where_they_are():
    scores = vtest_scores()
    # Motion is reported in most frames once the background is learnt, every reported region
    # covers a person, and most people (a few stand still) are covered.
    assert scores["frame_recall"] >= 0.8, scores
    assert scores["box_precision"] >= 0.9, scores
    assert scores["person_coverage"] >= 0.6, scores


@pytest.mark.parametrize("name", ["lights_on", "lights_off", "cloud", "foliage"])
def test_lighting_changes_and_swaying_foliage_are_not_motion(name: str):
    found = AdvancedMotion().analyze(as_clip(_static_scene(name)), camera_id=uuid.uuid4(), segment_sequence=0)
    assert found == []


def test_a_real_person_walking_over_a_static_scene_is_followed_box_by_box():
    spec = STATIC["scenes"]["walker"]
    found = AdvancedMotion().analyze(as_clip(_static_scene("walker")), camera_id=uuid.uuid4(), segment_sequence=0)
    by_frame = _per_frame(found)
    ((begin, end),) = spec["positive"]
    assert set(by_frame) <= set(range(begin, end))
    assert len(by_frame) / (end - begin) >= 0.8
    x1, y1, x2, y2 = spec["crop"]
    for i, dets in by_frame.items():
        x = spec["start_x"] + spec["step_px"] * (i - spec["start_frame"])
        truth = (x / 640, spec["y"] / 480, (x2 - x1) / 640, (y2 - y1) / 480)
        assert len(dets) == 1 and _overlaps(dets[0].box, truth), (i, dets)
    assert len({d.track_id for d in found}) == 1


def test_zones_restrict_motion_to_the_regions_they_cover():
    footage = frames(260, 41)
    left = MotionConfig(zones=[[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]])
    lawn = MotionConfig(zones=[[(0.0, 0.75), (1.0, 0.75), (1.0, 1.0), (0.0, 1.0)]])  # nobody walks there
    everywhere = AdvancedMotion().analyze(as_clip(footage), camera_id=uuid.uuid4(), segment_sequence=0)
    in_left = AdvancedMotion(left).analyze(as_clip(footage), camera_id=uuid.uuid4(), segment_sequence=0)
    on_lawn = AdvancedMotion(lawn).analyze(as_clip(footage), camera_id=uuid.uuid4(), segment_sequence=0)
    assert in_left and len(in_left) < len(everywhere)
    assert all(d.box[0] + d.box[2] / 2 <= 0.55 for d in in_left)
    assert on_lawn == []


def test_min_area_drops_small_regions():
    footage = frames(260, 41)
    found = AdvancedMotion(MotionConfig(min_area=0.05)).analyze(
        as_clip(footage), camera_id=uuid.uuid4(), segment_sequence=0
    )
    assert found == []  # a pedestrian here is well under 5% of the frame


def test_config_bounds_are_enforced():
    with pytest.raises(ValueError):
        MotionConfig(min_area=1.5)
    with pytest.raises(ValueError):
        MotionConfig(zones=[[(0.0, 0.0), (2.0, 0.0), (0.0, 1.0)]])  # zones are in frame fractions
    with pytest.raises(ValueError):
        MotionConfig(zones=[[(0.0, 0.0), (1.0, 0.0)]])  # not a polygon
    with pytest.raises(ValueError):
        MotionConfig.model_validate({"type": "tampering"})


@pytest.mark.parametrize("name", ["lights_on", "foliage"])
def test_those_scenes_would_fire_without_the_suppression(name: str):
    """A control: the negative scenes above are real challenges, not empty frames."""
    naive = MotionConfig(
        illumination_jump=1.0, max_foreground_share=1.0, min_persistence_frames=1, min_displacement=0.0
    )
    found = AdvancedMotion(naive).analyze(as_clip(_static_scene(name)), camera_id=uuid.uuid4(), segment_sequence=0)
    assert found


def test_overlapping_segments_are_not_reported_twice():
    footage = frames(260, 50)
    model, camera = AdvancedMotion(), uuid.uuid4()
    first = model.analyze(as_clip(footage[:40]), camera_id=camera, segment_sequence=0)
    second = model.analyze(as_clip(footage[32:], first_index=32), camera_id=camera, segment_sequence=1)
    assert first and second
    assert min(frame_index(d.frame_time) for d in second) >= 40
    assert max(frame_index(d.frame_time) for d in first) < 40
