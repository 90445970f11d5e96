"""Fire & smoke accuracy over tests/scenes/fire_smoke/scenes.json (for bench/accuracy.py).

A report is a true positive when a scene expects its class, it comes no earlier than the expected
frame and within the tolerance after it, its box overlaps the truth box, and that expectation was
not met already; every other report is a false positive. Recall is over the expectations. Scores
are also given per class (`fire_*`, `smoke_*`) since each is its own scene type.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.scenes.fire_smoke.footage import SET, scene
from tests.scenes.motion.footage import as_clip, frame_index

from vms.analytics.models.fire_smoke import FireSmoke, FireSmokeConfig


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def run(**overrides: Any) -> tuple[dict[str, float], dict[str, list[tuple[str, int, float]]]]:
    """Scores and what each scene reported (class, frame, score)."""
    tp = {"fire": 0, "smoke": 0}
    fp = {"fire": 0, "smoke": 0}
    expected = {"fire": 0, "smoke": 0}
    frames_total = 0
    elapsed = 0.0
    reported: dict[str, list[tuple[str, int, float]]] = {}
    for spec in SET["scenes"]:
        model = FireSmoke(FireSmokeConfig(**overrides))
        images, truth = scene(spec)
        clip = as_clip(images)
        started = time.perf_counter()
        found = model.analyze(clip, camera_id=uuid.uuid4(), segment_sequence=0)
        elapsed += time.perf_counter() - started
        frames_total += len(clip)
        reported[spec["name"]] = [(d.object_class, frame_index(d.frame_time), round(d.score, 3)) for d in found]
        open_ = list(spec["expect"])
        for e in open_:
            expected[e["class"]] += 1
        for d in found:
            i = frame_index(d.frame_time)
            match = next(
                (
                    e
                    for e in open_
                    if e["class"] == d.object_class
                    and e["from"] <= i <= e["from"] + SET["tolerance_frames"][e["class"]]
                    and _overlaps(d.box, truth[e["class"]])
                ),
                None,
            )
            if match is None:
                fp[d.object_class] += 1
            else:
                tp[d.object_class] += 1
                open_.remove(match)
    all_tp, all_fp, all_expected = sum(tp.values()), sum(fp.values()), sum(expected.values())
    scores = {
        "precision": all_tp / max(1, all_tp + all_fp),
        "recall": all_tp / max(1, all_expected),
        "ms_per_frame": 1000.0 * elapsed / max(1, frames_total),
        "scenes": float(len(reported)),
        "false_positives": float(all_fp),
    }
    for kind in ("fire", "smoke"):
        scores[f"{kind}_precision"] = tp[kind] / max(1, tp[kind] + fp[kind])
        scores[f"{kind}_recall"] = tp[kind] / max(1, expected[kind])
    return scores, reported


def evaluate() -> dict[str, float]:
    """Precision, recall and CPU ms per frame of fire & smoke detection."""
    return run()[0]


if __name__ == "__main__":
    print(run())
