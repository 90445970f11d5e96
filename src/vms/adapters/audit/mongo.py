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
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic_core import to_json
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.errors import BulkWriteError, PyMongoError

from vms.kernel.clock import as_utc
from vms.kernel.errors import Conflict, ServiceUnavailable
from vms.ports import AuditEntry, AuditQuery

Document = dict[str, Any]

COLLECTION = "audit_log"
_DUPLICATE_KEY = 11000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# (tenant, time) serves every tenant's log page; (resource_type, resource_id) a resource's history;
# time alone the platform-wide view (tenant_id None).
_INDEXES: list[list[tuple[str, int]]] = [
    [("tenant_id", ASCENDING), ("at_us", DESCENDING)],
    [("resource_type", ASCENDING), ("resource_id", ASCENDING), ("at_us", DESCENDING)],
    [("at_us", DESCENDING)],
]


class MongoAuditStore:
    """Append-only audit log in the `audit_log` collection; errors become ServiceUnavailable."""

    transactional = False

    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self._client = client
        self._log = client[database][COLLECTION]
        self._indexed = False

    @classmethod
    def from_url(cls, url: str, database: str, *, timeout_s: float = 5.0) -> MongoAuditStore:
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
        return cls(client, database)

    async def append(self, entries: Sequence[AuditEntry], *, session: object | None = None) -> None:
        """Insert records in order; `session` (SQL) is ignored: this store is not transactional."""
        if not entries:
            return
        try:
            await self._ensure_indexes()
            await self._log.insert_many([_document(entry) for entry in entries], ordered=True)
        except BulkWriteError as exc:
            # A record id written before is refused (the stored one stays as it was); ordered
            # insertion stops there, so the records before it are written and those after are not.
            if any(error.get("code") == _DUPLICATE_KEY for error in exc.details.get("writeErrors", [])):
                raise Conflict("An audit record with this id exists already; records are never replaced.") from exc
            raise ServiceUnavailable(f"Audit store unavailable: {exc}") from exc
        except PyMongoError as exc:
            raise ServiceUnavailable(f"Audit store unavailable: {exc}") from exc

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
        self._indexed = True


def _micros(value: datetime) -> int:
    """Microseconds since the epoch; a naive datetime counts as UTC."""
    return (as_utc(value) - _EPOCH) // timedelta(microseconds=1)


def _document(entry: AuditEntry) -> Document:
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
    }


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
