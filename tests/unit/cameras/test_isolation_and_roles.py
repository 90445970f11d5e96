"""Tenant isolation and roles for cameras, nodes and groups.

Another customer's camera, node or group answers 404 exactly like one that does not exist, on
every operation, and is left untouched; lists and the tree never show it. Viewers read but never
write (403, nothing changed); Supervisors and Admins write; provider staff see no cameras.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from tests import factories
from tests.unit.cameras.conftest import (
    CAMERAS,
    GROUPS,
    NODES,
    TREE,
    World,
    assert_problem,
    count_rows,
    make_tree,
    new_id,
)
from vms.auth.permissions import Role
from vms.cameras.models import Camera, CameraGroup, Node
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor


@dataclass
class Theirs:
    """Customer B's tree, camera and group."""

    site: str
    zone: str
    camera: str
    group: str


@pytest.fixture
async def theirs(client, container, world: World) -> Theirs:
    tree = await make_tree(client, world.b_admin)
    cam = await factories.camera(
        container, tenant_id=world.b.id, name="B secret cam", zone_id=tree.lobby, tags=["b-only"], status="online"
    )
    group = await client.post(
        GROUPS, headers=world.b_admin.headers, json={"name": "B group", "camera_ids": [str(cam.id)]}
    )
    return Theirs(site=tree.site, zone=tree.lobby, camera=str(cam.id), group=group.json()["id"])


async def snapshot(container) -> dict[str, Any]:
    """Every camera, node and group row, read across tenants."""
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        cams = (await uow.session.execute(select(Camera))).scalars()
        nodes = (await uow.session.execute(select(Node))).scalars()
        groups = (await uow.session.execute(select(CameraGroup))).scalars()
        return {
            "cameras": {c.id: (c.name, c.main_url, c.zone_id, c.tags, c.enabled_models, c.credentials) for c in cams},
            "nodes": {n.id: (n.name, n.parent_id) for n in nodes},
            "groups": {g.id: g.name for g in groups},
        }


OPERATIONS = [
    ("GET", CAMERAS + "/{camera}", None),
    ("PATCH", CAMERAS + "/{camera}", {"name": "Hijacked", "tags": ["x"]}),
    ("PATCH", CAMERAS + "/{camera}", {"main_url": "rtsp://evil.example/x"}),
    ("DELETE", CAMERAS + "/{camera}", None),
    ("POST", CAMERAS + "/{camera}/probe", None),
    ("GET", CAMERAS + "/{camera}/models", None),
    ("POST", CAMERAS + "/move", {"camera_ids": ["{camera}"], "zone_id": None}),
    ("GET", NODES + "/{zone}", None),
    ("PATCH", NODES + "/{zone}", {"name": "Hijacked"}),
    ("DELETE", NODES + "/{zone}", None),
    ("POST", NODES, {"kind": "building", "name": "Mine now", "parent_id": "{site}"}),
    ("POST", CAMERAS, {"name": "Planted", "main_url": "rtsp://10.0.0.7/x", "zone_id": "{zone}"}),
    ("GET", CAMERAS, {"node_id": "{site}"}),
    ("GET", GROUPS + "/{group}", None),
    ("PATCH", GROUPS + "/{group}", {"name": "Hijacked", "camera_ids": []}),
    ("DELETE", GROUPS + "/{group}", None),
    ("POST", GROUPS, {"name": "Stolen", "camera_ids": ["{camera}"]}),
]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


async def _call(client, who, method: str, path: str, payload: Any, ids: dict[str, str]):
    payload = _fill(payload, ids)
    if method == "GET":
        return await client.get(_fill(path, ids), headers=who.headers, params=payload)
    return await client.request(method, _fill(path, ids), headers=who.headers, json=payload)


@pytest.mark.parametrize(
    ("method", "path", "payload"), OPERATIONS, ids=[f"{m} {p} {i}" for i, (m, p, _) in enumerate(OPERATIONS)]
)
async def test_customer_a_gets_404_for_customer_bs_items_and_b_is_untouched(
    client, container, world, theirs, method, path, payload
):
    ids = {"camera": theirs.camera, "zone": theirs.zone, "site": theirs.site, "group": theirs.group}
    before = await snapshot(container)

    r = await _call(client, world.admin, method, path, payload, ids)

    assert_problem(r, 404, "Not found")
    assert "B secret cam" not in r.text and "B group" not in r.text
    assert await snapshot(container) == before
    # Indistinguishable from ids that name nothing at all.
    missing = await _call(client, world.admin, method, path, payload, {key: new_id() for key in ids})
    assert (missing.status_code, missing.json()["title"]) == (404, "Not found")
    assert missing.json()["detail"].split()[0] == r.json()["detail"].split()[0]


async def test_lists_and_the_tree_never_include_another_customers_items(client, world, theirs):
    cameras = await client.get(CAMERAS, headers=world.admin.headers, params={"limit": 500})
    by_tag = await client.get(CAMERAS, headers=world.admin.headers, params={"tag": "b-only"})
    nodes = await client.get(NODES, headers=world.admin.headers, params={"limit": 500})
    groups = await client.get(GROUPS, headers=world.admin.headers)
    tree = await client.get(TREE, headers=world.admin.headers)

    assert cameras.json() == {"items": [], "total": 0, "limit": 500, "offset": 0}
    assert by_tag.json()["items"] == []
    assert nodes.json()["total"] == 0
    assert groups.json()["total"] == 0
    assert tree.json()["sites"] == [] and tree.json()["total"]["camera_count"] == 0
    # Control: B sees its own.
    b_tree = await client.get(TREE, headers=world.b_admin.headers)
    assert b_tree.json()["total"] == {"camera_count": 1, "online_count": 1, "offline_count": 0}


