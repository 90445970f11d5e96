"""Edge buffering: with a cloud store, local copies the cloud holds whole are freed after
`recording.edge_buffer_hours` while their rows stay and reads go to the cloud; what the cloud lacks stays
(bounded only by retention.days and the disk watermark, which says what it drops); deleting a segment
removes both copies."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import structlog
from sqlalchemy import select

from tests import factories
from tests.unit.media.test_retention import NOW, PLATFORM, Storage, hold, record, remaining, storage  # noqa: F401
from vms.adapters.blobs.filesystem import FilesystemBlobStore
from vms.adapters.blobs.tiered import TieredBlobStore
from vms.bootstrap import Container
from vms.kernel.errors import ServiceUnavailable
from vms.media import retention
from vms.media.models import HoldReason, Segment
from vms.uow import Actor


async def run(container: Container, storage: Storage, cloud, *, blobs=None, **kw) -> retention.RetentionReport:  # noqa: F811
    async with container.unit_of_work(PLATFORM, Actor.system("retention")) as uow:
        return await retention.apply_retention(
            uow=uow,
            blobs=blobs or storage.blobs,
            now=NOW,
            policy_for_camera=retention.config_policy(uow=uow, config_cache=container.config),
            disk_usage=storage.usage,
            cloud=cloud,
            **kw,
        )


async def keys_by_start(container: Container):
    async with container.unit_of_work(PLATFORM, Actor.system("test")) as uow:
        return {s.started_at: s.blob_key for s in (await uow.session.execute(select(Segment))).scalars()}


class CountingCloud(FilesystemBlobStore):
    """A cloud store on disk that counts the questions retention asks it, and can be cut off."""

    asked = 0
    down = False

    async def size(self, key: str) -> int:
        self.asked += 1
        if self.down:
            raise ServiceUnavailable("cloud unreachable")
        return await super().size(key)


async def test_old_local_copies_the_cloud_holds_whole_are_freed_and_still_read_from_the_cloud(
    container,
    storage,  # noqa: F811
    tmp_path: Path,
):
    cloud = CountingCloud(tmp_path / "cloud")
    tiered = TieredBlobStore(storage.blobs, cloud)
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

    report = await run(container, storage, cloud, watermark=None, blobs=tiered)

    assert report.deleted_uploaded == 1
    assert await remaining(container) == {camera: starts}  # every row stays: the index forgets nothing
    freed = keys[starts[0]]
    assert not await storage.blobs.exists(freed) and await cloud.exists(freed)
    assert await tiered.get(freed) == await cloud.get(freed)  # playback, clips and exports read the cloud copy
    assert await freed_at(container) == {freed}

    asked = cloud.asked
    again = await run(container, storage, cloud, watermark=None, blobs=tiered)
    assert again.deleted_uploaded == 0
    assert cloud.asked - asked == 2  # the torn and the missing copy are asked again; the freed one never
    without_cloud = await run(container, storage, None, watermark=None, blobs=tiered)
    assert without_cloud.deleted_uploaded == 0 and await remaining(container) == {camera: starts}


async def test_deleting_a_segment_by_age_removes_its_cloud_copy_too(container, storage, tmp_path: Path):  # noqa: F811
    cloud = CountingCloud(tmp_path / "cloud")
    tiered = TieredBlobStore(storage.blobs, cloud)
    tenant = (await factories.customer(container)).id
    camera = (await factories.camera(container, tenant_id=tenant)).id
    old = NOW - timedelta(days=40)  # past the default 30 days
    await record(container, storage, tenant, camera, old)
    key = (await keys_by_start(container))[old]
    await cloud.put(key, await storage.blobs.get(key))
    report = await run(container, storage, cloud, watermark=None, blobs=tiered)
    assert report.deleted_by_age == 1 and await remaining(container) == {}
    assert not await storage.blobs.exists(key) and not await cloud.exists(key)


async def test_nvr_cameras_are_never_asked_and_a_cloud_outage_ends_the_pass(container, storage, tmp_path: Path):  # noqa: F811
    cloud = CountingCloud(tmp_path / "cloud")
    tiered = TieredBlobStore(storage.blobs, cloud)
    tenant = (await factories.customer(container)).id
    nvr = (await factories.camera(container, tenant_id=tenant)).id
    direct = (await factories.camera(container, tenant_id=tenant)).id
    starts = [NOW - timedelta(hours=100, minutes=m) for m in range(6)]
    await record(container, storage, tenant, nvr, *starts)
    await record(container, storage, tenant, direct, *starts)
    policy = retention.RetentionPolicy(days=30, event_days=90)
    policies = {nvr: replace(policy, cloud_upload=False), direct: policy}

    async def policy_for_camera(_tenant, camera):
        return policies[camera]

    keys = await keys_by_camera(container)
    for key in keys[nvr] + keys[direct]:  # even where the cloud had a copy, an NVR camera is not its business
        await cloud.put(key, await storage.blobs.get(key))

    async def apply() -> retention.RetentionReport:
        async with container.unit_of_work(PLATFORM, Actor.system("retention")) as uow:
            return await retention.apply_retention(
                uow=uow,
                blobs=tiered,
                now=NOW,
                policy_for_camera=policy_for_camera,
                cloud=cloud,
                watermark=None,
                disk_usage=storage.usage,
            )

    report = await apply()
    assert report.deleted_uploaded == 6 and cloud.asked == 6  # the direct camera's segments only
    assert all([await storage.blobs.exists(key) for key in keys[nvr]])

    later = [NOW - timedelta(hours=80, minutes=m) for m in range(6)]
    await record(container, storage, tenant, direct, *later)
    cloud.down, cloud.asked = True, 0
    assert (await apply()).deleted_uploaded == 0
    assert cloud.asked == retention.CLOUD_ERRORS_PER_RUN  # not once per segment: the outage ends the pass


async def keys_by_camera(container: Container) -> dict:
    async with container.unit_of_work(PLATFORM, Actor.system("test")) as uow:
        found: dict = {}
        for s in (await uow.session.execute(select(Segment).order_by(Segment.started_at))).scalars():
            found.setdefault(s.camera_id, []).append(s.blob_key)
        return found


async def freed_at(container: Container) -> set[str]:
    async with container.unit_of_work(PLATFORM, Actor.system("test")) as uow:
        rows = (await uow.session.execute(select(Segment).where(Segment.local_freed_at.is_not(None)))).scalars()
        return {s.blob_key for s in rows}


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
