"""SD-card backfill (storage fallback 1): after an outage, pull the missing time from the camera's own
recording over ONVIF Profile G replay and index it as `source = "sd_card"`.

A run finds the gaps of the index over a window (media.service.gap_report), asks the device for its
recordings, opens the replay URI of the recording covering each gap, and cuts the replay with the
normal segmenter (stream copy). Replayed segments are dated on the recording's timeline, not on our
receive clock: the replay starts at the recording's beginning (`earliest`, npt 0), so a packet's time
is `earliest` plus its offset into the replay. FFmpeg's RTSP client sends neither `Range: clock=` nor
`Scale`, so the replay is read from the recording's start at the device's pace and segments before the
gap are dropped unread-into-the-index.

Only whole segments inside a gap are kept, and one that overlaps a segment already indexed (ingest
may have resumed meanwhile) is skipped, so a backfill never overlaps recorded time and a second run
over the same window adds nothing. Each segment is stored as ingest stores one (blob first, then its
index row, committed one by one), so a failure half-way keeps what was filled. After each commit the
run calls its `on_stored` hook, if any, with the row: where a cloud store is configured, the callers
give `upload.CloudCopyQueue`, so filled segments get their cloud copies as recorded ones do.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import threading
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

import structlog

from vms.cameras import service as cameras
from vms.cameras.urls import with_credentials
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.crypto import SecretBox
from vms.kernel.errors import DeviceUnsupported, NotFound, ValidationFailed, VmsError
from vms.kernel.ids import TenantId
from vms.kernel.tenancy import TenantScope
from vms.media import service as media
from vms.media.models import BackfillRun, Segment
from vms.media.segmenter import Segmenter, SegmentInfo
from vms.media.service import Gap
from vms.media.timing import ClockSource
from vms.ports import BlobStore
from vms.uow import Actor, UnitOfWork

log = structlog.get_logger(__name__)
UnitOfWorkFactory = Callable[[TenantScope, Actor], AbstractAsyncContextManager[UnitOfWork]]
OnStored = Callable[[Segment], Awaitable[None]]  # called with each filled segment once its row is committed
ACTOR = Actor.system("backfill")
SOURCE = "sd_card"
KEPT_BY = "backfill"  # no recording policy applies to footage the camera kept for us: keep it
MAX_WINDOW = timedelta(days=1)  # replay runs at the device's pace: a day is already hours of reading
READ_MARGIN_S = 30.0  # beyond the replayed span, how long a run may read before giving up on a gap


class BackfillStatus(StrEnum):
    """Where a backfill run is."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@runtime_checkable
class ProfileG(Protocol):
    """What a device must offer to be backfilled from: Profile G recordings and their replay."""

    async def recordings(self) -> list[Recording]: ...

    async def replay_uri(self, recording_token: str) -> str: ...


class Recording(Protocol):
    """A recording on the device, as the adapter describes it (cameras.devices.onvif_events.OnvifRecording)."""

    @property
    def token(self) -> str: ...

    @property
    def earliest(self) -> datetime | None: ...

    @property
    def latest(self) -> datetime | None: ...


async def request(
    *,
    uow: UnitOfWork,
    secrets: SecretBox,
    tenant_id: uuid.UUID,
    camera_id: uuid.UUID,
    start: datetime,
    end: datetime,
    requested_by: uuid.UUID | None,
) -> BackfillRun:
    """Check the camera can replay its recordings (422 when not) and store a queued, audited run."""
    start, end = as_utc(start), as_utc(end)
    if not start < end or end - start > MAX_WINDOW:
        raise ValidationFailed(f"Backfill a window with start < end, at most {MAX_WINDOW} long.")
    if end > utcnow():
        raise ValidationFailed("A backfill window cannot reach into the future.")
    await cameras.get_camera(uow=uow, camera_id=camera_id)  # 404 for another customer's camera
    adapter = await cameras.open_camera_device(uow=uow, secrets=secrets, camera_id=camera_id)
    async with adapter:
        await _profile_g(adapter).recordings()  # fails here, with the reason, rather than later in the background
    run = BackfillRun(
        tenant_id=tenant_id,
        camera_id=camera_id,
        window_start=start,
        window_end=end,
        status=BackfillStatus.QUEUED.value,
        requested_by=requested_by,
    )
    uow.add(run)
    await uow.flush()
    uow.audit("backfill", "camera", camera_id, new={"run_id": str(run.id), "start": start, "end": end})
    return run


