"""Retention: delete recordings past their camera's retention, free space under storage pressure,
and never touch what a hold protects.

Policy: `retention.days` resolved system default → customer → site → camera through the
configuration service; segments referenced by an event hold are kept `retention.event_days`
(event-type retention). Segments the recording mode did not keep (`Segment.kept_by` empty,
media.recording) go once they are older than `recording.buffer_minutes`. Any active hold (expires_at
empty or in the future) protects the time it covers from every pass, so an open event, an export or an
evidence hold never loses video.

Order of deletion: index rows first (in one transaction, committed), blobs after. A crash in
between leaves blobs no index row points at, which `sweep_orphans` removes later; the opposite
order could leave an index row pointing at a missing file, which playback and exports would trust.

>>> report = await apply_retention(uow=uow, blobs=blobs, now=utcnow(), policy_for_camera=policy,
...                               watermark=(0.90, 0.80), disk_usage=lambda: shutil.disk_usage(root)[:2])
>>> report.deleted_by_age, report.bytes_freed
(1432, 2718990336)
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from sqlalchemy import ColumnElement, delete, select, update

from vms.config.cache import ConfigCache
from vms.config.service import placed_camera_config
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.errors import NotFound, ValidationFailed
from vms.kernel.ids import new_id
from vms.media.models import HoldReason, RecordingHold, RetentionRun, Segment
from vms.ports import BlobStore
from vms.uow import UnitOfWork

log = structlog.get_logger(__name__)

DEFAULT_INTERVAL = timedelta(hours=1)  # how often the retention job is meant to run
ORPHAN_GRACE = timedelta(hours=1)  # a blob this young may be a segment whose index row is not committed yet
BATCH = 500  # rows per query and per DELETE ... IN (...)
RETENTION_KEYS = (
    "retention.days",
    "retention.event_days",
    "recording.buffer_minutes",
    "recording.edge_buffer_hours",
    "recording.cloud_upload",
)
CLOUD_ERRORS_PER_RUN = 3  # cloud errors in a row that end this run's edge-buffer pass (an outage: try next run)
# <tenant>/<camera>/<stream>/<YYYY/MM/DD/HH>/<MMSSffffff>-<sequence>.mp4 (media.service.blob_key)
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SEGMENT_KEY = re.compile(
    rf"^{_UUID}/{_UUID}/[a-z]+/(?P<y>\d{{4}})/(?P<mo>\d\d)/(?P<d>\d\d)/(?P<h>\d\d)/(?P<mi>\d\d)(?P<s>\d\d)\d{{6}}-\d+\.mp4$"
)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """A camera's effective retention."""

    days: int
    event_days: int
    buffer_minutes: float = 15.0  # how long a segment the recording mode does not keep stays
    edge_buffer_hours: float = 72.0  # with a cloud store: how long the local copy of a segment the cloud has stays
    cloud_upload: bool = True  # false (NVR-fed cameras): never copied to the cloud, so no edge-buffer check either


PolicyForCamera = Callable[[uuid.UUID, uuid.UUID], Awaitable[RetentionPolicy]]  # (tenant_id, camera_id)
DiskUsage = Callable[[], tuple[int, int]]  # (used bytes, total bytes) of the segment storage


def local_disk_usage(root: Path) -> DiskUsage | None:
    """A DiskUsage for the filesystem holding `root`; None when there is no local directory (S3)."""
    if not root.exists():
        return None

    def usage() -> tuple[int, int]:
        measured = shutil.disk_usage(root)
        return measured.used, measured.total

    return usage


@dataclass(slots=True)
class RetentionReport:
    """What one retention run did."""

    run_id: uuid.UUID
    started_at: datetime
    finished_at: datetime | None = None
    deleted_by_age: int = 0
    deleted_by_watermark: int = 0
    deleted_unkept: int = 0  # buffer-only segments past the rolling buffer
    deleted_uploaded: int = 0  # local copies freed past the edge buffer (the cloud copy is whole; the row stays)
    bytes_freed: int = 0
    orphans_swept: int = 0
    protected: int = 0  # segments past retention kept because a hold covers them
    usage_before: float | None = None  # share of the disk used (0-1), when measured
    usage_after: float | None = None
    deleted_keys: list[str] = field(default_factory=list)


