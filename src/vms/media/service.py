"""Recording index: store closed segments, find them by time, report gaps."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from vms.media.models import Segment
from vms.media.segmenter import SegmentInfo
from vms.ports import BlobStore
from vms.uow import UnitOfWork


def blob_key(*, tenant_id: uuid.UUID, camera_id: uuid.UUID, stream: str, info: SegmentInfo) -> str:
    """Where a segment lives: per tenant, camera, stream and hour, so retention and exports scan little."""
    at = info.started_at
    return f"{tenant_id}/{camera_id}/{stream}/{at:%Y/%m/%d/%H}/{at:%M%S%f}-{info.sequence:08d}.mp4"


async def record_segment(
    *,
    uow: UnitOfWork,
    blobs: BlobStore,
    tenant_id: uuid.UUID,
    camera_id: uuid.UUID,
    stream: str,
    info: SegmentInfo,
    kept_by: str | None = "continuous",
) -> Segment:
    """Move a closed segment into blob storage and index it (the blob first: an index row never
    points at a missing file; a crash in between leaves an unindexed blob that retention sweeps).

    `kept_by` is the recording mode's decision (media.recording): None keeps the segment only for the
    rolling buffer. Callers that apply no recording policy (imports, backfill) keep what they record.
    """
    key = blob_key(tenant_id=tenant_id, camera_id=camera_id, stream=stream, info=info)
    await blobs.put_file(key, info.path, move=True)
    row = Segment(
        tenant_id=tenant_id,
        camera_id=camera_id,
        stream=stream,
        sequence=info.sequence,
        started_at=info.started_at,
        ended_at=info.ended_at,
        frames=info.frames,
        bytes=info.bytes,
        codec=info.codec,
        width=info.width,
        height=info.height,
        bitrate_kbps=round(info.bitrate_kbps, 1),
        keyframe_interval_s=info.keyframe_interval_s,
        clock=info.clock.value,
        blob_key=key,
        kept_by=kept_by,
    )
    uow.add(row)
    await uow.flush()
    return row


async def segments_between(
    *, uow: UnitOfWork, camera_id: uuid.UUID, start: datetime, end: datetime, stream: str = "main"
) -> list[Segment]:
    """Segments overlapping [start, end), oldest first."""
    rows = await uow.session.execute(
        select(Segment)
        .where(Segment.camera_id == camera_id, Segment.stream == stream)
        .where(Segment.started_at < end, Segment.ended_at > start)
        .order_by(Segment.started_at)
    )
    return list(rows.scalars())


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch of expected time with no recording."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        """Length of the gap."""
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class GapReport:
    """Expected vs recorded time for one camera over a window."""

    expected_s: float
    recorded_s: float
    gaps: list[Gap]

    @property
    def coverage(self) -> float:
        """Recorded share of the expected time (0–1)."""
        return self.recorded_s / self.expected_s if self.expected_s else 1.0


async def gap_report(
    *,
    uow: UnitOfWork,
    camera_id: uuid.UUID,
    start: datetime,
    end: datetime,
    stream: str = "main",
    tolerance_s: float = 1.0,
) -> GapReport:
    """Where recording is missing in [start, end); holes shorter than `tolerance_s` are jitter, not gaps."""
    cursor, recorded, gaps = start, 0.0, []
    for seg in await segments_between(uow=uow, camera_id=camera_id, start=start, end=end, stream=stream):
        seg_start, seg_end = max(seg.started_at, start), min(seg.ended_at, end)
        if (seg_start - cursor).total_seconds() > tolerance_s:
            gaps.append(Gap(cursor, seg_start))
        recorded += max(0.0, (seg_end - max(seg_start, cursor)).total_seconds())
        cursor = max(cursor, seg_end)
    if (end - cursor) > timedelta(seconds=tolerance_s):
        gaps.append(Gap(cursor, end))
    return GapReport(expected_s=(end - start).total_seconds(), recorded_s=recorded, gaps=gaps)
