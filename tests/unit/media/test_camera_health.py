"""Camera health on the camera row: status on change (latest wins), last frame in batches, no credentials."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from tests import factories
from tests.conftest import make_settings
from vms.bootstrap import build_container
from vms.cameras import service as cameras
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.tenancy import TenantScope
from vms.media.camera_health import CameraHealthWriter
from vms.media.ingest import StreamFault, StreamHealth, StreamStatus, redact_text
from vms.uow import Actor


async def row(container, tenant_id, camera_id):
    async with container.unit_of_work(TenantScope.of(tenant_id), Actor.system("test")) as uow:
        return await cameras.get_camera(uow=uow, camera_id=camera_id)


def test_errors_lose_the_credentials_of_every_url_in_them():
    url = "rtsp://admin:p%40ss@10.0.0.5:554/Streaming/101"
    error = "HTTPUnauthorizedError: 401 Unauthorized: 'rtsp://admin:p%40ss@10.0.0.5:554/Streaming/101' (p%40ss)"
    cleaned = redact_text(error, url)
    assert "admin" not in cleaned and "p%40ss" not in cleaned
    assert "rtsp://10.0.0.5:554/Streaming/101" in cleaned
    assert redact_text("stream ended") == "stream ended"


async def test_status_changes_are_written_latest_first_and_connecting_is_not(container):
    customer = await factories.customer(container)
    cam = await factories.camera(container, tenant_id=customer.id)
    writer = CameraHealthWriter(container.unit_of_work, flush_s=3600)
    health = StreamHealth(status=StreamStatus.CONNECTING)
    writer.status(customer.id, cam.id, health)
    assert writer.writes == 0 and not writer._writers  # connecting keeps the row's last known state

    for status, fault, error in [
        (StreamStatus.OFFLINE, StreamFault.UNREACHABLE, "ConnectionRefusedError: rtsp://u:pw@10.0.0.5/x"),
        (StreamStatus.DEGRADED, StreamFault.STALLED, "no packets for 6 s"),
        (StreamStatus.AUTH_FAILED, StreamFault.AUTH_FAILED, "camera refused the credentials: rtsp://u:pw@h/x"),
    ]:
        health.status, health.fault, health.last_error = status, fault, error
        writer.status(customer.id, cam.id, health)  # three changes before the writer gets to run
    await writer.close()
    assert writer.writes == 1  # only the latest state is written: a flapping camera costs no write storm
    read = await row(container, customer.id, cam.id)
    assert (read.status, read.fault) == ("auth_failed", "auth_failed")
    assert read.last_error == "camera refused the credentials: rtsp://h/x"
    changed = read.status_changed_at
    assert changed is not None

    health.status, health.fault = StreamStatus.ONLINE, None  # the health record still holds the old error
    writer.status(customer.id, cam.id, health)
    await writer.close()
    read = await row(container, customer.id, cam.id)
    assert (read.status, read.fault, read.last_error) == ("online", None, None)
    assert read.status_changed_at > changed


@pytest.fixture
async def any_container(tmp_path: Path, any_database_url: str):
    """A container on embedded SQLite and on real PostgreSQL (the batch update is one executemany statement)."""
    built = build_container(make_settings(tmp_path, any_database_url))
    yield built
    await built.close()


async def test_last_frame_times_are_batched_and_survive_a_failed_flush(any_container):
    container = any_container
    customer = await factories.customer(container)
    cams = [await factories.camera(container, tenant_id=customer.id) for _ in range(3)]
    writer = CameraHealthWriter(container.unit_of_work, flush_s=3600)
    t0 = utcnow().replace(microsecond=0)
    for i, cam in enumerate(cams):
        measured = StreamHealth(reconnects=i, segments=10 + i, bitrate_kbps=2048.0, fps=25.0, keyframe_interval_s=2.0)
        writer.frame(cam.id, t0 + timedelta(seconds=i), measured)
        stale = StreamHealth(reconnects=99)
        writer.frame(cam.id, t0 - timedelta(seconds=30), stale)  # an older time never moves it (or its figures) back
    assert (await row(container, customer.id, cams[0].id)).last_frame_at is None  # nothing written per frame

    real = writer.unit_of_work

    def broken(*_args):
        raise OSError("database down")

    writer.unit_of_work = broken  # type: ignore[assignment]
    await writer.flush_frames()
    writer.unit_of_work = real
    await writer.flush_frames()
    for i, cam in enumerate(cams):
        read = await row(container, customer.id, cam.id)
        assert as_utc(read.last_frame_at) == t0 + timedelta(seconds=i)
        assert read.stream_stats is not None
        assert (read.stream_stats.reconnects, read.stream_stats.segments) == (i, 10 + i)
        assert (read.stream_stats.fps, read.stream_stats.keyframe_interval_s) == (25.0, 2.0)


async def test_the_writer_flushes_on_its_own_schedule(container):
    customer = await factories.customer(container)
    cam = await factories.camera(container, tenant_id=customer.id)
    writer = CameraHealthWriter(container.unit_of_work, flush_s=0.05)
    task = asyncio.create_task(writer.run())
    at = utcnow().replace(microsecond=0)
    writer.frame(cam.id, at)
    try:
        for _ in range(100):
            if (await row(container, customer.id, cam.id)).last_frame_at is not None:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert as_utc((await row(container, customer.id, cam.id)).last_frame_at) == at


def failing(container, failures: int, before_raising=lambda: None):
    """The container's unit of work, except that the first `failures` opened raise (a database failover)."""
    calls = {"n": 0}

    def unit_of_work(scope, actor):
        calls["n"] += 1
        if calls["n"] <= failures:
            before_raising()
            raise OSError("database failover")
        return container.unit_of_work(scope, actor)

    return unit_of_work, calls


