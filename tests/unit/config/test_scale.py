"""A bounded scale check: 2,000 cameras (under 20 sites) with 20 overrides each resolve correctly
and quickly, cold (bulk) and hot (one by one, as the job maker reads). bench/config.py runs the
10,000-camera version and reports percentiles."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import event

from tests import factories
from vms.cameras import hierarchy
from vms.cameras.models import Camera, NodeKind
from vms.cameras.schemas import NodeCreate
from vms.config import service
from vms.config.nodes import NodeRef
from vms.config.registry import Level
from vms.kernel.ai_models import AiModel
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor

CAMERAS, SITES = 2_000, 20
TWENTY = {f"models.{m.value}.confidence_threshold": 0.65 for m in AiModel} | {
    f"models.{m.value}.priority": "HIGH" for m in AiModel
}


async def test_two_thousand_cameras_with_twenty_overrides_each_resolve_in_bounded_time(container):
    assert len(TWENTY) == 20
    tenant = (await factories.customer(container)).id
    scope, actor = TenantScope.of(tenant), Actor.system("test")
    cameras = await inventory(container, tenant)
    sites = sorted(set(cameras.values()))
    async with container.unit_of_work(scope, actor) as uow:
        await service.change_overrides(
            uow=uow,
            config_cache=container.config,
            node=NodeRef.customer(tenant),
            values={"retention.days": 45},
            reason="scale",
        )
        await service.patch_many(
            uow=uow, nodes=[NodeRef.site(tenant, s) for s in sites], values={"recording.mode": "events"}, reason="scale"
        )
        changed = await service.patch_many(
            uow=uow, nodes=[NodeRef.camera(tenant, c) for c in cameras], values=TWENTY, reason="scale"
        )
        await uow.commit()
    assert len(changed) == CAMERAS

    async with container.unit_of_work(scope, actor) as uow:
        started = time.perf_counter()
        cold = await service.cameras_config(uow=uow, config_cache=container.config, tenant_id=tenant, cameras=cameras)
        cold_s = time.perf_counter() - started

        statements: list[str] = []
        event.listen(container.engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        started = time.perf_counter()
        for camera, site in cameras.items():
            hot = await service.camera_config(
                uow=uow, config_cache=container.config, tenant_id=tenant, camera_id=camera, site_id=site
            )
            assert hot == cold[camera]
        hot_s = time.perf_counter() - started

    assert len(cold) == CAMERAS
    for values in cold.values():
        assert all(values[k].value == v and values[k].level is Level.CAMERA for k, v in TWENTY.items())
        assert (values["recording.mode"].value, values["recording.mode"].level) == ("events", Level.SITE)
        assert (values["retention.days"].value, values["retention.days"].level) == (45, Level.CUSTOMER)
    # Generous bounds (a loaded CI machine); locally cold takes ~0.4 s and hot ~0.1 s.
    assert cold_s < 10, cold_s
    assert hot_s < 5, hot_s
    assert statements == []  # hot reads never touch the database


async def inventory(container, tenant: uuid.UUID) -> dict[uuid.UUID, uuid.UUID]:
    """SITES real site trees and CAMERAS real cameras spread over their zones: camera id → site id.

    The camera rows are inserted directly (no probe, no license check per camera): 2,000 cameras
    through the camera service would make this a test of the camera service.
    """
    zones: list[tuple[uuid.UUID, uuid.UUID]] = []  # (zone, its site)
    async with container.unit_of_work(TenantScope.of(tenant), Actor.system("test")) as uow:
        for n in range(SITES):
            parent: uuid.UUID | None = None
            site: uuid.UUID | None = None
            for kind in (NodeKind.SITE, NodeKind.BUILDING, NodeKind.FLOOR, NodeKind.ZONE):
                node = await hierarchy.create_node(
                    uow=uow, data=NodeCreate(kind=kind, name=f"Site {n} {kind}", parent_id=parent)
                )
                parent, site = node.id, site or node.id
            assert parent is not None and site is not None
            zones.append((parent, site))
        placed: dict[uuid.UUID, uuid.UUID] = {}
        for i in range(CAMERAS):
            zone, site = zones[i % SITES]
            camera = Camera(
                id=uuid.uuid4(), tenant_id=tenant, name=f"Camera {i}", main_url=f"rtsp://192.0.2.1/{i}", zone_id=zone
            )
            uow.add(camera)
            placed[camera.id] = site
        await uow.commit()
    return placed
