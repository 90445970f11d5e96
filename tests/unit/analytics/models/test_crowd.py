"""Crowd detection on real pedestrian footage (OpenCV's vtest.avi) and on a synthetic dense crowd."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.scenes.intrusion import footage
from vms.analytics.models.crowd import Crowd, CrowdConfig
from vms.analytics.plugin import REGISTRY
from vms.kernel.ai_models import AiModel
from vms.media.normalize import NormalizedClip, NormalizeSpec, SourceInfo

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def walk() -> NormalizedClip:
    """Three seconds of vtest: three to four people in view."""
    return footage.clip(0, 30)


def test_crowd_is_registered() -> None:
    assert REGISTRY[AiModel.CROWD] is Crowd


def test_a_low_threshold_fires_with_the_count(walk: NormalizedClip) -> None:
    model = Crowd(CrowdConfig(max_people=1, min_duration_s=1.0))
    found = model.analyze(walk, camera_id=uuid.uuid4(), segment_sequence=3)
    assert len(found) == 1  # one report per segment
    d = found[0]
    assert d.model is AiModel.CROWD and d.object_class == "crowd" and d.segment_sequence == 3
    assert d.attributes["count"] >= 2 and d.attributes["detected"] >= 2
    assert d.frame_time - walk.timestamps[0] >= timedelta(seconds=1.0)  # held for min_duration_s first
    assert d.box == (0.0, 0.0, 1.0, 1.0)  # the whole frame: no zone configured


def test_a_high_threshold_stays_quiet(walk: NormalizedClip) -> None:
    model = Crowd(CrowdConfig(max_people=10, min_duration_s=0.0))
    assert model.analyze(walk, camera_id=uuid.uuid4(), segment_sequence=1) == []


def test_a_zone_counts_only_the_people_standing_in_it(walk: NormalizedClip) -> None:
    lawn = [(0.0, 0.75), (0.5, 0.75), (0.5, 1.0), (0.0, 1.0)]  # nobody there in these seconds
    model = Crowd(CrowdConfig(zone=lawn, max_people=0, min_duration_s=0.0))
    assert model.analyze(walk, camera_id=uuid.uuid4(), segment_sequence=1) == []


def test_the_duration_is_counted_across_segments_of_a_camera() -> None:
    first = footage.clip(0, 10)  # one second each
    second = footage.clip(10, 10, started_at=first.timestamps[0] + timedelta(seconds=1))
    model = Crowd(CrowdConfig(max_people=1, min_duration_s=1.2, detect_every=3))
    camera = uuid.uuid4()
    assert model.analyze(first, camera_id=camera, segment_sequence=1) == []
    assert len(model.analyze(second, camera_id=camera, segment_sequence=2)) == 1


def _dense_crowd(frames: int = 30, people: int = 24) -> NormalizedClip:
    """A still grey scene into which, after a second, many small dark silhouettes walk: a packed crowd
    seen from far, which no person detector resolves into individuals."""
    rng = np.random.default_rng(1)
    spots = rng.uniform((40, 200), (600, 420), size=(people, 2)).astype(int)
    images = np.full((frames, 480, 640, 3), 150, np.uint8)
    for i in range(15, frames):
        for x, y in spots:
            x += (i - 15) * 2
            images[i, y : y + 40, x : x + 14] = 30  # a 14×40 px silhouette
    stamps = [T0 + timedelta(seconds=i / 15) for i in range(frames)]
    source = SourceInfo(codec="h264", width=640, height=480, fps=15.0, frames_decoded=frames)
    return NormalizedClip(frames=images, timestamps=stamps, source=source, spec=NormalizeSpec())


def test_density_fallback_counts_a_crowd_the_detector_cannot_separate() -> None:
    clip = _dense_crowd()
    # 24 silhouettes of 14×40 px ≈ 0.0018 of the frame each; a typical far person box of 0.004
    # half filled by the silhouette gives ≈ 0.9 people per silhouette.
    config = CrowdConfig(max_people=10, min_duration_s=0.0, person_area=0.004, detect_every=5)
    found = Crowd(config).analyze(clip, camera_id=uuid.uuid4(), segment_sequence=1)
    assert len(found) == 1
    attrs = found[0].attributes
    assert attrs["count"] > 10 and attrs["detected"] < attrs["count"] and attrs["estimated"] > 10
    off = Crowd(config.model_copy(update={"density_fallback": False}))
    assert off.analyze(clip, camera_id=uuid.uuid4(), segment_sequence=1) == []
