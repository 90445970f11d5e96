"""The /recordings API: segments and gaps of a camera, recording health, evidence holds; roles and tenants."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from tests import factories
from vms.auth.permissions import Role
from vms.kernel.clock import utcnow
from vms.kernel.tenancy import TenantScope
from vms.media import service
from vms.media.api import get_disk_usage
from vms.media.segmenter import SegmentInfo
from vms.uow import Actor

REC = "/api/v1/recordings"
HOLDS = f"{REC}/holds"


@pytest.fixture
def now():
    return utcnow().replace(microsecond=0)


@pytest.fixture
async def world(container, client, app, tmp_path: Path, now):
    """Customer A with a camera recorded 12:00–12:00:30 then 12:01–12:01:10 (a 30 s gap), customer B."""
    a, b = await factories.customer(container), await factories.customer(container)
    camera = await factories.camera(container, tenant_id=a.id)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    t0 = now - timedelta(hours=1)
    starts = [t0 + timedelta(seconds=10 * i) for i in (0, 1, 2, 6)]
    async with container.unit_of_work(TenantScope.of(a.id), Actor.system("ingest")) as uow:
        for i, start in enumerate(starts):
            path = inbox / f"{i}.mp4"
            path.write_bytes(b"x" * 1000)
            info = SegmentInfo(path, i, start, start + timedelta(seconds=10), 100, 1000, "h264", 320, 240, 1.0)
            await service.record_segment(
                uow=uow, blobs=container.blobs, tenant_id=a.id, camera_id=camera.id, stream="main", info=info
            )
        await uow.commit()
    app.dependency_overrides[get_disk_usage] = lambda: lambda: (500, 1000)
    roles = (Role.VIEWER, Role.SUPERVISOR)
    users = {f"a_{r.value}": await factories.account(client, container, tenant_id=a.id, role=r) for r in roles}
    users |= {f"b_{r.value}": await factories.account(client, container, tenant_id=b.id, role=r) for r in roles}
    users["provider"] = await factories.account(client, container, tenant_id=None, role=Role.PROVIDER_ADMIN)
    return {"camera": camera, "t0": t0, "users": users, "a": a}


def window(world, seconds: int = 80) -> dict[str, str]:
    return {"start": world["t0"].isoformat(), "end": (world["t0"] + timedelta(seconds=seconds)).isoformat()}


async def test_a_viewer_pages_through_a_cameras_segments(client, world):
    viewer = world["users"]["a_viewer"]
    url = f"{REC}/{world['camera'].id}/segments"
    r = await client.get(url, params={**window(world), "limit": 3}, headers=viewer.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["total"], len(r.json()["items"])) == (4, 3)
    r = await client.get(url, params={**window(world), "limit": 3, "offset": 3}, headers=viewer.headers)
    assert [s["sequence"] for s in r.json()["items"]] == [3]


async def test_the_gap_report_gives_expected_recorded_and_the_gaps(client, world):
    r = await client.get(
        f"{REC}/{world['camera'].id}/gaps", params=window(world), headers=world["users"]["a_viewer"].headers
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["expected_s"], body["recorded_s"]) == (80.0, 40.0)
    assert body["coverage"] == 0.5
    assert [g["seconds"] for g in body["gaps"]] == [30.0, 10.0]


async def test_a_window_that_ends_before_it_starts_is_a_4xx(client, world):
    params = {"start": window(world)["end"], "end": window(world)["start"]}
    r = await client.get(f"{REC}/{world['camera'].id}/gaps", params=params, headers=world["users"]["a_viewer"].headers)
    assert r.status_code == 422


@pytest.mark.parametrize("what", ["segments", "gaps"])
async def test_another_customers_camera_and_a_missing_one_are_404(client, world, what):
    other = world["users"]["b_supervisor"]
    for camera_id in (world["camera"].id, uuid.uuid4()):
        r = await client.get(f"{REC}/{camera_id}/{what}", params=window(world), headers=other.headers)
        assert r.status_code == 404, r.text


async def test_provider_staff_cannot_read_a_customers_recordings(client, world):
    r = await client.get(
        f"{REC}/{world['camera'].id}/segments", params=window(world), headers=world["users"]["provider"].headers
    )
    assert r.status_code == 403


async def test_health_reports_liveness_forecast_and_coverage(client, world):
    r = await client.get(f"{REC}/health", headers=world["users"]["a_viewer"].headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["retention"]["alive"] is False and body["retention"]["last_finished_at"] is None
    assert body["forecast"]["free_bytes"] == 500 and body["forecast"]["write_bytes_per_s"] > 0
    assert body["forecast"]["hours_until_full"] is not None
    assert any("Retention has not run" in alarm for alarm in body["alarms"])
    [camera] = body["cameras"]
    assert camera["camera_id"] == str(world["camera"].id)
    assert camera["coverage"] == pytest.approx(40 / 86400, abs=1e-6)


async def test_a_supervisor_puts_and_releases_an_evidence_hold(client, world):
    supervisor = world["users"]["a_supervisor"]
    body = {**window(world), "camera_id": str(world["camera"].id), "reference_id": "case-42"}
    r = await client.post(HOLDS, json=body, headers=supervisor.headers)
    assert r.status_code == 201, r.text
    hold = r.json()
    assert (hold["reason"], hold["active"], hold["created_by"]) == ("evidence", True, str(supervisor.user.id))

    r = await client.get(HOLDS, params={"active": True}, headers=supervisor.headers)
    assert [h["id"] for h in r.json()["items"]] == [hold["id"]]
    r = await client.get(HOLDS, headers=world["users"]["b_supervisor"].headers)
    assert r.json()["total"] == 0  # another customer sees none

    r = await client.delete(f"{HOLDS}/{hold['id']}", headers=world["users"]["b_supervisor"].headers)
    assert r.status_code == 404
    r = await client.delete(f"{HOLDS}/{hold['id']}", headers=supervisor.headers)
    assert r.status_code == 204
    r = await client.get(HOLDS, params={"active": True}, headers=supervisor.headers)
    assert r.json()["total"] == 0
    r = await client.get(HOLDS, headers=supervisor.headers)
    assert [h["active"] for h in r.json()["items"]] == [False]  # kept, expired, for the record


async def test_viewers_cannot_put_holds_and_nobody_holds_another_customers_camera(client, world):
    body = {**window(world), "camera_id": str(world["camera"].id), "reference_id": "case-1"}
    r = await client.post(HOLDS, json=body, headers=world["users"]["a_viewer"].headers)
    assert r.status_code == 403
    r = await client.get(HOLDS, headers=world["users"]["a_viewer"].headers)
    assert r.status_code == 403
    r = await client.post(HOLDS, json=body, headers=world["users"]["b_supervisor"].headers)
    assert r.status_code == 404


async def test_a_hold_ending_before_it_starts_is_refused(client, world):
    w = window(world)
    body = {"start": w["end"], "end": w["start"], "camera_id": str(world["camera"].id), "reference_id": "case-1"}
    r = await client.post(HOLDS, json=body, headers=world["users"]["a_supervisor"].headers)
    assert r.status_code == 422
