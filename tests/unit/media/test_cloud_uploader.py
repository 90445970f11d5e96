"""The cloud uploader: queued segments reach the cloud store in order through its outages, with the
backlog visible as `vms_cloud_upload_pending`; a segment gone from local storage is skipped, not retried for ever."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry

from tests import factories
from vms.adapters.blobs.filesystem import FilesystemBlobStore
from vms.auth.permissions import Role
from vms.kernel.clock import utcnow
from vms.kernel.errors import ServiceUnavailable
from vms.kernel.tenancy import TenantScope
from vms.media import service as media
from vms.media import upload
from vms.media.segmenter import SegmentInfo
from vms.uow import Actor


class Outage(FilesystemBlobStore):
    """A real store on disk that refuses writes while `down`, as an unreachable S3 would."""

    down = True
    refused = 0

    async def put_file(self, key: str, path: Path, *, move: bool = False) -> int:
        if self.down:
            self.refused += 1
            raise ServiceUnavailable("cloud unreachable")
        return await super().put_file(key, path, move=move)


async def until(check, timeout_s: float = 10.0) -> None:
    for _ in range(int(timeout_s * 20)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def recorded(container, tmp_path: Path, tenant, cameras: list[uuid.UUID], count: int, local) -> list:
    """`count` indexed 5 s segments with contents of their own, one after the other in time, taking
    `cameras` in turn; their files moved into `local`."""
    t0 = utcnow()
    rows = []
    async with container.unit_of_work(TenantScope.of(tenant), Actor.system("test")) as uow:
        for i in range(count):
            path = tmp_path / f"in{i}.mp4"
            path.write_bytes(bytes([i]) * (1000 + i))
            start = t0 + timedelta(seconds=5 * i)
            info = SegmentInfo(path, i, start, start + timedelta(seconds=5), 50, 1000 + i, "h264", 320, 240, 1.0)
            camera = cameras[i % len(cameras)]
            rows.append(
                await media.record_segment(
                    uow=uow, blobs=local, tenant_id=tenant, camera_id=camera, stream="main", info=info
                )
            )
        await uow.commit()
    return rows


async def test_segments_queued_during_an_outage_go_up_in_order_once_it_ends(container, tmp_path: Path):
    local, cloud = FilesystemBlobStore(tmp_path / "local"), Outage(tmp_path / "cloud")
    tenant = (await factories.customer(container)).id
    camera = uuid.uuid4()
    rows = await recorded(container, tmp_path, tenant, [camera], 5, local)
    await container.bus.ensure_topics(upload.UPLOAD_PARTITIONS)
    for row in rows:
        await upload.queue_upload(container.bus, row, unit_of_work=container.unit_of_work)
    await local.delete(rows[2].blob_key)  # freed by the disk watermark before the cloud came back
    await container.bus.publish(upload.CLOUD_UPLOADS, key=str(camera), value=b"not json")

    registry = CollectorRegistry()
    metrics = upload.UploadMetrics.on(registry)
    uploader = upload.CloudUploader(
        bus=container.bus,
        local=local,
        cloud=cloud,
        metrics=metrics,
        retry_base_s=0.02,
        retry_max_s=0.05,
        lag_every_s=0.05,
    )
    task = asyncio.create_task(uploader.run())
    try:
        await until(lambda: cloud.refused >= 3)
        await until(lambda: registry.get_sample_value("vms_cloud_upload_pending") == 6)
        assert await uploader.pending() == 6 and not await cloud.list("")
        cloud.down = False
        await until(lambda: registry.get_sample_value("vms_cloud_upload_pending") == 0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    stored = await cloud.list(f"{tenant}/")
    expected = [r.blob_key for i, r in enumerate(rows) if i != 2]
    assert sorted(stored) == sorted(expected)
    for key in expected:
        assert await cloud.get(key) == await local.get(key)
    assert registry.get_sample_value("vms_cloud_uploads_total") == 4
    assert registry.get_sample_value("vms_cloud_upload_missing_total") == 1
    assert registry.get_sample_value("vms_cloud_upload_failures_total") >= 3
    assert uploader.failing_since is None


async def test_order_is_kept_per_camera(container, tmp_path: Path):
    """Each put is recorded; a camera's keys arrive in the order they were queued."""
    order: list[str] = []

    class Recording(FilesystemBlobStore):
        async def put_file(self, key: str, path: Path, *, move: bool = False) -> int:
            order.append(key)
            return await super().put_file(key, path, move=move)

    local, cloud = FilesystemBlobStore(tmp_path / "local"), Recording(tmp_path / "cloud")
    tenant = (await factories.customer(container)).id
    cameras = [uuid.uuid4(), uuid.uuid4()]
    rows = await recorded(container, tmp_path, tenant, cameras, 8, local)
    queued = {c: [r.blob_key for r in rows if r.camera_id == c] for c in cameras}
    await container.bus.ensure_topics(upload.UPLOAD_PARTITIONS)
    for row in rows:
        await upload.queue_upload(container.bus, row, unit_of_work=container.unit_of_work)
    uploader = upload.CloudUploader(
        bus=container.bus, local=local, cloud=cloud, metrics=upload.UploadMetrics.on(CollectorRegistry())
    )
    task = asyncio.create_task(uploader.run())
    try:
        await until(lambda: len(order) == 8)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    for camera in cameras:
        assert [k for k in order if f"/{camera}/" in k] == queued[camera]


