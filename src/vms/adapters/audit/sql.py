"""Audit port on an append-only SQL table: the embedded default.

The migration adds triggers that reject UPDATE and DELETE on the table, so the log stays
immutable even against a buggy or hostile caller with database access through the app.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms.audit.models import AuditRecord
from vms.kernel.clock import as_utc
from vms.kernel.errors import Conflict
from vms.ports import AuditEntry, AuditQuery


class SqlAuditStore:
    """Writes in the caller's transaction; reads with its own sessions."""

    transactional = True

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def append(self, entries: Sequence[AuditEntry], *, session: AsyncSession | None) -> None:
        """Insert records (in `session`'s transaction when given)."""
        if not entries:
            return
        rows = [entry.model_dump() for entry in entries]
        try:
            if session is not None:
                await session.execute(insert(AuditRecord), rows)
                return
            async with self._sessions() as own:
                await own.execute(insert(AuditRecord), rows)
                await own.commit()
        except IntegrityError as exc:
            raise Conflict("An audit record with this id already exists; records are never rewritten.") from exc

    async def query(self, query: AuditQuery, *, limit: int, offset: int) -> tuple[list[AuditEntry], int]:
        """Records matching the filter, newest first, with the total count."""
        stmt = select(AuditRecord)
        conditions = {
            AuditRecord.tenant_id: query.tenant_id,
            AuditRecord.resource_type: query.resource_type,
            AuditRecord.resource_id: query.resource_id,
            AuditRecord.actor_id: query.actor_id,
            AuditRecord.action: query.action,
        }
        for column, value in conditions.items():
            if value is not None:
                stmt = stmt.where(column == value)
        if query.since is not None:
            stmt = stmt.where(AuditRecord.at >= query.since)
        if query.until is not None:
            stmt = stmt.where(AuditRecord.at < query.until)

        async with self._sessions() as session:
            total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
            rows = (
                await session.execute(stmt.order_by(AuditRecord.at.desc(), AuditRecord.id).limit(limit).offset(offset))
            ).scalars()
            entries = [_entry(row) for row in rows]
        return entries, int(total)

    async def ping(self) -> None:
        """Raise if the table cannot be read."""
        async with self._sessions() as session:
            await session.execute(select(AuditRecord.id).limit(1))


def _entry(row: AuditRecord) -> AuditEntry:
    entry = AuditEntry.model_validate(row, from_attributes=True)
    entry.at = as_utc(entry.at)
    return entry
