"""The incidents API: filters, paging, who sees what, and idempotent, audited operator actions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from tests import factories
from vms.audit.models import AuditRecord
from vms.auth.permissions import Role
from vms.bootstrap import Container
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor
from vms.watchdog import service
from vms.watchdog.models import IncidentType, Severity
from vms.watchdog.rules import Assessment, Finding

URL = "/api/v1/incidents"
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
FIELDS = {
    "incidentId",
    "timestamp",
    "customerId",
    "cameraId",
    "aiModel",
    "incidentType",
    "actualValue",
    "thresholdValue",
    "severity",
    "status",
    "summary",
    "source",
    "lastSeenAt",
    "acknowledgedAt",
    "resolvedAt",
}


def camera_down(tenant: uuid.UUID, camera: uuid.UUID) -> Finding:
    return Finding(
        key=f"camera:{camera}",
        incident_type=IncidentType.SERVICE_FAILURE,
        severity=Severity.HIGH,
        actual=300.0,
        threshold=120.0,
        summary="Camera 'Gate' has been offline for 5 min.",
        source=f"camera {camera}",
        tenant_id=tenant,
        camera_id=camera,
    )


LATENCY = Finding(
    key="latency:fire_smoke:CRITICAL",
    incident_type=IncidentType.LATENCY_BREACH,
    severity=Severity.CRITICAL,
    actual=870.0,
    threshold=500.0,
    summary="fire_smoke (CRITICAL) p99 job latency is 870 ms.",
    source="workers: worker h:1",
    ai_model="fire_smoke",
)


async def open_incidents(container: Container, *findings: Finding, at: datetime = T0) -> None:
    """Each finding opened as an incident at its own minute, in the given order."""
    for i, finding in enumerate(findings):
        async with container.unit_of_work(TenantScope.platform(), Actor.system("watchdog")) as uow:
            assessment = Assessment(findings=[finding])
            await service.reconcile(uow=uow, assessment=assessment, now=at + timedelta(minutes=i), still_s=35)
            await uow.commit()


@dataclass
class World:
    a: uuid.UUID
    b: uuid.UUID
    cam_a: uuid.UUID
    cam_b: uuid.UUID
    provider: factories.SignedIn
    admin_a: factories.SignedIn
    viewer_a: factories.SignedIn


@pytest.fixture
async def world(client: httpx.AsyncClient, container: Container) -> World:
    a = (await factories.customer(container)).id
    b = (await factories.customer(container)).id
    cam_a = (await factories.camera(container, tenant_id=a, name="Gate")).id
    cam_b = (await factories.camera(container, tenant_id=b, name="Dock")).id
    await open_incidents(container, camera_down(a, cam_a), LATENCY, camera_down(b, cam_b))
    return World(
        a=a,
        b=b,
        cam_a=cam_a,
        cam_b=cam_b,
        provider=await factories.account(client, container, tenant_id=None, role=Role.PROVIDER_ADMIN),
        admin_a=await factories.account(client, container, tenant_id=a, role=Role.ADMIN),
        viewer_a=await factories.account(client, container, tenant_id=a, role=Role.VIEWER),
    )


async def test_provider_staff_see_every_incident_newest_first_in_the_requirements_shape(client, world):
    r = await client.get(URL, headers=world.provider.headers)
    assert r.status_code == 200, r.text
    page = r.json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 50, 0)
    first = page["items"][0]
    assert set(first) >= FIELDS
    assert first["customerId"] == str(world.b) and first["cameraId"] == str(world.cam_b)
    assert [i["incidentType"] for i in page["items"]] == ["SERVICE_FAILURE", "LATENCY_BREACH", "SERVICE_FAILURE"]
    latency = page["items"][1]
    assert (latency["customerId"], latency["aiModel"], latency["actualValue"], latency["thresholdValue"]) == (
        None,
        "fire_smoke",
        870.0,
        500.0,
    )
    assert latency["status"] == "open" and latency["severity"] == "CRITICAL"


async def test_filters_and_pagination(client, world):
    h = world.provider.headers
    r = await client.get(URL, headers=h, params={"status": "open", "limit": 2})
    assert r.json()["total"] == 3 and len(r.json()["items"]) == 2
    r = await client.get(URL, headers=h, params={"status": "open", "limit": 2, "offset": 2})
    assert len(r.json()["items"]) == 1 and r.json()["offset"] == 2
    r = await client.get(URL, headers=h, params={"incident_type": "LATENCY_BREACH"})
    assert [i["aiModel"] for i in r.json()["items"]] == ["fire_smoke"]
    r = await client.get(URL, headers=h, params={"ai_model": "fire_smoke", "severity": "CRITICAL"})
    assert r.json()["total"] == 1
    r = await client.get(URL, headers=h, params={"severity": "LOW"})
    assert r.json()["total"] == 0
    r = await client.get(URL, headers=h, params={"camera_id": str(world.cam_a)})
    assert [i["cameraId"] for i in r.json()["items"]] == [str(world.cam_a)]
    r = await client.get(URL, headers=h, params={"customer_id": str(world.b)})
    assert [i["customerId"] for i in r.json()["items"]] == [str(world.b)]
    r = await client.get(URL, headers=h, params={"since": (T0 + timedelta(seconds=30)).isoformat()})
    assert r.json()["total"] == 2
    r = await client.get(URL, headers=h, params={"status": "resolved"})
    assert r.json()["total"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"status": "closed"},
        {"incident_type": "DISK_FULL"},
        {"severity": "urgent"},
        {"ai_model": "teleportation"},
        {"camera_id": "not-a-uuid"},
        {"since": "yesterday"},
        {"limit": 0},
        {"limit": 501},
    ],
)
async def test_a_bad_filter_is_a_422(client, world, params):
    r = await client.get(URL, headers=world.provider.headers, params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"


async def test_a_customers_users_see_only_their_customers_incidents(client, world):
    r = await client.get(URL, headers=world.viewer_a.headers)
    assert r.status_code == 200, r.text
    assert [(i["customerId"], i["cameraId"]) for i in r.json()["items"]] == [(str(world.a), str(world.cam_a))]
    everything = (await client.get(URL, headers=world.provider.headers)).json()["items"]
    ids = {(i["customerId"], i["aiModel"]): i["incidentId"] for i in everything}
    other_customers = ids[(str(world.b), None)]
    platform_wide = ids[(None, "fire_smoke")]
    for hidden in (other_customers, platform_wide):
        r = await client.get(f"{URL}/{hidden}", headers=world.admin_a.headers)
        assert r.status_code == 404, r.text
        r = await client.post(f"{URL}/{hidden}/acknowledge", headers=world.admin_a.headers)
        assert r.status_code == 404, r.text
    r = await client.get(f"{URL}/{ids[(str(world.a), None)]}", headers=world.viewer_a.headers)
    assert r.status_code == 200 and r.json()["summary"].startswith("Camera 'Gate'")
    r = await client.get(f"{URL}/{uuid.uuid4()}", headers=world.provider.headers)
    assert r.status_code == 404


async def test_acknowledge_and_resolve_are_idempotent_audited_and_need_the_right_role(client, container, world):
    [mine] = (await client.get(URL, headers=world.admin_a.headers)).json()["items"]
    path = f"{URL}/{mine['incidentId']}"
    r = await client.post(f"{path}/acknowledge", headers=world.viewer_a.headers)
    assert r.status_code == 403, r.text

    first = await client.post(f"{path}/acknowledge", headers=world.admin_a.headers)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "acknowledged" and first.json()["acknowledgedAt"]
    again = await client.post(f"{path}/acknowledge", headers=world.admin_a.headers)
    assert again.status_code == 200 and again.json()["acknowledgedAt"] == first.json()["acknowledgedAt"]

    resolved = await client.post(f"{path}/resolve", headers=world.admin_a.headers, json={"note": "cable replaced"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolution"] == "cable replaced"
    again = await client.post(f"{path}/resolve", headers=world.admin_a.headers)
    assert again.status_code == 200 and again.json()["resolvedAt"] == resolved.json()["resolvedAt"]
    assert again.json()["resolution"] == "cable replaced"
    late = await client.post(f"{path}/acknowledge", headers=world.admin_a.headers)
    assert late.status_code == 409, late.text

    r = await client.post(f"{path}/resolve", headers=world.admin_a.headers, json={"note": "x", "extra": 1})
    assert r.status_code == 422

    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        records = (
            await uow.session.execute(
                select(AuditRecord).where(AuditRecord.resource_type == "incident").order_by(AuditRecord.at)
            )
        ).scalars()
        audited = [(a.action, str(a.tenant_id), a.actor_id) for a in records]
    admin = world.admin_a.user.id
    assert audited == [("acknowledge", str(world.a), admin), ("resolve", str(world.a), admin)]


async def test_provider_staff_act_on_platform_wide_incidents(client, world):
    [latency] = (await client.get(URL, headers=world.provider.headers, params={"ai_model": "fire_smoke"})).json()[
        "items"
    ]
    r = await client.post(f"{URL}/{latency['incidentId']}/resolve", headers=world.provider.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "resolved" and r.json()["resolution"] == "Resolved by an operator."
    r = await client.get(URL, headers=world.provider.headers, params={"status": "open"})
    assert r.json()["total"] == 2


async def test_a_user_scoped_to_one_site_sees_only_their_cameras_incidents(client, container, world):
    nodes = "/api/v1/nodes"
    parent = None
    for kind, name in (("site", "North"), ("building", "B"), ("floor", "F"), ("zone", "Z")):
        r = await client.post(
            nodes, headers=world.admin_a.headers, json={"kind": kind, "name": name, "parent_id": parent}
        )
        assert r.status_code == 201, r.text
        parent = r.json()["id"] if kind != "site" else (site := r.json()["id"])
    north_cam = (await factories.camera(container, tenant_id=world.a, name="North", zone_id=uuid.UUID(parent))).id
    await open_incidents(container, camera_down(world.a, north_cam), at=T0 + timedelta(hours=1))
    r = await client.patch(
        f"/api/v1/users/{world.viewer_a.user.id}", headers=world.admin_a.headers, json={"scope_node_ids": [site]}
    )
    assert r.status_code == 200, r.text
    scoped = await factories.sign_in(client, world.viewer_a.user, authenticator=world.viewer_a.authenticator)
    r = await client.get(URL, headers=scoped.headers)
    assert [i["cameraId"] for i in r.json()["items"]] == [str(north_cam)]
    r = await client.get(URL, headers=world.admin_a.headers)
    assert r.json()["total"] == 2
