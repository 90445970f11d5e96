"""Precision and recall of the intrusion model's person finding over the hand-annotated vtest frames.

Run by bench/accuracy.py. The annotation (vtest.json) is per-frame person boxes, not intrusion
events, so this measures the stage intrusion (and crowd, fallen, tailgating, abnormal behaviour)
stand on: the model's own detector, as configured by default, against the hand-drawn boxes (a
match is IoU ≥ 0.5, each annotated box matched once).
"""

from __future__ import annotations

import time

from tests.scenes.intrusion import footage

from vms.analytics.detect import iou
from vms.analytics.models.intrusion import Intrusion, IntrusionConfig


def evaluate() -> dict[str, float]:
    """Box precision and recall at IoU ≥ 0.5, and ms per 640×480 frame of the detector."""
    model = Intrusion(IntrusionConfig())
    truth = footage.ground_truth()
    indices = sorted(truth)
    images = footage.frames(indices)
    started = time.perf_counter()
    found = model.detector.detect(images)
    took = time.perf_counter() - started
    true = false = missed = 0
    for index, boxes in zip(indices, found, strict=True):
        left = list(truth[index])
        for box in boxes:
            best = max(left, key=lambda t: iou(t, box.xywh), default=None)
            if best is not None and iou(best, box.xywh) >= 0.5:
                left.remove(best)
                true += 1
            else:
                false += 1
        missed += len(left)
    return {
        "precision": true / (true + false) if true + false else 1.0,
        "recall": true / (true + missed) if true + missed else 1.0,
        "ms_per_frame": 1000 * took / len(indices),
        "scenes": float(len(indices)),
    }
