"""SD-card backfill against the ONVIF device simulator, whose Profile G replay URI is the camera simulator's
RTSP stream (standing in for the SD card), and the cloud-upload flag with two blob stores."""

from __future__ import annotations

import itertools
import os
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import av
import pytest

from tests import factories
from tests.media import make_clip
from tests.simulators.onvif_device import OnvifDeviceSimulator, SimRecording
from vms.adapters.blobs.filesystem import FilesystemBlobStore
from vms.cameras.devices import onvif  # noqa: F401 - importing registers the adapter
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.errors import DeviceUnsupported
from vms.kernel.tenancy import TenantScope
from vms.kernel.topics import CLOUD_UPLOADS
from vms.media import backfill, upload
from vms.media import service as media
from vms.media.models import BackfillRun
from vms.media.segmenter import Segmenter, SegmentInfo
from vms.uow import Actor

RTSP_BASE = os.environ.get("VMS_TEST_RTSP_BASE")
needs_camera = pytest.mark.skipif(RTSP_BASE is None, reason="camera simulator not running (scripts/services env)")
ACTOR = Actor.system("test")


def clip_segments(tmp_path: Path, seconds: int, start) -> list[SegmentInfo]:
    clip = make_clip(tmp_path / f"c{seconds}.mp4", width=320, height=240, fps=10, seconds=seconds)
    got: list[SegmentInfo] = []
    Segmenter(out_dir=tmp_path / f"s{uuid.uuid4().hex[:6]}", clock=lambda: start, target_s=2).run(
        str(clip), on_segment=got.append, stop=threading.Event()
    )
    return got


async def index(container, tenant_id, camera_id, blobs, infos) -> None:
    async with container.unit_of_work(TenantScope.of(tenant_id), ACTOR) as uow:
        for info in infos:
            await media.record_segment(
                uow=uow, blobs=blobs, tenant_id=tenant_id, camera_id=camera_id, stream="main", info=info
            )
        await uow.commit()


async def start_run(container, tenant_id, camera_id, start, end) -> BackfillRun:
    async with container.unit_of_work(TenantScope.of(tenant_id), ACTOR) as uow:
        run = await backfill.request(
            uow=uow,
            secrets=container.identity.secrets,
            tenant_id=tenant_id,
            camera_id=camera_id,
            start=start,
            end=end,
            requested_by=None,
        )
        await uow.commit()
    return run


async def finished(container, tenant_id, run: BackfillRun, on_stored=None) -> BackfillRun:
    await backfill.execute(
        unit_of_work=container.unit_of_work,
        secrets=container.identity.secrets,
        blobs=container.blobs,
        tenant_id=tenant_id,
        run_id=run.id,
        segment_s=2.0,
        on_stored=on_stored,
    )
    async with container.unit_of_work(TenantScope.of(tenant_id), ACTOR) as uow:
        return await backfill.get_run(uow=uow, camera_id=run.camera_id, run_id=run.id)


@needs_camera
async def test_backfill_fills_the_gap_from_the_sd_card_once(container, tmp_path: Path):
    customer = await factories.customer(container)
    t0 = utcnow() - timedelta(minutes=10)
    gap_start, gap_end = t0 + timedelta(seconds=6), t0 + timedelta(seconds=18)
    # The SD card's recording starts at the gap: its replay (npt 0) is dated gap_start.
    recording = SimRecording("rec0", "Camera 1", gap_start, gap_end + timedelta(minutes=1), f"{RTSP_BASE}/cam2")
    async with OnvifDeviceSimulator(password="pw", recordings=[recording]) as sim:
        cam = await factories.camera(
            container,
            tenant_id=customer.id,
            device={"kind": "onvif", "url": sim.device_url},
            auth={"method": "digest", "username": "admin", "password": "pw"},
        )
        await index(container, customer.id, cam.id, container.blobs, clip_segments(tmp_path, 6, t0))
        await index(container, customer.id, cam.id, container.blobs, clip_segments(tmp_path, 6, gap_end))
        run = await start_run(container, customer.id, cam.id, t0, gap_end + timedelta(seconds=6))
        assert run.status == "queued"
        done = await finished(container, customer.id, run)
        assert done.status == "done", done.error
        assert done.gaps_found == 1 and done.segments_added >= 4

        async with container.unit_of_work(TenantScope.of(customer.id), ACTOR) as uow:
            rows = await media.segments_between(uow=uow, camera_id=cam.id, start=t0, end=gap_end + timedelta(seconds=6))
        sd = [r for r in rows if r.source == "sd_card"]
        assert len(sd) == done.segments_added
        for row in sd:
            assert gap_start <= as_utc(row.started_at) < as_utc(row.ended_at) <= gap_end
            assert row.kept_by == "backfill" and row.width == 640
            path = await container.blobs.local_path(row.blob_key)
            with av.open(str(path)) as c:
                assert sum(1 for _ in c.decode(video=0)) == row.frames
        ordered = sorted(rows, key=lambda r: r.started_at)
        for a, b in itertools.pairwise(ordered):
            assert as_utc(a.ended_at) <= as_utc(b.started_at) + timedelta(milliseconds=1)  # no overlap
        filled = sum((as_utc(r.ended_at) - as_utc(r.started_at)).total_seconds() for r in sd)
        assert filled == pytest.approx(done.seconds_filled) and filled >= 8  # of 12 s: whole 2 s segments

        again = await finished(container, customer.id, await start_run(container, customer.id, cam.id, t0, gap_end))
        assert again.status == "done" and again.segments_added == 0
        async with container.unit_of_work(TenantScope.of(customer.id), ACTOR) as uow:
            after = await media.segments_between(
                uow=uow, camera_id=cam.id, start=t0, end=gap_end + timedelta(seconds=6)
            )
        assert len(after) == len(rows)


