"""Precision and recall of advanced motion over its annotated scenes (bench/accuracy.py).

Reuses the scoring of tests/unit/analytics/models/test_motion.py over the same annotations:
recall is the share of frames with people walking (after the background is learnt) where motion
is reported; precision is the share of reported regions that cover an annotated person, with the
four manipulated static scenes (lights on/off, cloud, foliage) counted as false regions if they
report anything.
"""

from __future__ import annotations

import time
import uuid

from tests.scenes.motion.footage import as_clip
from tests.unit.analytics.models.test_motion import _static_scene, vtest_scores

from vms.analytics.models.motion import AdvancedMotion


def evaluate() -> dict[str, float]:
    """Frame recall, region precision (static scenes included) and ms per 640×480 frame."""
    started = time.perf_counter()
    scores = vtest_scores()
    frames = scores["positive_frames"]  # plus the warm-up frames, timed below with the static scenes
    true = scores["box_precision"] * scores["boxes"]
    false = scores["boxes"] - true
    static_frames = 0
    for name in ("lights_on", "lights_off", "cloud", "foliage"):
        images = _static_scene(name)
        static_frames += len(images)
        false += len(AdvancedMotion().analyze(as_clip(images), camera_id=uuid.uuid4(), segment_sequence=0))
    took = time.perf_counter() - started
    return {
        "precision": true / (true + false) if true + false else 1.0,
        "recall": scores["frame_recall"],
        "ms_per_frame": 1000 * took / (frames + static_frames),
        "scenes": 4.0 + 4.0,
    }
