"""Audit port on MongoDB (or FerretDB, which speaks its wire protocol): keeps a busy audit log
off the transactional SQL database at cluster scale.

Not transactional: the unit of work writes the records right after its SQL commit, so a change
rolled back leaves no record. The adapter only ever inserts; it has no update or delete path.
Give its database user only `find` and `insert` on the collection to hold the same line below
the application.

Documents mirror `AuditEntry`, with ids as strings and `at` as a BSON date. BSON dates keep only
milliseconds, so `at_us` (microseconds since the epoch) carries the exact time; filters and
ordering use it, which keeps `since`/`until` boundaries and newest-first order identical to the
SQL adapter. Old and new values are stored as JSON text, not as sub-documents: a record refused
after the SQL commit would be lost, and servers refuse plenty of valid JSON as BSON (FerretDB 1.x
rejects nested arrays, such as a zone's polygon, and keys with "." or a leading "$"; MongoDB
rejects integers beyond 64 bits). The port never filters on values, so nothing is lost by it.

Each document carries its link in its tenant's hash chain (vms.audit.chain: `chain`, `seq`,
`prev_hash`, `hash`, `alg`). A unique index on (chain, seq) decides between writers in different
processes: the loser's insert is refused as a duplicate, and it re-reads the head and tries again.
Within one process a lock serialises appends, so the retries are only ever across processes.
Records are inserted one at a time, since each one's link depends on the one before it.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic_core import to_json
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.errors import DuplicateKeyError, PyMongoError

from vms.audit.chain import GENESIS, chain_of, link
from vms.kernel.clock import as_utc
from vms.kernel.errors import Conflict, ServiceUnavailable
from vms.ports import AuditEntry, AuditLink, AuditQuery

Document = dict[str, Any]

COLLECTION = "audit_log"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ATTEMPTS = 100  # per record; each failure means another process took the seq
_CHAIN_INDEX = "ux_audit_log_chain_seq"
# (tenant, time) serves every tenant's log page; (resource_type, resource_id) a resource's history;
# time alone the platform-wide view (tenant_id None).
_INDEXES: list[list[tuple[str, int]]] = [
    [("tenant_id", ASCENDING), ("at_us", DESCENDING)],
    [("resource_type", ASCENDING), ("resource_id", ASCENDING), ("at_us", DESCENDING)],
    [("at_us", DESCENDING)],
]
_CHAIN_FIELDS = ("chain", "seq", "prev_hash", "hash", "alg")


class MongoAuditStore:
    """Append-only audit log in the `audit_log` collection; errors become ServiceUnavailable.

    `chain_key` (settings.audit.chain_key) makes new links HMAC-SHA256 instead of plain SHA-256.
    """

    transactional = False

    def __init__(self, client: AsyncMongoClient[Document], database: str, *, chain_key: bytes | None = None) -> None:
        self._client = client
        self._log = client[database][COLLECTION]
        self._indexed = False
        self._key = chain_key or None
        self._appending = asyncio.Lock()

    @classmethod
    def from_url(
        cls, url: str, database: str, *, timeout_s: float = 5.0, chain_key: bytes | None = None
    ) -> MongoAuditStore:
        """Connect lazily to the MongoDB at `url`; `timeout_s` bounds server selection and connects.

        Timeouts set in the URL itself (serverSelectionTimeoutMS=…) win over `timeout_s`.
        """
        timeout_ms = int(timeout_s * 1000)
        defaults = {"serverSelectionTimeoutMS": timeout_ms, "connectTimeoutMS": timeout_ms}
        # pymongo lets keyword arguments override the URL, so pass only what the URL leaves unset.
        options: dict[str, Any] = {key: value for key, value in defaults.items() if key.lower() not in url.lower()}
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            url, tz_aware=True, tzinfo=UTC, appname="vms-audit", **options
        )
        return cls(client, database, chain_key=chain_key)

    async def append(self, entries: Sequence[AuditEntry], *, session: object | None = None) -> None:
        """Insert records in order, each linked to its chain's head; `session` (SQL) is ignored.

        A record id written before is refused with Conflict (the stored one stays as it was); the
        records before it are written and those after it are not.
        """
        if not entries:
            return
        try:
            await self._ensure_indexes()
            async with self._appending:
                for entry in entries:
                    await self._insert_linked(entry)
        except PyMongoError as exc:
            raise ServiceUnavailable(f"Audit store unavailable: {exc}") from exc

    async def _insert_linked(self, entry: AuditEntry) -> None:
        chain = chain_of(entry.tenant_id)
        for attempt in range(_ATTEMPTS):
            head = await self._log.find_one(
                {"chain": chain}, projection={"seq": 1, "hash": 1}, sort=[("seq", DESCENDING)]
            )
            seq, prev_hash = (int(head["seq"]), str(head["hash"])) if head is not None else (0, GENESIS)
            try:
                await self._log.insert_one(_document(link(entry, seq=seq + 1, prev_hash=prev_hash, key=self._key)))
                return
            except DuplicateKeyError as exc:
                if await self._log.find_one({"_id": str(entry.id)}, projection={"_id": 1}) is not None:
                    raise Conflict("An audit record with this id exists already; records are never replaced.") from exc
            # Another process took this seq; back off a little so a crowd does not retry in lockstep.
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise ServiceUnavailable(f"The audit chain {chain} is too busy to append to; try again.")

    async def query(self, query: AuditQuery, *, limit: int, offset: int) -> tuple[list[AuditEntry], int]:
        """Records matching the filter, newest first, with the total count."""
        conditions: Document = {}
        for name in ("tenant_id", "resource_type", "resource_id", "actor_id", "action"):
            value = getattr(query, name)
            if value is not None:
                conditions[name] = str(value)
        window: Document = {}
        if query.since is not None:
            window["$gte"] = _micros(query.since)
        if query.until is not None:
            window["$lt"] = _micros(query.until)
        if window:
            conditions["at_us"] = window
        try:
            await self._ensure_indexes()
            total = await self._log.count_documents(conditions)
            cursor = self._log.find(conditions).sort([("at_us", DESCENDING), ("_id", ASCENDING)])
            documents = await cursor.skip(offset).limit(limit).to_list() if limit > 0 else []
        except PyMongoError as exc:
            raise ServiceUnavailable(f"Audit store unavailable: {exc}") from exc
        return [_entry(document) for document in documents], total

    async def read_chain(self, tenant_id: uuid.UUID | None, *, after_seq: int, limit: int) -> list[AuditLink]:
        """Up to `limit` links of a tenant's chain after `after_seq`, in seq order."""
        try:
            await self._ensure_indexes()
            cursor = self._log.find({"chain": chain_of(tenant_id), "seq": {"$gt": after_seq}}).sort("seq", ASCENDING)
            documents = await cursor.limit(limit).to_list() if limit > 0 else []
        except PyMongoError as exc:
            raise ServiceUnavailable(f"Audit store unavailable: {exc}") from exc
        return [_link(document) for document in documents]

    async def count_unchained(self, tenant_id: uuid.UUID | None) -> int:
        """Documents of the tenant (None: platform) without a link."""
        try:
            return await self._log.count_documents({"tenant_id": _str(tenant_id), "seq": {"$exists": False}})
        except PyMongoError as exc:
            raise ServiceUnavailable(f"Audit store unavailable: {exc}") from exc

    async def ping(self) -> None:
        """Raise ServiceUnavailable if the server cannot be reached."""
        try:
            await self._log.database.command("ping")
        except PyMongoError as exc:
            raise ServiceUnavailable(f"Audit store unavailable: {exc}") from exc

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.close()

    async def _ensure_indexes(self) -> None:
        # Once per process; create_index is idempotent, so two racing first calls are harmless.
        if self._indexed:
            return
        for keys in _INDEXES:
            await self._log.create_index(keys)
        # Sparse: documents written before the chain existed have neither field and would all collide
        # as (null, null); they stay out of the index and show up in verification as unchained.
        # (FerretDB 1.x does not implement partialFilterExpression, which would say it more exactly.)
        await self._log.create_index(
            [("chain", ASCENDING), ("seq", ASCENDING)], unique=True, sparse=True, name=_CHAIN_INDEX
        )
        self._indexed = True


