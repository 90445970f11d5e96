"""Zones and schedules shared by the person-based models (frame-fraction polygons, local-time arming)."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

Polygon = list[tuple[float, float]]


def inside(point: tuple[float, float], polygon: Polygon) -> bool:
    """Whether `point` (frame fractions) lies in or on `polygon` (frame fractions)."""
    contour = np.asarray(polygon, np.float32).reshape(-1, 1, 2)
    return cv2.pointPolygonTest(contour, (float(point[0]), float(point[1])), False) >= 0


def zone_of(point: tuple[float, float], zones: list[Polygon]) -> int | None:
    """Index of the first zone holding `point`; 0 for any point when there are no zones (whole frame)."""
    if not zones:
        return 0
    for index, polygon in enumerate(zones):
        if inside(point, polygon):
            return index
    return None


class Schedule(BaseModel):
    """When a rule is armed: days of the week and a daily window, in the camera's local time.

    A window whose end is before its start runs over midnight (22:00–06:00); its night belongs to
    the day it starts on.
    """

    model_config = ConfigDict(extra="forbid")

    weekdays: list[int] = Field(
        default_factory=lambda: list(range(7)),
        min_length=1,
        max_length=7,
        description="Armed days, 0 = Monday … 6 = Sunday.",
    )
    start: time = Field(time(0, 0), description="Local time the daily window opens.")
    end: time = Field(time(23, 59, 59), description="Local time the daily window closes (inclusive).")
    timezone: str = Field("UTC", description="IANA time zone of the camera, e.g. Europe/Berlin.")

    @field_validator("weekdays")
    @classmethod
    def _days(cls, days: list[int]) -> list[int]:
        if any(not 0 <= d <= 6 for d in days):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return sorted(set(days))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r}") from exc
        return name

    def armed(self, at: datetime) -> bool:
        """Whether the rule is armed at the UTC instant `at`."""
        local = at.astimezone(ZoneInfo(self.timezone))
        now, day = local.time(), local.weekday()
        if self.start <= self.end:
            return day in self.weekdays and self.start <= now <= self.end
        if now >= self.start:
            return day in self.weekdays
        return now <= self.end and (day - 1) % 7 in self.weekdays
