"""Document store port on MongoDB (or FerretDB, which speaks its wire protocol).

One MongoDB collection per document collection. A stored document is
`{_id, tenant_id, at, at_us, body, body_json}`: `at` is a BSON date for people and tools, and
`at_us` (microseconds since the epoch) the exact time that filters and ordering use, since BSON
dates keep only milliseconds. Each collection gets an index on (tenant_id, at_us, _id), which
serves every read the port offers.

The body is stored as a sub-document so it can be queried with MongoDB's own tools, except for
top-level fields the server would refuse or change: FerretDB 1.x rejects arrays nested directly in
arrays (a zone's polygon) and keys with "." or a leading "$" (dotted configuration keys), and
BSON has no integers beyond 64 bits. Such fields go into `body_json` as JSON text, field by field,
and come back exactly; a document is never refused for its content.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic_core import to_json
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.errors import PyMongoError

from vms.adapters.documents.sql import FIELD, Scalar
from vms.kernel.clock import as_utc
from vms.kernel.errors import ServiceUnavailable
from vms.ports import StoredDocument

Document = dict[str, Any]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INT64 = (-(2**63), 2**63 - 1)
_INDEX = [("tenant_id", ASCENDING), ("at_us", DESCENDING), ("_id", DESCENDING)]


class MongoDocumentStore:
    """Documents in MongoDB collections; driver errors become ServiceUnavailable."""

    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self._client = client
        self._db = client[database]
        self._indexed: set[str] = set()

    @classmethod
    def from_url(cls, url: str, database: str, *, timeout_s: float = 5.0) -> MongoDocumentStore:
        """Connect lazily to the MongoDB at `url`; `timeout_s` bounds server selection and connects
        (timeouts set in the URL itself win)."""
        timeout_ms = int(timeout_s * 1000)
        defaults = {"serverSelectionTimeoutMS": timeout_ms, "connectTimeoutMS": timeout_ms}
        options: dict[str, Any] = {key: value for key, value in defaults.items() if key.lower() not in url.lower()}
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            url, tz_aware=True, tzinfo=UTC, appname="vms-documents", **options
        )
        return cls(client, database)

    async def upsert(
        self, collection: str, doc_id: str, body: Mapping[str, Any], *, tenant_id: uuid.UUID | None, at: datetime
    ) -> None:
        """Insert the document, or replace the one stored under this id."""
        native: Document = {}
        encoded: Document = {}
        for key, value in body.items():
            if FIELD.match(key) and _storable(value):
                native[key] = value
            else:
                encoded[key] = to_json(value).decode()
        document = {
            "_id": doc_id,
            "tenant_id": None if tenant_id is None else str(tenant_id),
            "at": as_utc(at),
            "at_us": _micros(at),
            "body": native,
            # A list of pairs, not an object: the keys are whatever the body's keys were.
            "body_json": [{"key": key, "json": text} for key, text in encoded.items()],
        }
        try:
            await self._ensure_index(collection)
            await self._db[collection].replace_one({"_id": doc_id}, document, upsert=True)
        except PyMongoError as exc:
            raise ServiceUnavailable(f"Document store unavailable: {exc}") from exc

    async def get(self, collection: str, doc_id: str) -> StoredDocument | None:
        """The document, or None."""
        try:
            document = await self._db[collection].find_one({"_id": doc_id})
        except PyMongoError as exc:
            raise ServiceUnavailable(f"Document store unavailable: {exc}") from exc
        return None if document is None else _stored(document)

    async def find(
        self,
        collection: str,
        *,
        tenant_id: uuid.UUID | None,
        where: Mapping[str, Scalar] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        newest_first: bool = True,
        limit: int = 100,
    ) -> list[StoredDocument]:
        """A tenant's documents in [since, until) whose top-level fields equal `where`'s, by time then id."""
        conditions: Document = {"tenant_id": None if tenant_id is None else str(tenant_id)}
        for name, value in (where or {}).items():
            if not FIELD.match(name):
                raise ValueError(f"Documents are filtered on top-level field names (letters, digits, _), not {name!r}.")
            # MongoDB matches 1 == True; JSON (and the SQL adapter) do not, so pin the BSON type.
            if isinstance(value, bool):
                conditions[f"body.{name}"] = {"$eq": value, "$type": "bool"}
            elif isinstance(value, int):
                conditions[f"body.{name}"] = {"$eq": value, "$type": ["int", "long"]}
            else:
                conditions[f"body.{name}"] = value
        window: Document = {}
        if since is not None:
            window["$gte"] = _micros(since)
        if until is not None:
            window["$lt"] = _micros(until)
        if window:
            conditions["at_us"] = window
        direction = DESCENDING if newest_first else ASCENDING
        if limit <= 0:
            return []
        try:
            await self._ensure_index(collection)
            cursor = self._db[collection].find(conditions).sort([("at_us", direction), ("_id", direction)])
            documents = await cursor.limit(limit).to_list()
        except PyMongoError as exc:
            raise ServiceUnavailable(f"Document store unavailable: {exc}") from exc
        return [_stored(document) for document in documents]

    async def ping(self) -> None:
        """Raise ServiceUnavailable if the server cannot be reached."""
        try:
            await self._db.command("ping")
        except PyMongoError as exc:
            raise ServiceUnavailable(f"Document store unavailable: {exc}") from exc

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.close()

    async def _ensure_index(self, collection: str) -> None:
        # Once per collection and process; create_index is idempotent, so racing first calls are harmless.
        if collection not in self._indexed:
            await self._db[collection].create_index(_INDEX, name="ix_tenant_time")
            self._indexed.add(collection)


def _storable(value: Any, *, in_list: bool = False) -> bool:
    """Whether MongoDB and FerretDB 1.x store `value` as it is and give it back unchanged."""
    if value is None or isinstance(value, (bool, str)):
        return True
    if isinstance(value, int):
        return _INT64[0] <= value <= _INT64[1]
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(
            isinstance(key, str) and key and "." not in key and not key.startswith("$") and _storable(item)
            for key, item in value.items()
        )
    if isinstance(value, (list, tuple)):
        return not in_list and all(_storable(item, in_list=True) for item in value)
    return False  # anything else goes through JSON text


def _micros(value: datetime) -> int:
    return (as_utc(value) - _EPOCH) // timedelta(microseconds=1)


def _stored(document: Document) -> StoredDocument:
    body = dict(document.get("body") or {})
    for pair in document.get("body_json") or []:
        body[pair["key"]] = json.loads(pair["json"])
    tenant = document.get("tenant_id")
    return StoredDocument(
        id=str(document["_id"]),
        tenant_id=None if tenant is None else uuid.UUID(tenant),
        at=_EPOCH + timedelta(microseconds=int(document["at_us"])),
        body=body,
    )
