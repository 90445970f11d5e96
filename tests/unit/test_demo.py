"""`make run`'s first start: the demo camera is recorded and makes AI jobs with no camera attached."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import select

from vms.analytics.jobs import VideoJob
from vms.cameras.models import Camera
from vms.kernel.ai_models import AiModel
from vms.kernel.tenancy import TenantScope
from vms.media.models import Segment
from vms.media.normalize import normalize
from vms.roles.demo import ensure_first_accounts
from vms.roles.ingest import IngestRole
from vms.uow import Actor


async def test_the_demo_camera_is_recorded_in_real_time_and_makes_jobs(container):
    await ensure_first_accounts(container)
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        [camera] = (await uow.session.execute(select(Camera))).scalars().all()
    assert camera.main_url.startswith("file:///")
    role = IngestRole(container)
    started = asyncio.get_running_loop().time()
    task = asyncio.create_task(role.run())
    segments: list[Segment] = []
    try:
        for _ in range(150):
            await asyncio.sleep(0.1)
            async with container.unit_of_work(TenantScope.of(camera.tenant_id), Actor.system("test")) as uow:
                segments = list((await uow.session.execute(select(Segment))).scalars())
            if segments:
                waited = asyncio.get_running_loop().time() - started
                break
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert segments, "the demo camera produced no segment in 15 s"
    assert waited >= 4.5, "the clip is played in real time, like a camera, not read as fast as the disk allows"
    seg = segments[0]
    assert 4.5 <= (seg.ended_at - seg.started_at).total_seconds() <= 5.5
    path = await container.blobs.local_path(seg.blob_key)
    assert path is not None and len(normalize(path, started_at=seg.started_at)) == 75
    async with contextlib.aclosing(container.bus.consume(["video-jobs-high"], group="inspect")) as stream:
        async for message in stream:
            assert VideoJob.model_validate_json(message.value).metadata.enabled_models == [AiModel.TAMPERING]
            break
