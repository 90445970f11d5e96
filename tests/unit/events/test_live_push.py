"""Live push: new and changed events reach connected consoles over SSE and WebSocket within a
second, a reconnect with the last cursor misses nothing, and nobody sees another customer's events.

These talk to a real uvicorn server on a loopback port: in-process transports buffer whole
responses, which a stream never finishes.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests import factories
from tests.unit.streaming.recorded import serve
from vms.auth.permissions import Role
from vms.events.feed import Cursor, EventFeed, StreamFilter
from vms.events.models import Event


@pytest.fixture
async def base_url(app) -> AsyncIterator[str]:
    """host:port of the app on a real loopback server."""
    async with serve(app) as url:
        yield url.removeprefix("http://")
    feed = getattr(app.state, "event_feed", None)
    if feed is not None:
        await feed.close()


async def add_event(container, tenant_id: uuid.UUID, *, camera_id: uuid.UUID | None = None, stamp=None) -> Event:
    """An event as the events role stores it (the feed reads the table, whoever wrote it)."""
    return await factories.event(container, tenant_id=tenant_id, camera_id=camera_id, updated_at=stamp)


async def ticket(client: httpx.AsyncClient, account) -> str:
    r = await client.post("/api/v1/auth/stream-ticket", headers=account.headers)
    assert r.status_code == 200, r.text
    assert r.json()["expires_in_s"] == 30
    return str(r.json()["ticket"])


async def receive(ws, *, kind: str = "event", within_s: float = 1.0) -> dict[str, Any]:
    """The next message of `kind` (keep-alives and others skipped)."""
    async with asyncio.timeout(within_s):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == kind:
                return message


async def sse_messages(http: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None):
    """Yield (id, data) of each SSE message."""
    async with http.stream("GET", url, headers=headers or {}) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line == "":
                if "data" in fields:
                    yield fields.get("id"), json.loads(fields["data"])
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value


@pytest.fixture
async def admin(client, container):
    customer = await factories.customer(container)
    return await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)


async def test_a_new_event_reaches_the_websocket_within_a_second(client, container, base_url, admin):
    tenant = admin.user.tenant_id
    async with connect(f"ws://{base_url}/api/v1/events/ws?ticket={await ticket(client, admin)}") as ws:
        hello = await receive(ws, kind="hello")
        assert Cursor.decode(hello["cursor"])  # a usable resume point even before any change
        event = await add_event(container, tenant)
        message = await receive(ws, within_s=1.0)
    assert message["event"]["eventId"] == str(event.id)
    assert message["event"]["status"] == "NEW"
    assert Cursor.decode(message["cursor"]).event_id == event.id


async def test_an_acknowledgement_is_pushed_as_a_change(client, container, base_url, admin):
    event = await add_event(container, admin.user.tenant_id)
    async with connect(f"ws://{base_url}/api/v1/events/ws?ticket={await ticket(client, admin)}") as ws:
        await receive(ws, kind="hello")
        ack = {"action": "acknowledge"}
        r = await client.post(f"/api/v1/events/{event.id}/actions", json=ack, headers=admin.headers)
        assert r.status_code == 200, r.text
        while (message := await receive(ws))["event"]["status"] != "ACKNOWLEDGED":
            pass  # the creation itself may come first (it is within the re-read window)
    assert message["event"]["eventId"] == str(event.id)
    assert message["event"]["updatedAt"] is not None


async def test_resuming_sse_from_the_last_cursor_misses_nothing(client, container, base_url, admin):
    tenant = admin.user.tenant_id
    async with httpx.AsyncClient(base_url=f"http://{base_url}", timeout=5) as http:
        first = await add_event(container, tenant)
        seen: list[str] = []
        last_id = None
        url = f"/api/v1/events/stream?ticket={await ticket(client, admin)}&cursor={Cursor.now().encode()}"
        async for message_id, data in sse_messages(http, url.replace(Cursor.now().encode(), _before(first))):
            if data["type"] == "event":
                seen.append(data["event"]["eventId"])
                last_id = message_id
                break
        assert seen == [str(first.id)]
        missed = [await add_event(container, tenant) for _ in range(3)]  # while disconnected
        resumed: list[str] = []
        url = f"/api/v1/events/stream?ticket={await ticket(client, admin)}"
        async with asyncio.timeout(5):
            async for _, data in sse_messages(http, url, headers={"Last-Event-ID": last_id}):
                if data["type"] == "event":
                    resumed.append(data["event"]["eventId"])
                if set(resumed) >= {str(e.id) for e in missed}:
                    break
    assert str(first.id) not in resumed  # the cursor's own change is not repeated
    assert [r for r in resumed if r != str(first.id)][:3] == [str(e.id) for e in missed]  # in order


def _before(event: Event) -> str:
    return Cursor(event.updated_at - timedelta(seconds=30), uuid.UUID(int=0)).encode()


async def test_a_change_committed_late_with_an_earlier_stamp_is_still_delivered(container, admin):
    """Two writers stamp t1 < t2 but commit t2 first: the re-read window catches t1."""
    tenant = admin.user.tenant_id
    feed = EventFeed(container, poll_s=0.05)
    try:
        async with feed.subscribe(tenant, StreamFilter(), None) as subscription:
            await asyncio.sleep(0.1)
            later = await add_event(container, tenant)
            item = await subscription.next(within_s=2)
            assert item is not None and item.event.event_id == later.id
            earlier = await add_event(container, tenant, stamp=later.updated_at - timedelta(seconds=2))
            item = await subscription.next(within_s=2)
            assert item is not None and item.event.event_id == earlier.id
            assert await subscription.next(within_s=0.3) is None  # and nothing twice
    finally:
        await feed.close()


async def test_filters_and_customers_keep_streams_apart(client, container, base_url, admin):
    tenant = admin.user.tenant_id
    other_customer = await factories.customer(container)
    watched = uuid.uuid4()
    url = f"ws://{base_url}/api/v1/events/ws?ticket={await ticket(client, admin)}&camera_id={watched}"
    async with connect(url) as ws:
        await receive(ws, kind="hello")
        await add_event(container, other_customer.id, camera_id=watched)  # another customer, same camera id
        await add_event(container, tenant)  # our customer, another camera
        mine = await add_event(container, tenant, camera_id=watched)
        message = await receive(ws, within_s=2)
    assert message["event"]["eventId"] == str(mine.id)


async def test_a_ticket_works_once_and_garbage_is_refused(client, base_url, admin):
    used = await ticket(client, admin)
    async with connect(f"ws://{base_url}/api/v1/events/ws?ticket={used}") as ws:
        await receive(ws, kind="hello")
    for bad in (used, "x" * 30, "short"):
        async with connect(f"ws://{base_url}/api/v1/events/ws?ticket={bad}") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await receive(ws, kind="hello")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    async with httpx.AsyncClient(base_url=f"http://{base_url}") as http:
        r = await http.get("/api/v1/events/stream")
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        r = await http.get("/api/v1/events/stream?ticket=" + "y" * 32)
        assert r.status_code == 401


async def test_a_bad_cursor_is_a_clear_422(client, base_url, admin):
    async with httpx.AsyncClient(base_url=f"http://{base_url}") as http:
        r = await http.get("/api/v1/events/stream?cursor=not-a-cursor", headers=admin.headers)
    assert r.status_code == 422
    assert "cursor" in r.json()["detail"]
    async with connect(f"ws://{base_url}/api/v1/events/ws?cursor=@@&ticket={await ticket(client, admin)}") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws, kind="hello")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4422


async def test_provider_staff_have_no_event_stream(client, container, base_url):
    staff = await factories.account(client, container, tenant_id=None, role=Role.PROVIDER_ADMIN)
    async with httpx.AsyncClient(base_url=f"http://{base_url}") as http:
        r = await http.get("/api/v1/events/stream", headers=staff.headers)
    assert r.status_code == 403
