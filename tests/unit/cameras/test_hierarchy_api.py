"""The location tree through the API: nodes in the right order, rename, move, delete-when-empty,
and camera counts (total, online, offline) rolled up from zones to sites."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from tests import factories
from tests.unit.cameras.conftest import NODES, TREE, World, assert_problem, make_tree, new_id, node
from vms.cameras import hierarchy
from vms.cameras.models import Node
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor


async def test_a_tree_is_built_level_by_level_and_each_node_knows_its_path(client, world: World):
    tree = await make_tree(client, world.admin)

    r = await client.get(f"{NODES}/{tree.lobby}", headers=world.viewer.headers)

    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["kind"], body["name"], body["parent_id"]) == ("zone", "Lobby", tree.f1)
    assert body["path"] == ["HQ", "Main", "F1", "Lobby"]


@pytest.mark.parametrize(
    ("kind", "parent", "message"),
    [
        ("building", None, "needs a parent site"),
        ("zone", "building", "goes under a floor; 'Main' is a building"),
        ("floor", "site", "goes under a building; 'HQ' is a site"),
        ("site", "site", "has no parent"),
    ],
)
async def test_a_node_under_the_wrong_kind_of_parent_is_refused(client, container, world, kind, parent, message):
    tree = await make_tree(client, world.admin)
    before = await _nodes(container)
    parent_id = {"site": tree.site, "building": tree.building, None: None}[parent]

    r = await client.post(NODES, headers=world.admin.headers, json={"kind": kind, "name": "X", "parent_id": parent_id})

    assert message in assert_problem(r, 422)["detail"]
    assert await _nodes(container) == before


async def test_sibling_names_are_unique_ignoring_case_but_may_repeat_elsewhere(client, world):
    tree = await make_tree(client, world.admin)

    same = await client.post(
        NODES, headers=world.admin.headers, json={"kind": "zone", "name": "lobby", "parent_id": tree.f1}
    )
    elsewhere = await client.post(
        NODES, headers=world.admin.headers, json={"kind": "zone", "name": "Lobby", "parent_id": tree.f2}
    )

    assert "already exists" in assert_problem(same, 409)["detail"]
    assert elsewhere.status_code == 201


async def test_a_node_is_renamed(client, world):
    tree = await make_tree(client, world.admin)

    r = await client.patch(f"{NODES}/{tree.lobby}", headers=world.supervisor.headers, json={"name": "Reception"})

    assert r.status_code == 200, r.text
    assert r.json()["path"] == ["HQ", "Main", "F1", "Reception"]


async def test_a_zone_moves_to_another_floor_with_its_cameras(client, container, world):
    tree = await make_tree(client, world.admin)
    cam = await factories.camera(container, tenant_id=world.a.id, zone_id=tree.lobby, status="online")

    r = await client.patch(f"{NODES}/{tree.lobby}", headers=world.admin.headers, json={"parent_id": tree.f2})

    assert r.status_code == 200, r.text
    assert r.json()["path"] == ["HQ", "Main", "F2", "Lobby"]
    floors = {f["name"]: f for f in (await _tree(client, world))["sites"][0]["children"][0]["children"]}
    assert floors["F2"]["camera_count"] == 1 and floors["F2"]["online_count"] == 1
    assert floors["F1"]["camera_count"] == 0
    camera = (await client.get(f"/api/v1/cameras/{cam.id}", headers=world.admin.headers)).json()
    assert camera["zone_id"] == tree.lobby


async def test_a_building_moves_to_another_site(client, world):
    tree = await make_tree(client, world.admin)
    other = await node(client, world.admin, "site", "Branch")

    r = await client.patch(f"{NODES}/{tree.building}", headers=world.admin.headers, json={"parent_id": other})

    assert r.status_code == 200
    sites = {s["name"]: s for s in (await _tree(client, world))["sites"]}
    assert [b["name"] for b in sites["Branch"]["children"]] == ["Main"]
    assert sites["HQ"]["children"] == []


@pytest.mark.parametrize("target", ["site", "lab"])
async def test_a_move_under_the_wrong_kind_of_parent_is_refused(client, container, world, target):
    tree = await make_tree(client, world.admin)
    before = await _nodes(container)

    r = await client.patch(
        f"{NODES}/{tree.lobby}", headers=world.admin.headers, json={"parent_id": getattr(tree, target)}
    )

    assert_problem(r, 422)
    assert await _nodes(container) == before


async def test_a_move_onto_a_name_taken_at_the_destination_is_refused(client, world):
    tree = await make_tree(client, world.admin)
    await node(client, world.admin, "zone", "Lobby", tree.f2)

    r = await client.patch(f"{NODES}/{tree.lobby}", headers=world.admin.headers, json={"parent_id": tree.f2})

    assert_problem(r, 409)


async def test_a_node_with_children_cannot_be_deleted(client, container, world):
    tree = await make_tree(client, world.admin)

    r = await client.delete(f"{NODES}/{tree.f1}", headers=world.admin.headers)

    assert "still has 2 zones" in assert_problem(r, 409)["detail"]
    assert tree.f1 in {str(n) for n in await _nodes(container)}


async def test_a_zone_with_cameras_cannot_be_deleted(client, container, world):
    tree = await make_tree(client, world.admin)
    await factories.camera(container, tenant_id=world.a.id, zone_id=tree.dock)

    r = await client.delete(f"{NODES}/{tree.dock}", headers=world.admin.headers)

    assert "still holds 1 camera" in assert_problem(r, 409)["detail"]
    assert tree.dock in {str(n) for n in await _nodes(container)}


async def test_an_empty_node_is_deleted(client, container, world):
    tree = await make_tree(client, world.admin)

    r = await client.delete(f"{NODES}/{tree.lab}", headers=world.admin.headers)

    assert r.status_code == 204
    assert tree.lab not in {str(n) for n in await _nodes(container)}
    assert (await client.get(f"{NODES}/{tree.lab}", headers=world.admin.headers)).status_code == 404


async def test_the_tree_counts_cameras_by_status_at_every_level(client, container, world):
    tree = await make_tree(client, world.admin)
    for zone, status in [
        (tree.lobby, "online"),
        (tree.lobby, "offline"),
        (tree.dock, "online"),
        (tree.lab, "unknown"),
        (None, "offline"),
    ]:
        await factories.camera(container, tenant_id=world.a.id, zone_id=zone, status=status)
    await factories.camera(container, tenant_id=world.b.id, status="online")  # another customer's: never counted

    body = await _tree(client, world)

    def counts(n: dict) -> tuple[int, int, int]:
        return n["camera_count"], n["online_count"], n["offline_count"]

    (site,) = body["sites"]
    (building,) = site["children"]
    f1, f2 = building["children"]
    lobby, dock = sorted(f1["children"], key=lambda z: z["name"], reverse=True)
    assert (site["name"], f1["name"], f2["name"], lobby["name"]) == ("HQ", "F1", "F2", "Lobby")
    assert counts(lobby) == (2, 1, 1)
    assert counts(dock) == (1, 1, 0)
    assert counts(f1) == (3, 2, 1)
    assert counts(f2) == counts(f2["children"][0]) == (1, 0, 0)
    assert counts(building) == counts(site) == (4, 2, 1)
    assert counts(body["unassigned"]) == (1, 0, 1)
    assert counts(body["total"]) == (5, 2, 2)


async def test_an_empty_customer_has_an_empty_tree(client, world):
    body = await _tree(client, world)

    assert body == {
        "sites": [],
        "unassigned": {"camera_count": 0, "online_count": 0, "offline_count": 0},
        "total": {"camera_count": 0, "online_count": 0, "offline_count": 0},
    }


async def test_nodes_are_listed_by_kind_and_parent(client, world):
    tree = await make_tree(client, world.admin)

    zones = await client.get(NODES, headers=world.viewer.headers, params={"kind": "zone"})
    on_f1 = await client.get(NODES, headers=world.viewer.headers, params={"parent_id": tree.f1})

    assert [z["name"] for z in zones.json()["items"]] == ["Dock", "Lab", "Lobby"]
    assert zones.json()["total"] == 3
    assert {z["id"] for z in on_f1.json()["items"]} == {tree.lobby, tree.dock}


async def test_an_unknown_node_is_404(client, world):
    assert_problem(await client.get(f"{NODES}/{new_id()}", headers=world.admin.headers), 404)
    assert_problem(await client.delete(f"{NODES}/{new_id()}", headers=world.admin.headers), 404)


async def test_a_node_write_is_audited(client, world):
    tree = await make_tree(client, world.admin)
    await client.patch(f"{NODES}/{tree.lab}", headers=world.admin.headers, json={"name": "Lab 2"})

    r = await client.get("/api/v1/audit", headers=world.admin.headers, params={"resource_id": tree.lab})

    actions = [(i["action"], i["resource_type"]) for i in r.json()["items"]]
    assert ("create", "node") in actions and ("update", "node") in actions


async def _tree(client, world: World) -> dict:
    r = await client.get(TREE, headers=world.viewer.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def _nodes(container) -> dict:
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        rows = (await uow.session.execute(select(Node))).scalars()
        return {n.id: (n.kind, n.name, n.parent_id) for n in rows}


async def test_each_cameras_site_is_found_for_other_domains(client, container, world):
    tree = await make_tree(client, world.admin)
    in_lab = await factories.camera(container, tenant_id=world.a.id, zone_id=tree.lab)
    nowhere = await factories.camera(container, tenant_id=world.a.id)
    theirs = await factories.camera(container, tenant_id=world.b.id)

    async with container.unit_of_work(TenantScope.of(world.a.id), Actor.system("test")) as uow:
        sites = await hierarchy.camera_sites(uow=uow, camera_ids=[in_lab.id, nowhere.id, theirs.id])

    assert sites == {in_lab.id: uuid.UUID(tree.site), nowhere.id: None}
