"""Storage fallback 2: a copy of each segment in cloud storage (S3), unless the camera is fed by an NVR.

The local blob store stays primary: a segment is moved there and indexed first (media.service); then,
when a cloud store is configured (`storage.cloud`, bootstrap) and the camera's `recording.cloud_upload`
is true, it is queued on the `cloud-uploads` topic, keyed by camera: by the ingest role for what it
records, by `CloudCopyQueue` for segments filled from SD cards (media.backfill). Cameras behind an
NVR already have their recording kept on the NVR's disks; customers set the flag to false for them so
their footage stays on premises.

The queue is the bus (durable, ordered per camera, at-least-once), so recording never waits on the
cloud: `CloudUploader` copies one camera's segments in order, retrying each with capped backoff until
the cloud store takes it, and commits only then. A cloud outage therefore leaves segments in local
storage and a growing `vms_cloud_upload_pending`; when the cloud is back, the backlog drains in order.
Copies are idempotent by key, so redelivery after a crash costs a second PUT, never a wrong object.
Whether a segment is safely in the cloud is always asked of the cloud store itself (`in_cloud`), which
is what the edge buffer's retention rule trusts before it frees local space (media.retention).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
import weakref
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import BaseModel

from vms import outbox
from vms.config import service as config
from vms.config.cache import ConfigCache
from vms.kernel.clock import utcnow
from vms.kernel.errors import NotFound, ServiceUnavailable
from vms.kernel.ids import TenantId
from vms.kernel.tenancy import TenantScope
from vms.kernel.topics import CLOUD_UPLOADS, PARTITIONS
from vms.media import service as media
from vms.media.models import Segment
from vms.media.segmenter import SegmentInfo
from vms.ports import BlobStore, Bus, BusMessage
from vms.uow import Actor, UnitOfWork

log = structlog.get_logger(__name__)
ACTOR = Actor.system("ingest")
UnitOfWorkFactory = Callable[[TenantScope, Actor], AbstractAsyncContextManager[UnitOfWork]]
CLOUD_UPLOAD = "recording.cloud_upload"
UPLOAD_PARTITIONS = {CLOUD_UPLOADS: PARTITIONS[CLOUD_UPLOADS]}  # keyed by camera: its segments go in order
OWN_FAILURE_ATTEMPTS = 5  # tries before a segment failing for a reason of its own is set aside
UPLOAD_GROUP = "cloud-upload"  # every ingest instance shares it: each segment is copied once


class UploadRequest(BaseModel):
    """One segment to copy to the cloud store (the queue's message)."""

    tenant_id: uuid.UUID
    camera_id: uuid.UUID
    stream: str
    blob_key: str
    started_at: datetime
    bytes: int

    @classmethod
    def of(cls, row: Segment) -> UploadRequest:
        """The request for an indexed segment."""
        return cls(
            tenant_id=row.tenant_id,
            camera_id=row.camera_id,
            stream=row.stream,
            blob_key=row.blob_key,
            started_at=row.started_at,
            bytes=row.bytes,
        )


async def queue_upload(bus: Bus, row: Segment, *, unit_of_work: UnitOfWorkFactory) -> None:
    """Queue an indexed segment for its cloud copy (after its index row is committed).

    Published straight to the bus, which costs no database write per segment. When the bus is away,
    the request goes to the transactional outbox instead, whose relay publishes it once the bus is
    back: a bus outage delays cloud copies but never drops one.
    """
    key, value = str(row.camera_id), UploadRequest.of(row).model_dump_json().encode()
    try:
        await bus.publish(CLOUD_UPLOADS, key=key, value=value)
        return
    except Exception as exc:
        log.warning("bus away; cloud copy request handed to the outbox", segment=row.blob_key, error=str(exc))
    async with unit_of_work(TenantScope.of(TenantId(row.tenant_id)), ACTOR) as uow:
        outbox.stage_publish(uow, CLOUD_UPLOADS, key=key, value=value)
        await uow.commit()


async def in_cloud(cloud: BlobStore, key: str, size: int) -> bool:
    """Whether the cloud store holds the whole segment (same key, same size)."""
    try:
        return await cloud.size(key) == size
    except NotFound:
        return False


async def cloud_upload_enabled(
    *, uow: UnitOfWork, config_cache: ConfigCache, tenant_id: uuid.UUID, camera_id: uuid.UUID
) -> bool:
    """The camera's effective `recording.cloud_upload` (false for NVR-fed cameras), site level included
    as the ingest role resolves it."""
    values = await config.placed_camera_config(
        uow=uow,
        config_cache=config_cache,
        tenant_id=tenant_id,
        camera_id=camera_id,
        keys=[CLOUD_UPLOAD],
    )
    return bool(values[CLOUD_UPLOAD].value)


class CloudCopyQueue:
    """Queues segments stored outside live ingest (SD-card backfill) for their cloud copy, per the camera's policy.

    Given to BackfillRunner as its `on_stored` hook; made only when a cloud store is configured
    (`cloud_copy_queue`). Never raises: a segment that cannot be queued stays local, logged, and the
    edge buffer never frees what the cloud lacks.
    """

    def __init__(self, *, bus: Bus, unit_of_work: UnitOfWorkFactory, config_cache: ConfigCache) -> None:
        self.bus, self.unit_of_work, self.config_cache = bus, unit_of_work, config_cache
        self._topic_ready = False

    async def __call__(self, row: Segment) -> None:
        """Queue the committed segment unless its camera keeps footage on premises (`recording.cloud_upload`)."""
        try:
            async with self.unit_of_work(TenantScope.of(TenantId(row.tenant_id)), ACTOR) as uow:
                enabled = await cloud_upload_enabled(
                    uow=uow, config_cache=self.config_cache, tenant_id=row.tenant_id, camera_id=row.camera_id
                )
            if not enabled:
                return
            if not self._topic_ready:  # the api role may queue before any ingest role made the topic on this bus
                with contextlib.suppress(Exception):  # bus away: queue_upload hands the request to the outbox
                    await self.bus.ensure_topics(UPLOAD_PARTITIONS)
                    self._topic_ready = True
            await queue_upload(self.bus, row, unit_of_work=self.unit_of_work)
        except Exception as exc:  # bus and database away: kept locally, and the edge buffer never frees it
            log.error("segment not queued for its cloud copy", camera_id=str(row.camera_id), error=str(exc))


def cloud_copy_queue(
    *, cloud: BlobStore | None, bus: Bus, unit_of_work: UnitOfWorkFactory, config_cache: ConfigCache
) -> CloudCopyQueue | None:
    """The queue for segments stored outside ingest, or None without a cloud store (nothing is copied then)."""
    return CloudCopyQueue(bus=bus, unit_of_work=unit_of_work, config_cache=config_cache) if cloud is not None else None


async def store_segment(
    *,
    uow: UnitOfWork,
    local: BlobStore,
    cloud: BlobStore | None,
    upload: bool,
    tenant_id: uuid.UUID,
    camera_id: uuid.UUID,
    stream: str,
    info: SegmentInfo,
    kept_by: str | None = "continuous",
) -> Segment:
    """Store and index a closed segment locally, then copy it to `cloud` when there is one and `upload`."""
    row = await media.record_segment(
        uow=uow, blobs=local, tenant_id=tenant_id, camera_id=camera_id, stream=stream, info=info, kept_by=kept_by
    )
    if cloud is not None and upload:
        await copy_to_cloud(local=local, cloud=cloud, key=row.blob_key)
    return row


async def copy_to_cloud(*, local: BlobStore, cloud: BlobStore, key: str) -> int:
    """Put the local object under the same key in the cloud store (atomic there); returns its size."""
    path = await local.local_path(key)
    if path is not None:
        return await cloud.put_file(key, path)  # streamed from disk, not read into memory
    return await cloud.put(key, await local.get(key))


class UploadMetrics:
    """The uploader's Prometheus series (made once per registry)."""

    _made: weakref.WeakKeyDictionary[CollectorRegistry, UploadMetrics] = weakref.WeakKeyDictionary()

    def __init__(self, registry: CollectorRegistry) -> None:
        self.pending = Gauge(
            "vms_cloud_upload_pending", "Segments queued for their cloud copy and not copied yet.", registry=registry
        )
        self.uploaded = Counter("vms_cloud_uploads", "Segments copied to the cloud store.", registry=registry)
        self.uploaded_bytes = Counter("vms_cloud_upload_bytes", "Bytes copied to the cloud store.", registry=registry)
        self.failures = Counter(
            "vms_cloud_upload_failures", "Failed copy attempts (each is retried).", registry=registry
        )
        self.parked = Counter(
            "vms_cloud_upload_parked",
            "Segments whose copy kept failing for a reason of their own (a local read error); kept locally.",
            registry=registry,
        )
        self.missing = Counter(
            "vms_cloud_upload_missing",
            "Queued segments gone from local storage before their copy (deleted by the disk watermark).",
            registry=registry,
        )

    @classmethod
    def on(cls, registry: CollectorRegistry) -> UploadMetrics:
        """The metrics on `registry`, made on first use."""
        made = cls._made.get(registry)
        if made is None:
            made = cls._made[registry] = cls(registry)
        return made


class CloudUploader:
    """Copies queued segments to the cloud store, in order per camera, retrying until the cloud takes them.

    >>> uploader = CloudUploader(bus=container.bus, local=container.blobs, cloud=container.cloud_blobs,
    ...                          metrics=UploadMetrics.on(container.metrics.registry))
    >>> task = asyncio.create_task(uploader.run())
    """

    def __init__(
        self,
        *,
        bus: Bus,
        local: BlobStore,
        cloud: BlobStore,
        metrics: UploadMetrics,
        retry_base_s: float = 1.0,
        retry_max_s: float = 60.0,
        lag_every_s: float = 15.0,
    ) -> None:
        self.bus, self.local, self.cloud, self.metrics = bus, local, cloud, metrics
        self.retry_base_s, self.retry_max_s, self.lag_every_s = retry_base_s, retry_max_s, lag_every_s
        self.failing_since: datetime | None = None  # set while the cloud store refuses copies

    async def run(self) -> None:
        """Consume the upload queue until cancelled; a bus failure restarts the consumer after a pause."""
        await self.bus.ensure_topics(UPLOAD_PARTITIONS)
        lag = asyncio.create_task(self._watch_lag())
        try:
            while True:
                try:
                    async with contextlib.aclosing(self.bus.consume([CLOUD_UPLOADS], group=UPLOAD_GROUP)) as queue:
                        async for message in queue:
                            await self._handle(message)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the bus itself failed: recording goes on, uploads resume later
                    log.warning("cloud upload queue unavailable; retrying", error=str(exc))
                    await asyncio.sleep(self.retry_max_s)
        finally:
            lag.cancel()
            await asyncio.gather(lag, return_exceptions=True)

    async def pending(self) -> int:
        """Segments queued and not yet copied (the group's lag)."""
        return sum((await self.bus.lag(UPLOAD_GROUP, [CLOUD_UPLOADS])).values())

    async def _handle(self, message: BusMessage) -> None:
        try:
            request = UploadRequest.model_validate_json(message.value)
        except ValueError as exc:
            log.error("cloud upload request not understood; skipped", error=str(exc), offset=message.offset)
            await message.commit()
            return
        attempt = 0
        while True:
            try:
                size = await copy_to_cloud(local=self.local, cloud=self.cloud, key=request.blob_key)
                break
            except NotFound:  # freed by the disk watermark before the cloud came back (that rule logs it)
                self.metrics.missing.inc()
                log.error("segment gone before its cloud copy", key=request.blob_key, camera_id=str(request.camera_id))
                await message.commit()
                return
            except Exception as exc:  # the cloud is down or refuses: keep the order, wait and try again
                attempt += 1
                self.metrics.failures.inc()
                # The cloud store being away (ServiceUnavailable) concerns every segment: wait it out in
                # order. Anything else is this segment's own trouble (an unreadable local file): after a
                # few tries it is set aside, kept locally (the edge buffer never frees it), so one bad
                # segment does not hold up every camera of its partition.
                if not isinstance(exc, ServiceUnavailable) and attempt >= OWN_FAILURE_ATTEMPTS:
                    self.metrics.parked.inc()
                    log.error(
                        "cloud copy set aside; the segment stays local",
                        key=request.blob_key,
                        camera_id=str(request.camera_id),
                        attempts=attempt,
                        error=str(exc),
                    )
                    await message.commit()
                    return
                if self.failing_since is None:
                    self.failing_since = utcnow()
                delay = random.uniform(self.retry_base_s / 2, min(self.retry_max_s, self.retry_base_s * 2**attempt))
                log.warning(
                    "cloud copy failed; retrying", key=request.blob_key, attempt=attempt, error=str(exc), retry_s=delay
                )
                await asyncio.sleep(delay)
        if self.failing_since is not None:
            log.info("cloud store back; copying the backlog", down_since=str(self.failing_since))
            self.failing_since = None
        self.metrics.uploaded.inc()
        self.metrics.uploaded_bytes.inc(size)
        await message.commit()

    async def _watch_lag(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # a metric is not worth failing uploads over
                self.metrics.pending.set(await self.pending())
            await asyncio.sleep(self.lag_every_s)
