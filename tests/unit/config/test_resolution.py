"""Resolution across system → customer → site → camera: each level overrides the ones below, a
removed override falls back to the next level down, and every value names the level that set it."""

from __future__ import annotations

import pytest

from tests.unit.config.conftest import CONFIG, World, effective, patch, value_of
from vms.config.registry import PARAMETERS
from vms.kernel.ai_models import MODEL_SPECS

KEY = "retention.days"
LEVELS = ["system", "customer", "site", "camera"]
VALUES = {"system": 60, "customer": 45, "site": 20, "camera": 7}


def node_path(world: World, level: str) -> str:
    return {
        "system": "/system",
        "customer": "/customer",
        "site": f"/site/{world.site}",
        "camera": world.camera_path,
    }[level]


def writer(world: World, level: str):
    return world.provider if level == "system" else world.admin


async def camera_view(client, world: World) -> tuple[object, str]:
    config = await effective(client, world.supervisor, world.camera_path, world.camera_params)
    return value_of(config, KEY)


async def test_with_no_overrides_every_value_is_the_built_in_default(client, world):
    config = await effective(client, world.supervisor, world.camera_path, world.camera_params)
    assert set(config["values"]) == set(PARAMETERS)
    assert {entry["level"] for entry in config["values"].values()} == {"default"}
    assert value_of(config, "video.segment_seconds") == (5.0, "default")
    fire = MODEL_SPECS[next(m for m in MODEL_SPECS if m.value == "fire_smoke")]
    assert value_of(config, "models.fire_smoke.min_height") == (fire.min_height, "default")
    assert value_of(config, "models.fire_smoke.priority") == ("CRITICAL", "default")
    assert value_of(config, "models.anpr.min_bitrate_kbps") == (3000, "default")
    assert config["version"] == 0 and config["overrides"] == {}


@pytest.mark.parametrize("top", LEVELS)
async def test_the_highest_level_that_sets_a_value_wins_and_is_named(client, world, top):
    """Set the key at every level up to `top`: the camera sees `top`'s value, from `top`."""
    for level in LEVELS[: LEVELS.index(top) + 1]:
        await patch(client, writer(world, level), node_path(world, level), {KEY: VALUES[level]})
    assert await camera_view(client, world) == (VALUES[top], top)


async def test_each_node_resolves_only_the_levels_at_and_below_it(client, world):
    for level in LEVELS:
        await patch(client, writer(world, level), node_path(world, level), {KEY: VALUES[level]})
    system = await effective(client, world.supervisor, "/system")
    customer = await effective(client, world.supervisor, "/customer")
    site = await effective(client, world.supervisor, f"/site/{world.site}")
    assert value_of(system, KEY) == (60, "system")
    assert value_of(customer, KEY) == (45, "customer")
    assert value_of(site, KEY) == (20, "site")
    assert await camera_view(client, world) == (7, "camera")
    # Another site of the same customer inherits the customer's value, not the first site's.
    other_site = await effective(client, world.supervisor, f"/site/{world.camera}")
    assert value_of(other_site, KEY) == (45, "customer")


async def test_deleting_overrides_falls_back_one_level_at_a_time(client, world):
    for level in LEVELS:
        await patch(client, writer(world, level), node_path(world, level), {KEY: VALUES[level]})
    expected = [("site", 20), ("customer", 45), ("system", 60), ("default", PARAMETERS[KEY].default)]
    for level, (source, value) in zip(reversed(LEVELS), expected, strict=True):
        r = await client.delete(
            f"{CONFIG}{node_path(world, level)}/overrides/{KEY}",
            params={"reason": "fall back", **(world.camera_params if level == "camera" else {})},
            headers=writer(world, level).headers,
        )
        assert r.status_code == 200, r.text
        assert await camera_view(client, world) == (value, source)


async def test_the_site_level_applies_only_when_the_camera_is_placed_under_its_site(client, world):
    await patch(client, world.admin, "/customer", {KEY: 45})
    await patch(client, world.admin, f"/site/{world.site}", {KEY: 20})
    placed = await effective(client, world.supervisor, world.camera_path, world.camera_params)
    unplaced = await effective(client, world.supervisor, world.camera_path)
    assert value_of(placed, KEY) == (20, "site")
    assert value_of(unplaced, KEY) == (45, "customer")
    assert placed["node"] == {"level": "camera", "node_id": str(world.camera), "site_id": str(world.site)}


async def test_levels_mix_per_parameter(client, world):
    await patch(client, world.provider, "/system", {"video.segment_seconds": 6, "models.fire_smoke.min_height": 1080})
    await patch(client, world.admin, "/customer", {"models.fire_smoke.confidence_threshold": 0.8})
    await patch(client, world.admin, f"/site/{world.site}", {"recording.mode": "events"})
    await patch(client, world.admin, world.camera_path, {"video.normalize.fit": "crop"}, params=world.camera_params)
    config = await effective(client, world.supervisor, world.camera_path, world.camera_params)
    assert value_of(config, "video.segment_seconds") == (6.0, "system")
    assert value_of(config, "models.fire_smoke.min_height") == (1080, "system")
    assert value_of(config, "models.fire_smoke.confidence_threshold") == (0.8, "customer")
    assert value_of(config, "recording.mode") == ("events", "site")
    assert value_of(config, "video.normalize.fit") == ("crop", "camera")
    assert value_of(config, "video.normalize.width") == (640, "default")
    assert config["overrides"] == {"video.normalize.fit": "crop"}


async def test_a_prefix_narrows_the_answer(client, world):
    config = await effective(client, world.supervisor, "/customer", {"prefix": "models.anpr."})
    assert config["values"] and all(key.startswith("models.anpr.") for key in config["values"])
    assert len(config["values"]) == 7


async def test_patch_unset_and_put_replace_the_node_s_overrides(client, world):
    await patch(client, world.admin, "/customer", {KEY: 45, "retention.event_days": 120})
    await patch(client, world.admin, "/customer", {"notifications.escalation_minutes": 5}, unset=[KEY])
    config = await effective(client, world.supervisor, "/customer")
    assert config["overrides"] == {"retention.event_days": 120, "notifications.escalation_minutes": 5}
    r = await client.put(
        f"{CONFIG}/customer",
        json={"values": {"recording.mode": "off"}, "reason": "start over"},
        headers=world.admin.headers,
    )
    assert r.status_code == 200, r.text
    config = await effective(client, world.supervisor, "/customer")
    assert config["overrides"] == {"recording.mode": "off"}
    assert value_of(config, "retention.event_days") == (90, "default")
    assert config["version"] == 3


async def test_composite_values_round_trip(client, world):
    quiet = {"start": "22:00", "end": "06:30", "timezone": "Europe/Berlin"}
    await patch(
        client,
        world.admin,
        "/customer",
        {"notifications.quiet_hours": quiet, "notifications.channels.intrusion": ["sms", "push", "sms"]},
    )
    config = await effective(client, world.supervisor, "/customer")
    assert value_of(config, "notifications.quiet_hours") == (quiet, "customer")
    assert value_of(config, "notifications.channels.intrusion") == (["sms", "push"], "customer")
    assert value_of(config, "notifications.channels.fire_smoke") == (["push", "sms", "email"], "default")