def config_policy(*, uow: UnitOfWork, config_cache: ConfigCache) -> PolicyForCamera:
    """Policies from the configuration service (system → customer → site → camera), cached per run."""
    found: dict[uuid.UUID, RetentionPolicy] = {}

    async def policy(tenant_id: uuid.UUID, camera_id: uuid.UUID) -> RetentionPolicy:
        if camera_id not in found:
            values = await placed_camera_config(
                uow=uow,
                config_cache=config_cache,
                tenant_id=tenant_id,
                camera_id=camera_id,
                keys=RETENTION_KEYS,
            )
            found[camera_id] = RetentionPolicy(
                days=int(values["retention.days"].value),
                event_days=int(values["retention.event_days"].value),
                buffer_minutes=float(values["recording.buffer_minutes"].value),
                edge_buffer_hours=float(values["recording.edge_buffer_hours"].value),
                cloud_upload=bool(values["recording.cloud_upload"].value),
            )
        return found[camera_id]

    return policy


# --- holds -------------------------------------------------------------------------------------


async def create_hold(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    camera_id: uuid.UUID,
    start: datetime,
    end: datetime,
    reason: HoldReason,
    reference_id: str,
    expires_at: datetime | None = None,
    created_by: uuid.UUID | None = None,
) -> RecordingHold:
    """Protect [start, end) of a camera's recordings from retention until `expires_at` (or release)."""
    start, end = as_utc(start), as_utc(end)  # a time without offset is taken as UTC
    expires_at = as_utc(expires_at) if expires_at is not None else None
    if end <= start:
        raise ValidationFailed("A hold's end must come after its start.")
    if expires_at is not None and expires_at <= start:
        raise ValidationFailed("A hold cannot expire before the time it holds begins.")
    hold = RecordingHold(
        id=new_id(),
        tenant_id=tenant_id,
        camera_id=camera_id,
        starts_at=start,
        ends_at=end,
        reason=reason.value,
        reference_id=reference_id,
        expires_at=expires_at,
        created_by=created_by,
    )
    uow.add(hold)
    await uow.flush()
    uow.audit("create", "recording_hold", hold.id, new=_hold_document(hold))
    return hold


async def release_hold(
    *, uow: UnitOfWork, hold_id: uuid.UUID, reason: HoldReason | None = None, now: datetime | None = None
) -> RecordingHold:
    """End a hold now (it stays listed, expired, for the record); `reason` refuses other kinds of hold."""
    hold = await uow.get(RecordingHold, hold_id, what="Recording hold")
    if reason is not None and hold.reason != reason.value:
        raise NotFound(f"Recording hold {hold_id} not found among {reason.value} holds.")
    at = now or utcnow()
    if hold.expires_at is None or hold.expires_at > at:
        old = _hold_document(hold)
        hold.expires_at = at
        await uow.flush()
        uow.audit("release", "recording_hold", hold.id, old=old, new=_hold_document(hold))
    return hold


async def release_holds_for(*, uow: UnitOfWork, reason: HoldReason, reference_id: str, now: datetime) -> int:
    """End every hold an event or export made (when the event closes or the export is deleted)."""
    rows = await uow.session.execute(
        select(RecordingHold).where(RecordingHold.reason == reason.value, RecordingHold.reference_id == reference_id)
    )
    released = 0
    for hold in rows.scalars():
        if hold.expires_at is None or hold.expires_at > now:
            await release_hold(uow=uow, hold_id=hold.id, now=now)
            released += 1
    return released


