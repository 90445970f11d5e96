"""The transactional outbox: what must happen after a commit is written in the same transaction.

A change that must also be published on the bus (`config-changes`) or mirrored to the document
store (configuration history, event metadata) stages an outbox row in its unit of work. The row
commits with the change or not at all, so a process dying right after the commit loses nothing:
the relay delivers every pending row, in id order, and marks it sent.

Delivery is at-least-once. A row delivered but not yet marked sent (a crash in between) is
delivered again: bus messages carry the `message-id` stamped when they were staged, so consumers
deduplicate them (vms.messaging), and document upserts are idempotent.

One relay delivers at a time across every process sharing the database: it holds a lease (a row
of `outbox_lease`, taken with one conditional UPDATE, renewed while delivering, expiring after
`lease_s` if its holder dies), so rows go out in order and a crashed relay is replaced within
`lease_s`. Nothing is locked while delivering: a slow bus never holds up writers.

Promptness: `UnitOfWork.commit` wakes the relays of its process when it committed outbox rows,
and a caller that wants delivery before it answers (the config routes) drains at once. Other
processes' rows are found by the relay loop's poll (`poll_s`).

>>> outbox.stage_publish(uow, "config-changes", key=str(tenant), value=change_json)
>>> await uow.commit()                      # the change and its announcement, together
>>> await container.outbox.drain()          # delivered now (else by the relay loop)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from pydantic_core import to_json
from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from vms.kernel.clock import as_utc, utcnow
from vms.kernel.orm import Base
from vms.kernel.topics import PARTITIONS
from vms.ports import Bus, DocumentStore

if TYPE_CHECKING:
    from vms.uow import UnitOfWork

log = structlog.get_logger(__name__)
STAGED_KEY = "outbox_staged"  # session.info flag: this transaction wrote outbox rows
LEASE_NAME = "relay"
PUBLISH, DOCUMENT = "publish", "document"
PENDING, SENT, PARKED = "pending", "sent", "parked"
_relays: weakref.WeakSet[OutboxRelay] = weakref.WeakSet()


class OutboxMessage(Base):
    """A bus message to publish or a document to upsert, once its transaction has committed."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_id", "state", "id"),)

    # Integer on SQLite, where only INTEGER PRIMARY KEY autoincrements; the id is the delivery order.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # publish | document
    target: Mapped[str] = mapped_column(String(64))  # the topic, or the document collection
    key: Mapped[str] = mapped_column(String(200))  # the message key, or the document id
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # the message value, or the document body as JSON
    # publish: the message headers (message-id included); document: {"tenant_id": …, "at": ISO time}
    meta: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(8), default=PENDING)  # pending | sent | parked
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class OutboxLease(Base):
    """Which relay may deliver, until when (one row, `relay`)."""

    __tablename__ = "outbox_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(100))
    expires_at: Mapped[datetime | None]


# --- staging (inside a unit of work) ------------------------------------------------------------


def stage_publish(
    uow: UnitOfWork, topic: str, *, key: str, value: bytes, headers: Mapping[str, str] | None = None
) -> str:
    """Publish `value` on `topic` once this unit of work commits; returns the message id consumers dedupe on."""
    stamped = {"message-id": uuid.uuid4().hex, **(headers or {})}
    uow.add(OutboxMessage(kind=PUBLISH, target=topic, key=key, payload=value, meta=stamped, state=PENDING))
    uow.session.info[STAGED_KEY] = True
    return stamped["message-id"]


def stage_document(
    uow: UnitOfWork, collection: str, doc_id: str, body: Mapping[str, Any], *, tenant_id: uuid.UUID | None, at: datetime
) -> None:
    """Upsert a document into the document store once this unit of work commits."""
    uow.add(OutboxMessage(**document_row(collection, doc_id, body, tenant_id=tenant_id, at=at)))
    uow.session.info[STAGED_KEY] = True


def document_row(
    collection: str, doc_id: str, body: Mapping[str, Any], *, tenant_id: uuid.UUID | None, at: datetime
) -> dict[str, Any]:
    """The column values of a document row, for writers that insert rows themselves (flush hooks)."""
    return {
        "kind": DOCUMENT,
        "target": collection,
        "key": doc_id,
        "payload": to_json(body),  # UUIDs and times as JSON strings
        "meta": {"tenant_id": None if tenant_id is None else str(tenant_id), "at": as_utc(at).isoformat()},
        "state": PENDING,
        "attempts": 0,
        "created_at": utcnow(),
    }


