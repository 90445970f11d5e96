"""MP4 export of a camera's recordings over a time range: stream copy (no re-encode), cut in the
background with progress, stored in the blob store, downloaded with HTTP Range (resumable).

The cut starts at the last keyframe at or before the requested start (a stream copy can only begin
on a keyframe, so the export may begin up to one GOP early) and stops before the first packet at or
after the requested end. Timestamps keep wall-clock distances, so a gap in the recording stays a gap
in the file (the last frame holds) and "minute 3 of the export" is minute 3 of the real time — what an
investigator expects of evidence. The file is written with `+faststart` (index first) so a browser
plays it while it downloads, and its SHA-256 is stored for chain of custody.

Retention cannot delete the segments while they are cut: every export puts a recording hold on its
range (reason EXPORT) that expires an hour after it was asked for, or — when asked — a lasting
EXPORT hold (until the export is deleted) or an EVIDENCE hold with a case number (until released).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av
import structlog
from av.error import FFmpegError
from sqlalchemy import select

from vms.kernel.clock import as_utc, utcnow
from vms.kernel.errors import CorruptVideo, NotFound, ValidationFailed, VmsError
from vms.kernel.ids import TenantId, new_id
from vms.kernel.tenancy import TenantScope
from vms.media import retention
from vms.media import service as media
from vms.media.retention import HoldReason
from vms.ports import BlobStore
from vms.streaming.hls import segment_source
from vms.streaming.models import Export, ExportStatus
from vms.uow import Actor, UnitOfWork

log = structlog.get_logger(__name__)
CLOCK = 90_000
TRANSIENT_HOLD = timedelta(hours=1)  # protects the range while it is cut when no lasting hold was asked for
STALE_AFTER = timedelta(minutes=2)  # a running export without a heartbeat this long has lost its cutter
HEARTBEAT_S = 1.0

UnitOfWorkFactory = Callable[[TenantScope, Actor], AbstractAsyncContextManager[UnitOfWork]]


class ExportHold(StrEnum):
    """What keeps an export's recordings beyond the cut."""

    NONE = "none"  # only while cutting (an hour)
    EXPORT = "export"  # until the export is deleted
    EVIDENCE = "evidence"  # until a supervisor releases it (case number required)


# --- service ------------------------------------------------------------------------------------------


async def create_export(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    camera_id: uuid.UUID,
    start: datetime,
    end: datetime,
    stream: str,
    max_s: float,
    hold: ExportHold = ExportHold.NONE,
    reference_id: str | None = None,
    requested_by: uuid.UUID | None = None,
) -> Export:
    """Accept an export (queued) after checking the range and that something is recorded in it."""
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise ValidationFailed("'end' must come after 'start'.")
    if (end - start).total_seconds() > max_s:
        raise ValidationFailed(f"An export covers at most {max_s / 3600:g} h; export several shorter ranges.")
    if hold is ExportHold.EVIDENCE and not reference_id:
        raise ValidationFailed("An evidence hold needs 'reference_id' (the case or ticket number).")
    if not await media.segments_between(uow=uow, camera_id=camera_id, start=start, end=end, stream=stream):
        raise ValidationFailed(f"Nothing of the {stream} stream is recorded between {start} and {end}.")
    now = utcnow()
    export = Export(
        id=new_id(),
        tenant_id=tenant_id,
        camera_id=camera_id,
        stream=stream,
        starts_at=start,
        ends_at=end,
        status=ExportStatus.QUEUED.value,
        progress=0.0,
        hold=None if hold is ExportHold.NONE else hold.value,
        reference_id=reference_id,
        requested_by=requested_by,
        updated_at=now,
    )
    uow.add(export)
    await uow.flush()
    await retention.create_hold(
        uow=uow,
        tenant_id=tenant_id,
        camera_id=camera_id,
        start=start,
        end=end,
        reason=HoldReason.EVIDENCE if hold is ExportHold.EVIDENCE else HoldReason.EXPORT,
        reference_id=reference_id if hold is ExportHold.EVIDENCE and reference_id else str(export.id),
        expires_at=now + TRANSIENT_HOLD if hold is ExportHold.NONE else None,
        created_by=requested_by,
    )
    uow.audit("create", "export", export.id, new=_document(export))
    return export