async def list_holds(
    *,
    uow: UnitOfWork,
    camera_id: uuid.UUID | None = None,
    reason: HoldReason | None = None,
    active_at: datetime | None = None,
    limit: int,
    offset: int,
) -> tuple[list[RecordingHold], int]:
    """Holds of the tenant, newest first; `active_at` keeps only holds active then."""
    stmt = select(RecordingHold).order_by(RecordingHold.created_at.desc(), RecordingHold.id)
    if camera_id is not None:
        stmt = stmt.where(RecordingHold.camera_id == camera_id)
    if reason is not None:
        stmt = stmt.where(RecordingHold.reason == reason.value)
    if active_at is not None:
        stmt = stmt.where((RecordingHold.expires_at.is_(None)) | (RecordingHold.expires_at > active_at))
    return await uow.page(stmt, limit=limit, offset=offset)


def _hold_document(hold: RecordingHold) -> dict[str, object]:
    return {
        "camera_id": hold.camera_id,
        "start": hold.starts_at,
        "end": hold.ends_at,
        "reason": hold.reason,
        "reference_id": hold.reference_id,
        "expires_at": hold.expires_at,
    }


# --- the retention job -------------------------------------------------------------------------


@dataclass(slots=True)
class _Protection:
    """Decides whether a segment is held, per camera: holds loaded once per run."""

    now: datetime
    policy_for_camera: PolicyForCamera
    holds: dict[uuid.UUID, list[RecordingHold]]
    policies: dict[uuid.UUID, RetentionPolicy] = field(default_factory=dict)

    async def policy(self, segment: Segment) -> RetentionPolicy:
        if segment.camera_id not in self.policies:
            self.policies[segment.camera_id] = await self.policy_for_camera(segment.tenant_id, segment.camera_id)
        return self.policies[segment.camera_id]

    async def protects(self, segment: Segment) -> bool:
        for hold in self.holds.get(segment.camera_id, ()):
            if hold.tenant_id != segment.tenant_id:
                continue
            if not (segment.started_at < hold.ends_at and segment.ended_at > hold.starts_at):
                continue
            if hold.expires_at is None or hold.expires_at > self.now:
                return True
            if hold.reason == HoldReason.EVENT:
                # Event-type retention: video an event referenced stays `event_days`, even after the event closed.
                event_days = (await self.policy(segment)).event_days
                if segment.ended_at > self.now - timedelta(days=event_days):
                    return True
        return False


async def apply_retention(
    *,
    uow: UnitOfWork,
    blobs: BlobStore,
    now: datetime,
    policy_for_camera: PolicyForCamera,
    watermark: tuple[float, float] | None,
    disk_usage: DiskUsage,
    sweep: bool = False,
    cloud: BlobStore | None = None,
) -> RetentionReport:
    """Run retention once over every segment `uow` can see (platform scope: the whole storage).

    0. unkept: segments the recording mode did not keep, older than the camera's
       `recording.buffer_minutes`, unless held;
    1. by age: segments that ended more than the camera's `retention.days` ago, unless held;
    1b. edge buffer, with a `cloud` store (media.upload) and `blobs` the TieredBlobStore over it:
       local copies that ended more than the camera's `recording.edge_buffer_hours` ago are freed,
       unless held, once the cloud holds the whole segment (asked of the cloud itself, once per
       segment; a few errors in a row end the pass); the row stays and reads go to the cloud. What is
       not in the cloud yet stays.
    2. by watermark `(high, low)` (shares of the disk, e.g. (0.90, 0.80)): when usage is above
       `high`, the oldest unheld segments of any camera still stored locally until usage is at or
       below `low`;
    Deleting a segment (0, 1, 2) removes its row and, through a tiered store, both copies.
    3. with `sweep`, `sweep_orphans` (it lists every blob, so run it less often than the rest).
    Owns its transactions (it is a job loop, not a request): rows are deleted and committed before
    their blobs are deleted. The run is recorded in `retention_runs`.
    """
    if watermark is not None and not 0 < watermark[1] <= watermark[0] <= 1:
        raise ValidationFailed("Watermarks are shares of the disk with 0 < low <= high <= 1.")
    run = RetentionRun(id=new_id(), started_at=now)
    uow.add(run)
    await uow.commit()  # the start is recorded even if the run fails
    report = RetentionReport(run_id=run.id, started_at=now)
    clock = time.monotonic()
    try:
        holds = await _active_or_event_holds(uow)
        protection = _Protection(now=now, policy_for_camera=policy_for_camera, holds=holds)
        await _delete_unkept(uow, blobs, protection, report)
        await _delete_by_age(uow, blobs, protection, report)
        if cloud is not None:  # before the watermark: freeing what the cloud holds spares deleting footage
            await _free_uploaded(uow, blobs, cloud, protection, report)
        if watermark is not None:
            await _delete_by_watermark(uow, blobs, protection, watermark, disk_usage, report)
        if sweep:
            report.orphans_swept = len(await sweep_orphans(uow=uow, blobs=blobs, now=now))
    except Exception as exc:
        await uow.rollback()
        await _finish(uow, run.id, report, error=f"{type(exc).__name__}: {exc}"[:400], took_s=time.monotonic() - clock)
        log.exception("retention.failed", run_id=str(run.id))
        raise
    await _finish(uow, run.id, report, error=None, took_s=time.monotonic() - clock)
    log.info(
        "retention.done",
        run_id=str(run.id),
        deleted_unkept=report.deleted_unkept,
        deleted_by_age=report.deleted_by_age,
        deleted_uploaded=report.deleted_uploaded,
        deleted_by_watermark=report.deleted_by_watermark,
        bytes_freed=report.bytes_freed,
        protected=report.protected,
    )
    return report


