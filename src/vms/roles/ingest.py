"""The ingest role: keep every enabled camera's streams flowing into recorded segments and jobs.

Every `refresh_s` it reads the cameras to ingest (all customers: this role serves the whole edge, or
its shard of the cameras — `Shard`, `vms role ingest --shard I/N`) and starts or stops one
supervisor per stream, and re-reads each camera's recording policy and model requirements. Each
closed segment is stored and indexed with the recording mode's keep decision (media.recording), then
the job maker turns it into VideoJobs for the models that run on that stream. After that, off the
segment's path: motion analysis for cameras recording on motion (on the sub stream when it is
ingested), and the degradation check of the stream against its models' requirements
(media.degradation). The role also consumes `events` (one group shared by all ingest instances) to
keep the video around events of cameras recording on events.

The main stream's health goes to the camera row (media.camera_health: status and reason on change,
last frame in batches); when it returns after an outage, the outage is offered for SD-card backfill
(media.auto_backfill), and so is, the first time it is online, the time since the camera's last
recording before this role started (the role's own outage). With a cloud store configured, each
stored segment of a camera whose `recording.cloud_upload` is on is queued for its cloud copy, and the
role runs the uploader (media.upload).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict, deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

import structlog

from vms.analytics.jobs import SegmentRef, make_jobs, models_to_run, publish_jobs
from vms.bootstrap import Container
from vms.cameras import service as cameras
from vms.cameras.hierarchy import camera_sites
from vms.cameras.service import IngestTarget
from vms.config import service as config
from vms.kernel.ai_models import AiModel
from vms.kernel.clock import utcnow
from vms.kernel.errors import VmsError
from vms.kernel.ids import TenantId
from vms.kernel.tenancy import TenantScope
from vms.kernel.topics import EVENTS, PARTITIONS
from vms.media import degradation, recording, upload
from vms.media import service as media
from vms.media.auto_backfill import AutoBackfill
from vms.media.camera_health import CameraHealthWriter
from vms.media.degradation import ModelNeeds, Requirement, StreamMonitor, StreamSample
from vms.media.ingest import Backoff, StreamHealth, StreamIngest, StreamStatus
from vms.media.recording import CameraRecorder, RecordingPolicy
from vms.media.segmenter import SegmentInfo
from vms.messaging import run_consumer
from vms.ports import BusMessage
from vms.tenants import service as tenants
from vms.uow import Actor

log = structlog.get_logger(__name__)
ACTOR = Actor.system("ingest")
RECENT_SEGMENTS = 4  # enough look-back for every model's overlap and minimum duration on 5 s segments
EVENTS_GROUP = "recording"  # all ingest instances share it: each event is kept once, by whichever instance
MOTION_BACKLOG = 3  # segments waiting for motion analysis per camera before new ones are kept unanalysed


@dataclass(frozen=True)
class Shard:
    """The share of the cameras one ingest process records: those whose id modulo `count` is `index`.

    >>> Shard.parse("1/4").owns(camera_id)
    """

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: the index must be 0..{self.count - 1}")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`I/N` (0-based I), as `vms role ingest --shard` takes it."""
        index, sep, count = text.partition("/")
        if not sep or not index.strip().isdigit() or not count.strip().isdigit():
            raise ValueError(f"shard {text!r}: expected I/N, e.g. 0/2")
        return cls(int(index), int(count))

    def owns(self, camera_id: uuid.UUID) -> bool:
        """Whether this shard records the camera."""
        return camera_id.int % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass
class _Running:
    target: IngestTarget
    stream: str
    task: asyncio.Task[None]
    health: StreamHealth = field(default_factory=StreamHealth)  # the reader's, measured as it goes
    recent: deque[SegmentRef] = field(default_factory=lambda: deque(maxlen=RECENT_SEGMENTS))


