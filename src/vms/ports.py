"""Ports: the small Protocols domains depend on. Adapters in `vms.adapters` implement them;
only `bootstrap.py` chooses which. Each port has an embedded adapter (the single-box default)
and a real-engine adapter, and both pass one contract suite (tests/contract/).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession


class Cache(Protocol):
    """Key/value cache with TTLs, shared by all processes when backed by Redis.

    >>> await cache.set("config:camera:42:fire_smoke", b"...", ttl_s=300)
    >>> await cache.get("config:camera:42:fire_smoke")
    b'...'
    """

    async def get(self, key: str) -> bytes | None:
        """The value, or None when absent or expired."""
        ...

    async def set(self, key: str, value: bytes, *, ttl_s: float | None = None) -> None:
        """Store a value, optionally expiring after `ttl_s` seconds."""
        ...

    async def delete(self, *keys: str) -> None:
        """Remove keys (missing keys are ignored)."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with `prefix`; returns how many."""
        ...

    async def ping(self) -> None:
        """Raise if the cache cannot be reached."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Outcome of counting one request against a budget."""

    allowed: bool
    limit: int
    remaining: int
    reset_after_s: float


class RateLimiter(Protocol):
    """Fixed-window request counters keyed by IP, user or tenant.

    >>> decision = await limiter.hit("ip:10.0.0.7", limit=1200, window_s=60)
    >>> decision.allowed
    True
    """

    async def hit(self, key: str, *, limit: int, window_s: int) -> RateDecision:
        """Count one request and say whether it fits in the window's budget."""
        ...


class AuditEntry(BaseModel):
    """One immutable record of a change: who, when, what, old and new value."""

    id: uuid.UUID
    at: datetime
    tenant_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    actor: str | None
    action: str
    resource_type: str
    resource_id: str
    old_value: dict[str, Any] | None = None
    new_value: dict[str, Any] | None = None
    request_id: str | None = None
    ip: str | None = None


@dataclass(frozen=True, slots=True)
class AuditLink:
    """A stored record with its place in its tenant's hash chain (see vms.audit.chain)."""

    entry: AuditEntry
    chain: str
    seq: int
    prev_hash: str
    hash: str
    alg: str


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters for reading the audit log; tenant_id None means platform-wide (provider staff)."""

    tenant_id: uuid.UUID | None
    resource_type: str | None = None
    resource_id: str | None = None
    actor_id: uuid.UUID | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditStore(Protocol):
    """Append-only audit log.

    `transactional` adapters write inside the caller's SQL transaction (the change and its record
    commit together); others write right after the commit.

    Each tenant's records form a hash chain (vms.audit.chain) that the store extends on append:
    per-chain `seq` without gaps, each link hashing the one before it.

    >>> await store.append([entry], session=uow.session)
    >>> entries, total = await store.query(AuditQuery(tenant_id=t), limit=50, offset=0)
    >>> links = await store.read_chain(t, after_seq=0, limit=500)
    """

    transactional: bool

    async def append(self, entries: Sequence[AuditEntry], *, session: AsyncSession | None) -> None:
        """Write records; never updates or deletes."""
        ...

    async def query(self, query: AuditQuery, *, limit: int, offset: int) -> tuple[list[AuditEntry], int]:
        """Records matching the filter, newest first, with the total count."""
        ...

    async def read_chain(self, tenant_id: uuid.UUID | None, *, after_seq: int, limit: int) -> list[AuditLink]:
        """Up to `limit` links of a tenant's chain (None: the platform's) with seq > `after_seq`, in seq order."""
        ...

    async def count_unchained(self, tenant_id: uuid.UUID | None) -> int:
        """Records of the tenant (None: platform) that carry no chain link: written around the store."""
        ...

    async def ping(self) -> None:
        """Raise if the store cannot be reached."""
        ...


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """One document of a collection: its id, owner, time and JSON body (as it was upserted)."""

    id: str
    tenant_id: uuid.UUID | None
    at: datetime
    body: dict[str, Any]


class DocumentStore(Protocol):
    """JSON documents by collection and id, each owned by a tenant (None: the platform) and stamped
    with a time: event metadata and configuration history (DESIGN.md §4, MongoDB at scale).

    Writes replace the whole document (upsert); reads are per tenant, newest first by default, with
    equality filters on top-level scalar fields of the body. Bodies are JSON objects; adapters give
    them back exactly (nesting, awkward keys and big integers included).

    >>> await documents.upsert("event_metadata", str(event_id), body, tenant_id=t, at=occurred_at)
    >>> doc = await documents.get("event_metadata", str(event_id))
    >>> page = await documents.find("config_history", tenant_id=t, where={"level": "camera"}, limit=20)
    """

    async def upsert(
        self, collection: str, doc_id: str, body: Mapping[str, Any], *, tenant_id: uuid.UUID | None, at: datetime
    ) -> None:
        """Insert the document, or replace the one stored under this id."""
        ...

    async def get(self, collection: str, doc_id: str) -> StoredDocument | None:
        """The document, or None."""
        ...

    async def find(
        self,
        collection: str,
        *,
        tenant_id: uuid.UUID | None,
        where: Mapping[str, str | int | bool | None] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        newest_first: bool = True,
        limit: int = 100,
    ) -> list[StoredDocument]:
        """A tenant's documents in [since, until) whose top-level fields equal `where`'s, by time then id."""
        ...

    async def ping(self) -> None:
        """Raise if the store cannot be reached."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True)
