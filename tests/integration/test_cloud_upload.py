"""Storage fallback 2 against the real S3 engine: the real ingest role records two cameras while the
cloud store is unreachable, keeps everything locally, and once the cloud is back copies every segment
of the direct camera — in order, byte for byte — and none of the NVR-fed one. Then the edge buffer's
retention frees only the local copies the cloud holds."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import engine_url, make_settings
from vms.bootstrap import build_container
from vms.kernel.clock import utcnow
from vms.kernel.tenancy import TenantScope
from vms.media import retention, upload
from vms.media.models import Segment
from vms.roles.ingest import IngestRole
from vms.uow import Actor

pytestmark = pytest.mark.engines
ACTOR = Actor.system("test")
SUB = "cam2"  # H.264 640x360 15 fps


class Link:
    """A TCP hop in front of the S3 engine that can be cut (the WAN to the cloud going down) and restored."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


class Recorded:
    """The real cloud store, noting the order in which keys arrive (a spy that delegates everything)."""

    def __init__(self, store) -> None:
        self.store, self.keys = store, []

    async def put_file(self, key: str, path: Path, *, move: bool = False) -> int:
        size = await self.store.put_file(key, path, move=move)
        self.keys.append(key)
        return size

    async def put(self, key: str, data: bytes) -> int:
        size = await self.store.put(key, data)
        self.keys.append(key)
        return size

    def __getattr__(self, name: str):
        return getattr(self.store, name)


async def segments_of(container, tenant_id, camera_id) -> list[Segment]:
    async with container.unit_of_work(TenantScope.of(tenant_id), ACTOR) as uow:
        stmt = select(Segment).where(Segment.camera_id == camera_id, Segment.stream == "main")
        return list((await uow.session.execute(stmt.order_by(Segment.started_at))).scalars())


async def test_a_cloud_outage_loses_nothing_and_the_backlog_goes_up_in_order(tmp_path, sqlite_url):
    rtsp = engine_url("VMS_TEST_RTSP_BASE")
    s3 = urlsplit(engine_url("VMS_TEST_S3_URL"))
    assert s3.hostname and s3.port
    link = Link(s3.hostname, s3.port)
    await link.up()
    await link.down()  # the cloud is unreachable from the start; the port is kept for when it returns
    settings = make_settings(
        tmp_path,
        sqlite_url,
        storage={
            "cloud": {
                "kind": "s3",
                "s3_endpoint": f"http://127.0.0.1:{link.port}",
                "s3_bucket": f"vms-cloud-{uuid.uuid4().hex[:8]}",
                "s3_access_key": os.environ.get("VMS_TEST_S3_ACCESS_KEY", ""),
                "s3_secret_key": os.environ.get("VMS_TEST_S3_SECRET_KEY", ""),
                "retry_max_s": 0.5,
            }
        },
    )
    container = build_container(settings)
    assert container.cloud_blobs is not None
    cloud = Recorded(container.cloud_blobs)
    container.cloud_blobs = cloud  # type: ignore[assignment]
    try:
        customer = await factories.customer(container)
        direct = await factories.camera(container, tenant_id=customer.id, main_url=f"{rtsp}/{SUB}")
        nvr = await factories.camera(container, tenant_id=customer.id, main_url=f"{rtsp}/{SUB}", external_id="nvr/2")
        await factories.camera_overrides(
            container,
            tenant_id=customer.id,
            camera_id=nvr.id,
            values={upload.CLOUD_UPLOAD: False, "recording.edge_buffer_hours": 1},
            reason="NVR-fed: its recording stays on premises",
        )
        await factories.camera_overrides(
            container,
            tenant_id=customer.id,
            camera_id=direct.id,
            values={"recording.edge_buffer_hours": 1},
            reason="a short edge buffer",
        )

        role = IngestRole(container, refresh_s=60)
        task = asyncio.create_task(role.run())
        try:
            for _ in range(300):  # three segments of each camera recorded while the cloud is away
                counts = [len(await segments_of(container, customer.id, c.id)) for c in (direct, nvr)]
                if min(counts) >= 3:
                    break
                await asyncio.sleep(0.1)
            lag = await container.bus.lag(upload.UPLOAD_GROUP, [upload.CLOUD_UPLOADS])
            assert sum(lag.values()) >= 2, "segments wait in the queue while the cloud is down"
            assert cloud.keys == []
            for row in await segments_of(container, customer.id, direct.id):
                assert await container.blobs.exists(row.blob_key), "recording went on locally"

            await link.up()  # the cloud is back
            for _ in range(300):
                if sum((await container.bus.lag(upload.UPLOAD_GROUP, [upload.CLOUD_UPLOADS])).values()) == 0:
                    break
                await asyncio.sleep(0.1)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        rows = await segments_of(container, customer.id, direct.id)
        uploaded = [k for k in cloud.keys if k.startswith(f"{customer.id}/{direct.id}/")]
        assert [r.blob_key for r in rows][: len(uploaded)] == uploaded, "uploaded in recording order"
        assert len(uploaded) >= len(rows) - 1  # the segment closed at shutdown may still have been queued
        for row in rows:
            if row.blob_key in uploaded:
                assert await cloud.get(row.blob_key) == await container.blobs.get(row.blob_key), "byte for byte"
        nvr_rows = await segments_of(container, customer.id, nvr.id)
        assert nvr_rows and not any(k.startswith(f"{customer.id}/{nvr.id}/") for k in cloud.keys)
        for row in nvr_rows:
            assert not await cloud.exists(row.blob_key)

        # Edge buffering: two hours on (past the 1 h buffer), local copies the cloud holds go, the rest stay.
        async with container.unit_of_work(TenantScope.platform(), ACTOR) as uow:
            report = await retention.apply_retention(
                uow=uow,
                blobs=container.blobs,
                now=utcnow() + timedelta(hours=2),
                policy_for_camera=retention.config_policy(uow=uow, config_cache=container.config),
                watermark=None,
                disk_usage=lambda: (0, 1),
                cloud=cloud,
            )
        assert report.deleted_uploaded == len(uploaded)
        local = container.blobs.local  # type: ignore[attr-defined]  # a TieredBlobStore: local disk, cloud behind
        for row in await segments_of(container, customer.id, direct.id):  # every row stays in the index
            if row.blob_key in uploaded:  # freed locally, still played back: read from the cloud copy
                assert not await local.exists(row.blob_key) and row.local_freed_at is not None
                assert await container.blobs.get(row.blob_key) == await cloud.get(row.blob_key)
            else:  # closed while the role stopped: never copied, kept locally
                assert await local.exists(row.blob_key) and not await cloud.exists(row.blob_key)
        # Never in the cloud, so all kept (a segment closed while the role stopped may have come in since).
        kept = {r.blob_key for r in await segments_of(container, customer.id, nvr.id)}
        assert {r.blob_key for r in nvr_rows} <= kept, "never in the cloud: kept"
    finally:
        await link.down()
        await container.close()
