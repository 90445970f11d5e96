"""Events per hour or per day (requirements §10 "Events per hour/day", `GET /statistics/events`).

The windows are worked out here; the counting is the events domain's (`events.service.count_per_bucket`),
so this module never reads the events table itself. Buckets start at `since` and step by the
bucket size, so a console can ask for its own local clock hours (including time zones that are
not a whole number of hours from UTC); without `since`, the window ends at `until` (default now)
and is aligned to UTC hours or days. Day buckets are fixed 24 h steps from `since`: the API takes
an offset, not a time zone, so across a DST change they stay 24 h long rather than following the
local calendar day (docs/api.md says so).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from vms.events import service as events
from vms.kernel.ai_models import AiModel
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.errors import ValidationFailed
from vms.uow import UnitOfWork

Bucket = Literal["hour", "day"]
BUCKET_SIZE: dict[Bucket, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
# One conditional sum per bucket in a single query: a week of hours or a quarter of days.
MAX_BUCKETS: dict[Bucket, int] = {"hour": 168, "day": 92}
DEFAULT_HOURS: dict[Bucket, int] = {"hour": 24, "day": 7 * 24}


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class EventCount(_Camel):
    """The events of one bucket."""

    start: datetime = Field(description="Inclusive start of the bucket (UTC).")
    end: datetime = Field(description="Exclusive end; the last bucket may be cut short by `until`.")
    count: int = Field(ge=0)


class EventStatistics(_Camel):
    """Event counts per bucket over a window, oldest bucket first."""

    since: datetime
    until: datetime
    bucket: Bucket
    total: int = Field(ge=0, description="Sum of the buckets' counts.")
    buckets: list[EventCount]


def windows(
    *, bucket: Bucket, since: datetime | None, until: datetime | None, hours: int | None, now: datetime | None = None
) -> list[tuple[datetime, datetime]]:
    """The [start, end) buckets to count, or ValidationFailed (422) for a window that is empty or too long."""
    size, limit = BUCKET_SIZE[bucket], MAX_BUCKETS[bucket]
    end = as_utc(until) if until else (now or utcnow())
    if since is not None and hours is not None:
        raise ValidationFailed("Give either since (with until) or hours, not both.")
    if since is None:
        span = hours if hours is not None else DEFAULT_HOURS[bucket]
        count = max(1, -(-span * 3600 // int(size.total_seconds())))  # whole buckets covering the span
        if count > limit:
            raise ValidationFailed(f"At most {limit} {bucket} buckets: hours must be ≤ {_max_hours(bucket)}.")
        # The window is [.., end): the last bucket holds the last instant before `end`. Flooring `end`
        # itself would start a bucket *at* `end` when `until` is on a boundary, and the loop below
        # would drop it (one bucket short, or none at all for hours=1).
        last_start = _floor(end - timedelta(microseconds=1), bucket)
        start = last_start - (count - 1) * size
    else:
        start = as_utc(since)
        if end <= start:
            raise ValidationFailed("until must be after since.")
        if end - start > limit * size:
            raise ValidationFailed(
                f"The window spans more than {limit} {bucket}s; narrow since/until or use bucket=day."
                if bucket == "hour"
                else f"The window spans more than {limit} days; narrow since/until."
            )
    out: list[tuple[datetime, datetime]] = []
    while start < end:
        out.append((start, min(start + size, end)))
        start += size
    if not out:  # never expected after the checks above; a 422 rather than an IndexError (500) later
        raise ValidationFailed("The window holds no bucket; check since, until and hours.")
    return out


async def event_statistics(
    *,
    uow: UnitOfWork,
    bucket: Bucket,
    since: datetime | None,
    until: datetime | None,
    hours: int | None,
    camera_ids: list[uuid.UUID] | None,
    event_type: AiModel | None,
) -> EventStatistics:
    """Events per bucket over the window, counted within the caller's tenant and camera scope."""
    bounds = windows(bucket=bucket, since=since, until=until, hours=hours)
    counts = await events.count_per_bucket(uow=uow, bounds=bounds, camera_ids=camera_ids, event_type=event_type)
    buckets = [EventCount(start=s, end=e, count=c) for (s, e), c in zip(bounds, counts, strict=True)]
    return EventStatistics(since=bounds[0][0], until=bounds[-1][1], bucket=bucket, total=sum(counts), buckets=buckets)


def _floor(at: datetime, bucket: Bucket) -> datetime:
    hour = at.replace(minute=0, second=0, microsecond=0)
    return hour if bucket == "hour" else hour.replace(hour=0)


def _max_hours(bucket: Bucket) -> int:
    return MAX_BUCKETS[bucket] * int(BUCKET_SIZE[bucket].total_seconds()) // 3600
