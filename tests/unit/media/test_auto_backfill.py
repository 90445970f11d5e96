"""Automatic SD-card backfill is rationed and switchable; a device that does not answer leaves a failed run;
after the ingest role's own outage, the time since the camera's last recording is offered."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import select

from tests import factories
from vms.adapters.blobs.filesystem import FilesystemBlobStore
from vms.cameras.devices import onvif  # noqa: F401 - importing registers the adapter
from vms.config import service as config
from vms.config.nodes import NodeRef
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.tenancy import TenantScope
from vms.media import backfill, upload
from vms.media.auto_backfill import AUTO_BACKFILL, MARGIN, AutoBackfill
from vms.media.models import BackfillRun, Segment
from vms.roles.ingest import IngestRole
from vms.uow import Actor

ACTOR = Actor.system("test")
DEAD_DEVICE = "http://127.0.0.1:9/onvif/device_service"  # nothing listens on the discard port


def auto(container, **options) -> AutoBackfill:
    return AutoBackfill(
        unit_of_work=container.unit_of_work,
        secrets=container.identity.secrets,
        blobs=container.blobs,
        config_cache=container.config,
        **options,
    )


async def runs(container, tenant_id) -> list[BackfillRun]:
    async with container.unit_of_work(TenantScope.of(tenant_id), ACTOR) as uow:
        return list((await uow.session.execute(select(BackfillRun))).scalars())


async def recorded(container, tenant_id, camera_id, *, start, seconds=5.0, stream="main") -> None:
    """An index row only (no blob): what the restart check reads is the index."""
    async with container.unit_of_work(TenantScope.of(tenant_id), ACTOR) as uow:
        uow.add(
            Segment(
                tenant_id=tenant_id,
                camera_id=camera_id,
                stream=stream,
                sequence=0,
                started_at=start,
                ended_at=start + timedelta(seconds=seconds),
                frames=int(seconds * 10),
                bytes=1000,
                codec="h264",
                width=640,
                height=360,
                bitrate_kbps=1.6,
                keyframe_interval_s=1.0,
                blob_key=f"{tenant_id}/{camera_id}/{stream}/{start.isoformat()}.mp4",
            )
        )
        await uow.commit()


async def onvif_camera(container, tenant_id):
    return await factories.camera(
        container,
        tenant_id=tenant_id,
        device={"kind": "onvif", "url": DEAD_DEVICE},
        auth={"method": "digest", "username": "admin", "password": "pw"},
    )


async def test_a_device_that_does_not_answer_leaves_a_failed_run_with_the_reason(container):
    customer = await factories.customer(container)
    cam = await onvif_camera(container, customer.id)
    backfills = auto(container)
    now = utcnow()
    assert backfills.outage_ended(customer.id, cam.id, start=now - timedelta(minutes=5), end=now)
    await backfills.wait()
    [run] = await runs(container, customer.id)
    assert run.status == "failed" and run.camera_id == cam.id and run.requested_by is None
    assert run.error and "device not reachable" in run.error
    assert run.window_end - run.window_start >= timedelta(minutes=5)


async def test_no_backfill_for_short_outages_or_cameras_without_an_onvif_device(container):
    customer = await factories.customer(container)
    cam = await onvif_camera(container, customer.id)
    plain = await factories.camera(container, tenant_id=customer.id)  # no control interface
    backfills = auto(container)
    now = utcnow()
    backfills.outage_ended(customer.id, cam.id, start=now - timedelta(seconds=20), end=now)  # under 60 s
    backfills.outage_ended(customer.id, plain.id, start=now - timedelta(minutes=5), end=now)
    await backfills.wait()
    assert await runs(container, customer.id) == []


async def test_no_backfill_for_a_customer_that_switched_it_off(container):
    customer = await factories.customer(container)
    cam = await onvif_camera(container, customer.id)
    async with container.unit_of_work(TenantScope.of(customer.id), ACTOR) as uow:
        await config.change_overrides(
            uow=uow,
            config_cache=container.config,
            node=NodeRef.customer(customer.id),
            values={AUTO_BACKFILL: False},
            reason="customer keeps no SD cards",
        )
        await uow.commit()
    backfills = auto(container)
    now = utcnow()
    backfills.outage_ended(customer.id, cam.id, start=now - timedelta(minutes=5), end=now)
    await backfills.wait()
    assert await runs(container, customer.id) == []  # with it on, this dead device leaves a failed run (above)


async def test_one_backfill_per_camera_and_none_too_soon_after_the_last(container):
    customer = await factories.customer(container)
    cam = await onvif_camera(container, customer.id)
    other = await onvif_camera(container, customer.id)
    clock = [utcnow()]
    backfills = auto(container, min_interval_s=600, clock=lambda: clock[0])
    start, end = clock[0] - timedelta(minutes=5), clock[0]
    assert backfills.outage_ended(customer.id, cam.id, start=start, end=end)
    assert not backfills.outage_ended(customer.id, cam.id, start=start, end=end)  # one is under way
    assert backfills.outage_ended(customer.id, other.id, start=start, end=end)  # other cameras are not held up
    await backfills.wait()
    assert not backfills.outage_ended(customer.id, cam.id, start=start, end=end)  # ten minutes have not passed
    clock[0] += timedelta(minutes=11)
    assert backfills.outage_ended(customer.id, cam.id, start=start, end=end)
    await backfills.wait()
    assert len(await runs(container, customer.id)) == 3


async def test_a_restart_offers_the_time_since_the_last_recording_before_the_role_started(container):
    customer = await factories.customer(container)
    cam = await onvif_camera(container, customer.id)
    now = utcnow()
    started_at = now - timedelta(seconds=30)
    await recorded(container, customer.id, cam.id, start=now - timedelta(minutes=20))
    await recorded(container, customer.id, cam.id, start=now - timedelta(minutes=10))  # the last before the restart
    await recorded(container, customer.id, cam.id, start=now - timedelta(minutes=2), stream="sub")  # not main
    await recorded(container, customer.id, cam.id, start=started_at + timedelta(seconds=1))  # this process's own
    backfills = auto(container)
    assert backfills.ingest_started(customer.id, cam.id, started_at=started_at, online_at=now)
    await backfills.wait()
    [run] = await runs(container, customer.id)
    last_end = now - timedelta(minutes=10) + timedelta(seconds=5)
    assert as_utc(run.window_start) == last_end - MARGIN and as_utc(run.window_end) == now
    assert run.status == "failed" and run.requested_by is None  # the dead device: kept, with the reason


async def test_a_restart_of_days_offers_at_most_a_day(container):
    customer = await factories.customer(container)
    cam = await onvif_camera(container, customer.id)
    now = utcnow()
    await recorded(container, customer.id, cam.id, start=now - timedelta(days=3))
    backfills = auto(container)
    backfills.ingest_started(customer.id, cam.id, started_at=now - timedelta(seconds=30), online_at=now)
    await backfills.wait()
    [run] = await runs(container, customer.id)
    assert as_utc(run.window_end) - as_utc(run.window_start) == backfill.MAX_WINDOW


async def test_a_restart_offers_nothing_for_a_new_camera_or_a_short_gap_and_holds_back_no_outage(container):
    customer = await factories.customer(container)
    new = await onvif_camera(container, customer.id)
    quick = await onvif_camera(container, customer.id)
    now = utcnow()
    await recorded(container, customer.id, quick.id, start=now - timedelta(seconds=40))  # ends 35 s ago: under 60 s
    backfills = auto(container)
    assert backfills.ingest_started(customer.id, new.id, started_at=now - timedelta(seconds=30), online_at=now)
    assert backfills.ingest_started(customer.id, quick.id, started_at=now - timedelta(seconds=30), online_at=now)
    await backfills.wait()
    assert await runs(container, customer.id) == []
    # Nothing was stored, so a real outage right after is not "too soon".
    assert backfills.outage_ended(customer.id, quick.id, start=now - timedelta(minutes=5), end=now)
    await backfills.wait()
    [run] = await runs(container, customer.id)
    assert run.camera_id == quick.id


async def test_the_ingest_role_gives_its_backfills_a_cloud_copy_queue_only_with_a_cloud_store(container, tmp_path):
    without = IngestRole(container)
    assert without.auto_backfill.runner.on_stored is None
    with_cloud = IngestRole(dataclasses.replace(container, cloud_blobs=FilesystemBlobStore(tmp_path / "cloud")))
    assert isinstance(with_cloud.auto_backfill.runner.on_stored, upload.CloudCopyQueue)
