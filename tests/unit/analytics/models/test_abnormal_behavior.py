"""Loitering, running and erratic motion on real vtest footage replayed with a known truth.

Scenes and truth: tests/scenes/abnormal_behavior.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from tests.scenes.abnormal_behavior import evaluate, scenes
from tests.scenes.fallen.scenes import split
from vms.analytics.models.abnormal_behavior import AbnormalBehavior, AbnormalBehaviorConfig, turning_rate
from vms.analytics.plugin import REGISTRY, Detection
from vms.kernel.ai_models import MODEL_SPECS, AiModel
from vms.kernel.priority import Priority

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


@pytest.mark.slow
def test_accuracy_over_every_scene() -> None:
    figures = evaluate.evaluate()
    assert figures["precision"] >= 0.8 and figures["recall"] >= 0.7, figures
