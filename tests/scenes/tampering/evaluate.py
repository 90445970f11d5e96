"""Precision and recall of camera tampering over the manipulated vtest scenes (bench/accuracy.py).

The same scenes as tests/unit/analytics/models/test_tampering.py (vtest_manipulations.json and the
manipulations implemented there): at each offset the model learns its reference from plain
frames, then every manipulation is applied from `onset` on. Scored per scene and class: an
expected class reported at or after onset is a hit, one missing a miss, any other class reported
(or one before onset) a false alarm.
"""

from __future__ import annotations

import copy
import time
import uuid

import numpy as np
from tests.scenes.motion.footage import as_clip, frame_index, frames
from tests.unit.analytics.models.test_tampering import COUNT, LEARN, MANIPULATIONS, ONSET, SET

from vms.analytics.models.tampering import CameraTampering


def evaluate() -> dict[str, float]:
    """Precision, recall and ms per 640×480 frame over every offset × manipulation."""
    true = false = missed = analysed = 0
    seconds = 0.0
    for offset in SET["offsets"]:
        footage = frames(offset, LEARN + COUNT)
        model, camera = CameraTampering(), uuid.uuid4()
        false += len(model.analyze(as_clip(footage[:LEARN]), camera_id=camera, segment_sequence=0))
        learnt = copy.deepcopy(model._cameras[camera])
        for name, spec in SET["manipulations"].items():
            model._cameras[camera] = copy.deepcopy(learnt)
            test = footage[LEARN:].copy()
            test[ONSET:] = np.stack([MANIPULATIONS[name](f) for f in test[ONSET:]])
            started = time.perf_counter()
            found = model.analyze(as_clip(test, first_index=LEARN), camera_id=camera, segment_sequence=1)
            seconds += time.perf_counter() - started
            analysed += len(test)
            shown = {d.object_class for d in found if frame_index(d.frame_time, first_index=LEARN) >= ONSET}
            early = any(frame_index(d.frame_time, first_index=LEARN) < ONSET for d in found)
            expected = set(spec["expected"])
            true += len(expected & shown)
            missed += len(expected - shown)
            false += len(shown - expected) + int(early)
    return {
        "precision": true / (true + false) if true + false else 1.0,
        "recall": true / (true + missed) if true + missed else 1.0,
        "ms_per_frame": 1000 * seconds / max(1, analysed),
        "scenes": float(len(SET["offsets"]) * len(SET["manipulations"])),
    }
