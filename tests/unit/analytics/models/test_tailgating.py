"""Tailgating on real pedestrians crossing a drawn entry line, crossings annotated by hand (tests/scenes/tailgating)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from pydantic import ValidationError

from tests.scenes.fallen.scenes import split
from tests.scenes.tailgating import evaluate, scenes
from vms.analytics.models.tailgating import AccessGrant, Tailgating, TailgatingConfig, crossed
from vms.analytics.plugin import REGISTRY
from vms.kernel.ai_models import MODEL_SPECS, AiModel
from vms.kernel.priority import Priority

DOWN = ((0.5, 0.0), (0.5, 1.0))  # a line drawn top to bottom


def test_tailgating_is_registered_with_the_table_defaults() -> None:
    assert REGISTRY[AiModel.TAILGATING] is Tailgating
    assert Tailgating.spec is MODEL_SPECS[AiModel.TAILGATING] and Tailgating.default_priority is Priority.MEDIUM


def test_crossings_have_a_direction_and_need_the_segment() -> None:
    assert crossed((0.6, 0.5), (0.4, 0.5), DOWN) == 1  # right half of the picture to the left: from the line's left
    assert crossed((0.4, 0.5), (0.6, 0.5), DOWN) == -1
    assert crossed((0.6, 0.5), (0.55, 0.5), DOWN) == 0  # not across
    short = ((0.5, 0.0), (0.5, 0.3))
    assert crossed((0.6, 0.5), (0.4, 0.5), short) == 0  # passes beside the end of the line


def test_two_people_entering_within_one_window_are_reported_once() -> None:
    recipe = scenes.scene("pair-2s")
    found, entries, _, _ = evaluate.run_scene(recipe)
    truth = scenes.entry_times(recipe)
    assert len(entries) == 2 and all(abs((e - t).total_seconds()) <= 1.0 for e, t in zip(entries, truth, strict=True))
    assert len(found) == 1
    d = found[0]
    assert d.model is AiModel.TAILGATING and d.object_class == "tailgating"
    assert d.attributes["entries"] == 2 and d.attributes["allowed"] == 1 and not d.attributes["accessEvent"]
    assert len(set(d.attributes["trackIds"])) == 2


@pytest.mark.parametrize("name", ["pair-2s-short-window", "single", "exits-only", "empty"])
def test_single_entries_exits_and_short_windows_are_not_tailgating(name: str) -> None:
    found, _, _, _ = evaluate.run_scene(scenes.scene(name))
    assert found == []


def test_an_access_event_for_two_admits_both() -> None:
    recipe = scenes.scene("pair-2s")
    clip = scenes.render(recipe)
    config = evaluate.model_for(recipe).config
    camera = uuid.uuid4()
    hooked = Tailgating(config)
    hooked.grant_access(camera, clip.timestamps[0] + timedelta(seconds=2), persons=2)
    assert [d for seg in split(clip, 3.0) for d in hooked.analyze(seg, camera_id=camera, segment_sequence=0)] == []
    # The same grant given in the config, for one person: the second entry is reported against it.
    listed = Tailgating(config.model_copy(update={"access_grants": [AccessGrant(at=clip.timestamps[20], persons=1)]}))
    found = [d for seg in split(clip, 3.0) for d in listed.analyze(seg, camera_id=camera, segment_sequence=0)]
    assert len(found) == 1 and found[0].attributes["accessEvent"] and found[0].attributes["allowed"] == 1


def test_config_bounds_are_enforced() -> None:
    with pytest.raises(ValidationError):
        TailgatingConfig(access_window_s=0)
    with pytest.raises(ValidationError):
        TailgatingConfig(entry_from="up")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        AccessGrant.model_validate({"at": "2026-03-02T12:00:00Z", "persons": -1})


@pytest.mark.slow
def test_accuracy_over_every_scene() -> None:
    figures = evaluate.evaluate()
    assert figures["precision"] >= 0.9 and figures["recall"] >= 0.8, figures
