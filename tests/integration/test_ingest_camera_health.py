"""The camera row says why a stream is down: the real ingest role against a camera that refuses the
stored credentials (tests.simulators.rtsp_faults), read back through the camera API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests import factories
from tests.conftest import engine_url
from tests.simulators.rtsp_faults import FaultyCamera
from vms.auth.permissions import Role
from vms.media.ingest import Backoff
from vms.roles.ingest import IngestRole

pytestmark = pytest.mark.engines
SUB = "cam2"  # H.264 640x360 15 fps: cheap on two cores
PASSWORD = "s3cret-pw"


@pytest.fixture
def upstream() -> tuple[str, int]:
    parts = urlsplit(engine_url("VMS_TEST_RTSP_BASE"))
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


async def until(read: Callable[[], Awaitable[dict[str, Any]]], ok: Callable[[dict[str, Any]], bool], why: str):
    seen: dict[str, Any] = {}
    for _ in range(400):
        seen = await read()
        if ok(seen):
            return seen
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within 40 s: {why}; last seen {seen}")


async def test_refused_credentials_show_on_the_camera_and_recovery_clears_them(client, container, upstream):
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    async with FaultyCamera(*upstream) as camera:
        cam = await factories.camera(
            container,
            tenant_id=customer.id,
            main_url=camera.url(SUB),
            auth={"method": "digest", "username": "admin", "password": PASSWORD},
        )

        async def read() -> dict[str, Any]:
            r = await client.get(f"/api/v1/cameras/{cam.id}", headers=admin.headers)
            assert r.status_code == 200, r.text
            return r.json()

        role = IngestRole(
            container, refresh_s=60, backoff=Backoff(base_s=0.2, cap_s=0.5, auth_failed_s=1.0), health_flush_s=0.5
        )
        task = asyncio.create_task(role.run())
        try:
            online = await until(read, lambda c: c["status"] == "online", "online")
            assert online["fault"] is None and online["last_error"] is None
            went_online = datetime.fromisoformat(online["status_changed_at"])
            await until(read, lambda c: c["last_frame_at"] is not None, "last frame time flushed")

            camera.mode = "refuse"  # the camera's password was changed: the session ends, every retry gets 401
            camera.cut()
            failed = await until(read, lambda c: c["status"] == "auth_failed", "auth_failed")
            assert failed["fault"] == "auth_failed"
            assert "credentials" in failed["last_error"]
            assert PASSWORD not in failed["last_error"] and "admin@" not in failed["last_error"]
            assert datetime.fromisoformat(failed["status_changed_at"]) > went_online
            assert failed["last_frame_at"] is not None

            listed = await client.get("/api/v1/cameras", headers=admin.headers)
            item = next(c for c in listed.json()["items"] if c["id"] == str(cam.id))
            assert (item["status"], item["fault"], item["last_error"]) == (
                "auth_failed",
                "auth_failed",
                failed["last_error"],
            )
            filtered = await client.get("/api/v1/cameras", params={"status": "auth_failed"}, headers=admin.headers)
            assert [c["id"] for c in filtered.json()["items"]] == [str(cam.id)]

            camera.mode = "pass"  # the right password is back
            back = await until(read, lambda c: c["status"] == "online", "online again")
            assert back["fault"] is None and back["last_error"] is None
            assert datetime.fromisoformat(back["status_changed_at"]) > datetime.fromisoformat(
                failed["status_changed_at"]
            )
            last = datetime.fromisoformat(failed["last_frame_at"])
            await until(read, lambda c: datetime.fromisoformat(c["last_frame_at"]) > last, "frames recorded again")
            # The measured figures ride with the frame times: a reconnect was counted, and the stream was measured.
            again = await until(
                read,
                lambda c: c["stream_stats"] is not None and c["stream_stats"]["reconnects"] >= 1,
                "reconnect counted",
            )
            assert again["stream_stats"]["bitrate_kbps"] > 0 and again["stream_stats"]["fps"] > 0
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