async def test_moving_an_own_camera_into_another_customers_zone_is_404(client, container, world, theirs):
    mine = await factories.camera(container, tenant_id=world.a.id)

    r = await client.post(
        f"{CAMERAS}/move", headers=world.admin.headers, json={"camera_ids": [str(mine.id)], "zone_id": theirs.zone}
    )
    patched = await client.patch(f"{CAMERAS}/{mine.id}", headers=world.admin.headers, json={"zone_id": theirs.zone})

    assert_problem(r, 404)
    assert_problem(patched, 404)
    assert (await client.get(f"{CAMERAS}/{mine.id}", headers=world.admin.headers)).json()["zone_id"] is None


async def test_moving_an_own_node_under_another_customers_parent_is_404(client, world, theirs):
    tree = await make_tree(client, world.admin)

    r = await client.patch(f"{NODES}/{tree.building}", headers=world.admin.headers, json={"parent_id": theirs.site})

    assert_problem(r, 404)


async def test_the_license_limit_counts_only_the_customers_own_cameras(client, container, world):
    for _ in range(3):
        await factories.camera(container, tenant_id=world.b.id)
    small = await factories.customer(container, camera_limit=1)
    admin = await factories.account(client, container, tenant_id=small.id, role=Role.ADMIN)

    r = await client.post(CAMERAS, headers=admin.headers, json={"name": "Only", "main_url": "rtsp://10.0.0.7/x"})

    assert r.status_code == 201, r.text


# --- roles ----------------------------------------------------------------------------------------

WRITES = [
    ("POST", CAMERAS, {"name": "New", "main_url": "rtsp://10.0.0.7/x"}),
    ("PATCH", CAMERAS + "/{camera}", {"name": "Renamed"}),
    ("DELETE", CAMERAS + "/{camera}", None),
    ("POST", CAMERAS + "/{camera}/probe", None),
    ("POST", CAMERAS + "/move", {"camera_ids": ["{camera}"], "zone_id": "{zone}"}),
    ("POST", NODES, {"kind": "site", "name": "New site"}),
    ("PATCH", NODES + "/{zone}", {"name": "Renamed"}),
    ("DELETE", NODES + "/{empty}", None),
    ("POST", GROUPS, {"name": "New group"}),
    ("PATCH", GROUPS + "/{group}", {"name": "Renamed"}),
    ("DELETE", GROUPS + "/{group}", None),
]
READS = [
    ("GET", CAMERAS, None),
    ("GET", CAMERAS + "/{camera}", None),
    ("GET", CAMERAS + "/{camera}/models", None),
    ("GET", NODES, None),
    ("GET", NODES + "/{zone}", None),
    ("GET", TREE, None),
    ("GET", GROUPS, None),
    ("GET", GROUPS + "/{group}", None),
]


@pytest.fixture
async def ours(client, container, world: World) -> dict[str, str]:
    tree = await make_tree(client, world.admin)
    cam = await factories.camera(container, tenant_id=world.a.id, zone_id=tree.lobby)
    group = await client.post(GROUPS, headers=world.admin.headers, json={"name": "Ours", "camera_ids": [str(cam.id)]})
    return {"camera": str(cam.id), "zone": tree.dock, "empty": tree.lab, "group": group.json()["id"], "site": tree.site}


@pytest.mark.parametrize(("method", "path", "payload"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
async def test_a_viewer_cannot_write_and_nothing_changes(client, container, world, ours, method, path, payload):
    before = await snapshot(container)

    r = await _call(client, world.viewer, method, path, payload, ours)

    assert "camera:write" in assert_problem(r, 403, "Forbidden")["detail"]
    assert await snapshot(container) == before


@pytest.mark.parametrize(("method", "path", "payload"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
async def test_supervisors_can_write(client, world, ours, method, path, payload):
    """Control for the Viewer's 403s (an Admin holds every Supervisor permission; other tests write as Admin)."""
    r = await _call(client, world.supervisor, method, path, payload, ours)

    assert r.status_code in (200, 201, 204), r.text


@pytest.mark.parametrize(("method", "path", "payload"), READS, ids=[f"{m} {p}" for m, p, _ in READS])
async def test_a_viewer_can_read(client, world, ours, method, path, payload):
    r = await _call(client, world.viewer, method, path, payload, ours)

    assert r.status_code == 200, r.text


async def test_provider_staff_see_no_cameras(client, container, world, ours):
    staff = await factories.account(client, container, tenant_id=None, role=Role.PROVIDER_ADMIN)

    assert_problem(await client.get(CAMERAS, headers=staff.headers), 403)
    assert_problem(await client.get(TREE, headers=staff.headers), 403)


async def test_anonymous_callers_are_refused(client, container, world):
    assert_problem(await client.get(CAMERAS), 401)
    assert_problem(await client.post(CAMERAS, json={"name": "Anon", "main_url": "rtsp://10.0.0.7/x"}), 401)
    assert await count_rows(container, Camera) == 0