async def test_operations_see_the_backlog_and_customers_do_not(client, container, tmp_path: Path):
    provider = await factories.account(client, container, tenant_id=None, role=Role.PROVIDER_ADMIN)
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    r = await client.get("/api/v1/recordings/cloud-uploads", headers=provider.headers)
    assert r.status_code == 200 and r.json() == {"configured": False, "pending": None}

    container.cloud_blobs = FilesystemBlobStore(tmp_path / "cloud")
    r = await client.get("/api/v1/recordings/cloud-uploads", headers=provider.headers)
    assert r.status_code == 200 and r.json() == {"configured": True, "pending": 0}  # no ingest has run yet
    await container.bus.ensure_topics(upload.UPLOAD_PARTITIONS)
    for _ in range(3):
        await container.bus.publish(upload.CLOUD_UPLOADS, key=str(uuid.uuid4()), value=b"{}")
    r = await client.get("/api/v1/recordings/cloud-uploads", headers=provider.headers)
    assert r.json() == {"configured": True, "pending": 3}
    assert (await client.get("/api/v1/recordings/cloud-uploads", headers=admin.headers)).status_code == 403


async def test_a_request_the_bus_refuses_goes_through_the_outbox_and_still_reaches_the_queue(container, tmp_path: Path):
    tenant = (await factories.customer(container)).id
    [row] = await recorded(container, tmp_path, tenant, [uuid.uuid4()], 1, FilesystemBlobStore(tmp_path / "local"))
    await container.bus.ensure_topics(upload.UPLOAD_PARTITIONS)
    publish = container.bus.publish

    async def bus_away(topic, **kwargs):
        if topic == upload.CLOUD_UPLOADS:
            raise ServiceUnavailable("bus unreachable")
        return await publish(topic, **kwargs)

    container.bus.publish = bus_away  # type: ignore[method-assign]
    await upload.queue_upload(container.bus, row, unit_of_work=container.unit_of_work)
    assert sum((await container.bus.lag(upload.UPLOAD_GROUP, [upload.CLOUD_UPLOADS])).values()) == 0

    container.bus.publish = publish  # type: ignore[method-assign]
    await container.outbox.drain()  # the relay, once the bus is back
    consumed = container.bus.consume([upload.CLOUD_UPLOADS], group=upload.UPLOAD_GROUP)
    message = await asyncio.wait_for(anext(consumed), 10)
    await consumed.aclose()
    assert upload.UploadRequest.model_validate_json(message.value).blob_key == row.blob_key


class UnreadableLocal(FilesystemBlobStore):
    """A local disk on which one segment cannot be read (a bad sector): EIO on that key only."""

    def __init__(self, root: Path, bad: set[str]) -> None:
        super().__init__(root)
        self.bad = bad

    async def local_path(self, key: str) -> Path | None:
        if key in self.bad:
            raise OSError(5, "Input/output error", key)
        return await super().local_path(key)


async def test_a_segment_that_fails_on_its_own_is_set_aside_and_the_queue_moves_on(container, tmp_path: Path):
    tenant = (await factories.customer(container)).id
    rows = await recorded(container, tmp_path, tenant, [uuid.uuid4()], 3, FilesystemBlobStore(tmp_path / "local"))
    local = UnreadableLocal(tmp_path / "local", bad={rows[0].blob_key})
    cloud = FilesystemBlobStore(tmp_path / "cloud")
    await container.bus.ensure_topics(upload.UPLOAD_PARTITIONS)
    for row in rows:
        await upload.queue_upload(container.bus, row, unit_of_work=container.unit_of_work)
    registry = CollectorRegistry()
    uploader = upload.CloudUploader(
        bus=container.bus,
        local=local,
        cloud=cloud,
        metrics=upload.UploadMetrics.on(registry),
        retry_base_s=0.01,
        retry_max_s=0.02,
    )
    task = asyncio.create_task(uploader.run())
    try:
        await until(lambda: registry.get_sample_value("vms_cloud_uploads_total") == 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert registry.get_sample_value("vms_cloud_upload_parked_total") == 1
    assert registry.get_sample_value("vms_cloud_upload_failures_total") == upload.OWN_FAILURE_ATTEMPTS
    assert sorted(await cloud.list(f"{tenant}/")) == sorted(r.blob_key for r in rows[1:])
    assert await local.exists(rows[0].blob_key)  # set aside, not lost: the edge buffer never frees it
