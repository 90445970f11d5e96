"""Zones and schedules shared by the person-based models (frame-fraction polygons, local-time arming)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import cv2
import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

MAX_POINTS = 64  # a hand-drawn zone; more is a mistake (or an attempt to make every check slow)
# Smallest zone area as a share of the frame (1 % × 1 %, ≈ 19 × 11 px at 1080p): below it a zone is a
# line or a dot, which holds no person's feet and made the intrusion tiles crop to nothing.
MIN_AREA = 1e-4


def area(points: list[tuple[float, float]]) -> float:
    """Area of the polygon (shoelace formula), as a share of the frame."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return abs(sum(xs[i - 1] * ys[i] - xs[i] * ys[i - 1] for i in range(len(points)))) / 2


def _checked(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) < 3:
        raise ValueError(f"a zone polygon needs at least 3 points, got {len(points)}")
    if len(points) > MAX_POINTS:
        raise ValueError(f"a zone polygon has at most {MAX_POINTS} points, got {len(points)}")
    for x, y in points:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):  # also refuses NaN and infinity
            raise ValueError(f"zone point ({x}, {y}) is outside the frame: x and y are frame fractions 0..1")
    if (size := area(points)) < MIN_AREA:
        raise ValueError(
            f"zone polygon encloses {size:.2g} of the frame, less than {MIN_AREA:g}: "
            "its points lie on a line or too close together"
        )
    return points


def _checked_or_whole(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return points if not points else _checked(points)


# A zone in frame fractions, refused (pydantic ValidationError naming the field, so 422 at an API)
# unless it is a real area inside the frame.
Polygon = Annotated[list[tuple[float, float]], AfterValidator(_checked)]
# The same, where an empty list means the whole frame (crowd's single `zone`).
PolygonOrWhole = Annotated[list[tuple[float, float]], AfterValidator(_checked_or_whole)]


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
