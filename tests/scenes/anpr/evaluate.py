"""ANPR accuracy over the composited plate scenes (discovered by bench/accuracy.py).

A reported plate is a true positive when its text equals the scene's plate and its box overlaps
the plate's true box in that frame; any other report (wrong text, a second report of the same
plate, text read off something that is not the plate) is a false positive. Recall counts the
scenes whose plate was reported correctly.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.scenes.anpr.footage import plate_scenes, scene_frames
from tests.scenes.motion.footage import as_clip, frame_index

from vms.analytics.models.anpr import Anpr, AnprConfig


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def run(config: AnprConfig | None = None) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Scores and, per scene, the plates reported (for test failure messages)."""
    model = Anpr(config)
    tp = fp = plates = found = frames_total = 0
    elapsed = 0.0
    reported: dict[str, list[str]] = {}
    for spec in plate_scenes():
        images, boxes = scene_frames(spec)
        clip = as_clip(images)
        started = time.perf_counter()
        detections = model.analyze(clip, camera_id=uuid.uuid4(), segment_sequence=0)
        elapsed += time.perf_counter() - started
        frames_total += len(clip)
        reported[spec["name"]] = [str(d.attributes["plate"]) for d in detections]
        hit = False
        for d in detections:
            i = frame_index(d.frame_time)
            good = (
                spec["text"] is not None
                and d.attributes["plate"] == spec["text"]
                and not hit
                and _overlaps(d.box, boxes[i])
            )
            tp += good
            fp += not good
            hit = hit or good
        plates += spec["text"] is not None
        found += hit
    scores = {
        "precision": tp / max(1, tp + fp),
        "recall": found / max(1, plates),
        "ms_per_frame": 1000.0 * elapsed / max(1, frames_total),
        "scenes": float(len(reported)),
        "plates": float(plates),
        "false_positives": float(fp),
    }
    return scores, reported


def evaluate() -> dict[str, float]:
    """Precision, recall and CPU ms per frame of ANPR over tests/scenes/anpr/plates.json."""
    return run()[0]


def details() -> dict[str, Any]:
    """Scores plus what was read per scene, for a human looking at a shortfall."""
    scores, reported = run()
    return {"scores": scores, "reported": reported}


if __name__ == "__main__":
    print(details())
