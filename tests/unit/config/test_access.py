"""Who may read and change configuration, and tenant isolation: customer A never reads or changes
customer B's overrides (404 where a specific thing of B's is named, B's values never shown)."""

from __future__ import annotations

import uuid

import pytest

from tests.unit.config.conftest import CONFIG, PROBLEM, World, effective, patch, placed_camera, value_of
from vms.cameras import service as cameras
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor

CHANGE = {"values": {"retention.days": 11}, "reason": "role check"}


def nodes(world: World) -> list[str]:
    return ["/customer", f"/site/{world.site}", world.camera_path]


# --- roles -------------------------------------------------------------------------------------


async def test_a_viewer_cannot_read_configuration(client, world):
    for path in ["/system", *nodes(world), "/customer/versions", "/parameters"]:
        r = await client.get(f"{CONFIG}{path}", headers=world.viewer.headers)
        assert r.status_code == 403, (path, r.text)
        assert r.headers["content-type"] == PROBLEM
    assert (await client.post(f"{CONFIG}/refresh", headers=world.viewer.headers)).status_code == 403


async def test_a_supervisor_reads_but_cannot_change_anything(client, world):
    await patch(client, world.admin, "/customer", {"retention.days": 45})
    for path in ["/system", *nodes(world)]:
        r = await client.get(f"{CONFIG}{path}", headers=world.supervisor.headers)
        assert r.status_code == 200
        assert (await client.patch(f"{CONFIG}{path}", json=CHANGE, headers=world.supervisor.headers)).status_code == 403
        assert (await client.put(f"{CONFIG}{path}", json=CHANGE, headers=world.supervisor.headers)).status_code == 403
    r = await client.delete(
        f"{CONFIG}/customer/overrides/retention.days", params={"reason": "nope"}, headers=world.supervisor.headers
    )
    assert r.status_code == 403
    r = await client.post(
        f"{CONFIG}/customer/versions/1/rollback", json={"reason": "nope"}, headers=world.supervisor.headers
    )
    assert r.status_code == 403
    config = await effective(client, world.admin, "/customer")
    assert config["version"] == 1 and value_of(config, "retention.days") == (45, "customer")


async def test_a_customer_admin_cannot_change_system_defaults(client, world):
    r = await client.patch(f"{CONFIG}/system", json=CHANGE, headers=world.admin.headers)
    assert r.status_code == 403
    assert (await effective(client, world.provider, "/system"))["version"] == 0


async def test_provider_staff_edit_system_defaults_but_not_a_customer_level(client, world):
    await patch(client, world.provider, "/system", {"retention.days": 60})
    assert value_of(await effective(client, world.admin, "/customer"), "retention.days") == (60, "system")
    for path in nodes(world):
        r = await client.patch(f"{CONFIG}{path}", json=CHANGE, headers=world.provider.headers)
        assert r.status_code == 403, path


@pytest.mark.parametrize("level", ["customer", "site", "camera"])
async def test_a_customer_admin_edits_customer_site_and_camera_levels(client, world, level):
    path = {"customer": "/customer", "site": f"/site/{world.site}", "camera": world.camera_path}[level]
    result = await patch(client, world.admin, path, {"retention.days": 11})
    assert result["saved"] is True and result["node"]["level"] == level


# --- tenant isolation --------------------------------------------------------------------------


def b_nodes(world: World) -> list[str]:
    """B's customer level as B names it, and B's own site and camera (A names them by id)."""
    return [f"/site/{world.b_site}", world.b_camera_path]


@pytest.fixture
async def b_configured(client, world: World) -> World:
    """B has set its customer level, its site and its camera, three versions each."""
    for path in ["/customer", *b_nodes(world)]:
        for days in (3, 4, 5):
            await patch(client, world.b_admin, path, {"retention.days": days})
    return world


async def test_a_never_sees_b_s_values(client, b_configured):
    world = b_configured
    for path in ["/customer", *b_nodes(world)]:
        config = await effective(client, world.admin, path)
        assert value_of(config, "retention.days") == (30, "default"), path
        assert config["overrides"] == {} and config["version"] == 0
        page = await client.get(f"{CONFIG}{path}/versions", headers=world.admin.headers)
        assert page.status_code == 200 and page.json()["total"] == 0


