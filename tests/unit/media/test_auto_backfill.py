"""Automatic SD-card backfill is rationed and switchable; a device that does not answer leaves a failed run."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests import factories
from vms.cameras.devices import onvif  # noqa: F401 - importing registers the adapter
from vms.config import service as config
from vms.config.nodes import NodeRef
from vms.kernel.clock import utcnow
from vms.kernel.tenancy import TenantScope
from vms.media.auto_backfill import AUTO_BACKFILL, AutoBackfill
from vms.media.models import BackfillRun
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