class BusMessage:
    """One message as a consumer receives it. `commit()` marks it (and all before it in its partition) done.

    A consumer that finishes messages out of order commits through `vms.offsets.OffsetTracker`, which
    commits only up to the first message of the partition still running.
    """

    topic: str
    partition: int
    offset: int
    key: str
    value: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    timestamp: float = 0.0
    commit: Callable[[], Awaitable[None]] = field(default=lambda: _done(), repr=False, compare=False)

    @property
    def message_id(self) -> str:
        """The publisher-assigned id handlers deduplicate on (at-least-once delivery)."""
        return self.headers.get("message-id", f"{self.topic}/{self.partition}/{self.offset}")


async def _done() -> None:
    return None


class Bus(Protocol):
    """Topics with keyed partitions, consumer groups and committed offsets (DESIGN.md §4).

    The key (a camera id) picks the partition, so one camera's messages stay ordered. Every
    consumer group receives every message (fan-out); members of one group share the partitions.
    Delivery is at-least-once: a message not committed is delivered again after a restart or a
    rebalance, so handlers deduplicate on `message_id`.

    >>> await bus.ensure_topics({"video-jobs-critical": 6})
    >>> await bus.publish("video-jobs-critical", key=str(camera_id), value=job.model_dump_json().encode())
    >>> async for msg in bus.consume(["video-jobs-critical"], group="worker-fire_smoke"):
    ...     await handle(msg); await msg.commit()
    """

    async def ensure_topics(self, topics: Mapping[str, int]) -> None:
        """Create missing topics with the given partition counts (existing ones are left alone)."""
        ...

    async def publish(self, topic: str, *, key: str, value: bytes, headers: Mapping[str, str] | None = None) -> None:
        """Append a message; returns once it is durable. A `message-id` header is added if absent."""
        ...

    def consume(self, topics: Sequence[str], *, group: str) -> AsyncGenerator[BusMessage, None]:
        """Messages for this group member, from the group's committed offsets, until cancelled."""
        ...

    async def lag(self, group: str, topics: Sequence[str]) -> dict[str, int]:
        """Messages not yet committed by `group`, per topic (queue depth for metrics)."""
        ...

    async def ping(self) -> None:
        """Raise if the bus cannot be reached."""
        ...

    async def close(self) -> None:
        """Release connections and stop background work."""
        ...


class BlobStore(Protocol):
    """Immutable objects (segments, clips, snapshots, exports) by key; keys start with the tenant id,
    so each customer's media sits under its own prefix (bucket) and can be moved or purged whole.

    >>> await blobs.put_file("t1/cam7/main/2026/11/24/12/00000042.mp4", segment_path)
    >>> data = await blobs.get("t1/cam7/main/2026/11/24/12/00000042.mp4")
    """

    async def put(self, key: str, data: bytes) -> int:
        """Store bytes under `key` atomically (readers see all or nothing); returns the size."""
        ...

    async def put_file(self, key: str, path: Path, *, move: bool = False) -> int:
        """Store a local file under `key` (moving it when allowed and cheap); returns the size."""
        ...

    async def get(self, key: str) -> bytes:
        """The object's bytes; NotFound when absent."""
        ...

    async def get_range(self, key: str, first: int, last: int) -> bytes:
        """Bytes `first`..`last` (inclusive, like HTTP Range) of the object, without reading the rest.

        `last` past the end is clipped to the end; NotFound when absent; ValidationFailed when `first`
        is negative, past the end, or after `last`.

        >>> head = await blobs.get_range("t1/exports/x.mp4", 0, 1023)  # the first KiB
        """
        ...

    async def size(self, key: str) -> int:
        """The object's size in bytes (a stat or a HEAD, no read); NotFound when absent."""
        ...

    async def local_path(self, key: str) -> Path | None:
        """A filesystem path to read the object in place, when the store has one (else None)."""
        ...

    async def delete(self, *keys: str) -> None:
        """Remove objects (missing ones are ignored)."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether `key` is stored."""
        ...

    async def list(self, prefix: str) -> list[str]:
        """Keys starting with `prefix`, sorted."""
        ...

    async def ping(self) -> None:
        """Raise if the store cannot be written."""
        ...
