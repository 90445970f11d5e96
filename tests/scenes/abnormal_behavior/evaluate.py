"""Precision and recall of the abnormal-behaviour model over the scenes of scenes.json (run by bench/accuracy.py).

Scored per scene and behaviour: an expected behaviour reported is a hit, one not reported a miss,
and a behaviour reported that the scene does not show a false alarm (however many tracks show
it). Each scene runs on a camera that first learned its baseline from `learn_s` seconds of plain
footage; the scene follows after a pause long enough to restart the tracker (the baseline stays),
so dwell times start with the scene. Scenes are fed as 5 s segments.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from tests.scenes.abnormal_behavior import scenes as behavior_scenes
from tests.scenes.fallen.scenes import split

from vms.analytics.models.abnormal_behavior import AbnormalBehavior, AbnormalBehaviorConfig

SEGMENT_S = 5.0


def learned_model() -> tuple[AbnormalBehavior, uuid.UUID]:
    """A model and a camera whose baseline was learned from the plain learning footage."""
    model = AbnormalBehavior(AbnormalBehaviorConfig(loiter_s=behavior_scenes.SCENES["loiter_s"]))
    camera = uuid.uuid4()
    for sequence, segment in enumerate(split(behavior_scenes.learning(), SEGMENT_S)):
        model.analyze(segment, camera_id=camera, segment_sequence=sequence)
    return model, camera


def evaluate(names: list[str] | None = None) -> dict[str, float]:
    """Precision, recall and ms per 640×480 frame over the scenes (all, or those named)."""
    model, camera = learned_model()
    after = behavior_scenes.BEGAN + timedelta(seconds=behavior_scenes.SCENES["learn_s"])
    true = false = missed = frames = 0
    seconds = 0.0
    chosen = [s for s in behavior_scenes.SCENES["scenes"] if names is None or s["name"] in names]
    for number, recipe in enumerate(chosen):
        # Each scene after a pause longer than gap_reset_s: new tracks, same learned baseline.
        began = after + timedelta(seconds=(number + 1) * (model.config.gap_reset_s + 60) * 2)
        clip = behavior_scenes.render(recipe, began=began)
        started = time.perf_counter()
        shown: set[str] = set()
        for sequence, segment in enumerate(split(clip, SEGMENT_S)):
            shown |= {d.object_class for d in model.analyze(segment, camera_id=camera, segment_sequence=sequence)}
        seconds += time.perf_counter() - started
        frames += len(clip)
        expected = set(recipe["expected"])
        true += len(expected & shown)
        missed += len(expected - shown)
        false += len(shown - expected)
    return {
        "precision": true / (true + false) if true + false else 1.0,
        "recall": true / (true + missed) if true + missed else 1.0,
        "ms_per_frame": 1000 * seconds / max(1, frames),
        "scenes": float(len(chosen)),
    }
