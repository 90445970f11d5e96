"""Precision and recall of the fallen-person model over the scenes of scenes.json (run by bench/accuracy.py).

A fall scene is found when a report overlaps the lying person (IoU ≥ 0.3) at or after the moment
they are down; every other report (a standing, stumbling or walking person, or a second report of
the same fall in one segment) is a false alarm. Scenes are fed as 3 s segments of one camera.
"""

from __future__ import annotations

import time
import uuid

from tests.scenes.fallen import scenes as fallen_scenes

from vms.analytics.detect import iou
from vms.analytics.models.fallen import Fallen, FallenConfig
from vms.analytics.plugin import Detection

SEGMENT_S = 3.0


def run_scene(model: Fallen, rendered: fallen_scenes.Rendered) -> tuple[list[Detection], float]:
    """The model's reports over one rendered scene, and the seconds it took."""
    camera = uuid.uuid4()
    started = time.perf_counter()
    found: list[Detection] = []
    for sequence, segment in enumerate(fallen_scenes.split(rendered.clip, SEGMENT_S)):
        found += model.analyze(segment, camera_id=camera, segment_sequence=sequence)
    return found, time.perf_counter() - started


def score(rendered: fallen_scenes.Rendered, found: list[Detection]) -> tuple[int, int, int]:
    """(true alarms, false alarms, missed falls) of one scene; one fall counts once however often it is reported."""
    if not rendered.fallen:
        return 0, len({(d.segment_sequence, d.track_id) for d in found}), 0
    assert rendered.lying_box is not None and rendered.down_at is not None
    hits = [d for d in found if iou(d.box, rendered.lying_box) >= 0.3 and d.frame_time >= rendered.down_at]
    false = [d for d in found if d not in hits]
    return (1 if hits else 0), len(false), (0 if hits else 1)


def evaluate(names: list[str] | None = None) -> dict[str, float]:
    """Precision, recall and ms per 640×480 frame over the scenes (all, or those named)."""
    model = Fallen(FallenConfig())
    true = false = missed = frames = 0
    seconds = 0.0
    chosen = [s for s in fallen_scenes.SCENES["scenes"] if names is None or s["name"] in names]
    for recipe in chosen:
        rendered = fallen_scenes.render(recipe)
        found, took = run_scene(model, rendered)
        t, f, m = score(rendered, found)
        true, false, missed = true + t, false + f, missed + m
        frames += len(rendered.clip)
        seconds += took
    return {
        "precision": true / (true + false) if true + false else 1.0,
        "recall": true / (true + missed) if true + missed else 1.0,
        "ms_per_frame": 1000 * seconds / max(1, frames),
        "scenes": float(len(chosen)),
        "falls": float(true + missed),
        "false_alarms": float(false),
    }
