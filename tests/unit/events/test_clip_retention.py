"""Clip retention: which event clips are kept and which go, the pass that deletes them (rows first,
then blobs), what the API shows afterwards, per-camera policy from configuration, and the sweep."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests import factories
from vms.auth.permissions import Role
from vms.config import service as config
from vms.config.nodes import NodeRef
from vms.events.clip_retention import (
    ClipRetentionPolicy,
    apply_clip_retention,
    clip_expiry,
    clip_policy,
    sweep_orphan_clips,
)
from vms.events.clips import clip_key, snapshot_key
from vms.events.models import Event
from vms.kernel.tenancy import TenantScope
from vms.roles.retention import RetentionRole
from vms.uow import Actor

NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
POLICY = ClipRetentionPolicy(event_days=90, evidence_days=365)
SYSTEM = Actor.system("test")


@pytest.mark.parametrize(
    ("status", "tags", "escalated", "kept_days"),
    [
        ("RESOLVED", [], False, 90),
        ("FALSE_POSITIVE", [], False, 90),
        ("RESOLVED", [], True, 365),  # escalated to a ticket
        ("RESOLVED", ["critical"], False, 365),
        ("NEW", [], False, None),  # still being worked: kept
        ("ACKNOWLEDGED", [], False, None),
        ("RESOLVED", ["evidence"], False, None),  # legal hold until the tag is removed
        ("FALSE_POSITIVE", ["evidence", "critical"], True, None),
    ],
)
def test_how_long_a_clip_is_kept(status, tags, escalated, kept_days):
    expiry = clip_expiry(status=status, tags=tags, escalated=escalated, occurred_at=NOW, policy=POLICY)
    assert expiry == (None if kept_days is None else NOW + timedelta(days=kept_days))


async def event_with_clip(container, tenant_id, camera_id, *, age_days, status="RESOLVED", tags=(), ticket=False):
    event = Event(
        tenant_id=tenant_id,
        camera_id=camera_id,
        event_type="intrusion",
        confidence=0.9,
        occurred_at=NOW - timedelta(days=age_days),
        priority="HIGH",
        status=status,
        object_class="person",
        tracking_id="t",
        bounding_box=[0.1, 0.1, 0.2, 0.2],
        tags=list(tags),
        attributes={"ticketId": str(uuid.uuid4())} if ticket else {},
        updated_at=NOW - timedelta(days=age_days),
    )
    event.id = uuid.uuid4()
    event.clip_key, event.snapshot_key = clip_key(event), snapshot_key(event)
    await container.blobs.put(event.clip_key, b"mp4 " + event.id.bytes)
    await container.blobs.put(event.snapshot_key, b"\xff\xd8 jpeg")
    async with container.unit_of_work(TenantScope.of(tenant_id), SYSTEM) as uow:
        uow.add(event)
        await uow.commit()
    return event


async def load(container, event: Event) -> Event:
    async with container.unit_of_work(TenantScope.of(event.tenant_id), SYSTEM) as uow:
        return await uow.get(Event, event.id)


async def fixed(tenant_id, camera_id) -> ClipRetentionPolicy:
    return POLICY


async def test_the_pass_deletes_expired_clips_keeps_the_rest_and_the_api_says_why(client, container):
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    camera = uuid.uuid4()
    expired = await event_with_clip(container, customer.id, camera, age_days=91)
    false_alarm = await event_with_clip(container, customer.id, camera, age_days=200, status="FALSE_POSITIVE")
    young = await event_with_clip(container, customer.id, camera, age_days=30)
    open_event = await event_with_clip(container, customer.id, camera, age_days=400, status="NEW")
    escalated = await event_with_clip(container, customer.id, camera, age_days=120, ticket=True)
    escalated_old = await event_with_clip(container, customer.id, camera, age_days=366, ticket=True)
    critical = await event_with_clip(container, customer.id, camera, age_days=120, tags=["critical"])
    hold = await event_with_clip(container, customer.id, camera, age_days=2000, tags=["evidence"])

    async with container.unit_of_work(TenantScope.platform(), SYSTEM) as uow:
        report = await apply_clip_retention(uow=uow, blobs=container.blobs, now=NOW, policy_for_camera=fixed)
    assert report.deleted == 3 and report.kept_open == 1 and report.kept_evidence == 3

    for gone in (expired, false_alarm, escalated_old):
        row = await load(container, gone)
        assert row.clip_key is None and row.snapshot_key is None
        assert not await container.blobs.exists(clip_key(gone)) and not await container.blobs.exists(snapshot_key(gone))
    assert "kept 90 days after the event (retention.event_days)" in (await load(container, expired)).clip_error
    assert (
        "kept 365 days after the event (retention.evidence_days)" in (await load(container, escalated_old)).clip_error
    )
    for kept in (young, open_event, escalated, critical, hold):
        row = await load(container, kept)
        assert row.clip_key == clip_key(kept) and await container.blobs.exists(clip_key(kept))

    shown = (await client.get(f"/api/v1/events/{expired.id}", headers=admin.headers)).json()
    assert shown["clipUrl"] is None and shown["snapshotUrl"] is None
    assert shown["clipError"].startswith("Clip deleted on 2027-06-01 by retention")
    r = await client.get(f"/api/v1/events/{expired.id}/clip.mp4", headers=admin.headers)
    assert r.status_code == 404 and "deleted" in r.json()["detail"]
    assert (await client.get(f"/api/v1/events/{young.id}", headers=admin.headers)).json()["clipUrl"]

    async with container.unit_of_work(TenantScope.platform(), SYSTEM) as uow:
        again = await apply_clip_retention(uow=uow, blobs=container.blobs, now=NOW, policy_for_camera=fixed)
    assert again.deleted == 0  # idempotent


async def test_clip_retention_follows_the_camera_configuration(container):
    customer = await factories.customer(container)
    short = (await factories.camera(container, tenant_id=customer.id, name="Lobby")).id
    default = (await factories.camera(container, tenant_id=customer.id, name="Yard")).id
    async with container.unit_of_work(TenantScope.of(customer.id), SYSTEM) as uow:
        await config.change_overrides(
            uow=uow,
            config_cache=container.config,
            node=NodeRef.camera(customer.id, short),
            values={"retention.event_days": 7, "retention.evidence_days": 30},
            reason="lobby keeps little",
        )
        await uow.commit()
    lobby = await event_with_clip(container, customer.id, short, age_days=10)
    lobby_ticket = await event_with_clip(container, customer.id, short, age_days=31, ticket=True)
    elsewhere = await event_with_clip(container, customer.id, default, age_days=10)

    async with container.unit_of_work(TenantScope.platform(), SYSTEM) as uow:
        policy = clip_policy(uow=uow, config_cache=container.config)
        assert await policy(customer.id, short) == ClipRetentionPolicy(event_days=7, evidence_days=30)
        assert await policy(customer.id, default) == ClipRetentionPolicy(event_days=90, evidence_days=365)
        report = await apply_clip_retention(uow=uow, blobs=container.blobs, now=NOW, policy_for_camera=policy)
    assert report.deleted == 2
    assert (await load(container, lobby)).clip_key is None and (await load(container, lobby_ticket)).clip_key is None
    assert (await load(container, elsewhere)).clip_key == clip_key(elsewhere)


async def test_the_sweep_removes_clip_blobs_no_event_points_at(container):
    customer = await factories.customer(container)
    camera = uuid.uuid4()
    kept = await event_with_clip(container, customer.id, camera, age_days=3)
    recent = await event_with_clip(container, customer.id, camera, age_days=0)
    stray_event = uuid.uuid4()  # a clip whose event is gone (or whose row was cleared before a crash)
    stray = f"{customer.id}/clips/{stray_event}.mp4"
    await container.blobs.put(stray, b"orphan")
    async with container.unit_of_work(TenantScope.of(recent.tenant_id), SYSTEM) as uow:
        row = await uow.get(Event, recent.id)
        row.clip_key = None  # being cut right now: the blob exists before the row points at it
        await uow.commit()
    export = f"{customer.id}/exports/{uuid.uuid4()}.mp4"
    await container.blobs.put(export, b"not a clip")

    async with container.unit_of_work(TenantScope.platform(), SYSTEM) as uow:
        swept = await sweep_orphan_clips(uow=uow, blobs=container.blobs, now=NOW)
    assert swept == [stray]
    for key in (clip_key(kept), snapshot_key(kept), clip_key(recent), export):
        assert await container.blobs.exists(key), key


async def test_the_retention_role_runs_clip_retention_in_its_pass(container):
    customer = await factories.customer(container)
    old = await event_with_clip(container, customer.id, uuid.uuid4(), age_days=3650)
    role = RetentionRole(container)
    await role.run_once()
    assert role.last_clips is not None and role.last_clips.deleted == 1
    assert (await load(container, old)).clip_key is None
