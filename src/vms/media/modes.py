"""Recording modes and their combinations, as the `recording.mode` parameter holds them.

Segments are always cut (AI jobs and live HLS need them); the mode decides which of them are kept
beyond the rolling buffer (media.recording). Modes combine as a union: `schedule+motion` keeps office
hours and any motion outside them. `off` keeps nothing and combines with nothing.

The parameter's stored form is one canonical string (modes in a fixed order, joined by "+"), so two
spellings of one combination compare equal in config history and diffs; a JSON list is accepted too.

>>> canonical(["events", "motion"])
'motion+events'
>>> parse_modes("motion+events") == frozenset({RecordingMode.MOTION, RecordingMode.EVENTS})
True
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, StrictStr


class RecordingMode(StrEnum):
    """Why a camera's video is kept beyond the rolling buffer."""

    CONTINUOUS = "continuous"  # everything
    SCHEDULE = "schedule"  # what overlaps a window of `recording.schedule`
    MOTION = "motion"  # [motion − pre_s, motion + post_s], motion from a cheap low-rate decode
    EVENTS = "events"  # [event − pre_s, event end + post_s], as event holds (event-type retention)


OFF = "off"
ORDER: tuple[RecordingMode, ...] = tuple(RecordingMode)
BOUNDS = (
    "one of continuous, events, off, motion, schedule, or several of continuous, schedule, motion, events "
    "joined by + (e.g. motion+events) or as a list"
)


def canonical(value: str | list[str]) -> str:
    """The stored form of a mode or combination; ValueError for an unknown or contradictory one."""
    parts = value.split("+") if isinstance(value, str) else list(value)
    names = [p.strip() for p in parts]
    if names == [OFF]:
        return OFF
    if OFF in names:
        raise ValueError("'off' records nothing and cannot be combined with other modes")
    if not names:
        raise ValueError("name at least one recording mode (or off)")
    unknown = [n for n in names if n not in RecordingMode._value2member_map_]
    if unknown:
        raise ValueError(f"unknown recording mode {unknown[0]!r}")
    chosen = set(names)
    return "+".join(m.value for m in ORDER if m.value in chosen)


def parse_modes(stored: str) -> frozenset[RecordingMode]:
    """The modes of a stored `recording.mode` value (empty for off)."""
    value = canonical(stored)
    return frozenset() if value == OFF else frozenset(RecordingMode(v) for v in value.split("+"))


def _canonical(value: str | list[StrictStr]) -> str:
    return canonical(value)


# The parameter's type: "motion+events" or ["motion", "events"], stored as "motion+events".
ModeValue = Annotated[StrictStr | list[StrictStr], AfterValidator(_canonical)]
