"""Routes: live push of event changes — Server-Sent Events and a WebSocket, with resume.

Both carry the same messages (JSON): `{"type": "hello", "cursor": …}` once connected,
`{"type": "event", "cursor": …, "event": {…}}` per change, `{"type": "resync", "detail": …}` when the
client fell too far behind (reload the inbox, reconnect without a cursor), and keep-alives. Resume
after a reconnect with `?cursor=` (or SSE's `Last-Event-ID`, which EventSource sends by itself).
Browsers authenticate with a one-time `?ticket=` from POST /auth/stream-ticket; other clients may
send their bearer token. A stream never holds a database transaction open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, BackgroundTasks, Depends, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from starlette.requests import HTTPConnection

from vms.api.deps import camera_part, get_connection_principal
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.bootstrap import Container
from vms.events.feed import Cursor, EventFeed, FeedItem, StreamFilter, Subscription
from vms.events.feed import changed as feed_changed
from vms.events.media_api import sign_media_urls
from vms.events.schemas import EventRead
from vms.kernel.ai_models import AiModel
from vms.kernel.errors import VmsError
from vms.kernel.priority import Priority

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/events", tags=["events"])
KEEPALIVE_S = 15.0


def event_feed(connection: HTTPConnection) -> EventFeed:
    """The process's feed hub, created on first use."""
    state = connection.app.state
    if getattr(state, "event_feed", None) is None:
        state.event_feed = EventFeed(state.container)
    feed: EventFeed = state.event_feed
    return feed


def poke_after_commit(background: BackgroundTasks, tenant_id: uuid.UUID) -> None:
    """Have this process's live streams read the customer's changes as soon as the response is out
    (background tasks run after the unit of work has committed)."""
    background.add_task(feed_changed, tenant_id)


def stream_filter(
    camera_id: Annotated[list[uuid.UUID] | None, Query(max_length=200)] = None,
    event_type: Annotated[list[AiModel] | None, Query(max_length=10)] = None,
    priority: Annotated[list[Priority] | None, Query(max_length=4)] = None,
) -> StreamFilter:
    """What the client subscribes to; nothing given: every change of its customer."""
    return StreamFilter(
        camera_ids=frozenset(camera_id or ()),
        event_types=frozenset(t.value for t in event_type or ()),
        priorities=frozenset(p.value for p in priority or ()),
    )


Filter = Annotated[StreamFilter, Depends(stream_filter)]
CursorParam = Annotated[str | None, Query(max_length=200, description="Resume after this cursor.")]


def hello(subscription: Subscription, cursor: Cursor | None) -> dict[str, Any]:
    """The first message: the position to resume from if nothing else arrives."""
    return {"type": "hello", "cursor": (cursor or Cursor.now()).encode(), "live": subscription.live}


def event_message(item: FeedItem, sign: Signer) -> dict[str, Any]:
    """One change, its media URLs signed for the listener."""
    event = sign(item.event).model_dump(mode="json", by_alias=True)
    return {"type": "event", "cursor": item.cursor.encode(), "event": event}


Signer = Callable[[EventRead], EventRead]


def signer(user: Principal, container: Container) -> Signer:
    """Signs each pushed event's clip and snapshot URLs for the listener."""
    return lambda read: sign_media_urls(read, user, container)


RESYNC = {"type": "resync", "detail": "Too many changes to replay; reload the list and reconnect without a cursor."}


async def messages(
    subscription: Subscription, cursor: Cursor | None, sign: Signer
) -> AsyncIterator[dict[str, Any] | None]:
    """What to send, in order; None is a keep-alive. Ends after a resync."""
    yield hello(subscription, cursor)
    while True:
        if subscription.overflowed:
            yield RESYNC
            return
        item = await subscription.next(within_s=KEEPALIVE_S)
        yield None if item is None else event_message(item, sign)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events."}},
)
async def stream_events(
    request: Request,
    stream: Filter,
    user: Annotated[Principal, Depends(get_connection_principal)],
    cursor: CursorParam = None,
    last_event_id: Annotated[str | None, Header(max_length=200)] = None,
) -> StreamingResponse:
    """Server-Sent Events of the customer's event changes (new, updated, acknowledged, …)."""
    user.require(Permission.EVENT_READ)
    tenant_id = user.tenant
    given = cursor or last_event_id
    resume = Cursor.decode(given) if given else None
    feed = event_feed(request)
    stream = await _within_scope(feed.container, user, stream)

    async def body() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        async with feed.subscribe(tenant_id, stream, resume) as subscription:
            async for message in messages(subscription, resume, signer(user, feed.container)):
                if message is None:
                    yield ": keep-alive\n\n"
                    continue
                lines = f"event: {message['type']}\ndata: {json.dumps(message)}\n\n"
                yield (f"id: {message['cursor']}\n" + lines) if "cursor" in message else lines

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


@router.websocket("/ws")
async def event_socket(websocket: WebSocket, stream: Filter, cursor: CursorParam = None) -> None:
    """The same stream over a WebSocket. Closes with 4401 (not signed in), 4403 (not allowed) or
    4422 (bad cursor), the reason in the close frame."""
    await websocket.accept()
    try:
        user = await get_connection_principal(websocket)
        user.require(Permission.EVENT_READ)
        user.tenant  # noqa: B018  (provider staff have no customer: 4403)
        resume = Cursor.decode(cursor) if cursor else None
    except VmsError as exc:
        await websocket.close(code=4000 + exc.status, reason=exc.detail[:120])
        return
    sending = asyncio.create_task(_send(websocket, user, stream, resume))
    listening = asyncio.create_task(_until_disconnected(websocket))
    try:
        await asyncio.wait({sending, listening}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sending, listening):
            task.cancel()
        await asyncio.gather(sending, listening, return_exceptions=True)


async def _send(websocket: WebSocket, user: Principal, stream: StreamFilter, resume: Cursor | None) -> None:
    hub = event_feed(websocket)
    stream = await _within_scope(hub.container, user, stream)
    async with hub.subscribe(user.tenant, stream, resume) as subscription:
        async for message in messages(subscription, resume, signer(user, hub.container)):
            await websocket.send_json(message or {"type": "keep-alive"})
    await websocket.close(code=4409, reason="resync")


async def _within_scope(container: Container, user: Principal, stream: StreamFilter) -> StreamFilter:
    """A user limited to part of the site tree hears only their cameras' events (as of connecting)."""
    part = await camera_part(container, user)
    return stream if part is None else replace(stream, allowed_cameras=frozenset(part.cameras))


async def _until_disconnected(websocket: WebSocket) -> None:
    """Clients only listen; whatever they send is ignored until they go (which ends the stream at once)."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()
