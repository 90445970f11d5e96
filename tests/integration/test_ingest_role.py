"""End to end on the camera simulator: a camera added through the API is ingested into recorded
segments, its status goes online, and its AI jobs reach the bus."""

from __future__ import annotations

import asyncio
import contextlib

from tests import factories
from tests.conftest import engine_url
from vms.analytics.jobs import VideoJob
from vms.auth.permissions import Role
from vms.kernel.ai_models import AiModel
from vms.kernel.tenancy import TenantScope
from vms.media.models import Segment
from vms.roles.ingest import IngestRole
from vms.uow import Actor


async def test_a_simulated_camera_is_recorded_and_makes_jobs(client, container):
    base = engine_url("VMS_TEST_RTSP_BASE")
    customer = await factories.customer(container, models=[AiModel.MOTION, AiModel.FIRE_SMOKE])
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    created = await client.post(
        "/api/v1/cameras",
        headers=admin.headers,
        json={"name": "Lobby", "main_url": f"{base}/cam1", "enabled_models": ["motion", "fire_smoke"]},
    )
    assert created.status_code == 201, created.text
    camera = created.json()
    assert camera["main_stream"]["height"] == 1080

    role = IngestRole(container, refresh_s=60)
    task = asyncio.create_task(role.run())
    try:
        for _ in range(300):
            async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
                from sqlalchemy import select

                segments = (await uow.session.execute(select(Segment))).scalars().all()
            if segments:
                break
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert segments, "no segment recorded within 30 s"
    seg = segments[0]
    assert (seg.codec, seg.width, seg.height) == ("h264", 1920, 1080)
    assert 4.5 <= (seg.ended_at - seg.started_at).total_seconds() <= 6.5
    assert await container.blobs.exists(seg.blob_key)

    status = (await client.get(f"/api/v1/cameras/{camera['id']}", headers=admin.headers)).json()["status"]
    assert status == "online"

    jobs = {}
    for topic in ("video-jobs-critical", "video-jobs-standard"):
        async with contextlib.aclosing(container.bus.consume([topic], group="inspect")) as stream:
            async for message in stream:
                jobs[topic] = VideoJob.model_validate_json(message.value)
                break
    assert jobs["video-jobs-critical"].metadata.enabled_models == [AiModel.FIRE_SMOKE]
    assert jobs["video-jobs-standard"].metadata.enabled_models == [AiModel.MOTION]
    assert jobs["video-jobs-critical"].video_segment.blob_key == seg.blob_key
