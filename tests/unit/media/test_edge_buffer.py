"""Edge buffering: with a cloud store, local copies the cloud holds whole go after `recording.edge_buffer_hours`;
what the cloud lacks stays (bounded only by retention.days and the disk watermark, which says what it drops)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import structlog
from sqlalchemy import select

from tests import factories
from tests.unit.media.test_retention import NOW, PLATFORM, Storage, hold, record, remaining, storage  # noqa: F401
from vms.adapters.blobs.filesystem import FilesystemBlobStore
from vms.bootstrap import Container
from vms.media import retention
from vms.media.models import HoldReason, Segment
from vms.uow import Actor


async def run(container: Container, storage: Storage, cloud, **kw) -> retention.RetentionReport:  # noqa: F811
    async with container.unit_of_work(PLATFORM, Actor.system("retention")) as uow:
        return await retention.apply_retention(
            uow=uow,
            blobs=storage.blobs,
            now=NOW,
            policy_for_camera=retention.config_policy(uow=uow, config_cache=container.config),
            disk_usage=storage.usage,
            cloud=cloud,
            **kw,
        )


async def keys_by_start(container: Container):
    async with container.unit_of_work(PLATFORM, Actor.system("test")) as uow:
        return {s.started_at: s.blob_key for s in (await uow.session.execute(select(Segment))).scalars()}


async def test_only_old_local_copies_the_cloud_holds_whole_are_freed(container, storage, tmp_path: Path):  # noqa: F811
    cloud = FilesystemBlobStore(tmp_path / "cloud")
    tenant = (await factories.customer(container)).id
    camera = (await factories.camera(container, tenant_id=tenant)).id
    hours = [100, 90, 80, 75, 10]  # the default edge buffer is 72 h
    starts = [NOW - timedelta(hours=h) for h in hours]
    await record(container, storage, tenant, camera, *starts)
    keys = await keys_by_start(container)
    for start in starts[:2] + starts[3:]:  # 80 h is not in the cloud yet (an outage)
        await cloud.put(keys[start], await storage.blobs.get(keys[start]))
    await cloud.put(keys[starts[1]], b"half")  # 90 h: a torn copy is no copy
    await hold(container, tenant, camera, starts[3], reason=HoldReason.EVIDENCE)  # 75 h: held

    report = await run(container, storage, cloud, watermark=None)

    assert report.deleted_uploaded == 1
    assert await remaining(container) == {camera: starts[1:]}  # only the 100 h one went
    assert not await storage.blobs.exists(keys[starts[0]]) and await cloud.exists(keys[starts[0]])
    without_cloud = await run(container, storage, None, watermark=None)
    assert without_cloud.deleted_uploaded == 0 and await remaining(container) == {camera: starts[1:]}


async def test_the_disk_watermark_still_bounds_what_the_cloud_lacks_and_logs_it(container, storage, tmp_path: Path):  # noqa: F811
    cloud = FilesystemBlobStore(tmp_path / "cloud")
    tenant = (await factories.customer(container)).id
    camera = (await factories.camera(container, tenant_id=tenant)).id
    starts = [NOW - timedelta(hours=h) for h in (5, 4, 3, 2, 1)]
    await record(container, storage, tenant, camera, *starts, size=190)  # 950 of 1000 bytes: above 90 %
    with structlog.testing.capture_logs() as logs:
        report = await run(container, storage, cloud, watermark=(0.9, 0.6))
    assert report.deleted_uploaded == 0 and report.deleted_by_watermark == 2
    dropped = [e for e in logs if e["event"] == "retention.watermark_dropped"]
    assert dropped and dropped[0]["segments"] == 2 and dropped[0]["cameras"] == [str(camera)]
    assert dropped[0]["bytes"] == 380 and dropped[0]["oldest"] == str(starts[0])
