"""Every saved configuration version is also a history document in the document store (SQL table by
default, MongoDB at scale): who, when, why, which node, the full values and the change, per tenant."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from tests.conftest import engine_url
from tests.unit.config.conftest import CONFIG, World, patch
from vms.bootstrap import Container
from vms.config import history
from vms.config.nodes import NodeRef
from vms.config.registry import Level
from vms.settings import Settings


@pytest.fixture(params=["sql", "mongo"])
async def settings(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Settings]:
    """The config tests' settings, with documents in the SQL table or in a throwaway MongoDB database."""
    if request.param == "sql":
        yield settings
        return
    url, database = engine_url("VMS_TEST_MONGO_URL"), f"vms_history_test_{uuid.uuid4().hex[:12]}"
    yield settings.model_copy(
        update={
            "documents": settings.documents.model_copy(
                update={"kind": "mongo", "mongo_url": url, "mongo_database": database}
            )
        }
    )
    admin: AsyncMongoClient[dict] = AsyncMongoClient(url)
    await admin.drop_database(database)
    await admin.close()


async def test_each_saved_version_is_a_history_document_of_its_tenant(client, container: Container, world: World):
    before = datetime.now(UTC) - timedelta(seconds=1)
    await patch(
        client, world.admin, world.camera_path, {"retention.days": 12}, params=world.camera_params, reason="lobby"
    )
    await patch(
        client, world.admin, world.camera_path, {"notifications.channels.intrusion": ["sms"]}, unset=["retention.days"]
    )
    await patch(client, world.b_admin, world.b_camera_path, {"retention.days": 3})
    await patch(client, world.provider, "/system", {"video.normalize.fps": 10})

    camera = NodeRef.camera(world.a, world.camera)
    docs = await history.find(documents=container.documents, tenant_id=world.a, node=camera)
    assert [d.id for d in docs] == [f"camera:{world.camera}:v2", f"camera:{world.camera}:v1"]  # newest first
    newest, first = docs[0].body, docs[1].body
    assert first["tenant_id"] == str(world.a) and docs[1].tenant_id == world.a
    assert (first["level"], first["node_id"], first["version"], first["action"]) == (
        "camera",
        str(world.camera),
        1,
        "patch",
    )
    assert first["reason"] == "lobby" and first["actor"] == world.admin.user.email
    assert first["values"] == [{"key": "retention.days", "value": 12}]
    assert first["changes"] == [{"key": "retention.days", "change": "added", "before": None, "after": 12}]
    assert newest["values"] == [{"key": "notifications.channels.intrusion", "value": ["sms"]}]
    assert {c["key"]: c["change"] for c in newest["changes"]} == {
        "retention.days": "removed",
        "notifications.channels.intrusion": "added",
    }
    assert before < docs[1].at <= docs[0].at

    # Per tenant: A sees only its own; B's change is B's; the system's belongs to no customer.
    assert len(await history.find(documents=container.documents, tenant_id=world.a)) == 2
    [theirs] = await history.find(documents=container.documents, tenant_id=world.b)
    assert theirs.body["node"] == f"camera:{world.b_camera}"
    [system] = await history.find(documents=container.documents, tenant_id=None, level=Level.SYSTEM)
    assert system.id == "system:v1" and system.body["node_id"] is None
    assert system.body["values"] == [{"key": "video.normalize.fps", "value": 10}]


async def test_a_rollback_is_a_history_document_naming_the_version_it_returned_to(client, container, world):
    for days in (5, 6):
        await patch(client, world.admin, "/customer", {"retention.days": days})
    r = await client.post(
        f"{CONFIG}/customer/versions/1/rollback", json={"reason": "undo"}, headers=world.admin.headers
    )
    assert r.status_code == 200, r.text
    [newest] = await history.find(documents=container.documents, tenant_id=world.a, limit=1)
    assert newest.id == f"customer:{world.a}:v3"
    assert (newest.body["action"], newest.body["rolled_back_to"], newest.body["reason"]) == ("rollback", 1, "undo")
    assert newest.body["values"] == [{"key": "retention.days", "value": 5}]


async def test_a_dry_run_or_a_refused_change_writes_no_history(client, container, world):
    r = await client.patch(
        f"{CONFIG}/customer",
        json={"values": {"retention.days": 9}, "reason": "just looking"},
        params={"dry_run": "true"},
        headers=world.admin.headers,
    )
    assert r.status_code == 200 and r.json()["saved"] is False
    r = await client.patch(
        f"{CONFIG}/site/{uuid.uuid4()}",
        json={"values": {"retention.days": 9}, "reason": "bad id"},
        headers=world.admin.headers,
    )
    assert r.status_code == 422
    await container.outbox.drain()
    assert await history.find(documents=container.documents, tenant_id=world.a) == []
    assert await container.outbox.pending() == 0


async def test_the_history_route_lists_the_callers_customer_newest_first_by_node_and_page(client, world):
    for days in (4, 5, 6):
        await patch(client, world.admin, f"/site/{world.site}", {"retention.days": days})
    await patch(client, world.admin, "/customer", {"retention.days": 9})
    await patch(client, world.b_admin, "/customer", {"retention.days": 2})
    await patch(client, world.provider, "/system", {"retention.days": 60})

    r = await client.get(f"{CONFIG}/history", headers=world.supervisor.headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["id"] for i in items] == [
        f"customer:{world.a}:v1",
        f"site:{world.site}:v3",
        f"site:{world.site}:v2",
        f"site:{world.site}:v1",
    ]
    params = {"level": "site", "node_id": str(world.site), "limit": "2"}
    page = (await client.get(f"{CONFIG}/history", params=params, headers=world.supervisor.headers)).json()["items"]
    assert [i["document"]["version"] for i in page] == [3, 2]
    rest = await client.get(
        f"{CONFIG}/history", params={**params, "until": page[-1]["at"]}, headers=world.supervisor.headers
    )
    assert [i["document"]["version"] for i in rest.json()["items"]] == [1]
    system = (await client.get(f"{CONFIG}/history", headers=world.provider.headers)).json()["items"]
    assert [i["id"] for i in system] == ["system:v1"]
    assert (await client.get(f"{CONFIG}/history", headers=world.viewer.headers)).status_code == 403
    bad = await client.get(f"{CONFIG}/history", params={"node_id": str(world.site)}, headers=world.admin.headers)
    assert bad.status_code == 422
