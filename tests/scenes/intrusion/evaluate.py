"""Precision and recall of the intrusion model's person finding over the hand-annotated vtest frames.

Run by bench/accuracy.py. The annotation (vtest.json) is per-frame person boxes, not intrusion
events, so this measures the stage intrusion (and crowd, fallen, tailgating, abnormal behaviour)
stand on: the model's own person finding, as configured by default, against the hand-drawn boxes
(a match is IoU ≥ 0.5, each annotated box matched once). The model sees each annotated frame as
the last of a clip of the `CONTEXT` source frames before it (the first frame: the clip after it),
as a worker sees a segment: the tiles it runs depend on what moves in the clip.

The previous default — 2×2 tiles over the whole frame on every detection frame — is measured on
the same frames in the same run (`baseline_*`), alternating with the default frame by frame so
that the machine's load weighs on both alike; `cost_ratio` is the default's time over it.
"""

from __future__ import annotations

import time

import numpy as np
from tests.scenes.intrusion import footage

from vms.analytics.detect import Box, iou
from vms.analytics.models.intrusion import Intrusion, IntrusionConfig

CONTEXT = 30  # source frames (3 s at 10 fps) before an annotated frame in its clip

Clip = tuple[int, np.ndarray, int]  # annotated frame index, the clip's frames, its position in the clip


def clips() -> list[Clip]:
    """Each annotated frame with the clip that ends at it (or, at the very start, begins with it)."""
    out = []
    for index in sorted(footage.ground_truth()):
        start = max(0, index - CONTEXT)
        out.append((index, footage.frames(list(range(start, start + CONTEXT + 1))), index - start))
    return out


def _count(truth: list[tuple[float, float, float, float]], boxes: list[Box]) -> tuple[int, int, int]:
    """(true, false, missed) for one frame."""
    left = list(truth)
    true = false = 0
    for box in boxes:
        best = max(left, key=lambda t: iou(t, box.xywh), default=None)
        if best is not None and iou(best, box.xywh) >= 0.5:
            left.remove(best)
            true += 1
        else:
            false += 1
    return true, false, len(left)


def evaluate() -> dict[str, float]:
    """Box precision and recall at IoU ≥ 0.5 and ms per 640×480 detection frame, default and baseline."""
    truth = footage.ground_truth()
    models = {
        "": Intrusion(IntrusionConfig()),
        "baseline_": Intrusion(IntrusionConfig(tiles=2, tiles_where_needed=False)),
    }
    counts = {name: np.zeros(3, int) for name in models}
    took = dict.fromkeys(models, 0.0)
    every = clips()
    for index, frames, position in every:
        for name, model in models.items():
            started = time.perf_counter()
            (boxes,) = model.find_people(frames, [position])
            took[name] += time.perf_counter() - started
            counts[name] += _count(truth[index], boxes)
    figures: dict[str, float] = {"scenes": float(len(every))}
    for name, (true, false, missed) in counts.items():
        figures[f"{name}precision"] = true / (true + false) if true + false else 1.0
        figures[f"{name}recall"] = true / (true + missed) if true + missed else 1.0
        figures[f"{name}ms_per_frame"] = 1000 * took[name] / len(every)
    figures["cost_ratio"] = took[""] / max(took["baseline_"], 1e-9)
    return figures