def _micros(value: datetime) -> int:
    """Microseconds since the epoch; a naive datetime counts as UTC."""
    return (as_utc(value) - _EPOCH) // timedelta(microseconds=1)


def _document(chained: AuditLink) -> Document:
    entry = chained.entry
    return {
        "_id": str(entry.id),
        "at": as_utc(entry.at),
        "at_us": _micros(entry.at),
        "tenant_id": _str(entry.tenant_id),
        "actor_id": _str(entry.actor_id),
        "actor": entry.actor,
        "action": entry.action,
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        "old_value": _json(entry.old_value),
        "new_value": _json(entry.new_value),
        "request_id": entry.request_id,
        "ip": entry.ip,
        "chain": chained.chain,
        "seq": chained.seq,
        "prev_hash": chained.prev_hash,
        "hash": chained.hash,
        "alg": chained.alg,
    }


def _link(document: Document) -> AuditLink:
    # Missing or mistyped chain fields (a hand-edited document) make verification report an edit.
    return AuditLink(
        entry=_entry(document),
        chain=str(document.get("chain") or ""),
        seq=int(document.get("seq") or 0),
        prev_hash=str(document.get("prev_hash") or ""),
        hash=str(document.get("hash") or ""),
        alg=str(document.get("alg") or ""),
    )


def _entry(document: Document) -> AuditEntry:
    return AuditEntry(
        id=document["_id"],
        at=_EPOCH + timedelta(microseconds=document["at_us"]),
        tenant_id=document.get("tenant_id"),
        actor_id=document.get("actor_id"),
        actor=document.get("actor"),
        action=document["action"],
        resource_type=document["resource_type"],
        resource_id=document["resource_id"],
        old_value=_from_json(document.get("old_value")),
        new_value=_from_json(document.get("new_value")),
        request_id=document.get("request_id"),
        ip=document.get("ip"),
    )


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else to_json(value).decode()


def _from_json(text: str | None) -> dict[str, Any] | None:
    return None if text is None else json.loads(text)
