"""Edge buffering: an edge's events and clips wait in its outbox while the cloud is away and reach
it in order, exactly once per event, with identical clip bytes, once it is back (vms.edge)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import func, select, update

from tests import factories
from tests.conftest import make_settings
from tests.unit.events.test_events import publish_walk, run_role
from vms.api.app import create_app
from vms.bootstrap import Container, build_container
from vms.edge import agent
from vms.edge.api import router as edge_router
from vms.edge.relay import EdgeRelay
from vms.events import edge_staging as staging
from vms.events import service as events
from vms.events.models import Event
from vms.events.schemas import EventAction
from vms.kernel.ids import TenantId
from vms.kernel.tenancy import TenantScope
from vms.kernel.topics import PARTITIONS
from vms.outbox import PARKED, SENT, OutboxMessage
from vms.uow import Actor

TOKEN = "edge-token-0123456789abcdef"
EDGE_ID = "edge-1"
OTHER = uuid.uuid4()  # another customer, with an edge of its own ("edge-2", same token for brevity)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serve_on(app: object, port: int) -> AsyncIterator[None]:
    """The app on a real loopback server at a port chosen beforehand (the edge knows it while it is down)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))  # type: ignore[arg-type]
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no started event)
            await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)


def _database(tmp_path: Path, template: Path, name: str) -> str:
    path = tmp_path / f"{name}.db"
    shutil.copy(template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def edge(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Container]:
    port = _free_port()
    settings = make_settings(
        tmp_path / "edge",
        _database(tmp_path, sqlite_template, "edge"),
        edge={"cloud_url": f"http://127.0.0.1:{port}", "token": TOKEN, "edge_id": EDGE_ID, "poll_s": 0.05},
    )
    built = build_container(settings)
    agent.install(built)
    yield built
    staging.uninstall(built.engine)
    await built.close()


@pytest.fixture
async def tenant(edge: Container) -> uuid.UUID:
    return (await factories.customer(edge)).id


@pytest.fixture
async def cloud(tmp_path: Path, sqlite_template: Path, tenant: uuid.UUID) -> AsyncIterator[Container]:
    peer = {"tenant_id": str(tenant), "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest()}
    settings = make_settings(
        tmp_path / "cloud",
        _database(tmp_path, sqlite_template, "cloud"),
        api={"max_body_bytes": 8 * 1_048_576},  # clips are larger than the default request limit
        edge={"peers": {EDGE_ID: peer, "edge-2": {**peer, "tenant_id": str(OTHER)}}, "max_clip_bytes": 4 * 1_048_576},
    )
    built = build_container(settings)
    yield built
    await built.close()


def cloud_app(cloud: Container):  # type: ignore[no-untyped-def]
    """The cloud's API app with the edge routes (until vms.api.routers lists them)."""
    app = create_app(cloud)
    if not any(getattr(r, "path", "").startswith("/api/v1/edge/") for r in app.routes):
        app.include_router(edge_router, prefix="/api/v1")
        app.router.routes.sort(key=lambda r: not getattr(r, "path", "").startswith("/api/v1/edge/"))
    return app


class Recorder:
    """The cloud app, noting what arrives, in order: ("event", id) per document, ("clip", id) per upload."""

    def __init__(self, app: object) -> None:
        self.app = app
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return await self.app(scope, receive, send)  # type: ignore[operator]
        body = bytearray()

        async def noting():  # type: ignore[no-untyped-def]
            message = await receive()
            body.extend(message.get("body", b""))
            return message

        status: list[int] = []

        async def sending(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, noting, sending)  # type: ignore[operator]
        if status and status[0] < 300:
            if scope["path"].endswith("/edge/events"):
                self.seen += [("event", e["eventId"]) for e in json.loads(body)["events"]]
            elif "/edge/clips/" in scope["path"]:
                self.seen.append(("clip", scope["path"].rsplit("/", 1)[1]))


async def _make_events(edge: Container, tenant: uuid.UUID) -> tuple[list[uuid.UUID], bytes]:
    """Two events through the real events role, one acknowledged and tagged, one with a clip."""
    await edge.bus.ensure_topics(PARTITIONS)
    await publish_walk(edge, tenant=tenant, camera=uuid.uuid4(), seconds=6, track="a")
    await publish_walk(edge, tenant=tenant, camera=uuid.uuid4(), seconds=6, track="b")
    await run_role(edge, lambda r: r.changes["closed"] >= 2)
    scope, actor = TenantScope.of(TenantId(tenant)), Actor.system("test")
    async with edge.unit_of_work(scope, actor) as uow:
        ids = list((await uow.session.execute(select(Event.id).order_by(Event.occurred_at, Event.id))).scalars())
        await events.act(uow=uow, event_id=ids[0], data=EventAction(action="acknowledge"))
        await events.set_tags(uow=uow, event_id=ids[0], tags=["door"])
        await uow.commit()
    # What events.clips does once it has cut a clip: store the MP4, set the event's clip_key.
    clip = b"\x00\x00\x00\x20ftypisom" + os.urandom(2_500_000)  # spans several upload chunks
    key = f"{tenant}/clips/{ids[1]}.mp4"
    await edge.blobs.put(key, clip)
    async with edge.unit_of_work(scope, actor) as uow:
        event = await uow.get(Event, ids[1])
        event.clip_key = key
        await uow.commit()
    return ids, clip


async def _edge_rows(container: Container) -> list[tuple[str, str, str]]:
    async with container.sessions() as session:
        stmt = (
            select(OutboxMessage.target, OutboxMessage.key, OutboxMessage.state)
            .where(OutboxMessage.kind == staging.KIND)
            .order_by(OutboxMessage.id)
        )
        return [tuple(row) for row in (await session.execute(stmt)).all()]  # type: ignore[misc]


def _first_edge_row():  # type: ignore[no-untyped-def]
    return select(OutboxMessage).where(OutboxMessage.kind == staging.KIND).order_by(OutboxMessage.id).limit(1)


async def _cloud_events(cloud: Container, tenant: uuid.UUID) -> list[Event]:
    async with cloud.unit_of_work(TenantScope.of(TenantId(tenant)), Actor.system("test")) as uow:
        return list((await uow.session.execute(select(Event))).scalars())


async def test_rows_wait_while_the_cloud_is_down_and_arrive_in_order_once_it_is_back(edge, cloud, tenant):
    ids, clip = await _make_events(edge, tenant)
    rows = await _edge_rows(edge)
    assert {key for _, key, _ in rows} == {str(i) for i in ids}
    assert ("clip", str(ids[1]), staging.WAITING) in rows and all(state == staging.WAITING for *_, state in rows)
    relay = EdgeRelay(edge.sessions, blobs=edge.blobs, settings=edge.settings.edge.model_copy(update={"batch_size": 1}))
    try:
        # The cloud is down: nothing is delivered, every row still waits, the failure is recorded.
        assert await relay.drain() == 0
        assert relay.failing and await relay.pending() == len(rows)
        async with edge.sessions() as session:
            first = (await session.execute(_first_edge_row())).scalar_one()
            assert first.attempts == 1 and "Connect" in (first.last_error or "")
        # The local relay is not held up by the cloud's lane.
        await edge.outbox.drain()
        assert await edge.outbox.pending() == 0 and await relay.pending() == len(rows)

        recorder = Recorder(cloud_app(cloud))
        async with serve_on(recorder, int(edge.settings.edge.cloud_url.rsplit(":", 1)[1])):
            assert await relay.drain() == len(rows)
            assert not relay.failing and await relay.pending() == 0
            # In the edge's commit order, one request per row (batch_size 1).
            assert recorder.seen == [(target, key) for target, key, _ in rows]

            stored = await _cloud_events(cloud, tenant)
            assert sorted(e.id for e in stored) == sorted(ids)  # exactly one row per event
            by_id = {e.id: e for e in stored}
            assert (by_id[ids[0]].status, by_id[ids[0]].tags) == ("ACKNOWLEDGED", ["door"])
            assert by_id[ids[0]].ended_at is not None and by_id[ids[0]].tenant_id == tenant
            cloud_clip = await cloud.blobs.get(by_id[ids[1]].clip_key or "")
            assert hashlib.sha256(cloud_clip).hexdigest() == hashlib.sha256(clip).hexdigest()

            # A crash before the rows were marked sent: everything is delivered again, and changes nothing.
            async with edge.sessions() as session:
                await session.execute(
                    update(OutboxMessage).where(OutboxMessage.kind == staging.KIND).values(state=staging.WAITING)
                )
                await session.commit()
            recorder.seen.clear()
            assert await relay.drain() == len(rows)
            assert len(recorder.seen) == len(rows)
            again = await _cloud_events(cloud, tenant)
            assert sorted(e.id for e in again) == sorted(ids)
            assert {e.id: (e.status, e.clip_key) for e in again} == {e.id: (e.status, e.clip_key) for e in stored}
    finally:
        await relay.close()
    assert {state for *_, state in await _edge_rows(edge)} == {SENT}
    async with cloud.sessions() as session:  # the cloud's own writes queue nothing for a cloud
        count = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == staging.KIND)
        assert (await session.execute(count)).scalar_one() == 0


async def test_a_wrong_token_is_refused_and_the_rows_keep_waiting(edge, cloud, tenant):
    await _make_events(edge, tenant)
    waiting = len(await _edge_rows(edge))
    wrong = edge.settings.edge.model_copy(update={"token": "not-the-edge-token-000000"})
    relay = EdgeRelay(edge.sessions, blobs=edge.blobs, settings=wrong)
    try:
        async with serve_on(cloud_app(cloud), int(edge.settings.edge.cloud_url.rsplit(":", 1)[1])):
            assert await relay.drain() == 0
            assert relay.failing and await relay.pending() == waiting
            async with edge.sessions() as session:
                first = (await session.execute(_first_edge_row())).scalar_one()
                assert "401" in (first.last_error or "")
            assert await _cloud_events(cloud, tenant) == []
    finally:
        await relay.close()


@pytest.fixture
async def cloud_client(cloud):  # type: ignore[no-untyped-def]
    import httpx

    transport = httpx.ASGITransport(app=cloud_app(cloud), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/api/v1/edge") as http:
        yield http


def _doc(tenant: uuid.UUID, **changes: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "eventId": str(uuid.uuid4()),
        "customerId": str(tenant),
        "cameraId": str(uuid.uuid4()),
        "eventType": "intrusion",
        "confidence": 0.9,
        "timestamp": "2026-11-24T12:00:00+00:00",
        "detectionMetadata": {"boundingBox": [0.1, 0.2, 0.3, 0.4], "objectClass": "person", "trackingId": "t"},
        "status": "NEW",
        "priority": "MEDIUM",
        "updatedAt": "2026-11-24T12:00:05+00:00",
    }
    return {**doc, **changes}


AUTH = {"Authorization": f"Bearer {TOKEN}", "X-Edge-Id": EDGE_ID}


async def test_the_cloud_refuses_bad_tokens_and_garbage_with_4xx(cloud_client, tenant):
    post = cloud_client.post
    assert (await post("/events", json={"events": [_doc(tenant)]})).status_code == 401  # no token
    bad = {**AUTH, "Authorization": "Bearer wrong"}
    assert (await post("/events", json={"events": [_doc(tenant)]}, headers=bad)).status_code == 401
    unknown = {**AUTH, "X-Edge-Id": "edge-9"}
    assert (await post("/events", json={"events": [_doc(tenant)]}, headers=unknown)).status_code == 401

    assert (await post("/events", content=b"\x00garbage", headers=AUTH)).status_code == 422
    assert (await post("/events", json={"events": []}, headers=AUTH)).status_code == 422
    assert (await post("/events", json={"events": [{"eventId": "x"}]}, headers=AUTH)).status_code == 422
    assert (await post("/events", json={"events": [_doc(tenant, confidence=7)]}, headers=AUTH)).status_code == 422
    too_many = {"events": [_doc(tenant) for _ in range(501)]}
    assert (await post("/events", json=too_many, headers=AUTH)).status_code == 422
    other = _doc(uuid.uuid4())
    assert (await post("/events", json={"events": [other]}, headers=AUTH)).status_code == 403

    doc = _doc(tenant)
    r = await post("/events", json={"events": [doc]}, headers=AUTH)
    assert r.status_code == 200 and r.json() == {"received": 1, "changed": 1}
    older = {**doc, "status": "RESOLVED", "updatedAt": "2026-11-24T12:00:01+00:00"}
    r = await post("/events", json={"events": [older]}, headers=AUTH)
    assert r.json() == {"received": 1, "changed": 0}  # a late retry of an older state changes nothing
    theirs = {**doc, "customerId": str(OTHER)}  # another customer's edge sending an id this customer owns
    r = await post("/events", json={"events": [theirs]}, headers={**AUTH, "X-Edge-Id": "edge-2"})
    assert r.status_code == 409

    clip = b"\x00\x00\x00\x20ftypisom" + b"\x01" * 5000
    sha = hashlib.sha256(clip).hexdigest()
    url = f"/clips/{doc['eventId']}"
    put = cloud_client.put
    assert (await put(url, content=clip, headers={**bad, "X-Content-SHA256": sha})).status_code == 401
    assert (await put(url, content=clip, headers={**AUTH, "X-Content-SHA256": "nothex"})).status_code == 422
    wrong_sha = {**AUTH, "X-Content-SHA256": "0" * 64}
    assert (await put(url, content=clip, headers=wrong_sha)).status_code == 422
    not_mp4 = b"GIF89a" + b"\x00" * 100
    r = await put(url, content=not_mp4, headers={**AUTH, "X-Content-SHA256": hashlib.sha256(not_mp4).hexdigest()})
    assert r.status_code == 422
    huge = b"\x00\x00\x00\x20ftypisom" + b"\x00" * (4 * 1_048_576)
    r = await put(url, content=huge, headers={**AUTH, "X-Content-SHA256": hashlib.sha256(huge).hexdigest()})
    assert r.status_code == 413
    missing = f"/clips/{uuid.uuid4()}"
    assert (await put(missing, content=clip, headers={**AUTH, "X-Content-SHA256": sha})).status_code == 404

    first = await put(url, content=clip, headers={**AUTH, "X-Content-SHA256": sha})
    assert first.status_code == 200 and first.json()["changed"] == 1
    repeat = await put(url, content=clip, headers={**AUTH, "X-Content-SHA256": sha})
    assert repeat.status_code == 200 and repeat.json()["changed"] == 0


async def test_a_rejected_row_is_parked_not_lost_and_later_rows_go_on(edge, cloud, tenant):
    ids, _ = await _make_events(edge, tenant)
    key = f"{tenant}/clips/{ids[1]}.mp4"
    await edge.blobs.delete(key)  # retention removed the clip before the cloud came back
    relay = EdgeRelay(edge.sessions, blobs=edge.blobs, settings=edge.settings.edge)
    try:
        async with serve_on(cloud_app(cloud), int(edge.settings.edge.cloud_url.rsplit(":", 1)[1])):
            await relay.drain()
            assert await relay.pending() == 0
    finally:
        await relay.close()
    states = {(target, state) for target, _, state in await _edge_rows(edge)}
    assert ("clip", PARKED) in states and ("event", SENT) in states
    assert sorted(e.id for e in await _cloud_events(cloud, tenant)) == sorted(ids)


async def test_the_agent_loop_delivers_on_its_own_and_a_server_without_a_cloud_is_no_edge(edge, cloud, tenant):
    ids, _ = await _make_events(edge, tenant)
    task = asyncio.create_task(agent.run(edge))
    try:
        async with serve_on(cloud_app(cloud), int(edge.settings.edge.cloud_url.rsplit(":", 1)[1])):
            async with asyncio.timeout(10):
                while {state for *_, state in await _edge_rows(edge)} != {SENT}:  # noqa: ASYNC110 (polling the database)
                    await asyncio.sleep(0.05)
            assert sorted(e.id for e in await _cloud_events(cloud, tenant)) == sorted(ids)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    async with asyncio.timeout(1):
        await agent.run(cloud)  # no VMS_EDGE__CLOUD_URL: nothing to deliver, returns at once
