"""Automatic SD-card backfill: the real ingest role loses a camera's stream for longer than the
threshold, and when the stream returns it fills the outage from the camera's Profile G recording
(the ONVIF device simulator, whose replay is the camera simulator's stream) on its own; and after the
role itself was down, it fills the time since the camera's last recording the same way."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import engine_url
from tests.media import make_clip
from tests.simulators.onvif_device import OnvifDeviceSimulator, SimRecording
from tests.simulators.rtsp_faults import FaultyCamera
from vms.cameras.devices import onvif  # noqa: F401 - importing registers the adapter
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.tenancy import TenantScope
from vms.media import service as media
from vms.media.auto_backfill import MIN_OUTAGE
from vms.media.ingest import Backoff
from vms.media.models import BackfillRun
from vms.media.segmenter import Segmenter
from vms.roles.ingest import IngestRole
from vms.uow import Actor

pytestmark = pytest.mark.engines
ACTOR = Actor.system("test")
SUB = "cam2"  # H.264 640x360 15 fps, keyframe every second


async def runs_of(container, tenant_id, camera_id) -> list[BackfillRun]:
    async with container.unit_of_work(TenantScope.of(tenant_id), ACTOR) as uow:
        stmt = select(BackfillRun).where(BackfillRun.camera_id == camera_id)
        return list((await uow.session.execute(stmt)).scalars())


async def first_run_ended(container, tenant_id, camera_id) -> list[BackfillRun]:
    """The camera's runs once the first has ended (done or failed), or as they are after 90 s."""
    for _ in range(900):
        runs = await runs_of(container, tenant_id, camera_id)
        if runs and runs[0].status in ("done", "failed"):
            break
        await asyncio.sleep(0.1)
    return runs