async def get_run(*, uow: UnitOfWork, camera_id: uuid.UUID, run_id: uuid.UUID) -> BackfillRun:
    """One run of the camera; 404 when absent or another customer's."""
    run = await uow.session.get(BackfillRun, run_id)
    if run is None or run.camera_id != camera_id:
        raise NotFound("No such backfill run.")
    return run


async def execute(
    *,
    unit_of_work: UnitOfWorkFactory,
    secrets: SecretBox,
    blobs: BlobStore,
    tenant_id: uuid.UUID,
    run_id: uuid.UUID,
    segment_s: float = 5.0,
    on_stored: OnStored | None = None,
) -> None:
    """Run a queued backfill to its end; the run row says how it went (never raises for device trouble)."""
    scope = TenantScope.of(TenantId(tenant_id))
    work_dir = Path(tempfile.mkdtemp(prefix="vms-backfill-"))
    added, filled = 0, 0.0  # outside the try: a failed run still says what it stored
    try:
        async with unit_of_work(scope, ACTOR) as uow:
            run = await uow.session.get(BackfillRun, run_id)
            if run is None:
                return
            camera_id, start, end = run.camera_id, as_utc(run.window_start), as_utc(run.window_end)
            run.status = BackfillStatus.RUNNING.value
            report = await media.gap_report(uow=uow, camera_id=camera_id, start=start, end=end)
            run.gaps_found = len(report.gaps)
            adapter = await cameras.open_camera_device(uow=uow, secrets=secrets, camera_id=camera_id)
            await uow.commit()
        async with adapter:
            device = _profile_g(adapter)
            recordings = await device.recordings() if report.gaps else []
            for gap in report.gaps:
                recording = _covering(recordings, gap)
                if recording is None or recording.earliest is None:
                    log.info("backfill: no recording covers gap", camera_id=str(camera_id), start=str(gap.start))
                    continue
                url = await device.replay_uri(recording.token)
                if adapter.credentials is not None:
                    url = with_credentials(url, adapter.credentials.username, adapter.credentials.password)
                infos = await asyncio.to_thread(
                    _cut, url, anchor=as_utc(recording.earliest), gap=gap, work_dir=work_dir, segment_s=segment_s
                )
                for info in infos:
                    row = await _store(unit_of_work, scope, blobs, tenant_id, camera_id, info)
                    if row is None:
                        continue
                    added, filled = added + 1, filled + info.duration_s
                    if on_stored is not None:
                        await on_stored(row)
        await _finish(unit_of_work, scope, run_id, BackfillStatus.DONE, added=added, filled=filled)
    except (VmsError, OSError, RuntimeError) as exc:  # av's errors are OSError/RuntimeError subclasses
        log.warning("backfill failed", run_id=str(run_id), error=str(exc))
        await _finish(
            unit_of_work, scope, run_id, BackfillStatus.FAILED, added=added, filled=filled, error=str(exc)[:400]
        )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


