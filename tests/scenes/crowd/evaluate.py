"""Precision and recall of crowd detection at thresholds around hand-counted vtest frames (bench/accuracy.py).

Truth: the hand-drawn person boxes of tests/scenes/intrusion/vtest.json, counted per frame (n).
For each annotated frame the model first sees the 2 s before it (one segment: its background
model learns, so the density fallback is live; frame 0 has none), then the frame alone as the next segment, twice:
with max_people = n − 2 it must report a crowd (n people is over the limit by 2), with
max_people = n + 1 it must not. min_duration_s is 0: the count itself is what is scored.
"""

from __future__ import annotations

import time
import uuid

from tests.scenes.intrusion import footage

from vms.analytics.models.crowd import Crowd, CrowdConfig

LEAD = 20  # frames before the annotated one


def evaluate() -> dict[str, float]:
    """Precision, recall and ms per 640×480 frame over the annotated frames × two thresholds."""
    truth = footage.ground_truth()
    true = false = missed = analysed = 0
    seconds = 0.0
    for index, people in sorted(truth.items()):
        start = max(0, index - LEAD)
        for limit, crowded in ((len(people) - 2, True), (len(people) + 1, False)):
            config = CrowdConfig(max_people=max(0, limit), min_duration_s=0.0, detect_every=1)
            model, camera = Crowd(config), uuid.uuid4()
            at = footage.clip(index, 1).timestamps[0]
            started = time.perf_counter()
            if index > start:  # frame 0 has nothing before it: the detector count alone decides
                lead = footage.clip(start, index - start)
                model.analyze(lead, camera_id=camera, segment_sequence=0)
                at = lead.timestamps[-1] + (lead.timestamps[1] - lead.timestamps[0])
                analysed += len(lead)
            last = footage.clip(index, 1, started_at=at)
            reported = bool(model.analyze(last, camera_id=camera, segment_sequence=1))
            seconds += time.perf_counter() - started
            analysed += 1
            true += int(reported and crowded)
            false += int(reported and not crowded)
            missed += int(crowded and not reported)
    return {
        "precision": true / (true + false) if true + false else 1.0,
        "recall": true / (true + missed) if true + missed else 1.0,
        "ms_per_frame": 1000 * seconds / max(1, analysed),
        "scenes": float(2 * len(truth)),
    }