async def test_a_returning_stream_fills_its_outage_from_the_sd_card_on_its_own(container):
    base = engine_url("VMS_TEST_RTSP_BASE")
    host, port = urlsplit(base).hostname, urlsplit(base).port
    assert host and port
    customer = await factories.customer(container)
    recorded_from = utcnow() - timedelta(seconds=2)  # the SD card records all along; its replay starts here
    recording = SimRecording("rec0", "Camera 1", recorded_from, recorded_from + timedelta(hours=1), f"{base}/{SUB}")
    async with FaultyCamera(host, port) as camera, OnvifDeviceSimulator(password="pw", recordings=[recording]) as sim:
        cam = await factories.camera(
            container,
            tenant_id=customer.id,
            main_url=camera.url(SUB),
            device={"kind": "onvif", "url": sim.device_url},
            auth={"method": "digest", "username": "admin", "password": "pw"},
        )
        await factories.camera_overrides(
            container,
            tenant_id=customer.id,
            camera_id=cam.id,
            values={MIN_OUTAGE: 8},
            reason="short outages count in this test",
        )
        role = IngestRole(container, refresh_s=60, backoff=Backoff(base_s=0.2, cap_s=0.5, auth_failed_s=0.5))
        task = asyncio.create_task(role.run())
        try:
            for _ in range(200):  # recording, then the outage
                async with container.unit_of_work(TenantScope.of(customer.id), ACTOR) as uow:
                    live = await media.segments_between(uow=uow, camera_id=cam.id, start=recorded_from, end=utcnow())
                if live:
                    break
                await asyncio.sleep(0.1)
            assert live, "no live segment recorded"
            camera.mode = "refuse"  # every reconnect refused for a while: an outage of ~15 s
            camera.cut()
            await asyncio.sleep(15)
            assert await runs_of(container, customer.id, cam.id) == [], "no backfill while the camera is down"
            camera.mode = "pass"
            runs = await first_run_ended(container, customer.id, cam.id)
            assert len(runs) == 1, runs
            run = runs[0]
            assert run.status == "done", run.error
            assert run.requested_by is None and run.gaps_found >= 1 and run.segments_added >= 1
            assert run.window_end - run.window_start >= timedelta(seconds=15)

            async with container.unit_of_work(TenantScope.of(customer.id), ACTOR) as uow:
                rows = await media.segments_between(uow=uow, camera_id=cam.id, start=recorded_from, end=utcnow())
            sd = [r for r in rows if r.source == "sd_card"]
            assert len(sd) == run.segments_added
            live_rows = sorted((r for r in rows if r.source != "sd_card"), key=lambda r: r.started_at)
            for row in sd:  # inside the outage: after the last live segment before it, before the first after it
                assert as_utc(run.window_start) <= as_utc(row.started_at) < as_utc(row.ended_at)
                assert as_utc(row.ended_at) <= as_utc(run.window_end)
                overlapping = [
                    r
                    for r in live_rows
                    if r.started_at < row.ended_at and r.ended_at > row.started_at and r.stream == "main"
                ]
                assert not overlapping, "backfill never overlaps recorded time"

            camera.cut()  # a short drop (under the threshold) starts nothing more
            await asyncio.sleep(3)
            await role.auto_backfill.wait()
            assert len(await runs_of(container, customer.id, cam.id)) == 1
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_a_restarted_role_fills_the_time_it_was_down_from_the_sd_card(container, tmp_path: Path):
    base = engine_url("VMS_TEST_RTSP_BASE")
    customer = await factories.customer(container)
    recorded_from = utcnow() - timedelta(seconds=30)  # recorded by an earlier ingest process, then it went down
    recording = SimRecording("rec0", "Camera 1", recorded_from, recorded_from + timedelta(hours=1), f"{base}/{SUB}")
    async with OnvifDeviceSimulator(password="pw", recordings=[recording]) as sim:
        cam = await factories.camera(
            container,
            tenant_id=customer.id,
            main_url=f"{base}/{SUB}",
            device={"kind": "onvif", "url": sim.device_url},
            auth={"method": "digest", "username": "admin", "password": "pw"},
        )
        await factories.camera_overrides(
            container,
            tenant_id=customer.id,
            camera_id=cam.id,
            values={MIN_OUTAGE: 15},  # the gap below is ~24 s; a quick restart's is a few seconds
            reason="short outages count in this test",
        )
        async with container.unit_of_work(TenantScope.of(customer.id), ACTOR) as uow:
            clip = make_clip(tmp_path / "before.mp4", width=320, height=240, fps=10, seconds=6)
            before = []
            Segmenter(out_dir=tmp_path / "seg", clock=lambda: recorded_from, target_s=2).run(
                str(clip), on_segment=before.append, stop=threading.Event()
            )
            for info in before:
                await media.record_segment(
                    uow=uow, blobs=container.blobs, tenant_id=customer.id, camera_id=cam.id, stream="main", info=info
                )
            await uow.commit()
        last_end = max(info.ended_at for info in before)

        role = IngestRole(container, refresh_s=60)
        task = asyncio.create_task(role.run())
        try:
            runs = await first_run_ended(container, customer.id, cam.id)
            assert len(runs) == 1, runs
            run = runs[0]
            assert run.status == "done", run.error
            assert run.requested_by is None and run.gaps_found >= 1 and run.segments_added >= 1
            assert as_utc(run.window_start) <= last_end and as_utc(run.window_end) >= role.started_at

            async with container.unit_of_work(TenantScope.of(customer.id), ACTOR) as uow:
                rows = await media.segments_between(uow=uow, camera_id=cam.id, start=recorded_from, end=utcnow())
            sd = [r for r in rows if r.source == "sd_card"]
            assert len(sd) == run.segments_added
            for row in sd:  # inside the gap: after the recording before the restart, never over another row
                assert last_end <= as_utc(row.started_at) < as_utc(row.ended_at) <= as_utc(run.window_end)
                overlapping = [
                    r for r in rows if r is not row and r.started_at < row.ended_at and r.ended_at > row.started_at
                ]
                assert not overlapping, "backfill never overlaps recorded time"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        again = IngestRole(container, refresh_s=60)  # a quick restart: a gap under the threshold starts nothing
        task = asyncio.create_task(again.run())
        try:
            for _ in range(300):
                async with container.unit_of_work(TenantScope.of(customer.id), ACTOR) as uow:
                    fresh = await media.segments_between(
                        uow=uow, camera_id=cam.id, start=again.started_at, end=utcnow()
                    )
                if fresh:
                    break
                await asyncio.sleep(0.1)
            assert fresh, "the restarted role records"
            await again.auto_backfill.wait()
            assert len(await runs_of(container, customer.id, cam.id)) == 1
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