class IngestRole:
    """Supervises the ingest of every enabled camera stream."""

    def __init__(
        self,
        container: Container,
        *,
        refresh_s: float = 30.0,
        realtime_files: bool = True,
        backoff: Backoff | None = None,
        health_flush_s: float = 60.0,
        shard: Shard | None = None,
    ) -> None:
        self.container = container
        self.shard = shard or Shard()
        self.heartbeat_detail = f"shard {self.shard}" if self.shard.count > 1 else ""
        self.refresh_s = refresh_s
        self.realtime_files = realtime_files
        self.backoff = backoff or Backoff()
        self.health = CameraHealthWriter(container.unit_of_work, flush_s=health_flush_s)
        self.auto_backfill = AutoBackfill(
            unit_of_work=container.unit_of_work,
            secrets=container.identity.secrets,
            blobs=container.blobs,
            config_cache=container.config,
            on_stored=upload.cloud_copy_queue(  # filled segments get cloud copies as recorded ones do
                cloud=container.cloud_blobs,
                bus=container.bus,
                unit_of_work=container.unit_of_work,
                config_cache=container.config,
            ),
        )
        self.cloud_upload: dict[uuid.UUID, bool] = {}  # per camera: its `recording.cloud_upload` (NVR-fed: false)
        self._outages: dict[uuid.UUID, datetime] = {}  # per camera: its main stream's last packet before it dropped
        self._seen_online: set[uuid.UUID] = set()  # cameras whose main stream was online in this process
        self.started_at = utcnow()  # segments this process records start after it
        self.running: dict[tuple[uuid.UUID, str], _Running] = {}
        self.recorders: dict[uuid.UUID, CameraRecorder] = {}
        self.needs: dict[uuid.UUID, dict[AiModel, ModelNeeds]] = {}  # per camera: its enabled models' needs
        self.monitors: dict[tuple[uuid.UUID, str], StreamMonitor] = {}
        self.degraded: dict[uuid.UUID, dict[str, set[tuple[AiModel, Requirement]]]] = {}  # camera → stream → gaps
        self.gauge = degradation.degraded_gauge(container.metrics.registry)
        self._motion_locks: dict[uuid.UUID, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._motion_waiting: dict[uuid.UUID, int] = defaultdict(int)
        self._background: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Reconcile the running supervisors with the camera list until cancelled."""
        cloud_copies = upload.UPLOAD_PARTITIONS if self.container.cloud_blobs is not None else {}
        await self.container.bus.ensure_topics({**PARTITIONS, **cloud_copies})
        helpers = [asyncio.create_task(self._consume_events())]
        if (uploader := self._cloud_uploader()) is not None:
            helpers.append(asyncio.create_task(uploader.run()))
        health = asyncio.create_task(self.health.run())
        try:
            while True:
                try:
                    await self.reconcile()
                except VmsError as exc:
                    log.error("camera list unavailable; keeping current streams", error=exc.detail)
                await asyncio.sleep(self.refresh_s)
        finally:
            for helper in helpers:
                helper.cancel()
            tasks = [*helpers, *self._background, *(r.task for r in self.running.values())]
            for running in self.running.values():
                running.task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            health.cancel()
            await asyncio.gather(health, return_exceptions=True)
            await asyncio.shield(self.health.close())
            await self.auto_backfill.close()

    def _cloud_uploader(self) -> upload.CloudUploader | None:
        """Storage fallback 2: what copies queued segments to the cloud store, when one is configured."""
        cloud = self.container.cloud_blobs
        if cloud is None:
            return None
        return upload.CloudUploader(
            bus=self.container.bus,
            local=self.container.blobs,
            cloud=cloud,
            metrics=upload.UploadMetrics.on(self.container.metrics.registry),
            retry_max_s=self.container.settings.storage.cloud.retry_max_s,
        )

    async def reconcile(self) -> None:
        """Start supervisors for new or changed streams, stop those no longer wanted."""
        async with self.container.unit_of_work(TenantScope.platform(), ACTOR) as uow:
            targets = await cameras.ingest_targets(uow=uow, secrets=self.container.identity.secrets)
        targets = [t for t in targets if self.shard.owns(t.camera_id)]
        wanted = {(t.camera_id, stream): (t, url) for t in targets for stream, url in t.streams.items()}
        for key, running in list(self.running.items()):
            target_url = wanted.get(key)
            if target_url is None or target_url[0].streams[key[1]] != running.target.streams[key[1]]:
                running.task.cancel()
                del self.running[key]
        for key, (target, url) in wanted.items():
            if key not in self.running:
                self._start(target, key[1], url)
        await self._refresh_policies(targets)

    async def _refresh_policies(self, targets: list[IngestTarget]) -> None:
        """Each camera's recording policy and its models' needs, re-read every reconcile (config is cached)."""
        by_tenant: dict[uuid.UUID, list[IngestTarget]] = defaultdict(list)
        for target in targets:
            by_tenant[target.tenant_id].append(target)
        for tenant_id, group in by_tenant.items():
            try:
                async with self.container.unit_of_work(TenantScope.of(TenantId(tenant_id)), ACTOR) as uow:
                    ids = [t.camera_id for t in group]
                    sites = await camera_sites(uow=uow, camera_ids=ids)
                    values = await config.cameras_config(
                        uow=uow,
                        config_cache=self.container.config,
                        tenant_id=tenant_id,
                        cameras={c: sites.get(c) for c in ids},
                    )
                    models = {m for t in group for m in t.enabled_models}
                    required = {
                        m: await config.model_requirements(uow=uow, config_cache=self.container.config, model=m)
                        for m in models
                    }
            except VmsError as exc:  # keep the last known policies (new cameras record continuously)
                log.warning("recording policies unavailable", tenant_id=str(tenant_id), error=exc.detail)
                continue
            for target in group:
                found = values[target.camera_id]
                policy = RecordingPolicy.from_config(found)
                recorder = self.recorders.get(target.camera_id)
                if recorder is None:
                    self.recorders[target.camera_id] = CameraRecorder(policy)
                else:
                    recorder.update(policy)
                self.cloud_upload[target.camera_id] = bool(found[upload.CLOUD_UPLOAD].value)
                fps = float(found["video.normalize.fps"].value)
                self.needs[target.camera_id] = {
                    m: ModelNeeds(required[m].min_height, required[m].min_bitrate_kbps, fps)
                    for m in target.enabled_models
                }
        wanted = {t.camera_id for t in targets}
        for camera_id in [c for c in self.recorders if c not in wanted]:
            self.recorders.pop(camera_id, None)
            self.cloud_upload.pop(camera_id, None)
            self.needs.pop(camera_id, None)
            self.degraded.pop(camera_id, None)
        for key in [k for k in self.monitors if k[0] not in wanted]:
            del self.monitors[key]
        degradation.publish_counts(self.gauge, self._degraded_keys())

    def _start(self, target: IngestTarget, stream: str, url: str) -> None:
        work_dir = self.container.settings.data_dir / "ingest" / str(target.camera_id) / stream
        running: _Running

        async def on_segment(info: SegmentInfo) -> None:
            await self._segment_closed(running, info)

        def on_status(health: StreamHealth) -> None:
            if stream == "main":  # the camera's status is its main stream's
                self.health.status(target.tenant_id, target.camera_id, health)
                self._follow_outage(target, health)

        is_file = url.startswith("file:") or "://" not in url  # the demo camera: a clip played in a loop
        ingest = StreamIngest(
            url=url,
            work_dir=work_dir,
            on_segment=on_segment,
            on_status=on_status,
            target_s=target.segment_seconds,
            options={} if is_file else {"rtsp_transport": "tcp"},
            realtime=is_file and self.realtime_files,
            backoff=self.backoff,
        )
        running = _Running(target, stream, asyncio.create_task(ingest.run()), ingest.health)
        self.running[(target.camera_id, stream)] = running
        log.info("ingest started", camera_id=str(target.camera_id), stream=stream)

    def _follow_outage(self, target: IngestTarget, health: StreamHealth) -> None:
        """Note when the main stream drops; when it is back, offer the outage for SD-card backfill.

        The first time it is online in this process, the outage is the role's own (a crash, an upgrade,
        a reboot): from the camera's last recorded segment, which auto_backfill looks up.
        """
        camera_id = target.camera_id
        if health.status in (StreamStatus.OFFLINE, StreamStatus.AUTH_FAILED):
            if camera_id not in self._outages and health.last_packet_at is not None:
                self._outages[camera_id] = health.last_packet_at
        elif health.status is StreamStatus.ONLINE:
            since = self._outages.pop(camera_id, None)
            if camera_id not in self._seen_online:
                self._seen_online.add(camera_id)
                self.auto_backfill.ingest_started(
                    target.tenant_id, camera_id, started_at=self.started_at, online_at=utcnow()
                )
            elif since is not None:
                self.auto_backfill.outage_ended(target.tenant_id, camera_id, start=since, end=utcnow())

    async def _segment_closed(self, running: _Running, info: SegmentInfo) -> None:
        """Index a closed segment with its keep decision and publish its jobs; then motion and degradation."""
        target, stream = running.target, running.stream
        if stream == "main":
            self.health.frame(target.camera_id, info.ended_at, running.health)
        recorder = self.recorders.setdefault(target.camera_id, CameraRecorder(RecordingPolicy()))
        motion_stream = "sub" if "sub" in target.streams else "main"
        # Opened before the segment moves to blob storage: the open file stays readable wherever it goes.
        analyse = recorder.wants_motion and stream == motion_stream
        handle: BinaryIO | None = await asyncio.to_thread(info.path.open, "rb") if analyse else None
        try:
            await self._store_and_publish(running, info, kept_by=recorder.decide(info.started_at, info.ended_at))
        except BaseException:
            if handle is not None:
                handle.close()
            raise
        if handle is not None:
            self._spawn(self._motion(target, recorder, handle, info))
        await self._check_degradation(target, stream, info)

    async def _store_and_publish(self, running: _Running, info: SegmentInfo, *, kept_by: str | None) -> None:
        """Index the segment with its keep decision, then publish its AI jobs."""
        target, stream = running.target, running.stream
        async with self.container.unit_of_work(TenantScope.of(target.tenant_id), ACTOR) as uow:
            row = await media.record_segment(
                uow=uow,
                blobs=self.container.blobs,
                tenant_id=target.tenant_id,
                camera_id=target.camera_id,
                stream=stream,
                info=info,
                kept_by=kept_by,
            )
            try:
                licensed = (await tenants.get_license(uow=uow, tenant_id=target.tenant_id)).models
            except VmsError:
                licensed = []
            await uow.commit()
        if self.container.cloud_blobs is not None and self.cloud_upload.get(target.camera_id, False):
            try:
                await upload.queue_upload(self.container.bus, row, unit_of_work=self.container.unit_of_work)
            except Exception as exc:  # bus and database away: kept locally, and the edge buffer never frees it
                log.error("segment not queued for its cloud copy", camera_id=str(target.camera_id), error=str(exc))
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

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _motion(
        self, target: IngestTarget, recorder: CameraRecorder, handle: BinaryIO, info: SegmentInfo
    ) -> None:
        """Analyse one segment for motion (one at a time per camera, in order) and keep its window."""
        camera_id = target.camera_id
        try:
            if self._motion_waiting[camera_id] >= MOTION_BACKLOG:
                # The CPU cannot keep up: keep the video unanalysed rather than risk losing what moved.
                log.warning("motion analysis behind; segment kept unanalysed", camera_id=str(camera_id))
                window: tuple[datetime, datetime] | None = (info.started_at, info.ended_at)
            else:
                self._motion_waiting[camera_id] += 1
                try:
                    async with self._motion_locks[camera_id]:
                        detector = recorder.detector
                        if detector is None:  # the mode changed meanwhile
                            return
                        result = await asyncio.to_thread(detector.analyse, handle, started_at=info.started_at)
                finally:
                    self._motion_waiting[camera_id] -= 1
                if result.error:
                    log.warning("motion analysis incomplete", camera_id=str(camera_id), error=result.error)
                window = recorder.saw(result)
            if window is not None:
                async with self.container.unit_of_work(TenantScope.of(target.tenant_id), ACTOR) as uow:
                    await recording.mark_kept(
                        uow=uow, camera_id=camera_id, start=window[0], end=window[1], reason="motion"
                    )
                    await uow.commit()
        except VmsError as exc:
            log.warning("motion keep not saved", camera_id=str(camera_id), error=exc.detail)
        finally:
            handle.close()

    async def _check_degradation(self, target: IngestTarget, stream: str, info: SegmentInfo) -> None:
        """Judge the stream against the needs of the models that run on it; raise or clear warnings."""
        monitor = self.monitors.setdefault((target.camera_id, stream), StreamMonitor())
        monitor.add(StreamSample.of(info))
        needs = self.needs.get(target.camera_id)
        if not monitor.ready or needs is None:  # no verdict yet, or requirements not read yet (config down)
            return
        here = {m: n for m, n in needs.items() if target.model_streams.get(m, "main") == stream}
        gaps = monitor.shortfalls(here)
        keys = {(g.model, g.requirement) for g in gaps}
        camera = self.degraded.setdefault(target.camera_id, {})
        if camera.get(stream) == keys:
            return  # nothing new: the stored warnings stand (their measurement is refreshed on change)
        switched_off = {m for m in AiModel if m not in needs}
        try:
            async with self.container.unit_of_work(TenantScope.of(target.tenant_id), ACTOR) as uow:
                changes = await degradation.sync_warnings(
                    uow=uow,
                    tenant_id=target.tenant_id,
                    camera_id=target.camera_id,
                    stream=stream,
                    shortfalls=gaps,
                    judged=set(here) | switched_off,
                    now=utcnow(),
                )
                await uow.commit()
        except VmsError as exc:
            log.warning("degradation warnings not saved", camera_id=str(target.camera_id), error=exc.detail)
            return
        camera[stream] = keys
        for warning in changes.raised:
            log.warning(
                "camera degraded", camera_id=str(target.camera_id), model=warning.model, shortfall=warning.message
            )
        for warning in changes.cleared:
            log.info("camera recovered", camera_id=str(target.camera_id), model=warning.model, was=warning.message)
        degradation.publish_counts(self.gauge, self._degraded_keys())

    def _degraded_keys(self) -> dict[uuid.UUID, set[tuple[AiModel, Requirement]]]:
        return {camera: set().union(*streams.values()) for camera, streams in self.degraded.items() if streams}

    async def _consume_events(self) -> None:
        """Keep video around events (event holds) for cameras recording on events; restart after failures."""
        while True:
            try:
                await run_consumer(
                    self.container.bus, [EVENTS], group=EVENTS_GROUP, handler=self._on_event, seen=self.container.cache
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bus outage must not end event recording for good
                log.warning("event recording consumer stopped; restarting", error=str(exc))
                await asyncio.sleep(5.0)

    async def _on_event(self, message: BusMessage) -> None:
        """One change of one event (`{"change": "opened|updated|closed", "event": EventRead}`)."""
        try:
            body = json.loads(message.value)
            event = body["event"]
            tenant_id, camera_id = uuid.UUID(event["customerId"]), uuid.UUID(event["cameraId"])
            occurred = datetime.fromisoformat(event["timestamp"])
            ended = datetime.fromisoformat(event["endedAt"]) if event.get("endedAt") else None
            event_id, change = str(event["eventId"]), str(body["change"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("event message not understood; skipped", error=str(exc))
            return
        async with self.container.unit_of_work(TenantScope.of(TenantId(tenant_id)), ACTOR) as uow:
            recorder = self.recorders.get(camera_id)
            policy = recorder.policy if recorder is not None else None
            if policy is None:  # a camera another ingest instance records
                policy = await recording.recording_policy(
                    uow=uow, config_cache=self.container.config, tenant_id=tenant_id, camera_id=camera_id
                )
            await recording.keep_for_event(
                uow=uow,
                policy=policy,
                tenant_id=tenant_id,
                camera_id=camera_id,
                event_id=event_id,
                occurred_at=occurred,
                ended_at=ended,
                closed=change == "closed",
                now=utcnow(),
            )
            await uow.commit()
