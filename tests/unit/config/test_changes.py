"""Change management: validation with the parameter and bound named, dry runs that save nothing,
a version per change, diffs between versions, rollback to exact values, audit records."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.unit.config.conftest import CONFIG, PROBLEM, World, effective, patch, value_of
from vms.config.models import NodeConfig, NodeConfigVersion
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor

# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "bound"),
    [
        ("video.segment_seconds", 12, "1–10 s"),
        ("video.segment_seconds", 0.5, "1–10 s"),
        ("video.overlap_seconds", 5.5, "0–5 s"),
        ("models.fire_smoke.confidence_threshold", 1.5, "0–1"),
        ("models.intrusion.confidence_threshold", -0.1, "0–1"),
        ("retention.days", 0, "1–3650 days"),
        ("retention.days", 30.5, "1–3650 days (whole number)"),
        ("retention.days", "30", "1–3650 days"),
        ("video.normalize.fit", "stretch", "one of letterbox, crop"),
        ("models.anpr.priority", "URGENT", "one of CRITICAL, HIGH, MEDIUM, STANDARD"),
        ("notifications.channels.fire_smoke", ["pigeon"], "push, sms, whatsapp, email"),
        ("notifications.quiet_hours", {"start": "25:00", "end": "06:00"}, "HH:MM"),
        ("notifications.quiet_hours", {"start": "22:00", "end": "06:00", "timezone": "Mars/Olympus"}, "IANA"),
        ("recording.mode", True, "one of continuous, events, off"),
    ],
)
async def test_an_invalid_value_is_422_naming_the_parameter_and_the_bound(client, world, key, value, bound):
    r = await client.patch(
        f"{CONFIG}/customer", json={"values": {key: value}, "reason": "bad value"}, headers=world.admin.headers
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert key in problem["detail"] and bound in problem["detail"]
    assert problem["errors"][0]["parameter"] == key
    assert (await effective(client, world.admin, "/customer"))["version"] == 0


async def test_an_unknown_parameter_is_422_with_a_suggestion(client, world):
    r = await client.patch(
        f"{CONFIG}/customer",
        json={"values": {"video.segment_second": 4}, "reason": "typo"},
        headers=world.admin.headers,
    )
    assert r.status_code == 422
    assert "video.segment_second" in r.json()["detail"] and "video.segment_seconds" in r.json()["detail"]


async def test_a_parameter_set_at_a_level_it_does_not_allow_is_422(client, world):
    r = await client.patch(
        f"{CONFIG}{world.camera_path}",
        json={"values": {"models.fire_smoke.min_height": 480}, "reason": "camera cannot"},
        headers=world.admin.headers,
    )
    assert r.status_code == 422
    assert "models.fire_smoke.min_height" in r.json()["detail"] and "allowed levels: system" in r.json()["detail"]


async def test_overlap_must_stay_shorter_than_the_segment(client, world):
    await patch(client, world.admin, "/customer", {"video.overlap_seconds": 3})
    r = await client.patch(
        f"{CONFIG}/site/{world.site}",
        json={"values": {"video.segment_seconds": 3}, "reason": "too short"},
        headers=world.admin.headers,
    )
    assert r.status_code == 422
    assert "video.overlap_seconds (3 s) must be shorter than video.segment_seconds (3 s)" in r.json()["detail"]


async def test_one_invalid_value_refuses_the_whole_change(client, world):
    r = await client.patch(
        f"{CONFIG}/customer",
        json={"values": {"retention.days": 10, "retention.event_days": 99999}, "reason": "half bad"},
        headers=world.admin.headers,
    )
    assert r.status_code == 422
    assert (await effective(client, world.admin, "/customer"))["overrides"] == {}


async def test_a_reason_is_required(client, world):
    r = await client.patch(f"{CONFIG}/customer", json={"values": {"retention.days": 10}}, headers=world.admin.headers)
    assert r.status_code == 422
    r = await client.delete(f"{CONFIG}/customer/overrides/retention.days", headers=world.admin.headers)
    assert r.status_code == 422


# --- dry run -----------------------------------------------------------------------------------


async def test_a_dry_run_returns_the_diff_and_saves_nothing(client, container, world):
    await patch(client, world.admin, "/customer", {"retention.days": 45})
    r = await client.patch(
        f"{CONFIG}{world.camera_path}",
        params={**world.camera_params, "dry_run": "true"},
        json={"values": {"retention.days": 7, "recording.mode": "continuous"}, "reason": "try it"},
        headers=world.admin.headers,
    )
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["dry_run"] is True and result["saved"] is False and result["version"] == 0
    assert result["effective_changes"] == [
        {
            "key": "recording.mode",
            "before": {"value": "continuous", "level": "default"},
            "after": {"value": "continuous", "level": "camera"},
        },
        {
            "key": "retention.days",
            "before": {"value": 45, "level": "customer"},
            "after": {"value": 7, "level": "camera"},
        },
    ]
    assert [c["key"] for c in result["override_changes"]] == ["recording.mode", "retention.days"]
    config = await effective(client, world.supervisor, world.camera_path, world.camera_params)
    assert value_of(config, "retention.days") == (45, "customer") and config["version"] == 0
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        rows = (await uow.session.execute(select(func.count()).select_from(NodeConfig))).scalar_one()
        versions = (await uow.session.execute(select(func.count()).select_from(NodeConfigVersion))).scalar_one()
    assert (rows, versions) == (1, 1)  # only the customer's real change
    audit = await client.get("/api/v1/audit", params={"resource_type": "config"}, headers=world.admin.headers)
    assert audit.json()["total"] == 1


async def test_a_dry_run_of_a_delete_and_a_rollback_saves_nothing(client, world):
    await patch(client, world.admin, "/customer", {"retention.days": 45})
    await patch(client, world.admin, "/customer", {"retention.days": 50})
    r = await client.delete(
        f"{CONFIG}/customer/overrides/retention.days",
        params={"reason": "try", "dry_run": "true"},
        headers=world.admin.headers,
    )
    assert r.status_code == 200 and r.json()["effective_changes"][0]["after"] == {"value": 30, "level": "default"}
    r = await client.post(
        f"{CONFIG}/customer/versions/1/rollback",
        params={"dry_run": "true"},
        json={"reason": "try"},
        headers=world.admin.headers,
    )
    assert r.status_code == 200 and r.json()["effective_changes"][0]["after"] == {"value": 45, "level": "customer"}
    config = await effective(client, world.admin, "/customer")
    assert config["version"] == 2 and config["overrides"] == {"retention.days": 50}


async def test_a_change_that_changes_nothing_writes_no_version(client, world):
    await patch(client, world.admin, "/customer", {"retention.days": 45})
    result = await patch(client, world.admin, "/customer", {"retention.days": 45})
    assert result["saved"] is False and result["version"] == 1 and result["effective_changes"] == []


# --- versions, diff, rollback ------------------------------------------------------------------


async def versions(client, who, node: str, **params) -> dict:
    r = await client.get(f"{CONFIG}{node}/versions", params=params, headers=who.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_every_change_is_a_version_with_who_when_why_and_the_full_snapshot(client, world):
    await patch(client, world.admin, "/customer", {"retention.days": 45, "recording.mode": "events"}, reason="first")
    await patch(client, world.admin, "/customer", {"retention.days": 60}, unset=["recording.mode"], reason="second")
    r = await client.delete(
        f"{CONFIG}/customer/overrides/retention.days", params={"reason": "third"}, headers=world.admin.headers
    )
    assert r.status_code == 200 and r.json()["version"] == 3
    page = await versions(client, world.supervisor, "/customer")
    assert page["total"] == 3
    newest, middle, oldest = page["items"]
    assert [v["version"] for v in page["items"]] == [3, 2, 1]
    assert [v["reason"] for v in page["items"]] == ["third", "second", "first"]
    assert [v["action"] for v in page["items"]] == ["delete", "patch", "patch"]
    assert oldest["snapshot"] == {"retention.days": 45, "recording.mode": "events"}
    assert middle["snapshot"] == {"retention.days": 60}
    assert newest["snapshot"] == {}
    assert middle["changes"] == [
        {"key": "recording.mode", "change": "removed", "before": "events", "after": None},
        {"key": "retention.days", "change": "changed", "before": 45, "after": 60},
    ]
    assert oldest["actor"] == world.admin.user.email and oldest["actor_id"] == str(world.admin.user.id)
    one = await client.get(f"{CONFIG}/customer/versions/2", headers=world.supervisor.headers)
    assert one.status_code == 200 and one.json() == middle


async def test_diff_between_two_versions(client, world):
    await patch(client, world.admin, world.camera_path, {"retention.days": 7, "recording.mode": "events"})
    await patch(client, world.admin, world.camera_path, {"recording.mode": "off", "video.normalize.fps": 10})
    await patch(client, world.admin, world.camera_path, unset=["retention.days"])
    r = await client.get(
        f"{CONFIG}{world.camera_path}/versions/diff",
        params={"from_version": 1, "to_version": 3},
        headers=world.supervisor.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["changes"] == [
        {"key": "recording.mode", "change": "changed", "before": "events", "after": "off"},
        {"key": "retention.days", "change": "removed", "before": 7, "after": None},
        {"key": "video.normalize.fps", "change": "added", "before": None, "after": 10},
    ]
    r = await client.get(
        f"{CONFIG}{world.camera_path}/versions/diff",
        params={"from_version": 1, "to_version": 9},
        headers=world.supervisor.headers,
    )
    assert r.status_code == 404


async def test_rollback_restores_the_exact_values_as_a_new_audited_version(client, world):
    first = {"retention.days": 45, "notifications.quiet_hours": {"start": "22:00", "end": "06:00", "timezone": "UTC"}}
    await patch(client, world.admin, "/customer", first, reason="baseline")
    await patch(client, world.admin, "/customer", {"retention.days": 10, "recording.mode": "off"}, reason="experiment")
    await patch(client, world.admin, "/customer", unset=["notifications.quiet_hours"], reason="more experiment")
    r = await client.post(
        f"{CONFIG}/customer/versions/1/rollback", json={"reason": "experiment failed"}, headers=world.admin.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["saved"] is True and r.json()["version"] == 4
    config = await effective(client, world.supervisor, "/customer")
    assert config["overrides"] == first
    assert value_of(config, "recording.mode") == ("continuous", "default")
    newest = (await versions(client, world.supervisor, "/customer"))["items"][0]
    assert (newest["version"], newest["action"], newest["rolled_back_to"]) == (4, "rollback", 1)
    assert newest["snapshot"] == first
    audit = await client.get(
        "/api/v1/audit", params={"resource_type": "config", "action": "rollback"}, headers=world.admin.headers
    )
    entries = audit.json()["items"]
    assert len(entries) == 1
    assert entries[0]["resource_id"] == f"customer:{world.a}"
    assert entries[0]["old_value"]["overrides"] == {"retention.days": 10, "recording.mode": "off"}
    assert entries[0]["new_value"]["overrides"] == first
    assert entries[0]["new_value"]["reason"] == "experiment failed"


async def test_rollback_to_a_missing_version_is_404(client, world):
    r = await client.post(
        f"{CONFIG}/customer/versions/1/rollback", json={"reason": "nothing there"}, headers=world.admin.headers
    )
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM


async def test_a_stale_expected_version_is_409_and_changes_nothing(client, world):
    await patch(client, world.admin, "/customer", {"retention.days": 45})
    r = await client.patch(
        f"{CONFIG}/customer",
        json={"values": {"retention.days": 50}, "reason": "late", "expected_version": 0},
        headers=world.admin.headers,
    )
    assert r.status_code == 409
    assert (await effective(client, world.admin, "/customer"))["overrides"] == {"retention.days": 45}
    r = await client.patch(
        f"{CONFIG}/customer",
        json={"values": {"retention.days": 50}, "reason": "on time", "expected_version": 1},
        headers=world.admin.headers,
    )
    assert r.status_code == 200 and r.json()["version"] == 2


async def test_system_changes_are_versioned_and_audited_without_a_tenant(client, world: World):
    await patch(client, world.provider, "/system", {"models.anpr.min_height": 720}, reason="new ANPR model")
    page = await versions(client, world.provider, "/system")
    assert page["total"] == 1 and page["items"][0]["snapshot"] == {"models.anpr.min_height": 720}
    audit = await client.get("/api/v1/audit", params={"resource_type": "config"}, headers=world.provider.headers)
    entry = audit.json()["items"][0]
    assert entry["resource_id"] == "system" and entry["tenant_id"] is None
    assert entry["new_value"]["reason"] == "new ANPR model"
