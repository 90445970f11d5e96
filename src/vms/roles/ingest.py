"""The ingest role: keep every enabled camera's streams flowing into recorded segments and jobs.

Every `refresh_s` it reads the cameras to ingest (all customers: this role serves the whole edge
or shard) and starts or stops one supervisor per stream. Each closed segment is stored and
indexed, then the job maker turns it into VideoJobs for the models that run on that stream.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from dataclasses import dataclass, field

import structlog

from vms.analytics.jobs import SegmentRef, make_jobs, models_to_run, publish_jobs
from vms.bootstrap import Container
from vms.cameras import service as cameras
from vms.cameras.service import IngestTarget
from vms.kernel.errors import VmsError
from vms.kernel.tenancy import TenantScope
from vms.kernel.topics import PARTITIONS
from vms.media import service as media
from vms.media.ingest import StreamHealth, StreamIngest, StreamStatus
from vms.media.segmenter import SegmentInfo
from vms.tenants import service as tenants
from vms.uow import Actor

log = structlog.get_logger(__name__)
ACTOR = Actor.system("ingest")
RECENT_SEGMENTS = 4  # enough look-back for every model's overlap and minimum duration on 5 s segments


@dataclass
class _Running:
    target: IngestTarget
    stream: str
    task: asyncio.Task[None]
    recent: deque[SegmentRef] = field(default_factory=lambda: deque(maxlen=RECENT_SEGMENTS))


class IngestRole:
    """Supervises the ingest of every enabled camera stream."""

    def __init__(self, container: Container, *, refresh_s: float = 30.0, realtime_files: bool = True) -> None:
        self.container = container
        self.refresh_s = refresh_s
        self.realtime_files = realtime_files
        self.running: dict[tuple[uuid.UUID, str], _Running] = {}

    async def run(self) -> None:
        """Reconcile the running supervisors with the camera list until cancelled."""
        await self.container.bus.ensure_topics(PARTITIONS)
        try:
            while True:
                try:
                    await self.reconcile()
                except VmsError as exc:
                    log.error("camera list unavailable; keeping current streams", error=exc.detail)
                await asyncio.sleep(self.refresh_s)
        finally:
            for running in self.running.values():
                running.task.cancel()
            await asyncio.gather(*(r.task for r in self.running.values()), return_exceptions=True)

    async def reconcile(self) -> None:
        """Start supervisors for new or changed streams, stop those no longer wanted."""
        async with self.container.unit_of_work(TenantScope.platform(), ACTOR) as uow:
            targets = await cameras.ingest_targets(uow=uow, secrets=self.container.identity.secrets)
        wanted = {(t.camera_id, stream): (t, url) for t in targets for stream, url in t.streams.items()}
        for key, running in list(self.running.items()):
            target_url = wanted.get(key)
            if target_url is None or target_url[0].streams[key[1]] != running.target.streams[key[1]]:
                running.task.cancel()
                del self.running[key]
        for key, (target, url) in wanted.items():
            if key not in self.running:
                self._start(target, key[1], url)

    def _start(self, target: IngestTarget, stream: str, url: str) -> None:
        work_dir = self.container.settings.data_dir / "ingest" / str(target.camera_id) / stream
        running: _Running

        async def on_segment(info: SegmentInfo) -> None:
            await self._segment_closed(running, info)

        def on_status(health: StreamHealth) -> None:
            if stream == "main":
                asyncio.get_running_loop().create_task(self._status(target, health.status))

        is_file = url.startswith("file:") or "://" not in url  # the demo camera: a clip played in a loop
        ingest = StreamIngest(
            url=url,
            work_dir=work_dir,
            on_segment=on_segment,
            on_status=on_status,
            target_s=target.segment_seconds,
            options={} if is_file else {"rtsp_transport": "tcp"},
            realtime=is_file and self.realtime_files,
        )
        running = _Running(target, stream, asyncio.create_task(ingest.run()))
        self.running[(target.camera_id, stream)] = running
        log.info("ingest started", camera_id=str(target.camera_id), stream=stream)

    async def _segment_closed(self, running: _Running, info: SegmentInfo) -> None:
        target, stream = running.target, running.stream
        async with self.container.unit_of_work(TenantScope.of(target.tenant_id), ACTOR) as uow:
            row = await media.record_segment(
                uow=uow,
                blobs=self.container.blobs,
                tenant_id=target.tenant_id,
                camera_id=target.camera_id,
                stream=stream,
                info=info,
            )
            try:
                licensed = (await tenants.get_license(uow=uow, tenant_id=target.tenant_id)).models
            except VmsError:
                licensed = []
            await uow.commit()
        ref = SegmentRef(
            blob_key=row.blob_key,
            stream=stream,
            sequence=info.sequence,
            started_at=info.started_at,
            ended_at=info.ended_at,
            bytes=info.bytes,
        )
        models = models_to_run(
            enabled=target.enabled_models,
            licensed=licensed,
            compatible=[m for m, s in target.model_streams.items() if s == stream],
        )
        if models:
            jobs = make_jobs(
                customer_id=target.tenant_id,
                camera_id=target.camera_id,
                segment=ref,
                frames=info.frames,
                codec=info.codec,
                width=info.width,
                height=info.height,
                models=models,
                recent=list(running.recent),
            )
            await publish_jobs(self.container.bus, jobs)
        running.recent.append(ref)

    async def _status(self, target: IngestTarget, status: StreamStatus) -> None:
        try:
            async with self.container.unit_of_work(TenantScope.of(target.tenant_id), ACTOR) as uow:
                await cameras.set_status(uow=uow, camera_id=target.camera_id, status=cameras.status_of(status.value))
                await uow.commit()
        except VmsError as exc:
            log.warning("camera status not saved", camera_id=str(target.camera_id), error=exc.detail)