def notify() -> None:
    """Wake every relay of this process: rows were just committed."""
    for relay in list(_relays):
        relay.wake()


# --- delivering ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    kind: str
    target: str
    key: str
    payload: bytes
    meta: dict[str, Any]
    attempts: int


class OutboxRelay:
    """Delivers pending outbox rows in order: `drain()` now, `run()` until cancelled."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        bus: Bus,
        documents: DocumentStore,
        batch_size: int = 200,
        poll_s: float = 1.0,
        lease_s: float = 30.0,
        park_after: int = 100,
        keep_sent_s: float = 86_400.0,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._documents = documents
        self.batch_size = batch_size
        self.poll_s = poll_s
        self.lease_s = lease_s
        self.park_after = park_after
        self.keep_sent_s = keep_sent_s
        self.holder = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.failing = False  # the last drain stopped on a delivery error
        self.delivered = 0  # rows delivered by this relay, for metrics and tests
        self._drain_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._topics: set[str] = set()
        self._running = False
        _relays.add(self)

    def wake(self) -> None:
        """Ask the running loop to drain now."""
        self._wake.set()

    async def drain(self) -> int:
        """Deliver pending rows until none are left, another relay holds the lease, or one fails.

        Returns how many rows were delivered. Never raises for a delivery failure: the row stays
        pending (its error and attempts recorded) and a later drain tries it again.
        """
        delivered, failed = 0, False
        async with self._drain_lock:
            # Looking again after each release: rows committed after our last read but before the
            # release found the lease taken, and their writers left them to us.
            while not failed and await self.has_pending() and await self._acquire():
                try:
                    while True:
                        count, failed = await self._deliver_batch()
                        delivered += count
                        if failed or count == 0:
                            break
                finally:
                    await self._release()
        self.failing = failed
        self.delivered += delivered
        return delivered

    async def run(self) -> None:
        """Drain whenever woken (a local commit) or every `poll_s` (other processes' rows), until
        cancelled; after a failure, wait longer each time (up to a minute)."""
        if self._running:  # the single box starts it from two roles; one loop per relay is enough
            await asyncio.Future()
        self._running = True
        try:
            await self._loop()
        finally:
            self._running = False

    async def _loop(self) -> None:
        backoff = self.poll_s
        purged_at = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            self._wake.clear()
            try:
                await self.drain()
                if time.monotonic() - purged_at > 60:
                    await self.purge_sent()
                    purged_at = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database itself is down: keep trying, never stop delivering
                log.warning("outbox relay failed; retrying", error=str(exc))
                self.failing = True
            backoff = min(backoff * 2, 60.0) if self.failing else self.poll_s

    async def has_pending(self) -> bool:
        """Whether any row waits for delivery (one index probe: cheap enough to poll)."""
        async with self._sessions() as session:
            stmt = select(OutboxMessage.id).where(OutboxMessage.state == PENDING).limit(1)
            return (await session.execute(stmt)).first() is not None

    async def pending(self) -> int:
        """Rows waiting for delivery (parked ones excluded)."""
        async with self._sessions() as session:
            stmt = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == PENDING)
            return int((await session.execute(stmt)).scalar_one())

    async def purge_sent(self) -> int:
        """Delete rows sent more than `keep_sent_s` ago; returns how many."""
        cutoff = utcnow() - timedelta(seconds=self.keep_sent_s)
        async with self._sessions() as session:
            result = await session.execute(
                delete(OutboxMessage).where(OutboxMessage.state == SENT, OutboxMessage.sent_at < cutoff)
            )
            await session.commit()
            return int(result.rowcount)  # type: ignore[attr-defined]

    # --- the lease ---------------------------------------------------------------------------

    async def _acquire(self) -> bool:
        now = utcnow()
        async with self._sessions() as session:
            result = await session.execute(
                update(OutboxLease)
                .where(
                    OutboxLease.name == LEASE_NAME,
                    or_(
                        OutboxLease.holder.is_(None),
                        OutboxLease.holder == self.holder,
                        OutboxLease.expires_at < now,
                    ),
                )
                .values(holder=self.holder, expires_at=now + timedelta(seconds=self.lease_s))
            )
            if result.rowcount:  # type: ignore[attr-defined]
                await session.commit()
                return True
            if await session.get(OutboxLease, LEASE_NAME) is not None:
                return False  # another relay is delivering; it drains our rows too
            try:  # a database set up without the migration's row
                await session.execute(
                    insert(OutboxLease).values(
                        name=LEASE_NAME, holder=self.holder, expires_at=now + timedelta(seconds=self.lease_s)
                    )
                )
                await session.commit()
                return True
            except IntegrityError:
                return False

    async def _renew(self, session: AsyncSession) -> None:
        await session.execute(
            update(OutboxLease)
            .where(OutboxLease.name == LEASE_NAME, OutboxLease.holder == self.holder)
            .values(expires_at=utcnow() + timedelta(seconds=self.lease_s))
        )

    async def _release(self) -> None:
        with contextlib.suppress(Exception):  # an unreleased lease just expires
            async with self._sessions() as session:
                await session.execute(
                    update(OutboxLease)
                    .where(OutboxLease.name == LEASE_NAME, OutboxLease.holder == self.holder)
                    .values(holder=None, expires_at=None)
                )
                await session.commit()

    # --- one batch ---------------------------------------------------------------------------

    async def _deliver_batch(self) -> tuple[int, bool]:
        """Deliver up to `batch_size` pending rows in order; (delivered, stopped on a failure)."""
        async with self._sessions() as session:
            found = await session.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.kind,
                    OutboxMessage.target,
                    OutboxMessage.key,
                    OutboxMessage.payload,
                    OutboxMessage.meta,
                    OutboxMessage.attempts,
                )
                .where(OutboxMessage.state == PENDING)
                .order_by(OutboxMessage.id)
                .limit(self.batch_size)
            )
            rows = [_Row(*row) for row in found.all()]
        if not rows:
            return 0, False
        # A document staged twice in one batch (an event extended every second) is upserted once, with its newest body.
        newest = {(row.target, row.key): row.id for row in rows if row.kind == DOCUMENT}
        done: list[int] = []
        failure: tuple[_Row, Exception] | None = None
        parked = False
        renewed = time.monotonic()
        for row in rows:
            if row.kind == DOCUMENT and newest[(row.target, row.key)] != row.id:
                done.append(row.id)
                continue
            if time.monotonic() - renewed > self.lease_s / 3:
                async with self._sessions() as session:
                    await self._renew(session)
                    await session.commit()
                renewed = time.monotonic()
            try:
                await self._deliver(row)
            except Exception as exc:  # any adapter error: the row stays pending, later rows wait behind it
                failure = (row, exc)
                break
            done.append(row.id)
        async with self._sessions() as session:
            if done:
                await session.execute(
                    update(OutboxMessage).where(OutboxMessage.id.in_(done)).values(state=SENT, sent_at=utcnow())
                )
            if failure is not None:
                row, error = failure
                parked = row.attempts + 1 >= self.park_after
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id)
                    .values(
                        attempts=row.attempts + 1,
                        last_error=f"{type(error).__name__}: {error}"[:500],
                        state=PARKED if parked else PENDING,
                    )
                )
                log_at = log.error if parked else log.warning
                log_at(
                    "outbox row parked after repeated failures" if parked else "outbox delivery failed; will retry",
                    row=row.id,
                    kind=row.kind,
                    target=row.target,
                    attempts=row.attempts + 1,
                    error=str(error),
                )
            await self._renew(session)
            await session.commit()
        return len(done), failure is not None and not parked

    async def _deliver(self, row: _Row) -> None:
        if row.kind == PUBLISH:
            if row.target not in self._topics:
                await self._bus.ensure_topics({row.target: PARTITIONS.get(row.target, 1)})
                self._topics.add(row.target)
            await self._bus.publish(row.target, key=row.key, value=row.payload, headers=row.meta)
            return
        tenant = row.meta.get("tenant_id")
        await self._documents.upsert(
            row.target,
            row.key,
            json.loads(row.payload),
            tenant_id=None if tenant is None else uuid.UUID(tenant),
            at=datetime.fromisoformat(row.meta["at"]),
        )
