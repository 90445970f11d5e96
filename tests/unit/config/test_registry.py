"""The parameter registry: every parameter of requirements §8 declared once, with bounds, a valid
default, the levels that may set it and its criticality; model defaults from the §7 table."""

from __future__ import annotations

import pytest

from tests.unit.config.conftest import CONFIG
from vms.config.registry import EVENT_TYPES, PARAMETERS, Level, QuietHours, check_constraints, parameter
from vms.config.resolve import defaults
from vms.kernel.ai_models import MODEL_SPECS, AiModel
from vms.kernel.errors import ValidationFailed

REQUIRED = [
    "video.segment_seconds",
    "video.overlap_seconds",
    "video.normalize.width",
    "video.normalize.height",
    "video.normalize.fps",
    "video.normalize.fit",
    "video.buffer_segments",
    "recording.mode",
    "recording.pre_s",
    "recording.post_s",
    "recording.buffer_minutes",
    "recording.schedule",
    "recording.motion.sensitivity",
    "recording.motion.min_area",
    "recording.motion.fps",
    "recording.cloud_upload",
    "recording.edge_buffer_hours",
    "recording.auto_backfill",
    "recording.auto_backfill_min_outage_s",
    "retention.days",
    "retention.event_days",
    "retention.evidence_days",
    "notifications.quiet_hours",
    "notifications.escalation_minutes",
]
MODEL_FIELDS = [
    "priority",
    "confidence_threshold",
    "min_height",
    "min_bitrate_kbps",
    "min_duration_s",
    "overlap_s",
    "enabled_by_default",
]


def test_every_required_parameter_is_declared_once():
    expected = set(REQUIRED)
    expected |= {f"models.{m.value}.{f}" for m in AiModel for f in MODEL_FIELDS}
    expected |= {f"notifications.channels.{e}" for e in EVENT_TYPES}
    assert set(PARAMETERS) == expected
    assert len(PARAMETERS) == len(REQUIRED) + 10 * len(MODEL_FIELDS) + len(EVENT_TYPES)


@pytest.mark.parametrize("key", sorted(PARAMETERS))
def test_each_parameter_is_described_bounded_and_has_a_valid_default(key):
    param = PARAMETERS[key]
    assert param.description.endswith(".") and param.bounds and param.levels
    assert param.levels <= {Level.SYSTEM, Level.CUSTOMER, Level.SITE, Level.CAMERA}
    assert param.validate(param.default) == param.default_json
    assert defaults()[key].level is Level.DEFAULT


@pytest.mark.parametrize("model", list(AiModel))
def test_model_defaults_come_from_the_model_table(model):
    spec = MODEL_SPECS[model]
    p = f"models.{model.value}"
    assert PARAMETERS[f"{p}.priority"].default_json == spec.default_priority.value
    assert PARAMETERS[f"{p}.min_height"].default_json == spec.min_height
    assert PARAMETERS[f"{p}.min_bitrate_kbps"].default_json == spec.min_bitrate_kbps
    assert PARAMETERS[f"{p}.min_duration_s"].default_json == spec.min_duration_s
    assert PARAMETERS[f"{p}.overlap_s"].default_json == spec.overlap_s
    # Stream requirements are the provider's to tune; thresholds and priorities go down to cameras.
    assert PARAMETERS[f"{p}.min_height"].levels == {Level.SYSTEM}
    assert Level.CAMERA in PARAMETERS[f"{p}.confidence_threshold"].levels
    assert Level.CAMERA not in PARAMETERS[f"{p}.enabled_by_default"].levels


def test_hot_path_parameters_are_critical_and_bookkeeping_ones_are_not():
    critical = {k for k, p in PARAMETERS.items() if p.critical}
    assert {"video.segment_seconds", "models.fire_smoke.priority", "models.anpr.confidence_threshold"} <= critical
    assert not {"retention.days", "notifications.quiet_hours", "models.anpr.min_height"} & critical


def test_validation_normalises_to_the_stored_form():
    assert parameter("video.segment_seconds").validate(4) == 4.0
    assert parameter("models.crowd.priority").validate("HIGH") == "HIGH"
    assert parameter("notifications.channels.fallen").validate(["sms", "sms", "email"]) == ["sms", "email"]
    quiet = parameter("notifications.quiet_hours")
    stored = quiet.validate({"start": "22:00", "end": "06:00"})
    assert stored == {"start": "22:00", "end": "06:00", "timezone": "UTC"}
    assert quiet.parse(stored) == QuietHours(start="22:00", end="06:00")
    assert quiet.validate(None) is None


@pytest.mark.parametrize("value", [True, "5", None, [5], 10.01])
def test_numbers_are_strict(value):
    with pytest.raises(ValidationFailed) as caught:
        parameter("video.segment_seconds").validate(value)
    assert "video.segment_seconds" in caught.value.detail and "1–10 s" in caught.value.detail
    assert caught.value.status == 422


def test_unknown_parameters_are_refused_with_suggestions():
    with pytest.raises(ValidationFailed) as caught:
        parameter("models.fire_smoke.confidence")
    assert "models.fire_smoke.confidence_threshold" in caught.value.detail


def test_overlap_must_be_shorter_than_the_segment():
    values = {k: r.value for k, r in defaults().items()}
    check_constraints(values)
    with pytest.raises(ValidationFailed):
        check_constraints({**values, "video.overlap_seconds": 5.0, "video.segment_seconds": 5.0})


async def test_the_catalogue_lists_every_parameter_for_the_console(client, world):
    r = await client.get(f"{CONFIG}/parameters", headers=world.supervisor.headers)
    assert r.status_code == 200
    catalogue = {p["key"]: p for p in r.json()}
    assert set(catalogue) == set(PARAMETERS)
    segment = catalogue["video.segment_seconds"]
    assert segment["default"] == 5.0 and segment["bounds"] == "1–10 s" and segment["critical"] is True
    assert segment["value_schema"] == {"maximum": 10.0, "minimum": 1.0, "type": "number"}
    assert catalogue["models.anpr.min_height"]["levels"] == ["system"]
    assert catalogue["retention.days"]["levels"] == ["system", "customer", "site", "camera"]
