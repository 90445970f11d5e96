"""Routes under /recordings: a camera's segments and gaps, recording health, evidence holds.

Reading needs playback:view (every customer role); evidence holds need video:export (Supervisor, Admin);
the cloud-copy backlog (`/recordings/cloud-uploads`, all customers) needs platform:ops (provider staff).
A camera of another customer is 404, like a missing one.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from vms.api.deps import AppContainer, Paging, UoW, require
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.cameras import service as cameras
from vms.cameras.service import CameraFilter
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.errors import ValidationFailed
from vms.kernel.tenancy import TenantScope
from vms.media import integrity, retention, upload
from vms.media.models import HoldReason, RecordingHold
from vms.uow import Actor

router = APIRouter(prefix="/recordings", tags=["recordings"])
Reader = Annotated[Principal, Depends(require(Permission.PLAYBACK))]
Exporter = Annotated[Principal, Depends(require(Permission.EXPORT))]
Ops = Annotated[Principal, Depends(require(Permission.PLATFORM_OPS))]
MAX_WINDOW = timedelta(days=31)  # one gap report or segment listing; longer windows are paged by the client
HEALTH_CAMERAS = 500  # cameras whose 24 h coverage the health report lists


# --- schemas ----------------------------------------------------------------------------------------


class SegmentRead(BaseModel):
    """One recorded segment."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    camera_id: uuid.UUID
    stream: str
    sequence: int
    started_at: datetime
    ended_at: datetime
    frames: int
    bytes: int
    codec: str
    width: int
    height: int
    bitrate_kbps: float
    source: str
    kept_by: str | None = Field(
        description="Why the recording mode keeps it (continuous, schedule, motion, combined with +); null: rolling "
        "buffer only, deleted after recording.buffer_minutes unless a hold covers it."
    )


class SegmentPage(BaseModel):
    """One page of segments."""

    items: list[SegmentRead]
    total: int
    limit: int
    offset: int


class GapRead(BaseModel):
    """A stretch of expected time with no recording."""

    start: datetime
    end: datetime
    seconds: float


class GapReportRead(BaseModel):
    """Expected vs recorded time of one camera over a window."""

    camera_id: uuid.UUID
    start: datetime
    end: datetime
    expected_s: float
    recorded_s: float
    coverage: float = Field(description="Recorded share of the expected time (0-1).")
    gaps: list[GapRead]


class LivenessRead(BaseModel):
    """Whether the retention job runs."""

    alive: bool
    last_finished_at: datetime | None
    age_s: float | None
    interval_s: float
    last_error: str | None


class ForecastRead(BaseModel):
    """How fast recordings fill the disk."""

    write_bytes_per_s: float
    free_bytes: int | None
    total_bytes: int | None
    hours_until_full: float | None = Field(description="At the measured write rate; null when not filling.")


class CameraCoverage(BaseModel):
    """A camera's recorded share of the last 24 hours."""

    camera_id: uuid.UUID
    name: str
    coverage: float
    gap_count: int


class RecordingHealth(BaseModel):
    """Retention liveness, the disk forecast and per-camera coverage."""

    checked_at: datetime
    retention: LivenessRead
    forecast: ForecastRead
    alarms: list[str]
    cameras: list[CameraCoverage]


class HoldCreate(BaseModel):
    """An evidence hold: keep a camera's recordings of [start, end) until released or expired."""

    camera_id: uuid.UUID
    start: datetime
    end: datetime
    reference_id: str = Field(min_length=1, max_length=100, description="Case or ticket number.")
    expires_at: datetime | None = Field(None, description="When the hold ends by itself; null: until released.")


class HoldRead(BaseModel):
    """A recording hold."""

    id: uuid.UUID
    camera_id: uuid.UUID
    start: datetime
    end: datetime
    reason: HoldReason
    reference_id: str
    expires_at: datetime | None
    created_by: uuid.UUID | None
    created_at: datetime
    active: bool


class HoldPage(BaseModel):
    """One page of holds."""

    items: list[HoldRead]
    total: int
    limit: int
    offset: int


def hold_read(hold: RecordingHold, *, now: datetime) -> HoldRead:
    """The API's view of a hold."""
    return HoldRead(
        id=hold.id,
        camera_id=hold.camera_id,
        start=hold.starts_at,
        end=hold.ends_at,
        reason=HoldReason(hold.reason),
        reference_id=hold.reference_id,
        expires_at=hold.expires_at,
        created_by=hold.created_by,
        created_at=hold.created_at,
        active=hold.expires_at is None or hold.expires_at > now,
    )


# --- dependencies -----------------------------------------------------------------------------------


async def get_disk_usage(container: AppContainer) -> retention.DiskUsage | None:
    """(used, total) of the filesystem holding the blob store; None when it is not a local disk."""
    return retention.local_disk_usage(container.settings.storage.root)


DiskUsageDep = Annotated[retention.DiskUsage | None, Depends(get_disk_usage)]


def _window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start, end = as_utc(start), as_utc(end)  # a time without offset is taken as UTC
    if end <= start:
        raise ValidationFailed("'end' must come after 'start'.")
    if end - start > MAX_WINDOW:
        raise ValidationFailed(f"A window is at most {MAX_WINDOW.days} days; ask for several.")
    return start, end


class CloudUploadsRead(BaseModel):
    """Storage fallback 2 as operations see it (media.upload)."""

    configured: bool = Field(description="Whether a cloud store is configured (storage.cloud); false: no cloud copies.")
    pending: int | None = Field(
        description="Segments queued for their cloud copy and not copied yet (all customers); null without a store."
    )


# --- routes -------------------------------------------------------------------------------------------


