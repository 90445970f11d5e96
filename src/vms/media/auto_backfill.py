"""Automatic SD-card backfill: when a stream returns after an outage, fill the gap from the camera (fallback 1).

The ingest role reports each outage of a camera's main stream when the stream is back online (from
its last packet before to the first one after). If the outage lasted at least the camera's
`recording.auto_backfill_min_outage_s` and `recording.auto_backfill` is on, and the camera has an
ONVIF control interface, a backfill run is requested and executed through the same code path as
`POST /cameras/{id}/recordings/backfill` (media.backfill): stored in `backfill_runs`, audited,
idempotent (only time the index lacks is filled). A camera whose device cannot replay is only
logged (there is nothing to fill from); a device that does not answer leaves a failed run with the
reason, for operators to see and retry by hand.

The role also reports, once per camera, when it first sees a camera's main stream online after it
started (`ingest_started`): the time since the camera's last recorded main segment is then an outage
of ingest itself (a crash, an upgrade, a host reboot) that no stream drop showed. It is offered the
same way, from that segment's end, at most `backfill.MAX_WINDOW` back; a camera with no recording
before the role started (new, or only ever recorded elsewhere in another deployment) offers nothing.

Backfill reads the camera's recording at the device's pace, so it is rationed: at most one run per
camera (also against runs another process started in the last `RUNNING_HORIZON`), at most
`max_running` at once in this process, and none for a camera within `min_interval_s` of its last
one. It runs on the event loop beside ingest and never waits on it: `outage_ended` returns at once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select

from vms.cameras import service as cameras
from vms.config import service as config
from vms.config.cache import ConfigCache
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.crypto import SecretBox
from vms.kernel.errors import DeviceUnsupported, ValidationFailed, VmsError
from vms.kernel.ids import TenantId
from vms.kernel.tenancy import TenantScope
from vms.media import backfill
from vms.media.backfill import BackfillRunner, BackfillStatus, OnStored, UnitOfWorkFactory
from vms.media.models import BackfillRun, Segment
from vms.ports import BlobStore
from vms.uow import Actor, UnitOfWork

log = structlog.get_logger(__name__)
ACTOR = Actor.system("ingest")
AUTO_BACKFILL = "recording.auto_backfill"
MIN_OUTAGE = "recording.auto_backfill_min_outage_s"
MARGIN = timedelta(seconds=10)  # before the last packet: the segment open when the stream dropped may be lost
RUNNING_HORIZON = timedelta(hours=2)  # a run still `running` after this died with its process


class AutoBackfill:
    """Starts SD-card backfills for outages the ingest role reports; rationed, in the background.

    >>> auto = AutoBackfill(unit_of_work=container.unit_of_work, secrets=..., blobs=..., config_cache=...)
    >>> auto.outage_ended(tenant_id, camera_id, start=last_packet_before, end=utcnow())
    """

    def __init__(
        self,
        *,
        unit_of_work: UnitOfWorkFactory,
        secrets: SecretBox,
        blobs: BlobStore,
        config_cache: ConfigCache,
        max_running: int = 2,
        min_interval_s: float = 600.0,
        clock: Callable[[], datetime] = utcnow,
        on_stored: OnStored | None = None,
    ) -> None:
        self.unit_of_work, self.secrets, self.config_cache = unit_of_work, secrets, config_cache
        self.runner = BackfillRunner(unit_of_work=unit_of_work, secrets=secrets, blobs=blobs, on_stored=on_stored)
        self.min_interval = timedelta(seconds=min_interval_s)
        self.clock = clock
        self._slots = asyncio.Semaphore(max_running)
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}  # per camera: its request and run
        self._last: dict[uuid.UUID, datetime] = {}  # per camera: when its last automatic run was stored

    def outage_ended(self, tenant_id: uuid.UUID, camera_id: uuid.UUID, *, start: datetime, end: datetime) -> bool:
        """Consider a backfill of the outage [start, end]; returns at once, True when one may start."""
        return self._launch(tenant_id, camera_id, end=end, start=start)

    def ingest_started(
        self, tenant_id: uuid.UUID, camera_id: uuid.UUID, *, started_at: datetime, online_at: datetime
    ) -> bool:
        """Consider a backfill of the time ingest itself was down, for a camera first online in this process.

        `started_at` is when this role started (its own segments start after it), `online_at` when the
        camera's main stream came online. The outage runs from the end of the camera's last main segment
        recorded before `started_at` (looked up in the background); returns at once, True when one may start.
        """
        return self._launch(tenant_id, camera_id, end=online_at, recorded_before=started_at)

    async def wait(self) -> None:
        """Until every backfill started so far has ended (tests, shutdown)."""
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def close(self) -> None:
        """Cancel what runs (filled segments stay; an interrupted run's row stays `running`)."""
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        await self.runner.close()

    def _launch(
        self,
        tenant_id: uuid.UUID,
        camera_id: uuid.UUID,
        *,
        end: datetime,
        start: datetime | None = None,
        recorded_before: datetime | None = None,
    ) -> bool:
        """Start the camera's backfill task unless one runs for it or its last run is too recent."""
        if camera_id in self._tasks:
            log.info("auto backfill: one already runs for the camera", camera_id=str(camera_id))
            return False
        last = self._last.get(camera_id)
        if last is not None and self.clock() - last < self.min_interval:
            log.info("auto backfill: too soon after the last one", camera_id=str(camera_id), last=str(last))
            return False
        task = asyncio.get_running_loop().create_task(
            self._backfill(tenant_id, camera_id, end=end, start=start, recorded_before=recorded_before),
            name=f"auto-backfill-{camera_id}",
        )
        self._tasks[camera_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(camera_id, None))
        return True

    async def _backfill(
        self,
        tenant_id: uuid.UUID,
        camera_id: uuid.UUID,
        *,
        end: datetime,
        start: datetime | None,
        recorded_before: datetime | None,
    ) -> None:
        """Request and run the backfill; the outage starts at `start`, else where the recording before
        `recorded_before` ended."""
        scope = TenantScope.of(TenantId(tenant_id))
        try:
            async with self._slots:
                async with self.unit_of_work(scope, ACTOR) as uow:
                    if start is None and recorded_before is not None:
                        start = await last_recorded_end(uow, camera_id, before=recorded_before)
                    if start is None:  # the camera never recorded before: there is no outage to fill
                        return
                    run = await self._request(uow, tenant_id, camera_id, start, end)
                    await uow.commit()
                if run is None:
                    return
                # Counted once a run is stored: a short blip or a restart with no gap must not hold back a real one.
                self._last[camera_id] = self.clock()
                if run.status == BackfillStatus.QUEUED.value:
                    log.info("auto backfill started", camera_id=str(camera_id), run_id=str(run.id), start=str(start))
                    self.runner.submit(run)
                    await self.runner.wait(run.id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never lost silently, never allowed to reach ingest
            log.warning("auto backfill not started", camera_id=str(camera_id), error=str(exc))

    async def _request(
        self, uow: UnitOfWork, tenant_id: uuid.UUID, camera_id: uuid.UUID, start: datetime, end: datetime
    ) -> BackfillRun | None:
        """The stored run for the outage (queued, or failed when the device did not answer), or None when
        nothing is to be done (off, short, no device, busy)."""
        values = await config.placed_camera_config(
            uow=uow,
            config_cache=self.config_cache,
            tenant_id=tenant_id,
            camera_id=camera_id,
            keys=[AUTO_BACKFILL, MIN_OUTAGE],
        )
        if not values[AUTO_BACKFILL].value or (end - start).total_seconds() < float(values[MIN_OUTAGE].value):
            log.debug("auto backfill: off or outage too short", camera_id=str(camera_id), start=str(start))
            return None
        camera = await cameras.get_camera(uow=uow, camera_id=camera_id)
        if camera.device is None or camera.device.kind != "onvif":  # only ONVIF Profile G replays recordings
            return None
        if await _busy(uow, camera_id, now=self.clock()):
            log.info("auto backfill: a run of the camera is already queued or running", camera_id=str(camera_id))
            return None
        window_start = max(start - MARGIN, end - backfill.MAX_WINDOW)
        try:
            return await backfill.request(
                uow=uow,
                secrets=self.secrets,
                tenant_id=tenant_id,
                camera_id=camera_id,
                start=window_start,
                end=end,
                requested_by=None,
            )
        except DeviceUnsupported as exc:  # no SD card recordings to replay: nothing to fill from
            log.info("auto backfill: the camera cannot replay recordings", camera_id=str(camera_id), reason=exc.detail)
            return None
        except ValidationFailed as exc:  # a window the API would refuse too (our clock moved back): nothing to run
            log.warning("auto backfill: window refused", camera_id=str(camera_id), reason=exc.detail)
            return None
        except VmsError as exc:  # the device did not answer: keep a failed run with the reason
            await uow.rollback()
            failed = BackfillRun(
                tenant_id=tenant_id,
                camera_id=camera_id,
                window_start=window_start,
                window_end=end,
                status=BackfillStatus.FAILED.value,
                requested_by=None,
                error=f"device not reachable for backfill: {exc.detail}"[:400],
                finished_at=self.clock(),
            )
            uow.add(failed)
            log.warning("auto backfill failed to start", camera_id=str(camera_id), error=exc.detail)
            return failed


async def last_recorded_end(uow: UnitOfWork, camera_id: uuid.UUID, *, before: datetime) -> datetime | None:
    """End of the camera's latest main segment that started before `before` (None: it never recorded)."""
    stmt = (
        select(Segment.ended_at)
        .where(Segment.camera_id == camera_id, Segment.stream == "main", Segment.started_at < before)
        .order_by(Segment.started_at.desc())  # ix_segments_camera_time: one index step, not a scan
        .limit(1)
    )
    ended = (await uow.session.execute(stmt)).scalar_one_or_none()
    return as_utc(ended) if ended is not None else None


async def _busy(uow: UnitOfWork, camera_id: uuid.UUID, *, now: datetime) -> bool:
    """Whether a run of the camera (by anyone, in any process) is queued or running and recent enough to be alive."""
    stmt = (
        select(BackfillRun.id)
        .where(
            BackfillRun.camera_id == camera_id,
            BackfillRun.status.in_([BackfillStatus.QUEUED.value, BackfillStatus.RUNNING.value]),
            BackfillRun.created_at > now - RUNNING_HORIZON,
        )
        .limit(1)
    )
    return (await uow.session.execute(stmt)).first() is not None