async def _finish(
    uow: UnitOfWork, run_id: uuid.UUID, report: RetentionReport, *, error: str | None, took_s: float
) -> None:
    run = await uow.get(RetentionRun, run_id)
    report.finished_at = report.started_at + timedelta(seconds=took_s)  # on the caller's clock
    run.finished_at = report.finished_at if error is None else None  # a failed run does not count as alive
    run.deleted_by_age = report.deleted_by_age
    run.deleted_by_watermark = report.deleted_by_watermark
    run.deleted_unkept = report.deleted_unkept
    run.bytes_freed = report.bytes_freed
    run.orphans_swept = report.orphans_swept
    run.error = error
    await uow.commit()


async def _active_or_event_holds(uow: UnitOfWork) -> dict[uuid.UUID, list[RecordingHold]]:
    """Every hold that may still protect something, by camera (expired event holds count: event retention)."""
    rows = await uow.session.execute(select(RecordingHold))
    holds: dict[uuid.UUID, list[RecordingHold]] = {}
    for hold in rows.scalars():
        holds.setdefault(hold.camera_id, []).append(hold)
    return holds


async def _delete_unkept(uow: UnitOfWork, blobs: BlobStore, protection: _Protection, report: RetentionReport) -> None:
    """Segments no recording mode kept, once past the camera's rolling buffer."""
    report.deleted_unkept += await _delete_per_camera(
        uow,
        blobs,
        protection,
        report,
        cutoff=lambda policy: protection.now - timedelta(minutes=policy.buffer_minutes),
        unkept_only=True,
    )


async def _delete_by_age(uow: UnitOfWork, blobs: BlobStore, protection: _Protection, report: RetentionReport) -> None:
    report.deleted_by_age += await _delete_per_camera(
        uow, blobs, protection, report, cutoff=lambda policy: protection.now - timedelta(days=policy.days)
    )