async def test_a_gets_404_for_b_s_versions_diffs_overrides_and_rollbacks(client, b_configured):
    world = b_configured
    for path in b_nodes(world):
        r = await client.get(f"{CONFIG}{path}/versions/2", headers=world.admin.headers)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
        r = await client.get(
            f"{CONFIG}{path}/versions/diff", params={"from_version": 1, "to_version": 3}, headers=world.admin.headers
        )
        assert r.status_code == 404
        r = await client.delete(
            f"{CONFIG}{path}/overrides/retention.days", params={"reason": "steal"}, headers=world.admin.headers
        )
        assert r.status_code == 404
        r = await client.post(
            f"{CONFIG}{path}/versions/1/rollback", json={"reason": "steal"}, headers=world.admin.headers
        )
        assert r.status_code == 404
    for path in ["/customer", *b_nodes(world)]:
        config = await effective(client, world.b_admin, path)
        assert value_of(config, "retention.days")[0] == 5 and config["version"] == 3, path


async def test_a_cannot_write_overrides_for_b_s_site_or_camera(client, b_configured):
    world = b_configured
    for path, named in ((f"/site/{world.b_site}", world.b_site), (world.b_camera_path, world.b_camera)):
        r = await client.patch(f"{CONFIG}{path}", json=CHANGE, headers=world.admin.headers)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
        assert str(named) in r.json()["detail"]
        theirs = await effective(client, world.b_admin, path)
        assert value_of(theirs, "retention.days")[0] == 5 and theirs["version"] == 3


async def test_a_camera_id_read_by_two_customers_never_mixes_their_cached_values(client, container, b_configured):
    """The camera key carries no tenant: the cached document's owner is checked on every hit."""
    world = b_configured
    theirs = await effective(client, world.b_admin, world.b_camera_path)  # B's document fills the key
    assert value_of(theirs, "retention.days") == (5, "camera")
    mine = await effective(client, world.admin, world.b_camera_path)  # A reading the same id: its own layers only
    assert value_of(mine, "retention.days") == (30, "default")
    assert value_of(await effective(client, world.b_admin, world.b_camera_path), "retention.days") == (5, "camera")


# --- ids checked against the camera inventory ---------------------------------------------------


async def test_overrides_for_unknown_sites_and_cameras_are_422_naming_the_id(client, world):
    unknown = uuid.uuid4()
    for path in (f"/site/{unknown}", f"/camera/{unknown}"):
        r = await client.patch(f"{CONFIG}{path}", json=CHANGE, headers=world.admin.headers)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
        assert str(unknown) in r.json()["detail"]
        page = await client.get(f"{CONFIG}{path}/versions", headers=world.admin.headers)
        assert page.json()["total"] == 0  # nothing was saved
    # A dry run is checked the same way.
    r = await client.patch(
        f"{CONFIG}/site/{unknown}", json=CHANGE, params={"dry_run": "true"}, headers=world.admin.headers
    )
    assert r.status_code == 422


async def test_a_site_override_for_a_node_that_is_not_a_site_is_422(client, container, world):
    zone = await first_zone(container, world)
    r = await client.patch(f"{CONFIG}/site/{zone}", json=CHANGE, headers=world.admin.headers)
    assert r.status_code == 422 and str(zone) in r.json()["detail"] and "zone" in r.json()["detail"]
    r = await client.patch(f"{CONFIG}/site/{world.camera}", json=CHANGE, headers=world.admin.headers)
    assert r.status_code == 422 and str(world.camera) in r.json()["detail"]


async def test_a_camera_placed_under_a_site_it_is_not_in_is_422(client, container, world):
    other_site, _ = await placed_camera(container, world.a, name="Annex")
    r = await client.patch(
        f"{CONFIG}{world.camera_path}", json=CHANGE, params={"site_id": str(other_site)}, headers=world.admin.headers
    )
    assert r.status_code == 422
    assert str(world.camera) in r.json()["detail"] and str(world.site) in r.json()["detail"]
    # Placed under its own site, or under none, the change is saved.
    await patch(client, world.admin, world.camera_path, {"retention.days": 12}, params=world.camera_params)
    await patch(client, world.admin, world.camera_path, {"retention.days": 13})


async def first_zone(container, world: World) -> uuid.UUID:
    """The zone A's camera is in."""
    async with container.unit_of_work(TenantScope.of(world.a), Actor.system("test")) as uow:
        camera = await cameras.get_camera(uow=uow, camera_id=world.camera)
    assert camera.zone_id is not None
    return camera.zone_id
