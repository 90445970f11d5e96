"""Every configurable parameter, declared once: key, type and bounds, default, the levels that may
set it, and whether it is critical (kept warm in the cache by background refresh).

Values are validated with pydantic TypeAdapters and stored in their JSON form, so what the
database holds, what the cache holds and what the API returns are the same thing.

>>> PARAMETERS["video.segment_seconds"].validate(4)
4.0
>>> PARAMETERS["video.segment_seconds"].validate(12)
Traceback (most recent call last):
vms.kernel.errors.ValidationFailed: video.segment_seconds = 12 is out of bounds: ... (allowed: 1–10 s)
"""

from __future__ import annotations

import difflib
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from vms.kernel.ai_models import MODEL_SPECS, AiModel
from vms.kernel.errors import ValidationFailed
from vms.kernel.priority import Priority
from vms.media.modes import BOUNDS as RECORDING_MODE_BOUNDS
from vms.media.modes import ModeValue as RecordingModeValue
from vms.media.schedule import RecordingSchedule


class Level(StrEnum):
    """Where a value comes from, lowest precedence first; `default` is the built-in value."""

    DEFAULT = "default"
    SYSTEM = "system"
    CUSTOMER = "customer"
    SITE = "site"
    CAMERA = "camera"


LEVEL_ORDER: tuple[Level, ...] = (Level.DEFAULT, Level.SYSTEM, Level.CUSTOMER, Level.SITE, Level.CAMERA)
EVERY_LEVEL = frozenset({Level.SYSTEM, Level.CUSTOMER, Level.SITE, Level.CAMERA})
SYSTEM_ONLY = frozenset({Level.SYSTEM})
ABOVE_CAMERA = frozenset({Level.SYSTEM, Level.CUSTOMER, Level.SITE})

CHANNELS = ("push", "sms", "whatsapp", "email")
# Event types that notifications are configured for: one per AI model, plus the camera itself going dark.
EVENT_TYPES: tuple[str, ...] = (*(m.value for m in AiModel), "camera_offline")
# Models whose events need site-specific set-up (a road, a door, a reference scene) start switched off.
OFF_BY_DEFAULT = frozenset({AiModel.ANPR, AiModel.TAILGATING, AiModel.MISSING_OBJECT})


def _zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except Exception as exc:  # ZoneInfoNotFoundError is a KeyError, odd paths raise ValueError
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Europe/Berlin)") from exc
    return name