async def _free_uploaded(
    uow: UnitOfWork, blobs: BlobStore, cloud: BlobStore, protection: _Protection, report: RetentionReport
) -> None:
    """Edge buffering: free the local copies past the camera's `recording.edge_buffer_hours` that the cloud
    holds whole. The rows stay (marked `local_freed_at`): `blobs` must be the TieredBlobStore that reads
    such segments from the cloud. Each segment is asked of the cloud once, when its buffer time is up;
    freed ones are not asked again, cameras that are not copied (NVR-fed) are not asked at all, and a few
    cloud errors in a row end the pass until the next run."""
    free_local = getattr(blobs, "free_local", None)
    if free_local is None:  # a plain store could not read a freed segment back: keep every local copy
        log.warning("retention.edge_buffer_needs_tiered_store")
        return
    errors = 0
    cameras = (
        await uow.session.execute(
            select(Segment.tenant_id, Segment.camera_id).where(Segment.local_freed_at.is_(None)).distinct()
        )
    ).all()
    for tenant_id, camera_id in cameras:
        policy = protection.policies.get(camera_id)
        if policy is None:
            policy = protection.policies[camera_id] = await protection.policy_for_camera(tenant_id, camera_id)
        if not policy.cloud_upload:
            continue
        before = protection.now - timedelta(hours=policy.edge_buffer_hours)
        old_local = (Segment.ended_at <= before, Segment.local_freed_at.is_(None))
        async for batch in _pages(uow, Segment.camera_id == camera_id, Segment.tenant_id == tenant_id, *old_local):
            uploaded: list[Segment] = []
            for segment in batch:
                if await protection.protects(segment):
                    continue
                try:
                    whole = await cloud.size(segment.blob_key) == segment.bytes
                    errors = 0
                except NotFound:
                    continue  # not copied yet (the queue is behind): kept, asked again next run
                except Exception as exc:  # the cloud is away: keep the local copies, try at the next run
                    errors += 1
                    log.warning("retention.cloud_unreachable", key=segment.blob_key, error=str(exc))
                    if errors >= CLOUD_ERRORS_PER_RUN:
                        await _free(uow, free_local, uploaded, report)
                        return
                    continue
                if whole:
                    uploaded.append(segment)
            await _free(uow, free_local, uploaded, report)


async def _free(
    uow: UnitOfWork, free_local: Callable[..., Awaitable[None]], segments: Sequence[Segment], report: RetentionReport
) -> None:
    """Mark the rows freed, committed; then remove the local copies (a crash in between leaves a local copy
    that is still read first: harmless)."""
    if not segments:
        return
    await uow.session.execute(
        update(Segment)
        .where(Segment.id.in_([s.id for s in segments]))
        .values(local_freed_at=report.started_at)
        .execution_options(synchronize_session=False)
    )
    await uow.commit()
    await free_local(*[s.blob_key for s in segments])
    report.deleted_uploaded += len(segments)
    report.bytes_freed += sum(s.bytes for s in segments)


async def _delete_per_camera(
    uow: UnitOfWork,
    blobs: BlobStore,
    protection: _Protection,
    report: RetentionReport,
    *,
    cutoff: Callable[[RetentionPolicy], datetime],
    unkept_only: bool = False,
) -> int:
    """Per camera, delete unprotected segments that ended before `cutoff(policy)` (only unkept ones with
    `unkept_only`); how many were deleted."""
    deleted = 0
    cameras = (await uow.session.execute(select(Segment.tenant_id, Segment.camera_id).distinct())).all()
    for tenant_id, camera_id in cameras:
        policy = protection.policies.get(camera_id)
        if policy is None:
            policy = protection.policies[camera_id] = await protection.policy_for_camera(tenant_id, camera_id)
        ended = Segment.ended_at <= cutoff(policy)
        conditions = [Segment.camera_id == camera_id, Segment.tenant_id == tenant_id, ended]
        if unkept_only:
            conditions.append(Segment.kept_by.is_(None))
        async for batch in _pages(uow, *conditions):
            doomed = []
            for segment in batch:
                if await protection.protects(segment):
                    report.protected += not unkept_only  # counted by the age pass only
                else:
                    doomed.append(segment)
            deleted += await _delete(uow, blobs, doomed, report)
    return deleted


