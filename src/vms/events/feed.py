"""Live push of event changes, with resume from a cursor so a reconnecting console misses nothing.

The events table is the feed: every change stamps `updated_at` (creation included), and a change
is identified by (updated_at, event id) — the cursor a client keeps. One poller per customer with
listeners runs in each API process and reads the changes after its watermark; the database being
the source, it works the same whichever process or role made the change, and needs no per-process
bus subscription. Latency is one poll interval (0.25 s by default); a writer in the same process
(an API action, the events role of a single box) calls `changed()` after its commit for an
immediate read.

Why re-read a grace window: two transactions can stamp t1 < t2 and commit in the opposite order,
so a reader that has passed t2 would skip t1 forever. Every read therefore starts `GRACE` before
the watermark and drops what it already delivered; resuming from a cursor does the same. Delivery
is at-least-once — a client may see a change twice and keeps the newest `updatedAt` per event.

>>> async with feed.subscribe(tenant_id, StreamFilter(), cursor) as subscription:
...     item = await subscription.next(within_s=15)
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import uuid
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import and_, or_, select

from vms.bootstrap import Container
from vms.events.models import Event
from vms.events.schemas import EventRead
from vms.events.service import event_read
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.errors import ValidationFailed
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor

log = structlog.get_logger(__name__)
GRACE = timedelta(seconds=5)  # longer than any transaction that stamps an event takes to commit
PAGE = 500  # rows per read
CATCH_UP_LIMIT = 2_000  # changes replayed on resume; further behind, the client reloads its list
QUEUE_LIMIT = 1_000  # changes waiting for a slow client before it is told to reload
ACTOR = Actor.system("event-feed")
_FEEDS: weakref.WeakSet[EventFeed] = weakref.WeakSet()  # this process's hubs


def changed(tenant_id: uuid.UUID) -> None:
    """A customer's events changed and the change is committed: this process's feeds read it now."""
    for feed in list(_FEEDS):
        feed.poke(tenant_id)


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    """A position in the feed: the stamp and id of the last change a client received."""

    stamp: datetime
    event_id: uuid.UUID

    def encode(self) -> str:
        """Opaque text for clients (SSE `id:`, websocket `cursor`)."""
        raw = f"{as_utc(self.stamp).isoformat()}|{self.event_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Parse a cursor from a client; ValidationFailed (422) when it is not one of ours."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            stamp, _, event_id = raw.partition("|")
            return cls(as_utc(datetime.fromisoformat(stamp)), uuid.UUID(event_id))
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise ValidationFailed("'cursor' is not a cursor from this stream; reconnect without one.") from exc

    @classmethod
    def now(cls) -> Cursor:
        """The position of a client that has seen everything until now."""
        return cls(utcnow(), uuid.UUID(int=0))


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """Which changes a client subscribed to (empty: all of its customer's)."""

    camera_ids: frozenset[uuid.UUID] = frozenset()
    event_types: frozenset[str] = frozenset()
    priorities: frozenset[str] = frozenset()
    allowed_cameras: frozenset[uuid.UUID] | None = None  # a user scoped to part of the site tree: theirs only

    def admits(self, event: EventRead) -> bool:
        """Whether the event matches every given criterion."""
        return (
            (self.allowed_cameras is None or event.camera_id in self.allowed_cameras)
            and (not self.camera_ids or event.camera_id in self.camera_ids)
            and (not self.event_types or event.event_type.value in self.event_types)
            and (not self.priorities or event.priority.value in self.priorities)
        )


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One change as delivered: its cursor and the event as it now is."""

    cursor: Cursor
    event: EventRead


@dataclass(eq=False)
class Subscription:
    """One client's queue. Until it is live, changes from the poller wait aside so the catch-up
    (older changes) goes out first; `delivered` drops repeats (grace re-reads, catch-up overlap)."""

    filter: StreamFilter
    queue: asyncio.Queue[FeedItem] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    overflowed: bool = False
    live: bool = False
    _held: list[FeedItem] = field(default_factory=list)
    _delivered: dict[uuid.UUID, datetime] = field(default_factory=dict)

    def offer(self, item: FeedItem) -> None:
        """Queue a change if it matches and is newer than what this client got for the event."""
        if not self.live:
            self._held.append(item)
            return
        self._deliver(item)

    def has(self, cursor: Cursor) -> None:
        """The client already has the change at `cursor` (it resumes from there)."""
        self._delivered[cursor.event_id] = cursor.stamp

    def go_live(self) -> None:
        """Release the changes held during the catch-up, oldest first."""
        self.live = True
        held, self._held = sorted(self._held, key=lambda i: i.cursor), []
        for item in held:
            self._deliver(item)

    async def next(self, *, within_s: float) -> FeedItem | None:
        """The next change, or None when none came within `within_s` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within_s):
                return await self.queue.get()
        return None

    def _deliver(self, item: FeedItem) -> None:
        last = self._delivered.get(item.event.event_id)
        if (last is not None and item.cursor.stamp <= last) or not self.filter.admits(item.event):
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True
            return
        self._delivered[item.event.event_id] = item.cursor.stamp
        if len(self._delivered) > 4 * QUEUE_LIMIT:  # forget the oldest; grace re-reads are recent
            for key in list(self._delivered)[:QUEUE_LIMIT]:
                del self._delivered[key]