class NotingBus:
    """The real bus, noting what is published on it (to see what was queued for the cloud)."""

    def __init__(self, bus) -> None:
        self.bus, self.published = bus, []

    async def ensure_topics(self, topics) -> None:
        await self.bus.ensure_topics(topics)

    async def publish(self, topic, *, key, value, headers=None) -> None:
        await self.bus.publish(topic, key=key, value=value, headers=headers)
        self.published.append((topic, key, value))


@needs_camera
async def test_sd_card_segments_are_queued_for_the_cloud_except_an_nvr_cameras(container, tmp_path: Path):
    customer = await factories.customer(container)
    start = utcnow() - timedelta(minutes=5)
    end = start + timedelta(seconds=8)  # nothing indexed: the whole window is a gap
    recording = SimRecording("rec0", "Camera 1", start, end + timedelta(minutes=1), f"{RTSP_BASE}/cam2")
    bus = NotingBus(container.bus)
    copies = upload.cloud_copy_queue(
        cloud=FilesystemBlobStore(tmp_path / "cloud"),
        bus=bus,
        unit_of_work=container.unit_of_work,
        config_cache=container.config,
    )
    assert copies is not None
    assert (
        upload.cloud_copy_queue(cloud=None, bus=bus, unit_of_work=container.unit_of_work, config_cache=container.config)
        is None
    )  # no cloud store: nothing is queued
    async with OnvifDeviceSimulator(password="pw", recordings=[recording]) as sim:
        direct, nvr = [
            await factories.camera(
                container,
                tenant_id=customer.id,
                device={"kind": "onvif", "url": sim.device_url},
                auth={"method": "digest", "username": "admin", "password": "pw"},
            )
            for _ in range(2)
        ]
        await factories.camera_overrides(
            container,
            tenant_id=customer.id,
            camera_id=nvr.id,
            values={upload.CLOUD_UPLOAD: False},
            reason="NVR-fed camera",
        )
        done = {}
        for cam in (direct, nvr):
            run = await start_run(container, customer.id, cam.id, start, end)
            done[cam.id] = await finished(container, customer.id, run, on_stored=copies)
            assert done[cam.id].status == "done" and done[cam.id].segments_added >= 1, done[cam.id].error

    async with container.unit_of_work(TenantScope.of(customer.id), ACTOR) as uow:
        sd = await media.segments_between(uow=uow, camera_id=direct.id, start=start, end=end)
    assert sd and all(r.source == "sd_card" for r in sd)
    queued = [upload.UploadRequest.model_validate_json(value) for topic, _, value in bus.published]
    assert all(topic == CLOUD_UPLOADS for topic, _, _ in bus.published)
    assert [q.blob_key for q in queued] == [r.blob_key for r in sd]  # each filled segment, in order
    assert {q.camera_id for q in queued} == {direct.id}  # none of the NVR camera's
    assert [key for _, key, _ in bus.published] == [str(direct.id)] * len(sd)


async def test_camera_without_profile_g_is_refused_with_422(container):
    customer = await factories.customer(container)
    async with OnvifDeviceSimulator(password="pw") as sim:  # no recordings: no Profile G services
        cam = await factories.camera(
            container,
            tenant_id=customer.id,
            device={"kind": "onvif", "url": sim.device_url},
            auth={"method": "digest", "username": "admin", "password": "pw"},
        )
        now = utcnow()
        with pytest.raises(DeviceUnsupported) as refused:
            await start_run(container, customer.id, cam.id, now - timedelta(minutes=5), now - timedelta(minutes=1))
    assert refused.value.status == 422 and "Profile G" in str(refused.value)
    plain = await factories.camera(container, tenant_id=customer.id)  # no control interface at all
    with pytest.raises(DeviceUnsupported):
        await start_run(container, customer.id, plain.id, now - timedelta(minutes=5), now - timedelta(minutes=1))


async def test_nvr_cameras_stay_local_others_are_copied_to_the_cloud(container, tmp_path: Path):
    customer = await factories.customer(container)
    local, cloud = FilesystemBlobStore(tmp_path / "local"), FilesystemBlobStore(tmp_path / "cloud")
    direct = await factories.camera(container, tenant_id=customer.id)
    nvr = await factories.camera(container, tenant_id=customer.id, external_id="nvr-1/ch1")
    await factories.camera_overrides(
        container, tenant_id=customer.id, camera_id=nvr.id, values={upload.CLOUD_UPLOAD: False}, reason="NVR-fed camera"
    )
    stored = {}
    for cam in (direct, nvr):
        async with container.unit_of_work(TenantScope.of(customer.id), ACTOR) as uow:
            enabled = await upload.cloud_upload_enabled(
                uow=uow, config_cache=container.config, tenant_id=customer.id, camera_id=cam.id
            )
            info = clip_segments(tmp_path, 2, utcnow())[0]
            row = await upload.store_segment(
                uow=uow,
                local=local,
                cloud=cloud,
                upload=enabled,
                tenant_id=customer.id,
                camera_id=cam.id,
                stream="main",
                info=info,
            )
            await uow.commit()
        stored[cam.id] = (enabled, row.blob_key)
    assert stored[direct.id][0] is True and stored[nvr.id][0] is False
    assert await local.exists(stored[direct.id][1]) and await cloud.exists(stored[direct.id][1])
    assert await cloud.get(stored[direct.id][1]) == await local.get(stored[direct.id][1])
    assert await local.exists(stored[nvr.id][1]) and not await cloud.exists(stored[nvr.id][1])
