"""Missing/abandoned object accuracy over tests/scenes/missing_object/scenes.json (for bench/accuracy.py).

A report is a true positive when a scene expects its class, it comes no earlier than the expected
frame and within the tolerance after it, its box overlaps the object, and that expectation was not
met already; every other report is a false positive. Recall is over the expectations.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.scenes.missing_object.footage import SET, region, scene_frames, truth_box
from tests.scenes.motion.footage import as_clip, frame_index

from vms.analytics.models.missing_object import MissingObject, MissingObjectConfig


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def config_for(spec: dict[str, Any], **overrides: Any) -> MissingObjectConfig:
    """The scene's configuration: its guarded region and the set's shortened durations."""
    after = SET["after_s"]
    return MissingObjectConfig(regions=region(spec), missing_after_s=after, abandoned_after_s=after, **overrides)


def run(**overrides: Any) -> tuple[dict[str, float], dict[str, list[tuple[str, int]]]]:
    """Scores and what each scene reported (class, frame)."""
    tp = fp = expected = frames_total = 0
    elapsed = 0.0
    reported: dict[str, list[tuple[str, int]]] = {}
    for spec in SET["scenes"]:
        model = MissingObject(config_for(spec, **overrides))
        clip = as_clip(scene_frames(spec))
        started = time.perf_counter()
        found = model.analyze(clip, camera_id=uuid.uuid4(), segment_sequence=0)
        elapsed += time.perf_counter() - started
        frames_total += len(clip)
        reported[spec["name"]] = [(d.object_class, frame_index(d.frame_time)) for d in found]
        open_ = list(spec["expect"])
        expected += len(open_)
        truth = truth_box(spec)
        for d in found:
            i = frame_index(d.frame_time)
            match = next(
                (
                    e
                    for e in open_
                    if e["class"] == d.object_class
                    and e["from"] <= i <= e["from"] + SET["tolerance_frames"]
                    and truth is not None
                    and _overlaps(d.box, truth)
                ),
                None,
            )
            if match is None:
                fp += 1
            else:
                tp += 1
                open_.remove(match)
    scores = {
        "precision": tp / max(1, tp + fp),
        "recall": tp / max(1, expected),
        "ms_per_frame": 1000.0 * elapsed / max(1, frames_total),
        "scenes": float(len(reported)),
        "false_positives": float(fp),
    }
    return scores, reported


def evaluate() -> dict[str, float]:
    """Precision, recall and CPU ms per frame of missing/abandoned object detection."""
    return run()[0]


if __name__ == "__main__":
    print(run())
