"""What a playback timeline shows: recorded ranges, the gaps between them and the events on top.

The ranges come from the segment index (media service), merged wherever one segment follows the
previous within the gap tolerance, so a day of 5-second segments is a handful of ranges, not 17,280
bars. Several cameras over the same window make a synchronised view: one time axis, one entry each.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from vms.events import service as events
from vms.events.schemas import EventRead
from vms.kernel.clock import as_utc
from vms.media import service as media
from vms.streaming.hls import SegmentLike
from vms.uow import UnitOfWork

MAX_EVENTS = 500  # per camera and window; the events inbox pages through the rest


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of time."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        """Length in seconds."""
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class CameraTimeline:
    """One camera's recorded ranges, gaps and events over a window."""

    camera_id: uuid.UUID
    start: datetime
    end: datetime
    stream: str
    ranges: list[Span]
    gaps: list[Span]
    events: list[EventRead] = field(default_factory=list)
    events_total: int = 0

    @property
    def recorded_s(self) -> float:
        """Recorded seconds inside the window."""
        return sum(r.seconds for r in self.ranges)

    @property
    def coverage(self) -> float:
        """Recorded share of the window (0–1)."""
        total = (self.end - self.start).total_seconds()
        return self.recorded_s / total if total > 0 else 1.0


def recorded_ranges(
    segments: Sequence[SegmentLike], *, start: datetime, end: datetime, tolerance_s: float
) -> tuple[list[Span], list[Span]]:
    """(ranges, gaps) of `segments` clipped to [start, end); holes up to `tolerance_s` are not gaps."""
    ranges: list[Span] = []
    for seg in sorted(segments, key=lambda s: as_utc(s.started_at)):
        s, e = max(as_utc(seg.started_at), start), min(as_utc(seg.ended_at), end)
        if e <= s:
            continue
        if ranges and (s - ranges[-1].end).total_seconds() <= tolerance_s:
            if e > ranges[-1].end:
                ranges[-1] = Span(ranges[-1].start, e)
        else:
            ranges.append(Span(s, e))
    gaps: list[Span] = []
    cursor = start
    for r in ranges:
        if (r.start - cursor).total_seconds() > tolerance_s:
            gaps.append(Span(cursor, r.start))
        cursor = max(cursor, r.end)
    if (end - cursor).total_seconds() > tolerance_s:
        gaps.append(Span(cursor, end))
    return ranges, gaps


async def camera_timeline(
    *,
    uow: UnitOfWork,
    camera_id: uuid.UUID,
    start: datetime,
    end: datetime,
    stream: str = "main",
    tolerance_s: float = 1.0,
    with_events: bool = True,
) -> CameraTimeline:
    """A camera's timeline over [start, end): recorded ranges and gaps of `stream`, and its events (newest first)."""
    start, end = as_utc(start), as_utc(end)
    segments = await media.segments_between(uow=uow, camera_id=camera_id, start=start, end=end, stream=stream)
    ranges, gaps = recorded_ranges(segments, start=start, end=end, tolerance_s=tolerance_s)
    found: list[EventRead] = []
    total = 0
    if with_events:
        found, total = await events.search(
            uow=uow, since=start, until=end, camera_ids=[camera_id], limit=MAX_EVENTS, offset=0
        )
    return CameraTimeline(
        camera_id=camera_id,
        start=start,
        end=end,
        stream=stream,
        ranges=ranges,
        gaps=gaps,
        events=found,
        events_total=total,
    )
