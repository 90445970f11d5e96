"""Event metadata is mirrored to the document store on creation and on every change (events.mirror),
through the outbox, so the §7 record is queryable per tenant outside SQL (MongoDB at scale)."""

from __future__ import annotations

import uuid

from tests import factories
from tests.unit.events.test_events import publish_walk, run_role
from vms.auth.permissions import Role
from vms.events.mirror import COLLECTION
from vms.kernel.clock import utcnow
from vms.kernel.topics import PARTITIONS


async def test_events_are_mirrored_when_created_and_after_each_change(client, container):
    await container.bus.ensure_topics(PARTITIONS)
    customer = await factories.customer(container)
    supervisor = await factories.account(client, container, tenant_id=customer.id, role=Role.SUPERVISOR)
    camera = uuid.uuid4()
    await publish_walk(container, tenant=customer.id, camera=camera, seconds=6, track="t7", start=utcnow())
    # The role runs the relay loop; its commits wake it. The walk closes 2 s after its last frame.
    await run_role(container, lambda r: r.changes["closed"] >= 1, wait_s=30)
    await container.outbox.drain()  # whatever the cancelled loop had not delivered yet

    [stored] = await container.documents.find(COLLECTION, tenant_id=customer.id)
    event = (await client.get("/api/v1/events", headers=supervisor.headers)).json()["items"][0]
    assert stored.id == event["eventId"] and stored.tenant_id == customer.id
    body = stored.body
    for key in ("eventId", "customerId", "cameraId", "eventType", "confidence", "priority", "status", "tags"):
        assert body[key] == event[key], key
    assert body["cameraId"] == str(camera) and body["customerId"] == str(customer.id)
    assert body["detectionMetadata"] == event["detectionMetadata"]
    assert body["modelVersion"] == "1" and body["endedAt"] is not None  # the closing was mirrored too
    assert set(body) >= {"timestamp", "clipKey", "snapshotKey", "detections", "updatedAt"}
    assert stored.at.isoformat() == body["timestamp"]

    url = f"/api/v1/events/{event['eventId']}"
    r = await client.post(f"{url}/actions", headers=supervisor.headers, json={"action": "acknowledge"})
    assert r.status_code == 200
    r = await client.put(f"{url}/tags", headers=supervisor.headers, json={"tags": ["Night", "door"]})
    assert r.status_code == 200
    await container.outbox.drain()  # the api role's relay loop does this when the commit wakes it
    mirrored = await container.documents.get(COLLECTION, event["eventId"])
    assert mirrored is not None
    assert (mirrored.body["status"], mirrored.body["tags"]) == ("ACKNOWLEDGED", ["door", "night"])
    acknowledged = await container.documents.find(COLLECTION, tenant_id=customer.id, where={"status": "ACKNOWLEDGED"})
    assert [d.id for d in acknowledged] == [event["eventId"]]
    assert await container.documents.find(COLLECTION, tenant_id=uuid.uuid4()) == []


async def test_reading_an_event_mirrors_nothing(client, container):
    await container.bus.ensure_topics(PARTITIONS)
    customer = await factories.customer(container)
    viewer = await factories.account(client, container, tenant_id=customer.id, role=Role.VIEWER)
    await publish_walk(container, tenant=customer.id, camera=uuid.uuid4(), seconds=3, track="t8")
    await run_role(container, lambda r: r.stored >= 1)
    await container.outbox.drain()
    pending_before = await container.outbox.pending()
    event_id = (await client.get("/api/v1/events", headers=viewer.headers)).json()["items"][0]["eventId"]
    assert (await client.get(f"/api/v1/events/{event_id}", headers=viewer.headers)).status_code == 200
    assert await container.outbox.pending() == pending_before == 0