@router.get("/health", response_model=RecordingHealth)
async def get_recording_health(
    uow: UoW, user: Reader, container: AppContainer, disk_usage: DiskUsageDep
) -> RecordingHealth:
    """Retention liveness, the "disk full in N hours" forecast and each camera's coverage of the last 24 h."""
    now = utcnow()
    # Liveness and the forecast describe the shared storage, so they are read platform-wide (figures only).
    async with container.unit_of_work(TenantScope.platform(), Actor.system("recording-health")) as platform:
        status = await integrity.check_integrity(uow=platform, now=now, disk_usage=disk_usage)
    listed, _ = await cameras.list_cameras(uow=uow, filters=CameraFilter(), limit=HEALTH_CAMERAS, offset=0)
    reports = await integrity.coverage(
        uow=uow, camera_ids=[c.id for c in listed], start=now - timedelta(hours=24), end=now
    )
    live, fc = status.liveness, status.forecast
    return RecordingHealth(
        checked_at=now,
        retention=LivenessRead(
            alive=live.alive,
            last_finished_at=live.last_finished_at,
            age_s=live.age_s,
            interval_s=live.interval_s,
            last_error=live.last_error,
        ),
        forecast=ForecastRead(
            write_bytes_per_s=fc.write_bytes_per_s,
            free_bytes=fc.free_bytes,
            total_bytes=fc.total_bytes,
            hours_until_full=fc.hours_until_full,
        ),
        alarms=[a.message for a in status.alarms],
        cameras=[
            CameraCoverage(
                camera_id=c.id, name=c.name, coverage=reports[c.id].coverage, gap_count=len(reports[c.id].gaps)
            )
            for c in listed
        ],
    )


@router.get("/cloud-uploads", response_model=CloudUploadsRead)
async def get_cloud_uploads(_: Ops, container: AppContainer) -> CloudUploadsRead:
    """The cloud-copy backlog: how many segments wait for the cloud store (provider operations)."""
    if container.cloud_blobs is None:
        return CloudUploadsRead(configured=False, pending=None)
    lag = await container.bus.lag(upload.UPLOAD_GROUP, [upload.CLOUD_UPLOADS])
    return CloudUploadsRead(configured=True, pending=sum(lag.values()))


@router.get("/holds", response_model=HoldPage)
async def list_holds(
    uow: UoW,
    _: Exporter,
    page: Paging,
    camera_id: uuid.UUID | None = None,
    reason: HoldReason | None = None,
    active: Annotated[bool, Query(description="Only holds active now.")] = False,
) -> HoldPage:
    """Holds of the customer's recordings (evidence, event and export holds), newest first."""
    now = utcnow()
    items, total = await retention.list_holds(
        uow=uow,
        camera_id=camera_id,
        reason=reason,
        active_at=now if active else None,
        limit=page.limit,
        offset=page.offset,
    )
    return HoldPage(items=[hold_read(h, now=now) for h in items], total=total, limit=page.limit, offset=page.offset)


@router.post("/holds", status_code=201, response_model=HoldRead)
async def create_hold(body: HoldCreate, uow: UoW, user: Exporter) -> HoldRead:
    """Put an evidence hold on a camera's recordings: retention keeps them until it is released or expires."""
    await cameras.get_camera(uow=uow, camera_id=body.camera_id)  # 404 for a missing or foreign camera
    hold = await retention.create_hold(
        uow=uow,
        tenant_id=user.tenant,
        camera_id=body.camera_id,
        start=body.start,
        end=body.end,
        reason=HoldReason.EVIDENCE,
        reference_id=body.reference_id,
        expires_at=body.expires_at,
        created_by=user.user_id,
    )
    return hold_read(hold, now=utcnow())


@router.delete("/holds/{hold_id}", status_code=204, response_class=Response)
async def release_hold(hold_id: uuid.UUID, uow: UoW, _: Exporter) -> Response:
    """Release an evidence hold (event and export holds end with their event or export)."""
    await retention.release_hold(uow=uow, hold_id=hold_id, reason=HoldReason.EVIDENCE)
    return Response(status_code=204)


@router.get("/{camera_id}/segments", response_model=SegmentPage)
async def list_segments(
    camera_id: uuid.UUID,
    uow: UoW,
    _: Reader,
    page: Paging,
    start: datetime,
    end: datetime,
    stream: Annotated[str | None, Query(pattern="^(main|sub)$", description="main or sub; both when absent.")] = None,
) -> SegmentPage:
    """A camera's segments overlapping [start, end), oldest first."""
    start, end = _window(start, end)
    await cameras.get_camera(uow=uow, camera_id=camera_id)
    items, total = await integrity.segment_page(
        uow=uow, camera_id=camera_id, start=start, end=end, stream=stream, limit=page.limit, offset=page.offset
    )
    return SegmentPage(
        items=[SegmentRead.model_validate(s) for s in items], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/{camera_id}/gaps", response_model=GapReportRead)
async def get_gaps(camera_id: uuid.UUID, uow: UoW, _: Reader, start: datetime, end: datetime) -> GapReportRead:
    """Expected vs recorded time of a camera's main stream over [start, end), and where recording is missing."""
    start, end = _window(start, end)
    await cameras.get_camera(uow=uow, camera_id=camera_id)
    report = (await integrity.coverage(uow=uow, camera_ids=[camera_id], start=start, end=end))[camera_id]
    return GapReportRead(
        camera_id=camera_id,
        start=start,
        end=end,
        expected_s=report.expected_s,
        recorded_s=report.recorded_s,
        coverage=report.coverage,
        gaps=[GapRead(start=g.start, end=g.end, seconds=g.seconds) for g in report.gaps],
    )