async def get_export(*, uow: UnitOfWork, export_id: uuid.UUID, now: datetime | None = None) -> Export:
    """One export of the caller's customer (a stale running one is reported failed)."""
    export = await uow.get(Export, export_id, what="Export")
    _settle_stale(export, now or utcnow())
    return export


async def list_exports(
    *, uow: UnitOfWork, camera_id: uuid.UUID | None, limit: int, offset: int
) -> tuple[list[Export], int]:
    """The customer's exports, newest first."""
    stmt = select(Export).order_by(Export.created_at.desc(), Export.id)
    if camera_id is not None:
        stmt = stmt.where(Export.camera_id == camera_id)
    items, total = await uow.page(stmt, limit=limit, offset=offset)
    now = utcnow()
    for export in items:
        _settle_stale(export, now)
    return items, total


async def delete_export(*, uow: UnitOfWork, blobs: BlobStore, export_id: uuid.UUID) -> None:
    """Delete an export's file and row and end its EXPORT hold (an evidence hold stays until released)."""
    export = await uow.get(Export, export_id, what="Export")
    if export.status in (ExportStatus.QUEUED, ExportStatus.RUNNING) and not _is_stale(export, utcnow()):
        raise ValidationFailed("The export is still being cut; delete it when it is done or failed.")
    if export.blob_key:
        await blobs.delete(export.blob_key)
    await retention.release_holds_for(uow=uow, reason=HoldReason.EXPORT, reference_id=str(export.id), now=utcnow())
    uow.audit("delete", "export", export.id, old=_document(export))
    await uow.delete(export)


def export_key(export: Export) -> str:
    """Where an export's MP4 lives: under its tenant, beside nothing else."""
    return f"{export.tenant_id}/exports/{export.id}.mp4"


def _is_stale(export: Export, now: datetime) -> bool:
    seen = as_utc(export.updated_at or export.created_at)
    return export.status == ExportStatus.RUNNING and now - seen > STALE_AFTER


def _settle_stale(export: Export, now: datetime) -> None:
    # The cutter runs in an api process; if that process died, nobody will ever finish this export.
    if _is_stale(export, now):
        export.status = ExportStatus.FAILED.value
        export.error = "The export was interrupted (the server restarted); ask for it again."
        export.finished_at = now


def _document(export: Export) -> dict[str, object]:
    return {
        "camera_id": str(export.camera_id),
        "stream": export.stream,
        "start": as_utc(export.starts_at).isoformat(),
        "end": as_utc(export.ends_at).isoformat(),
        "hold": export.hold,
        "reference_id": export.reference_id,
        "status": export.status,
    }


# --- the cut ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CutResult:
    """What an export file holds."""

    frames: int
    duration_s: float
    first_at: datetime  # wall-clock time of the first frame written
    skipped_segments: int  # segments left out because their codec parameters differ from the first