class QuietHours(BaseModel):
    """A daily window in which only critical notifications are sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Start, HH:MM local time.")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="End, HH:MM local time (may be after midnight).")
    timezone: str = Field("UTC", min_length=1, max_length=64, description="IANA time zone of start and end.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _zone(value)


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


Channels = Annotated[list[Literal["push", "sms", "whatsapp", "email"]], Field(max_length=8), AfterValidator(_unique)]


@dataclass(frozen=True)
class Parameter:
    """One configurable parameter.

    >>> p = PARAMETERS["models.fire_smoke.priority"]
    >>> p.default, p.critical, sorted(p.levels)
    ('CRITICAL', True, ['camera', 'customer', 'site', 'system'])
    """

    key: str
    annotation: Any
    default: Any
    description: str
    bounds: str
    levels: frozenset[Level] = EVERY_LEVEL
    critical: bool = False
    unit: str = ""

    @cached_property
    def adapter(self) -> TypeAdapter[Any]:
        """The pydantic validator of this parameter's values (built on first use)."""
        return TypeAdapter(self.annotation)

    @cached_property
    def default_json(self) -> Any:
        """The default in its stored (JSON) form."""
        return self.adapter.dump_python(self.adapter.validate_python(self.default), mode="json")

    @cached_property
    def json_schema(self) -> dict[str, Any]:
        """JSON Schema of the values, for the console's editors."""
        return self.adapter.json_schema()

    def validate(self, value: Any) -> Any:
        """The value in stored (JSON) form, or ValidationFailed naming this parameter and its bounds."""
        try:
            parsed = self.adapter.validate_python(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            problem = f"{where}: {first['msg']}" if where else first["msg"]
            shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
            raise ValidationFailed(
                f"{self.key} = {shown} is out of bounds: {problem} (allowed: {self.bounds})",
                errors=[{"parameter": self.key, "bound": self.bounds, "msg": problem}],
            ) from None
        return self.adapter.dump_python(parsed, mode="json")

    def parse(self, stored: Any) -> Any:
        """A stored (JSON) value as its Python type (Priority, QuietHours …) for consumers."""
        return self.adapter.validate_python(stored)

    def ensure_level(self, level: Level) -> None:
        """Raise ValidationFailed unless this parameter may be set at `level`."""
        if level not in self.levels:
            allowed = ", ".join(lv.value for lv in LEVEL_ORDER if lv in self.levels)
            raise ValidationFailed(
                f"{self.key} cannot be set at {level.value} level (allowed levels: {allowed}).",
                errors=[{"parameter": self.key, "bound": f"levels: {allowed}", "msg": "level not allowed"}],
            )


def _number(
    key: str,
    default: float,
    lo: float,
    hi: float,
    description: str,
    *,
    unit: str = "",
    integer: bool = False,
    levels: frozenset[Level] = EVERY_LEVEL,
    critical: bool = False,
) -> Parameter:
    kind = StrictInt if integer else StrictFloat
    annotation = Annotated[kind, Field(ge=lo, le=hi)]  # type: ignore[valid-type]
    bounds = f"{lo:g}–{hi:g}{' ' + unit if unit else ''}{' (whole number)' if integer else ''}"
    return Parameter(key, annotation, default, description, bounds, levels, critical, unit)


def _choice(
    key: str,
    default: str,
    choices: tuple[str, ...],
    description: str,
    *,
    levels: frozenset[Level] = EVERY_LEVEL,
    critical: bool = False,
) -> Parameter:
    annotation = Literal[choices]  # type: ignore[valid-type]
    return Parameter(key, annotation, default, description, f"one of {', '.join(choices)}", levels, critical)


def _model_parameters(model: AiModel) -> list[Parameter]:
    spec = MODEL_SPECS[model]
    p = f"models.{model.value}"
    return [
        _choice(
            f"{p}.priority",
            spec.default_priority.value,
            tuple(pr.value for pr in Priority),
            f"Queue and GPU priority of {spec.title} jobs and events.",
            critical=True,
        ),
        _number(
            f"{p}.confidence_threshold",
            0.5,
            0.0,
            1.0,
            f"Detections of {spec.title} below this confidence are dropped before they become events.",
            critical=True,
        ),
        _number(
            f"{p}.min_height",
            spec.min_height,
            144,
            4320,
            f"Smallest stream height (pixels) {spec.title} accepts.",
            unit="px",
            integer=True,
            levels=SYSTEM_ONLY,
        ),
        _number(
            f"{p}.min_bitrate_kbps",
            spec.min_bitrate_kbps,
            64,
            100_000,
            f"Lowest stream bitrate {spec.title} accepts.",
            unit="kbit/s",
            integer=True,
            levels=SYSTEM_ONLY,
        ),
        _number(
            f"{p}.min_duration_s",
            spec.min_duration_s,
            0.5,
            60,
            f"Shortest video {spec.title} analyses in one job.",
            unit="s",
            levels=SYSTEM_ONLY,
        ),
        _number(
            f"{p}.overlap_s",
            spec.overlap_s,
            0,
            5,
            f"Video from the previous segment prepended to {spec.title} jobs, so events at a boundary are seen.",
            unit="s",
            levels=SYSTEM_ONLY,
            critical=True,
        ),
        Parameter(
            f"{p}.enabled_by_default",
            StrictBool,
            model not in OFF_BY_DEFAULT,
            f"Whether {spec.title} is switched on for a new camera (when licensed and compatible).",
            "true or false",
            ABOVE_CAMERA,
        ),
    ]


def _declare() -> dict[str, Parameter]:
    params = [
        _number(
            "video.segment_seconds",
            5.0,
            1,
            10,
            "Length of the recorded segments that also form the AI jobs.",
            unit="s",
            critical=True,
        ),
        _number(
            "video.overlap_seconds",
            1.0,
            0,
            5,
            "Video shared by consecutive AI jobs (all models; per-model overlap adds to it).",
            unit="s",
            critical=True,
        ),
        _number(
            "video.normalize.width",
            640,
            160,
            3840,
            "Width of the frames the models see.",
            unit="px",
            integer=True,
            critical=True,
        ),
        _number(
            "video.normalize.height",
            480,
            120,
            2160,
            "Height of the frames the models see.",
            unit="px",
            integer=True,
            critical=True,
        ),
        _number(
            "video.normalize.fps",
            15,
            1,
            30,
            "Frame rate the models see.",
            unit="fps",
            integer=True,
            critical=True,
        ),
        _choice(
            "video.normalize.fit",
            "letterbox",
            ("letterbox", "crop"),
            "How a frame of another aspect ratio is fitted without distortion.",
            critical=True,
        ),
        _number(
            "video.buffer_segments",
            6,
            1,
            120,
            "Segments kept in memory per camera (event clips need 10 s before the event).",
            integer=True,
        ),
        Parameter(
            "recording.mode",
            RecordingModeValue,
            "continuous",
            "What is kept beyond the rolling buffer: everything, schedule windows, motion, events, a combination, "
            "or nothing.",
            RECORDING_MODE_BOUNDS,
            critical=True,
        ),
        _number("recording.pre_s", 10, 0, 120, "Video kept before motion or an event.", unit="s"),
        _number("recording.post_s", 10, 0, 600, "Video kept after motion or an event ends.", unit="s"),
        _number(
            "recording.buffer_minutes",
            15,
            1,
            1440,
            "Minutes every segment stays before retention deletes what the recording mode does not keep.",
            unit="min",
        ),
        Parameter(
            "recording.schedule",
            RecordingSchedule | None,
            None,
            "Weekly windows the schedule mode keeps; null: none.",
            "null, or {timezone: IANA name, windows: [{days: [mon … sun], start: HH:MM, end: HH:MM}]}",
        ),
        _number(
            "recording.motion.sensitivity",
            0.5,
            0.0,
            1.0,
            "How small a brightness change counts as motion (1: the faintest).",
        ),
        _number(
            "recording.motion.min_area",
            0.005,
            0.0001,
            0.5,
            "Smallest changed share of the frame that counts as motion.",
        ),
        _number(
            "recording.motion.fps",
            5,
            1,
            15,
            "Frames per second the motion detector looks at (CPU per camera grows with it).",
            unit="fps",
            integer=True,
        ),
        Parameter(
            "recording.cloud_upload",
            bool,
            True,
            "Copy segments to the cloud store when one is configured; false for NVR-fed cameras (kept on premises).",
            "true or false",
        ),
        Parameter(
            "recording.auto_backfill",
            bool,
            True,
            "When the stream returns after an outage, fill the gap from the camera's SD card (ONVIF Profile G) "
            "on its own.",
            "true or false",
        ),
        _number(
            "recording.edge_buffer_hours",
            72,
            1,
            87600,
            "With a cloud store (storage.cloud): hours the local copy of a segment already in the cloud stays. "
            "Segments not in the cloud yet stay until retention.days or the disk watermark.",
            unit="h",
        ),
        _number(
            "recording.auto_backfill_min_outage_s",
            60,
            5,
            86400,
            "Shortest outage that starts an automatic SD-card backfill.",
            unit="s",
            integer=True,
        ),
        _number("retention.days", 30, 1, 3650, "Days recordings are kept.", unit="days", integer=True),
        _number(
            "retention.event_days", 90, 1, 3650, "Days event clips and snapshots are kept.", unit="days", integer=True
        ),
        _number(
            "retention.evidence_days",
            365,
            1,
            3650,
            "Days the clips of escalated events and events tagged critical are kept.",
            unit="days",
            integer=True,
        ),
    ]
    for model in AiModel:
        params += _model_parameters(model)
    for event_type in EVENT_TYPES:
        params.append(
            Parameter(
                f"notifications.channels.{event_type}",
                Channels,
                ["push", "sms", "email"] if event_type == AiModel.FIRE_SMOKE.value else ["push", "email"],
                f"Channels that announce {event_type} events (empty: none).",
                f"a list of {', '.join(CHANNELS)} (empty: none)",
                critical=True,
            )
        )
    params += [
        Parameter(
            "notifications.quiet_hours",
            QuietHours | None,
            None,
            "Daily window in which only CRITICAL events are notified; null: none.",
            "null, or {start: HH:MM, end: HH:MM, timezone: IANA name}",
        ),
        _number(
            "notifications.escalation_minutes",
            15,
            0,
            1440,
            "Minutes an unacknowledged event waits before it escalates to the next contact (0: never).",
            unit="min",
            integer=True,
        ),
    ]
    return {p.key: p for p in params}


PARAMETERS: Mapping[str, Parameter] = _declare()


def parameter(key: str) -> Parameter:
    """The parameter named `key`, or ValidationFailed suggesting the nearest names."""
    found = PARAMETERS.get(key)
    if found is None:
        close = difflib.get_close_matches(key, list(PARAMETERS), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValidationFailed(
            f"Unknown configuration parameter {key[:100]!r}.{hint}",
            errors=[{"parameter": key[:100], "bound": "a declared parameter", "msg": "unknown parameter"}],
        )
    return found


@dataclass(frozen=True)
class Constraint:
    """A rule between parameters, checked on the effective values of the node being changed."""

    keys: tuple[str, ...]
    check: Callable[[Mapping[str, Any]], str | None] = field(repr=False)


def _overlap_shorter_than_segment(values: Mapping[str, Any]) -> str | None:
    overlap, segment = values["video.overlap_seconds"], values["video.segment_seconds"]
    if overlap >= segment:
        return f"video.overlap_seconds ({overlap:g} s) must be shorter than video.segment_seconds ({segment:g} s)"
    return None


CONSTRAINTS: tuple[Constraint, ...] = (
    Constraint(("video.overlap_seconds", "video.segment_seconds"), _overlap_shorter_than_segment),
)


def check_constraints(values: Mapping[str, Any]) -> None:
    """Raise ValidationFailed naming the first broken rule between parameters."""
    for rule in CONSTRAINTS:
        problem = rule.check(values)
        if problem:
            raise ValidationFailed(
                f"{problem}.", errors=[{"parameter": rule.keys[0], "bound": problem, "msg": "constraint"}]
            )
