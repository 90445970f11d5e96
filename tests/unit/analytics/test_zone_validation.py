"""Zone polygons (`detect.zones.Polygon`) are refused at configuration unless they are a real area
inside the frame: a line, a dot, too few points or points off the frame made every intrusion job
fail later (empty tile crops), so they must never reach a model."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from vms.analytics.detect.zones import MAX_POINTS, area
from vms.analytics.models.abnormal_behavior import AbnormalBehaviorConfig
from vms.analytics.models.crowd import CrowdConfig
from vms.analytics.models.fallen import FallenConfig
from vms.analytics.models.intrusion import IntrusionConfig

SQUARE = [(0.2, 0.2), (0.6, 0.2), (0.6, 0.6), (0.2, 0.6)]

# Each bad zone and a piece of the message that says what is wrong with it.
BAD: list[tuple[str, Any, str]] = [
    ("a line", [(0.5, 0.2), (0.5, 0.6), (0.5, 0.9)], "on a line"),
    ("no points", [], "at least 3 points"),
    ("two points", [(0.1, 0.1), (0.9, 0.9)], "at least 3 points"),
    ("a speck", [(0.5, 0.5), (0.505, 0.5), (0.5, 0.505)], "too close together"),
    ("off the right edge", [(0.5, 0.2), (1.2, 0.2), (1.2, 0.6)], "outside the frame"),
    ("above the top", [(0.1, -0.1), (0.9, 0.1), (0.5, 0.5)], "outside the frame"),
    ("not a number", [(0.1, 0.1), (float("nan"), 0.5), (0.5, 0.5)], "outside the frame"),
    ("too many points", [(0.5 + 0.4 * (i % 2), i / 100) for i in range(MAX_POINTS + 1)], f"at most {MAX_POINTS}"),
]


def _refusal(config: type[BaseModel], **fields: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        config(**fields)
    return str(caught.value)


@pytest.mark.parametrize("config", [IntrusionConfig, FallenConfig, AbnormalBehaviorConfig])
@pytest.mark.parametrize(("what", "zone", "says"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_zone_is_refused_naming_the_field(config: type[BaseModel], what: str, zone: Any, says: str) -> None:
    message = _refusal(config, zones=[SQUARE, zone])
    assert "zones.1" in message  # the field and which of its polygons
    assert says in message


@pytest.mark.parametrize(("what", "zone", "says"), [b for b in BAD if b[0] != "no points"], ids=lambda v: v)
def test_crowds_single_zone_is_checked_the_same_way(what: str, zone: Any, says: str) -> None:
    message = _refusal(CrowdConfig, zone=zone)
    assert "zone" in message
    assert says in message


def test_real_zones_and_the_whole_frame_are_accepted() -> None:
    assert IntrusionConfig(zones=[SQUARE]).zones == [SQUARE]
    assert IntrusionConfig(zones=[]).zones == []  # no zones: the whole frame
    assert CrowdConfig(zone=[]).zone == []  # crowd's empty zone: the whole frame
    edge = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]  # the frame's own corners are inside it
    assert FallenConfig(zones=[edge]).zones == [edge]
    # JSON arrives as lists of lists: they are read as points.
    parsed = IntrusionConfig.model_validate_json('{"zones": [[[0.2, 0.2], [0.6, 0.2], [0.6, 0.6]]]}')
    assert parsed.zones == [[(0.2, 0.2), (0.6, 0.2), (0.6, 0.6)]]


def test_area_is_the_share_of_the_frame() -> None:
    assert area(SQUARE) == pytest.approx(0.16)
    assert area(list(reversed(SQUARE))) == pytest.approx(0.16)  # either winding
    assert area([(0.5, 0.2), (0.5, 0.6), (0.5, 0.9)]) == pytest.approx(0.0, abs=1e-12)