async def until_written(writer: CameraHealthWriter, writes: int) -> None:
    for _ in range(200):
        if writer.writes >= writes:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{writer.writes} status writes, wanted {writes}")


async def test_a_failed_status_write_is_tried_again_until_the_row_has_it(container):
    customer = await factories.customer(container)
    cam = await factories.camera(container, tenant_id=customer.id)
    unit_of_work, calls = failing(container, failures=2)
    writer = CameraHealthWriter(unit_of_work, flush_s=3600, retry_s=0.01)
    offline = StreamHealth(status=StreamStatus.OFFLINE, fault=StreamFault.UNREACHABLE, last_error="no route to host")
    writer.status(customer.id, cam.id, offline)
    await until_written(writer, 1)
    assert calls["n"] == 3  # two failures, then written
    read = await row(container, customer.id, cam.id)
    assert (read.status, read.fault, read.last_error) == ("offline", "unreachable", "no route to host")
    await writer.close()


async def test_a_change_newer_than_the_failed_write_is_the_one_written(container):
    customer = await factories.customer(container)
    cam = await factories.camera(container, tenant_id=customer.id)
    writer: CameraHealthWriter

    def camera_back_online() -> None:  # while the first write fails, the camera reconnects
        writer.status(customer.id, cam.id, StreamHealth(status=StreamStatus.ONLINE))

    unit_of_work, _calls = failing(container, failures=1, before_raising=camera_back_online)
    writer = CameraHealthWriter(unit_of_work, flush_s=3600, retry_s=0.01)
    writer.status(customer.id, cam.id, StreamHealth(status=StreamStatus.OFFLINE, fault=StreamFault.UNREACHABLE))
    await until_written(writer, 1)
    await writer.close()
    assert writer.writes == 1  # the stale "offline" was not written after the newer "online"
    assert (await row(container, customer.id, cam.id)).status == "online"


async def test_closing_with_the_database_away_does_not_wait_out_the_backoff(container):
    customer = await factories.customer(container)
    cam = await factories.camera(container, tenant_id=customer.id)
    unit_of_work, calls = failing(container, failures=1_000)
    writer = CameraHealthWriter(unit_of_work, flush_s=3600, retry_s=60)
    writer.status(customer.id, cam.id, StreamHealth(status=StreamStatus.OFFLINE, fault=StreamFault.UNREACHABLE))
    for _ in range(500):  # the first try, however loaded the machine (the loop breaks as soon as it is made)
        if calls["n"]:
            break
        await asyncio.sleep(0.01)
    await asyncio.wait_for(writer.close(), 5)  # one more try, then given up: shutdown is not held for 60 s
    assert calls["n"] == 2 and writer.writes == 0 and not writer._writers
