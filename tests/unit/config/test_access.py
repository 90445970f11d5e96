"""Who may read and change configuration, and tenant isolation: customer A never reads or changes
customer B's overrides (404 where a specific thing of B's is named, B's values never shown)."""

from __future__ import annotations

import pytest

from tests.unit.config.conftest import CONFIG, PROBLEM, World, effective, patch, value_of

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


@pytest.fixture
async def b_configured(client, world: World) -> World:
    """B has set its customer level and the same site and camera ids A uses, three versions each."""
    for path in nodes(world):
        for days in (3, 4, 5):
            await patch(client, world.b_admin, path, {"retention.days": days})
    return world


async def test_a_never_sees_b_s_values(client, b_configured):
    world = b_configured
    for path in nodes(world):
        config = await effective(client, world.admin, path, world.camera_params)
        assert value_of(config, "retention.days") == (30, "default"), path
        assert config["overrides"] == {} and config["version"] == 0
        page = await client.get(f"{CONFIG}{path}/versions", headers=world.admin.headers)
        assert page.status_code == 200 and page.json()["total"] == 0


async def test_a_gets_404_for_b_s_versions_diffs_overrides_and_rollbacks(client, b_configured):
    world = b_configured
    for path in nodes(world):
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
    for path in nodes(world):
        config = await effective(client, world.b_admin, path, world.camera_params)
        assert value_of(config, "retention.days")[0] == 5 and config["version"] == 3, path


async def test_a_writing_the_same_ids_creates_a_s_own_overrides_and_leaves_b_s_alone(client, b_configured):
    world = b_configured
    for path in nodes(world):
        await patch(client, world.admin, path, {"retention.days": 8})
    for path in nodes(world):
        mine = await effective(client, world.admin, path, world.camera_params)
        theirs = await effective(client, world.b_admin, path, world.camera_params)
        assert value_of(mine, "retention.days")[0] == 8 and mine["version"] == 1
        assert value_of(theirs, "retention.days")[0] == 5 and theirs["version"] == 3


async def test_a_camera_id_used_by_two_customers_never_mixes_their_cached_values(client, container, b_configured):
    """The camera key carries no tenant: the cached document's owner is checked on every hit."""
    world = b_configured
    theirs = await effective(client, world.b_admin, world.camera_path)  # B's document fills the key
    assert value_of(theirs, "retention.days") == (5, "camera")
    mine = await effective(client, world.admin, world.camera_path)
    assert value_of(mine, "retention.days") == (30, "default")
    assert value_of(await effective(client, world.b_admin, world.camera_path), "retention.days") == (5, "camera")