async def changes_after(container: Container, tenant_id: uuid.UUID, after: Cursor, *, limit: int) -> list[FeedItem]:
    """The customer's changes after `after` in feed order (stamp, then id), at most `limit`."""
    items: list[FeedItem] = []
    position = after
    async with container.unit_of_work(TenantScope.of(tenant_id), ACTOR) as uow:  # type: ignore[arg-type]
        while len(items) < limit:
            stmt = (
                select(Event)
                .where(
                    or_(
                        Event.updated_at > position.stamp,
                        and_(Event.updated_at == position.stamp, Event.id > position.event_id),
                    )
                )
                .order_by(Event.updated_at, Event.id)
                .limit(min(PAGE, limit - len(items)))
            )
            rows = (await uow.session.execute(stmt)).scalars().all()
            for event in rows:
                position = Cursor(as_utc(event.updated_at), event.id)  # type: ignore[arg-type]
                items.append(FeedItem(position, event_read(event)))
            if len(rows) < PAGE:
                break
    return items


class EventFeed:
    """Per-process hub: one poller per customer with listeners, fanning changes out to them."""

    def __init__(self, container: Container, *, poll_s: float = 0.25, grace: timedelta = GRACE) -> None:
        self.container = container
        self.poll_s = poll_s
        self.grace = grace
        self._subscribers: dict[uuid.UUID, set[Subscription]] = {}
        self._pollers: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._wakeups: dict[uuid.UUID, asyncio.Event] = {}
        _FEEDS.add(self)

    @contextlib.asynccontextmanager
    async def subscribe(
        self, tenant_id: uuid.UUID, stream_filter: StreamFilter, cursor: Cursor | None
    ) -> AsyncIterator[Subscription]:
        """Listen to a customer's changes; with a cursor, first replay those after it (less the grace)."""
        subscription = Subscription(stream_filter)
        self._subscribers.setdefault(tenant_id, set()).add(subscription)
        self._ensure_poller(tenant_id)
        try:
            if cursor is not None:
                subscription.has(cursor)
                since = Cursor(cursor.stamp - self.grace, uuid.UUID(int=0))
                missed = await changes_after(self.container, tenant_id, since, limit=CATCH_UP_LIMIT + 1)
                if len(missed) > CATCH_UP_LIMIT:
                    subscription.overflowed = True  # too far behind: the client reloads its list instead
                for item in missed[:CATCH_UP_LIMIT]:
                    subscription.offer(item)
            subscription.go_live()  # catch-up first, then what the poller queued meanwhile
            yield subscription
        finally:
            listeners = self._subscribers.get(tenant_id)
            if listeners is not None:
                listeners.discard(subscription)
                if not listeners:
                    del self._subscribers[tenant_id]
                    self.poke(tenant_id)  # let its poller see it has no one left and stop

    def poke(self, tenant_id: uuid.UUID) -> None:
        """Read the customer's changes now rather than at the next interval."""
        wakeup = self._wakeups.get(tenant_id)
        if wakeup is not None:
            wakeup.set()

    async def close(self) -> None:
        """Stop every poller (shutdown)."""
        for task in self._pollers.values():
            task.cancel()
        await asyncio.gather(*self._pollers.values(), return_exceptions=True)
        self._pollers.clear()

    def _ensure_poller(self, tenant_id: uuid.UUID) -> None:
        task = self._pollers.get(tenant_id)
        if task is None or task.done():
            self._wakeups[tenant_id] = asyncio.Event()
            self._pollers[tenant_id] = asyncio.create_task(self._poll(tenant_id), name=f"event-feed-{tenant_id}")

    async def _poll(self, tenant_id: uuid.UUID) -> None:
        wakeup = self._wakeups[tenant_id]
        watermark = utcnow()
        delivered: dict[uuid.UUID, datetime] = {}  # what this poller fanned out within the grace window
        while self._subscribers.get(tenant_id):
            wakeup.clear()
            try:
                since = Cursor(watermark - self.grace, uuid.UUID(int=0))
                for item in await changes_after(self.container, tenant_id, since, limit=CATCH_UP_LIMIT):
                    watermark = max(watermark, item.cursor.stamp)
                    if delivered.get(item.event.event_id) == item.cursor.stamp:
                        continue
                    delivered[item.event.event_id] = item.cursor.stamp
                    for subscription in list(self._subscribers.get(tenant_id, ())):
                        subscription.offer(item)
                horizon = watermark - self.grace
                for event_id in [k for k, stamp in delivered.items() if stamp < horizon]:
                    del delivered[event_id]
            except Exception as exc:  # a database hiccup must not end live push for this customer
                log.error("reading event changes failed", tenant_id=str(tenant_id), error=str(exc))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_s):
                    await wakeup.wait()
        self._pollers.pop(tenant_id, None)
