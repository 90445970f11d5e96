"""Precision and recall of the tailgating model over the scenes of scenes.json (run by bench/accuracy.py).

Two levels: tailgating reports against the annotated number per scene (the customer's figure),
and entries — each hand-annotated entry matched by one model entry within 1 s — which says how
well the line crossings themselves are found. Scenes are fed as 3 s segments of one camera.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

from tests.scenes.fallen.scenes import split
from tests.scenes.tailgating import scenes as tailgating_scenes

from vms.analytics.models.tailgating import Tailgating, TailgatingConfig
from vms.analytics.plugin import Detection

SEGMENT_S = 3.0


def model_for(recipe: dict[str, Any]) -> Tailgating:
    """The model configured with the scenes' line and the scene's access window."""
    line = tuple(tuple(p) for p in tailgating_scenes.SCENES["line"])
    config = TailgatingConfig(
        line=line,  # type: ignore[arg-type]
        entry_from=tailgating_scenes.SCENES["entry_from"],
        access_window_s=recipe["window_s"],
    )
    return Tailgating(config)


def run_scene(recipe: dict[str, Any]) -> tuple[list[Detection], list[datetime], float, int]:
    """Reports, the instants the model counted entries at, seconds taken and frames of one scene."""
    model = model_for(recipe)
    clip = tailgating_scenes.render(recipe)
    entries: list[datetime] = []
    counting = model._window_for

    def spy(state: Any, at: datetime) -> Any:  # every entry the model counts passes through here
        entries.append(at)
        return counting(state, at)

    model._window_for = spy  # type: ignore[method-assign]
    camera = uuid.uuid4()
    started = time.perf_counter()
    found: list[Detection] = []
    for sequence, segment in enumerate(split(clip, SEGMENT_S)):
        found += model.analyze(segment, camera_id=camera, segment_sequence=sequence)
    return found, entries, time.perf_counter() - started, len(clip)


def evaluate(names: list[str] | None = None) -> dict[str, float]:
    """Precision and recall of reports and of entries, and ms per 640×480 frame."""
    true = false = missed = 0
    e_true = e_false = e_missed = frames = 0
    seconds = 0.0
    chosen = [s for s in tailgating_scenes.SCENES["scenes"] if names is None or s["name"] in names]
    for recipe in chosen:
        found, entries, took, count = run_scene(recipe)
        expected = recipe["tailgating"]
        true += min(expected, len(found))
        false += max(0, len(found) - expected)
        missed += max(0, expected - len(found))
        truth = tailgating_scenes.entry_times(recipe)
        unmatched = list(entries)
        for at in truth:
            near = [e for e in unmatched if abs((e - at).total_seconds()) <= 1.0]
            if near:
                unmatched.remove(near[0])
                e_true += 1
            else:
                e_missed += 1
        e_false += len(unmatched)
        seconds += took
        frames += count
    return {
        "precision": true / (true + false) if true + false else 1.0,
        "recall": true / (true + missed) if true + missed else 1.0,
        "entry_precision": e_true / (e_true + e_false) if e_true + e_false else 1.0,
        "entry_recall": e_true / (e_true + e_missed) if e_true + e_missed else 1.0,
        "ms_per_frame": 1000 * seconds / max(1, frames),
        "scenes": float(len(chosen)),
    }
