"""Document store port on a SQL table: the embedded default (vms.documents.DocumentRecord).

Bodies are one JSON column, written as text and read back exactly. Upserts are one statement
(`INSERT … ON CONFLICT DO UPDATE` on SQLite and PostgreSQL), so two writers of one id never
collide. Filters on body fields compare type and value in SQL on SQLite and PostgreSQL — a field
holding a string never equals the number 5, as in MongoDB — and in Python on other engines.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms.documents import DocumentRecord
from vms.kernel.clock import as_utc
from vms.kernel.errors import ServiceUnavailable
from vms.ports import StoredDocument

Scalar = str | int | bool | None
FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MAX_FALLBACK_SCAN = 100_000  # engines without JSON operators filter in Python; bounded so a read stays a read


class SqlDocumentStore:
    """Documents in the `documents` table of the platform's SQL database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def upsert(
        self, collection: str, doc_id: str, body: Mapping[str, Any], *, tenant_id: uuid.UUID | None, at: datetime
    ) -> None:
        """Insert the document, or replace the one stored under this id."""
        values = {"collection": collection, "id": doc_id, "tenant_id": tenant_id, "at": as_utc(at), "body": dict(body)}
        try:
            async with self._sessions() as session:
                dialect = session.get_bind().dialect.name
                if dialect in ("sqlite", "postgresql"):
                    make = sqlite.insert if dialect == "sqlite" else postgresql.insert
                    stmt = make(DocumentRecord).values(**values)
                    changed = {key: stmt.excluded[key] for key in ("tenant_id", "at", "body")}
                    await session.execute(stmt.on_conflict_do_update(index_elements=["collection", "id"], set_=changed))
                else:
                    await _upsert_portably(session, values)
                await session.commit()
        except DBAPIError as exc:
            raise ServiceUnavailable(f"Document store unavailable: {exc.orig}") from exc

    async def get(self, collection: str, doc_id: str) -> StoredDocument | None:
        """The document, or None."""
        async with self._sessions() as session:
            row = await session.get(DocumentRecord, (collection, doc_id))
            return None if row is None else _stored(row)

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
        where = dict(where or {})
        for name in where:
            _check_field(name)
        if limit <= 0:
            return []
        stmt = select(DocumentRecord).where(DocumentRecord.collection == collection)
        stmt = stmt.where(
            DocumentRecord.tenant_id.is_(None) if tenant_id is None else DocumentRecord.tenant_id == tenant_id
        )
        if since is not None:
            stmt = stmt.where(DocumentRecord.at >= as_utc(since))
        if until is not None:
            stmt = stmt.where(DocumentRecord.at < as_utc(until))
        order = (
            (DocumentRecord.at.desc(), DocumentRecord.id.desc())
            if newest_first
            else (DocumentRecord.at, DocumentRecord.id)
        )
        stmt = stmt.order_by(*order)
        async with self._sessions() as session:
            dialect = session.get_bind().dialect.name
            if dialect in ("sqlite", "postgresql"):
                for name, value in where.items():
                    stmt = stmt.where(_equals(dialect, name, value))
                rows = (await session.execute(stmt.limit(limit))).scalars().all()
                return [_stored(row) for row in rows]
            return await _find_in_python(session, stmt, where, limit)

    async def ping(self) -> None:
        """Raise ServiceUnavailable if the database cannot be reached."""
        try:
            async with self._sessions() as session:
                await session.execute(select(literal(1)))
        except DBAPIError as exc:
            raise ServiceUnavailable(f"Document store unavailable: {exc.orig}") from exc

    async def close(self) -> None:
        """Nothing to release: the sessions belong to the container's engine."""


def _check_field(name: str) -> None:
    if not FIELD.match(name):
        raise ValueError(f"Documents are filtered on top-level field names (letters, digits, _), not {name!r}.")


def _equals(dialect: str, name: str, value: Scalar) -> ColumnElement[bool]:
    """`body.name == value` with JSON's types: a string field never equals a number, null matches a missing field."""
    body = DocumentRecord.body
    if dialect == "sqlite":
        path = f'$."{name}"'
        kind, extracted = func.json_type(body, path), func.json_extract(body, path)
        if value is None:
            return or_(kind.is_(None), kind == "null")
        if isinstance(value, bool):
            return kind == ("true" if value else "false")
        if isinstance(value, int):
            return and_(kind == "integer", extracted == value)
        return and_(kind == "text", extracted == value)
    field = body[name]
    kind, text = func.json_typeof(field), field.as_string()
    if value is None:
        return or_(kind.is_(None), kind == "null")
    if isinstance(value, bool):
        return and_(kind == "boolean", text == ("true" if value else "false"))
    if isinstance(value, int):
        # The column keeps the JSON text as written, so an integer reads back as its digits.
        return and_(kind == "number", text == str(value))
    return and_(kind == "string", text == value)


async def _find_in_python(
    session: AsyncSession, stmt: Select[DocumentRecord], where: dict[str, Scalar], limit: int
) -> list[StoredDocument]:
    found: list[StoredDocument] = []
    rows = (await session.execute(stmt.limit(_MAX_FALLBACK_SCAN))).scalars()
    for row in rows:
        if all(_same(row.body.get(name), value) for name, value in where.items()):
            found.append(_stored(row))
            if len(found) >= limit:
                break
    return found


def _same(stored: Any, wanted: Scalar) -> bool:
    return type(stored) is type(wanted) and stored == wanted


async def _upsert_portably(session: AsyncSession, values: dict[str, Any]) -> None:
    key = (DocumentRecord.collection == values["collection"], DocumentRecord.id == values["id"])
    changed = {name: values[name] for name in ("tenant_id", "at", "body")}
    result = await session.execute(update(DocumentRecord).where(*key).values(**changed))
    if result.rowcount:  # type: ignore[attr-defined]
        return
    try:
        async with session.begin_nested():
            await session.execute(insert(DocumentRecord).values(**values))
    except IntegrityError:  # another writer inserted it meanwhile: ours is the newer write
        await session.execute(update(DocumentRecord).where(*key).values(**changed))


def _stored(row: DocumentRecord) -> StoredDocument:
    return StoredDocument(id=row.id, tenant_id=row.tenant_id, at=as_utc(row.at), body=dict(row.body))