class BackfillRunner:
    """Runs backfills as tasks of this process's event loop (the api role, or ingest after an outage)."""

    def __init__(
        self,
        *,
        unit_of_work: UnitOfWorkFactory,
        secrets: SecretBox,
        blobs: BlobStore,
        on_stored: OnStored | None = None,
    ) -> None:
        self.unit_of_work, self.secrets, self.blobs, self.on_stored = unit_of_work, secrets, blobs, on_stored
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}

    def submit(self, run: BackfillRun) -> None:
        """Start a stored, queued run; returns at once."""
        work = execute(
            unit_of_work=self.unit_of_work,
            secrets=self.secrets,
            blobs=self.blobs,
            tenant_id=run.tenant_id,
            run_id=run.id,
            on_stored=self.on_stored,
        )
        task = asyncio.create_task(work, name=f"backfill-{run.id}")
        self._tasks[run.id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(run.id, None))

    async def wait(self, run_id: uuid.UUID, *, timeout_s: float | None = None) -> None:
        """Until the run ends here (at once when it does not run here)."""
        if (task := self._tasks.get(run_id)) is not None:
            await asyncio.wait_for(asyncio.shield(task), timeout_s)

    async def close(self) -> None:
        """Cancel running backfills (what they stored stays; their rows stay `running`)."""
        for task in list(self._tasks.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _profile_g(adapter: object) -> ProfileG:
    """The adapter as a recording source; 422 for control interfaces without Profile G (ISAPI, Dahua, RTSP).

    An ONVIF device without a recording service passes here and answers DeviceUnsupported from `recordings()`.
    """
    if not isinstance(adapter, ProfileG):
        raise DeviceUnsupported(
            "The camera's control interface cannot replay recordings; SD-card backfill needs ONVIF Profile G."
        )
    return adapter


def _covering(recordings: list[Recording], gap: Gap) -> Recording | None:
    """The recording holding the gap's start, the latest-starting one (the shortest replay before the gap)."""
    holding = [
        r
        for r in recordings
        if r.earliest and as_utc(r.earliest) <= gap.start and (r.latest is None or as_utc(r.latest) > gap.start)
    ]
    return max(holding, key=lambda r: as_utc(r.earliest) if r.earliest else gap.start, default=None)


def _cut(url: str, *, anchor: datetime, gap: Gap, work_dir: Path, segment_s: float) -> list[SegmentInfo]:
    """Segments of the replay that lie wholly inside `gap`, dated on the recording's timeline (blocks)."""
    segmenter = Segmenter(out_dir=work_dir / uuid.uuid4().hex, target_s=segment_s, prefix="sd")
    stop = threading.Event()
    kept: list[SegmentInfo] = []
    first: list[datetime] = []  # the replay's first segment start on the segmenter's clock

    def on_segment(info: SegmentInfo) -> None:
        first[:1] = first[:1] or [info.started_at]
        shift = anchor - first[0]
        placed = replace(
            info, started_at=info.started_at + shift, ended_at=info.ended_at + shift, clock=ClockSource.CAMERA
        )
        if placed.ended_at > gap.end:
            stop.set()  # past the gap: the rest of the recording was recorded by us
        if placed.started_at >= gap.start and placed.ended_at <= gap.end:
            kept.append(placed)
        else:
            info.path.unlink(missing_ok=True)

    # Read at most the replay up to the gap's end plus a margin: a device that stalls must not hold the run.
    timer = threading.Timer((gap.end - anchor).total_seconds() + READ_MARGIN_S, stop.set)
    timer.start()
    try:
        segmenter.run(url, on_segment=on_segment, stop=stop, options={"rtsp_transport": "tcp"})
    finally:
        timer.cancel()
    return kept


async def _store(
    unit_of_work: UnitOfWorkFactory,
    scope: TenantScope,
    blobs: BlobStore,
    tenant_id: uuid.UUID,
    camera_id: uuid.UUID,
    info: SegmentInfo,
) -> Segment | None:
    """Index one replayed segment unless recorded time overlaps it; its row, or None when skipped."""
    async with unit_of_work(scope, ACTOR) as uow:
        if await media.segments_between(uow=uow, camera_id=camera_id, start=info.started_at, end=info.ended_at):
            info.path.unlink(missing_ok=True)
            return None
        row = await media.record_segment(
            uow=uow, blobs=blobs, tenant_id=tenant_id, camera_id=camera_id, stream="main", info=info, kept_by=KEPT_BY
        )
        row.source = SOURCE  # record_segment stores live ingest's default; the row says where this came from
        await uow.commit()
    return row


async def _finish(
    unit_of_work: UnitOfWorkFactory,
    scope: TenantScope,
    run_id: uuid.UUID,
    status: BackfillStatus,
    *,
    added: int = 0,
    filled: float = 0.0,
    error: str | None = None,
) -> None:
    async with unit_of_work(scope, ACTOR) as uow:
        run = await uow.session.get(BackfillRun, run_id)
        if run is None:
            return
        run.status, run.error, run.finished_at = status.value, error, utcnow()
        run.segments_added, run.seconds_filled = added, round(filled, 3)
        await uow.commit()