async def _delete_by_watermark(
    uow: UnitOfWork,
    blobs: BlobStore,
    protection: _Protection,
    watermark: tuple[float, float],
    disk_usage: DiskUsage,
    report: RetentionReport,
) -> None:
    high, low = watermark
    used, total = disk_usage()
    report.usage_before = report.usage_after = used / total if total else None
    if not total or used <= high * total:
        return
    # Segments whose local copy the edge buffer freed take no local space: nothing to gain from them.
    async for batch in _pages(uow, Segment.local_freed_at.is_(None)):
        if used <= low * total:
            break
        doomed, expected = [], used
        for segment in batch:
            if expected <= low * total:
                break
            if await protection.protects(segment):
                continue
            doomed.append(segment)
            expected -= segment.bytes
        if doomed:  # operators must be able to tell what storage pressure took, and from whom
            log.warning(
                "retention.watermark_dropped",
                segments=len(doomed),
                bytes=sum(s.bytes for s in doomed),
                oldest=str(doomed[0].started_at),
                newest=str(doomed[-1].ended_at),
                cameras=sorted({str(s.camera_id) for s in doomed}),
                usage=round(used / total, 3),
            )
        report.deleted_by_watermark += await _delete(uow, blobs, doomed, report)
        used, total = disk_usage()  # measure again: the index's sizes are not the whole disk
        report.usage_after = used / total if total else None
    else:  # every unheld local segment gone, and the disk is still above the low mark
        if used > low * total:
            log.warning("retention.watermark_unreachable", used=used, total=total, low=low)


async def _pages(uow: UnitOfWork, *conditions: ColumnElement[bool]) -> AsyncIterator[list[Segment]]:
    """The segments matching `conditions`, oldest first, `BATCH` at a time. Keyset paging on (started_at, id):
    rows deleted or changed between pages shift nothing."""
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        stmt = select(Segment).where(*conditions).order_by(Segment.started_at, Segment.id).limit(BATCH)
        if after is not None:
            stmt = stmt.where(
                (Segment.started_at > after[0]) | ((Segment.started_at == after[0]) & (Segment.id > after[1]))
            )
        batch = list((await uow.session.execute(stmt)).scalars())
        if not batch:
            return
        after = (batch[-1].started_at, batch[-1].id)
        yield batch


async def _delete(uow: UnitOfWork, blobs: BlobStore, segments: Sequence[Segment], report: RetentionReport) -> int:
    """Rows first, committed; then blobs. A crash in between leaves orphans for `sweep_orphans`."""
    if not segments:
        return 0
    keys = [s.blob_key for s in segments]
    await uow.session.execute(
        delete(Segment).where(Segment.id.in_([s.id for s in segments])).execution_options(synchronize_session=False)
    )
    await uow.commit()
    await blobs.delete(*keys)
    report.bytes_freed += sum(s.bytes for s in segments)
    report.deleted_keys.extend(keys)
    return len(segments)


async def sweep_orphans(
    *, uow: UnitOfWork, blobs: BlobStore, now: datetime, grace: timedelta = ORPHAN_GRACE, prefix: str = ""
) -> list[str]:
    """Delete segment blobs no index row points at (left by a crash between commit and blob deletion,
    or between a blob's upload and its index row); blobs younger than `grace` are left alone.

    Only keys shaped like segment keys are considered, so clips, snapshots and exports are never touched.
    In a tenant scope only that tenant's prefix is swept: other tenants' rows are invisible there, and
    their blobs would all look orphaned.
    """
    if uow.tenant_id is not None:
        prefix = f"{uow.tenant_id}/{prefix.removeprefix(f'{uow.tenant_id}/')}"
    candidates = []
    for key in await blobs.list(prefix):
        match = SEGMENT_KEY.match(key)
        if match is None:
            continue
        g = {k: int(v) for k, v in match.groupdict().items()}
        try:
            started = datetime(
                g["y"], g["mo"], g["d"], g["h"], g["mi"], g["s"], tzinfo=UTC
            )  # keys are cut from UTC times
        except ValueError:
            continue
        if started < now - grace:
            candidates.append(key)
    orphans = []
    for i in range(0, len(candidates), BATCH):
        chunk = candidates[i : i + BATCH]
        rows = await uow.session.execute(select(Segment.blob_key).where(Segment.blob_key.in_(chunk)))
        indexed = set(rows.scalars())
        orphans += [key for key in chunk if key not in indexed]
    if orphans:
        await blobs.delete(*orphans)
        log.info("retention.orphans_swept", count=len(orphans))
    return orphans