def cut_mp4(
    parts: Sequence[datetime],
    open_part: Callable[[int], str | BinaryIO],
    *,
    start: datetime,
    end: datetime,
    out_path: Path,
    on_progress: Callable[[int], None] = lambda _done: None,
) -> CutResult:
    """Stream-copy the segments starting at `parts` (their UTC starts) into one MP4 covering [start, end).

    `open_part(i)` gives where segment i is read from. Runs in a thread (PyAV blocks). CorruptVideo when
    nothing could be written; segments whose codec or size differ from the first are left out (an MP4
    track has one set of codec parameters).
    """
    start, end = as_utc(start), as_utc(end)
    frames, skipped = 0, 0
    first_wall: datetime | None = None
    last_dts = -1
    last_end = 0
    template_key: tuple[str, int, int] | None = None
    try:
        with av.open(str(out_path), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
            ost: Any = None
            for index, seg_start in enumerate(parts):
                with av.open(open_part(index), mode="r") as src:
                    ist = src.streams.video[0]
                    ctx = ist.codec_context
                    key = (ctx.name, ctx.width, ctx.height)
                    if ost is None:
                        ost = out.add_stream_from_template(ist)
                        ost.time_base = Fraction(1, CLOCK)
                        template_key = key
                    elif key != template_key:
                        skipped += 1
                        on_progress(index + 1)
                        continue
                    packets = _packets_in_range(src, ist, as_utc(seg_start), start=start, end=end)
                    for packet, wall_dts, wall_pts in packets:
                        if first_wall is None:
                            first_wall = wall_dts
                        dts = round((wall_dts - first_wall).total_seconds() * CLOCK)
                        pts = round((wall_pts - first_wall).total_seconds() * CLOCK)
                        dts = max(dts, last_dts + 1)  # the muxer refuses non-increasing dts
                        packet.dts, packet.pts = dts, max(pts, dts)
                        duration = round(float(packet.duration * ist.time_base) * CLOCK) if packet.duration else 0
                        packet.time_base = Fraction(1, CLOCK)
                        packet.duration = duration
                        packet.stream = ost
                        out.mux(packet)
                        last_dts = dts
                        last_end = max(last_end, packet.pts + duration)
                        frames += 1
                on_progress(index + 1)
            if ost is None or frames == 0:
                raise CorruptVideo("No frame of the range could be read from the recordings.")
    except FFmpegError as exc:
        raise CorruptVideo(f"The recordings of this range cannot be read: {exc}") from exc
    assert first_wall is not None
    return CutResult(frames=frames, duration_s=last_end / CLOCK, first_at=first_wall, skipped_segments=skipped)


async def cut_stored(
    blobs: BlobStore,
    segments: Sequence[tuple[str, datetime]],
    *,
    start: datetime,
    end: datetime,
    out_path: Path,
    on_progress: Callable[[int], None] = lambda _done: None,
) -> CutResult:
    """`cut_mp4` over stored segments given as (blob key, UTC start), on a thread off the event loop."""
    loop = asyncio.get_running_loop()

    def open_part(index: int) -> str | BinaryIO:
        # Runs on the cutter thread; the blob store is async, so hop back to the loop for each segment.
        return asyncio.run_coroutine_threadsafe(segment_source(blobs, segments[index][0]), loop).result()

    parts = [started_at for _, started_at in segments]
    return await asyncio.to_thread(
        cut_mp4, parts, open_part, start=start, end=end, out_path=out_path, on_progress=on_progress
    )


def _packets_in_range(
    src: Any, ist: Any, seg_start: datetime, *, start: datetime, end: datetime
) -> list[tuple[Any, datetime, datetime]]:
    """A segment's packets with wall-clock dts/pts, from the last keyframe at or before `start` to before `end`."""
    time_base = ist.time_base or Fraction(1, CLOCK)
    found: list[tuple[Any, datetime, datetime]] = []
    origin: int | None = None
    for packet in src.demux(ist):
        if packet.size == 0 or packet.pts is None:
            continue
        dts = packet.dts if packet.dts is not None else packet.pts
        if origin is None:
            origin = dts
        wall_dts = seg_start + timedelta(seconds=float((dts - origin) * time_base))
        wall_pts = seg_start + timedelta(seconds=float((packet.pts - origin) * time_base))
        if wall_dts >= end:
            break
        found.append((packet, wall_dts, wall_pts))
    if found and found[0][1] < start:
        keyframes = [i for i, (p, _, pts) in enumerate(found) if p.is_keyframe and pts <= start]
        found = found[keyframes[-1] :] if keyframes else found
    return found


def sha256_of(path: Path) -> str:
    """The file's SHA-256 (hex)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- the background runner ----------------------------------------------------------------------------


class ExportRunner:
    """Cuts exports in this process's event loop, a few at a time, reporting progress in the export row.

    >>> runner = ExportRunner(unit_of_work=container.unit_of_work, blobs=container.blobs, work_dir=tmp, slots=2)
    >>> runner.submit(export.id, tenant_id=export.tenant_id)
    >>> await runner.wait(export.id)
    """

    def __init__(self, *, unit_of_work: UnitOfWorkFactory, blobs: BlobStore, work_dir: Path, slots: int) -> None:
        self.unit_of_work = unit_of_work
        self.blobs = blobs
        self.work_dir = work_dir
        self._slots = asyncio.Semaphore(slots)
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}

    def submit(self, export_id: uuid.UUID, *, tenant_id: uuid.UUID) -> None:
        """Start cutting an export (queued behind running ones); returns at once."""
        task = asyncio.create_task(self._run(export_id, tenant_id), name=f"export-{export_id}")
        self._tasks[export_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(export_id, None))

    async def wait(self, export_id: uuid.UUID) -> None:
        """Until an export submitted here has finished (or at once if it is not running here)."""
        task = self._tasks.get(export_id)
        if task is not None:
            await asyncio.shield(task)

    async def close(self) -> None:
        """Cancel running and queued cuts; each is recorded as failed ("interrupted, ask again") before this returns."""
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, export_id: uuid.UUID, tenant_id: uuid.UUID) -> None:
        scope, actor = TenantScope.of(TenantId(tenant_id)), Actor.system("export")
        bound = log.bind(export_id=str(export_id), tenant_id=str(tenant_id))
        try:
            async with self._slots:
                await self._cut(export_id, scope, actor)
        except asyncio.CancelledError:  # shutdown, also of exports still queued for a slot
            await self._finish(export_id, scope, actor, error="The export was interrupted; ask for it again.")
            raise
        except VmsError as exc:
            bound.warning("export failed", error=exc.detail)
            await self._finish(export_id, scope, actor, error=exc.detail[:400])
        except Exception as exc:  # a cutter bug must still end the export, not leave it running
            bound.exception("export failed")
            await self._finish(export_id, scope, actor, error=f"Export failed: {type(exc).__name__}.")

    async def _cut(self, export_id: uuid.UUID, scope: TenantScope, actor: Actor) -> None:
        async with self.unit_of_work(scope, actor) as uow:
            export = await uow.get(Export, export_id, what="Export")
            segments = await media.segments_between(
                uow=uow, camera_id=export.camera_id, start=export.starts_at, end=export.ends_at, stream=export.stream
            )
            export.status, export.started_at, export.updated_at = ExportStatus.RUNNING.value, utcnow(), utcnow()
            start, end, key = as_utc(export.starts_at), as_utc(export.ends_at), export_key(export)
            await uow.commit()
        if not segments:
            raise NotFound("The recordings of this range were deleted before they could be exported.")
        done = [0]

        def progress(count: int) -> None:
            done[0] = count

        self.work_dir.mkdir(parents=True, exist_ok=True)
        out_path = self.work_dir / f"{export_id}.mp4"
        cut = asyncio.create_task(
            cut_stored(
                self.blobs,
                [(s.blob_key, s.started_at) for s in segments],
                start=start,
                end=end,
                out_path=out_path,
                on_progress=progress,
            )
        )
        try:
            while not cut.done():
                await asyncio.wait({cut}, timeout=HEARTBEAT_S)
                await self._progress(export_id, scope, actor, done[0] / len(segments))
            result = cut.result()
            digest = await asyncio.to_thread(sha256_of, out_path)
            size = await self.blobs.put_file(key, out_path, move=True)
        finally:
            out_path.unlink(missing_ok=True)
        async with self.unit_of_work(scope, actor) as uow:
            export = await uow.get(Export, export_id, what="Export")
            now = utcnow()
            export.status, export.progress, export.blob_key = ExportStatus.DONE.value, 1.0, key
            export.bytes, export.duration_s, export.sha256 = size, round(result.duration_s, 3), digest
            export.finished_at = export.updated_at = now
            if result.skipped_segments:
                export.error = f"{result.skipped_segments} segment(s) left out: the camera's codec or size changed."
            uow.audit("complete", "export", export.id, new={"bytes": size, "sha256": digest})
            await uow.commit()

    async def _progress(self, export_id: uuid.UUID, scope: TenantScope, actor: Actor, share: float) -> None:
        async with self.unit_of_work(scope, actor) as uow:
            export = await uow.get(Export, export_id, what="Export")
            export.progress, export.updated_at = round(min(share, 0.99), 3), utcnow()
            await uow.commit()

    async def _finish(self, export_id: uuid.UUID, scope: TenantScope, actor: Actor, *, error: str) -> None:
        # Shielded: a cancelled cut must still be recorded as failed, or it would look running forever.
        async def mark() -> None:
            async with self.unit_of_work(scope, actor) as uow:
                export = await uow.get(Export, export_id, what="Export")
                export.status, export.error = ExportStatus.FAILED.value, error
                export.finished_at = export.updated_at = utcnow()
                await uow.commit()

        with contextlib.suppress(Exception):
            await asyncio.shield(mark())
