"""Detections from the bus become stored events once; operators work them through the API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import UTC, datetime, timedelta

from tests import factories
from vms.auth.permissions import Role
from vms.events.correlate import Correlator, Rules
from vms.events.role import EventsRole
from vms.kernel.ai_models import AiModel
from vms.kernel.clock import utcnow
from vms.kernel.topics import DETECTIONS, EVENTS, PARTITIONS

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


async def publish_walk(
    container, *, tenant, camera, seconds: float, track: str, model: str = "intrusion", start: datetime = T0
):
    """A person walking for `seconds` from `start` (frame times), 5 detections a second.

    The role closes an incident `close_after_s` after its last frame time on the wall clock, so a walk
    dated in the past may be closed (and split) while its detections are still being read on a loaded
    machine: a test that waits for the close starts the walk now."""
    for i in range(int(seconds * 5)):
        doc = {
            "model": model,
            "cameraId": str(camera),
            "customerId": str(tenant),
            "segmentSequence": i // 25,
            "frameTime": (start + timedelta(seconds=i / 5)).isoformat(),
            "boundingBox": [0.1 + i * 0.005, 0.4, 0.1, 0.2],
            "objectClass": "person",
            "score": 0.9,
            "trackingId": track,
            "attributes": {},
            "jobId": str(uuid.uuid4()),
            "priority": "MEDIUM",
        }
        await container.bus.publish(DETECTIONS, key=str(camera), value=json.dumps(doc).encode())


async def run_role(container, until, *, wait_s: float = 10) -> EventsRole:
    role = EventsRole(
        container,
        correlator=Correlator(default_rules=Rules(min_hits=3, min_duration_s=1, close_after_s=2)),
        expire_every_s=0.2,
    )
    task = asyncio.create_task(role.run())
    try:
        for _ in range(int(wait_s / 0.05)):
            if until(role):
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return role


async def test_a_walk_through_becomes_one_stored_event_announced_on_the_bus(client, container):
    await container.bus.ensure_topics(PARTITIONS)
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    camera = uuid.uuid4()
    walked_from = utcnow()
    await publish_walk(container, tenant=customer.id, camera=camera, seconds=6, track="t1", start=walked_from)
    # Opened, then closed (its object left): 2 s after the walk's last frame.
    await run_role(container, lambda r: r.changes["closed"] >= 1, wait_s=30)
    page = (await client.get("/api/v1/events", headers=admin.headers)).json()
    assert page["total"] == 1
    event = page["items"][0]
    assert set(event) >= {
        "eventId",
        "customerId",
        "cameraId",
        "eventType",
        "confidence",
        "timestamp",
        "detectionMetadata",
        "clipUrl",
        "priority",
        "status",
    }
    assert (event["eventType"], event["status"], event["priority"]) == ("intrusion", "NEW", "MEDIUM")
    assert event["detectionMetadata"]["trackingId"] == "t1"
    assert datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")) == walked_from  # its first frame
    assert event["endedAt"] is not None
    async with contextlib.aclosing(container.bus.consume([EVENTS], group="push")) as stream:
        async for message in stream:
            assert json.loads(message.value)["change"] == "opened"
            break


async def test_operators_acknowledge_resolve_tag_and_comment(client, container):
    await container.bus.ensure_topics(PARTITIONS)
    customer = await factories.customer(container)
    supervisor = await factories.account(client, container, tenant_id=customer.id, role=Role.SUPERVISOR)
    viewer = await factories.account(client, container, tenant_id=customer.id, role=Role.VIEWER)
    await publish_walk(container, tenant=customer.id, camera=uuid.uuid4(), seconds=3, track="t9")
    await run_role(container, lambda r: r.stored >= 1)
    event_id = (await client.get("/api/v1/events", headers=viewer.headers)).json()["items"][0]["eventId"]
    url = f"/api/v1/events/{event_id}"

    assert (
        await client.post(f"{url}/actions", headers=viewer.headers, json={"action": "acknowledge"})
    ).status_code == 403
    ack = await client.post(
        f"{url}/actions", headers=supervisor.headers, json={"action": "acknowledge", "note": "guard sent"}
    )
    assert ack.json()["status"] == "ACKNOWLEDGED"
    done = await client.post(f"{url}/actions", headers=supervisor.headers, json={"action": "resolve"})
    assert done.json()["status"] == "RESOLVED"
    again = await client.post(f"{url}/actions", headers=supervisor.headers, json={"action": "false_positive"})
    assert again.status_code == 409
    tags = await client.put(f"{url}/tags", headers=supervisor.headers, json={"tags": ["Critical", "critical", "night"]})
    assert tags.json()["tags"] == ["critical", "night"]
    await client.post(f"{url}/notes", headers=supervisor.headers, json={"text": "Door left open by cleaner"})
    notes = (await client.get(f"{url}/notes", headers=viewer.headers)).json()
    assert [n["text"] for n in notes] == ["guard sent", "Door left open by cleaner"]
    found = (await client.get("/api/v1/events", params={"q": "cleaner"}, headers=viewer.headers)).json()
    assert found["total"] == 1
    by_tag = (
        await client.get("/api/v1/events", params={"tag": "night", "status": "RESOLVED"}, headers=viewer.headers)
    ).json()
    assert by_tag["total"] == 1


async def test_another_customers_event_is_not_found(client, container):
    await container.bus.ensure_topics(PARTITIONS)
    a, b = await factories.customer(container), await factories.customer(container)
    admin_a = await factories.account(client, container, tenant_id=a.id, role=Role.ADMIN)
    admin_b = await factories.account(client, container, tenant_id=b.id, role=Role.ADMIN)
    await publish_walk(container, tenant=b.id, camera=uuid.uuid4(), seconds=3, track="b1")
    await run_role(container, lambda r: r.stored >= 1)
    event_id = (await client.get("/api/v1/events", headers=admin_b.headers)).json()["items"][0]["eventId"]
    assert (await client.get("/api/v1/events", headers=admin_a.headers)).json()["total"] == 0
    assert (await client.get(f"/api/v1/events/{event_id}", headers=admin_a.headers)).status_code == 404
    act = await client.post(f"/api/v1/events/{event_id}/actions", headers=admin_a.headers, json={"action": "resolve"})
    assert act.status_code == 404


async def test_confidence_thresholds_come_from_the_configuration_hierarchy(client, container):
    """A customer-wide threshold above the detections' score silences them; a camera override below
    it lets that camera's (and only that camera's) detections through again."""
    await container.bus.ensure_topics(PARTITIONS)
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    quiet = await factories.camera(container, tenant_id=customer.id)
    loud = await factories.camera(container, tenant_id=customer.id)
    key = "models.intrusion.confidence_threshold"
    r = await client.patch(
        "/api/v1/config/customer", headers=admin.headers, json={"values": {key: 0.95}, "reason": "too many alarms"}
    )
    assert r.status_code == 200, r.text
    r = await client.patch(
        f"/api/v1/config/camera/{loud.id}", headers=admin.headers, json={"values": {key: 0.8}, "reason": "vault door"}
    )
    assert r.status_code == 200, r.text
    await publish_walk(container, tenant=customer.id, camera=quiet.id, seconds=3, track="q")  # scores are 0.9
    await publish_walk(container, tenant=customer.id, camera=loud.id, seconds=3, track="l")
    role = EventsRole(container, correlator=Correlator(default_rules=Rules(min_hits=3, min_duration_s=1)))
    task = asyncio.create_task(role.run())
    try:
        async with asyncio.timeout(15):  # until every detection of both cameras is consumed and committed
            while role.stored < 1 or await container.bus.lag("events", [DETECTIONS]) != {DETECTIONS: 0}:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    events = (await client.get("/api/v1/events", headers=admin.headers)).json()["items"]
    assert [e["cameraId"] for e in events] == [str(loud.id)]
    assert await role.thresholds.get(customer.id, quiet.id, AiModel.INTRUSION) == 0.95
    assert await role.thresholds.get(customer.id, loud.id, AiModel.INTRUSION) == 0.8
