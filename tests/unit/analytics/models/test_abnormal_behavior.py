"""Loitering, running and erratic motion on real vtest footage replayed with a known truth.

Scenes and truth: tests/scenes/abnormal_behavior.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from tests.scenes.abnormal_behavior import evaluate, scenes
from tests.scenes.fallen.scenes import split
from vms.analytics.detect import Box
from vms.analytics.models.abnormal_behavior import AbnormalBehavior, AbnormalBehaviorConfig, turning_rate
from vms.analytics.plugin import REGISTRY, Detection
from vms.kernel.ai_models import MODEL_SPECS, AiModel
from vms.kernel.priority import Priority
from vms.media.normalize import NormalizedClip, NormalizeSpec, SourceInfo

# Shorter cuts of the annotated scene kinds (scenes.json), so these tests stay quick: the full
# scenes run in test_accuracy_over_every_scene and bench/accuracy.py.
WALK = {"order": "plain", "start": 300, "seconds": 10}
PACING = {"order": "pingpong", "period": 40, "start": 250, "seconds": 12}


def _shown(
    model: AbnormalBehavior, recipe: dict[str, Any], camera: uuid.UUID | None = None, began: datetime = scenes.BEGAN
) -> dict[str, list[Detection]]:
    clip = scenes.render(recipe, began=began)
    out: dict[str, list[Detection]] = {}
    camera = camera or uuid.uuid4()  # one camera for every segment of the clip
    for sequence, segment in enumerate(split(clip, 5.0)):
        for d in model.analyze(segment, camera_id=camera, segment_sequence=sequence):
            out.setdefault(d.object_class, []).append(d)
    return out


def test_abnormal_behavior_is_registered_with_the_table_defaults() -> None:
    assert REGISTRY[AiModel.ABNORMAL_BEHAVIOR] is AbnormalBehavior
    assert AbnormalBehavior.default_priority is Priority.HIGH
    assert AbnormalBehavior.spec is MODEL_SPECS[AiModel.ABNORMAL_BEHAVIOR]


def test_people_moving_four_times_faster_are_running_and_walking_is_not() -> None:
    model = AbnormalBehavior(AbnormalBehaviorConfig(behaviors=["running"]))
    camera = uuid.uuid4()
    fast = _shown(model, scenes.scene("run-100"), camera)
    assert fast.get("running"), fast
    for d in fast["running"]:
        assert d.model is AiModel.ABNORMAL_BEHAVIOR and d.track_id
        assert d.attributes["heightsPerSecond"] > model.config.running_speed
    assert _shown(model, WALK) == {}


def test_a_person_pacing_in_view_loiters_once_the_dwell_is_over() -> None:
    config = AbnormalBehaviorConfig(behaviors=["loitering"], loiter_s=8)
    found = _shown(AbnormalBehavior(config), PACING)
    assert found.get("loitering")
    assert all(d.attributes["dwellSeconds"] > config.loiter_s for d in found["loitering"])
    # A zone where nobody walks: the same pacing is not loitering there.
    sky = [(0.0, 0.0), (1.0, 0.0), (1.0, 0.05), (0.0, 0.05)]
    assert _shown(AbnormalBehavior(config.model_copy(update={"zones": [sky]})), PACING) == {}


def test_erratic_motion_is_judged_only_against_a_learned_baseline() -> None:
    fresh = AbnormalBehavior(AbnormalBehaviorConfig(behaviors=["erratic"]))
    camera = uuid.uuid4()
    assert _shown(fresh, scenes.scene("erratic-720"), camera) == {}  # still learning what is normal here
    assert fresh.baseline(camera)[1] is None
    model, learned = evaluate.learned_model()
    count, threshold = model.baseline(learned)
    assert count >= model.config.baseline_min and threshold is not None and threshold >= 200.0
    later = scenes.BEGAN + timedelta(hours=1)  # a new tracker, the same baseline
    erratic = _shown(model, scenes.scene("erratic-720"), learned, later)
    assert erratic.get("erratic") and all(d.attributes["degreesPerSecond"] > threshold for d in erratic["erratic"])
    assert "erratic" not in _shown(model, WALK, learned, later + timedelta(hours=1))


def test_turning_rate_counts_reversals_not_jitter() -> None:
    straight = [(t * 0.2, 10.0 * t, 100.0, 60.0) for t in range(10)]
    assert turning_rate(straight) == 0.0
    back_and_forth = [(t * 0.2, 10.0 * (t % 4 if t % 8 < 4 else 4 - t % 4), 100.0, 60.0) for t in range(16)]
    # 0 → 40 px → 0 → 40 → 0 over 3 s: three half-turns of 180° in 3 s.
    assert turning_rate(back_and_forth) == pytest.approx(180.0)
    jitter = [(t * 0.2, 100.0 + (t % 2), 100.0 - (t % 2), 60.0) for t in range(10)]  # 1 px of box noise
    assert turning_rate(jitter) == 0.0


def test_config_bounds_are_enforced() -> None:
    with pytest.raises(ValidationError):
        AbnormalBehaviorConfig(behaviors=[])
    with pytest.raises(ValidationError):
        AbnormalBehaviorConfig(behaviors=["dancing"])  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        AbnormalBehaviorConfig(running_speed=0)
    with pytest.raises(ValidationError):
        AbnormalBehaviorConfig(dwell_carry_s=60)
    with pytest.raises(ValidationError):
        AbnormalBehaviorConfig(dwell_carry_similarity=1.5)


RED, BLUE = (200, 30, 30), (30, 30, 200)


class _Scripted:
    """A person detector that reports the boxes painted into each frame (found by their colour)."""

    def detect(self, frames: np.ndarray) -> list[list[Box]]:
        out: list[list[Box]] = []
        for frame in frames:
            ys, xs = np.nonzero((frame != 128).any(axis=2))
            height, width = frame.shape[:2]
            if len(xs) == 0:
                out.append([])
                continue
            box = (
                xs.min() / width,
                ys.min() / height,
                (xs.max() + 1 - xs.min()) / width,
                (ys.max() + 1 - ys.min()) / height,
            )
            out.append([Box(*box, score=0.9, label="person")])
        return out


def _standing(script: list[tuple[float, float, tuple[int, int, int] | None]]) -> list[NormalizedClip]:
    """5 s segments at 10 fps of a grey scene where a 40×100 px person of a colour stands on one spot
    (swaying a few pixels) during each (from_s, to_s, colour) of `script`; None is nobody."""
    end = max(to for _, to, _ in script)
    frames = int(end * 10)
    images = np.full((frames, 480, 640, 3), 128, np.uint8)
    for i in range(frames):
        for begin, to, colour in script:
            if colour is not None and begin <= i / 10 < to:
                x = 300 + (i % 6)
                images[i, 200:300, x : x + 40] = colour
    stamps = [scenes.BEGAN + timedelta(seconds=i / 10) for i in range(frames)]
    return [
        NormalizedClip(
            frames=images[i : i + 50],
            timestamps=stamps[i : i + 50],
            source=SourceInfo(codec="h264", width=640, height=480, fps=10.0, frames_decoded=50),
            spec=NormalizeSpec(),
        )
        for i in range(0, frames, 50)
    ]


def _loitering(script: list[tuple[float, float, tuple[int, int, int] | None]], **config: Any) -> list[Detection]:
    # track_lost_steps=1: a sighting missing for two steps ends the track, so a short gap makes
    # the tracker start a new id for the same person (as it does when people turn back or cross).
    model = AbnormalBehavior(
        AbnormalBehaviorConfig(**{"behaviors": ["loitering"], "loiter_s": 5, "track_lost_steps": 1, **config})
    )
    model.detector = _Scripted()  # type: ignore[assignment]
    camera = uuid.uuid4()
    return [
        d for n, clip in enumerate(_standing(script)) for d in model.analyze(clip, camera_id=camera, segment_sequence=n)
    ]


def test_a_person_whose_track_id_switches_keeps_their_dwell() -> None:
    # 4 s, lost for 0.4 s (a new track id), 4.6 s more: neither track alone dwells 5 s.
    script = [(0.0, 4.0, RED), (4.0, 4.4, None), (4.4, 9.0, RED)]
    found = _loitering(script)
    assert found and found[0].attributes["dwellSeconds"] > 5
    first_ids = {d.track_id for d in _loitering([(0.0, 4.0, RED)], loiter_s=1)}
    assert found[0].track_id not in first_ids  # reported on the second track, with the first one's dwell
    assert _loitering(script, dwell_carry_s=0) == []  # without the carry-over each track restarts


def test_people_one_after_another_are_not_summed() -> None:
    # The same spot and look, but 3 s apart: longer than dwell_carry_s, two visits.
    assert _loitering([(0.0, 4.0, RED), (4.0, 7.0, None), (7.0, 11.5, RED)]) == []
    # Right after, but someone else (other clothes): not the same person's dwell.
    assert _loitering([(0.0, 4.0, RED), (4.0, 4.4, None), (4.4, 9.0, BLUE)]) == []


@pytest.mark.slow
def test_accuracy_over_every_scene() -> None:
    figures = evaluate.evaluate()
    assert figures["precision"] >= 0.8 and figures["recall"] >= 0.7, figures
