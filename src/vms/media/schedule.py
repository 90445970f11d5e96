"""Weekly recording schedules in a camera's local time (the `schedule` recording mode).

A schedule is a list of weekly windows ("mon–fri 08:00–18:00") in one IANA time zone. Whether a
segment falls in a window is decided in UTC, by turning each window of the days around the segment
into UTC instants with the zone's rules *for that date*: a window keeps its local hours across a
daylight-saving change (08:00 London is 08:00 UTC in winter and 07:00 UTC in summer), and the night a
clock changes a 00:00–03:00 window lasts 2 h (spring) or 4 h (autumn) — what the wall clock says.

A local time that does not exist (the skipped hour in spring) is read with the offset before the
change, as zoneinfo does with fold=0 (01:30 London on the spring night is 01:30 GMT, i.e. 02:30 BST);
an ambiguous time (the repeated hour in autumn) is its first occurrence.

>>> s = RecordingSchedule(timezone="Europe/London", windows=[ScheduleWindow(days=["sun"], start="08:00", end="18:00")])
>>> s.active_during(datetime(2026, 3, 29, 7, 30, tzinfo=UTC), datetime(2026, 3, 29, 7, 35, tzinfo=UTC))
True
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$"


class ScheduleWindow(BaseModel):
    """Recording on the given weekdays from `start` to `end`, local time; an `end` at or before `start`
    runs past midnight into the next day (22:00–06:00), and 00:00–24:00 is the whole day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: list[Day] = Field(min_length=1, max_length=7, description="Weekdays the window starts on (mon … sun).")
    start: str = Field(pattern=_HHMM, description="Start, HH:MM local time.")
    end: str = Field(pattern=_HHMM, description="End, HH:MM local time (24:00: midnight at the end of the day).")

    def spans(self, day: date, zone: zoneinfo.ZoneInfo) -> tuple[datetime, datetime] | None:
        """The window's UTC start and end when it starts on `day`, or None if it does not run that day."""
        if DAYS[day.weekday()] not in self.days:
            return None
        begin = _local(day, self.start, zone)
        finish = _local(day, self.end, zone)
        if finish <= begin:  # past midnight (or a start of 24:00, which is the next day's 00:00)
            finish = _local(day + timedelta(days=1), self.end, zone)
        return begin, finish


class RecordingSchedule(BaseModel):
    """Weekly windows in which the `schedule` recording mode keeps video.

    >>> weekends = [ScheduleWindow(days=["sat", "sun"], start="00:00", end="24:00")]
    >>> RecordingSchedule(timezone="Europe/Berlin", windows=weekends)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field("UTC", min_length=1, max_length=64, description="IANA time zone of the windows.")
    windows: list[ScheduleWindow] = Field(min_length=1, max_length=50, description="The weekly windows.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except Exception as exc:  # ZoneInfoNotFoundError is a KeyError, odd paths raise ValueError
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/London)") from exc
        return value

    @cached_property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The schedule's time zone."""
        return zoneinfo.ZoneInfo(self.timezone)

    def active_during(self, start: datetime, end: datetime) -> bool:
        """Whether any window overlaps [start, end) (aware datetimes, any zone)."""
        first = start.astimezone(self.zone).date() - timedelta(days=1)  # yesterday's window may run past midnight
        last = end.astimezone(self.zone).date()
        day = first
        while day <= last:
            for window in self.windows:
                span = window.spans(day, self.zone)
                if span is not None and span[0] < end and span[1] > start:
                    return True
            day += timedelta(days=1)
        return False


def _local(day: date, hhmm: str, zone: zoneinfo.ZoneInfo) -> datetime:
    """A local wall-clock time on `day` as a UTC instant (24:00 is the next day's midnight)."""
    if hhmm == "24:00":
        return _local(day + timedelta(days=1), "00:00", zone)
    hour, minute = (int(part) for part in hhmm.split(":"))
    at = datetime.combine(day, time(hour, minute), tzinfo=zone)  # fold=0: before the change
    return at.astimezone(UTC)
