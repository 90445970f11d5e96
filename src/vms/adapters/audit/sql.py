"""Audit port on an append-only SQL table: the embedded default.

The migration adds triggers that reject UPDATE and DELETE on the table, so the log stays
immutable even against a buggy or hostile caller with database access through the app.

Each record is linked into its tenant's hash chain (vms.audit.chain) as it is inserted: read the
chain's head, insert seq + 1. The unique index on (chain, seq) decides between concurrent writers:
the loser's insert fails (on PostgreSQL it first waits for the winner's transaction to end), and it
re-reads the head and tries again. The insert runs in a SAVEPOINT, because the store writes inside
the caller's transaction: rolling back the failed attempt must not roll back the caller's change.
On PostgreSQL, writers of a chain first take a transaction-scoped advisory lock on it, so they
queue instead of colliding; the index and retry remain the guarantee (and what other engines use).
Retrying needs READ COMMITTED (PostgreSQL's default) so the re-read sees the winner's row; SQLite
has a single writer, so there a conflict can only come from a writer that committed in between.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms.audit.chain import GENESIS, chain_of, link
from vms.audit.models import AuditRecord
from vms.kernel.clock import as_utc
from vms.kernel.errors import Conflict, ServiceUnavailable
from vms.ports import AuditEntry, AuditLink, AuditQuery

# Attempts per record before giving up: each failure means another writer took the seq, so a
# hundred in a row means a chain under a write storm, which a later retry by the caller may survive.
_ATTEMPTS = 100


class SqlAuditStore:
    """Writes in the caller's transaction; reads with its own sessions.

    `chain_key` (settings.audit.chain_key) makes new links HMAC-SHA256 instead of plain SHA-256.
    """

    transactional = True

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, chain_key: bytes | None = None) -> None:
        self._sessions = sessions
        self._key = chain_key or None

    async def append(self, entries: Sequence[AuditEntry], *, session: AsyncSession | None) -> None:
        """Insert records, each linked to its chain's head (in `session`'s transaction when given)."""
        if not entries:
            return
        if session is not None:
            await self._append_in(session, entries)
            return
        async with self._sessions() as own:
            await self._append_in(own, entries)
            await own.commit()

    async def _append_in(self, session: AsyncSession, entries: Sequence[AuditEntry]) -> None:
        if session.get_bind().dialect.name == "postgresql":
            # Writers of a chain queue on a transaction-scoped advisory lock instead of colliding on
            # the unique index and retrying (30 racing writers: ~6 s of retries, versus none).
            # Sorted, so two transactions writing to the same chains cannot deadlock.
            for chain in sorted({chain_of(entry.tenant_id) for entry in entries}):
                await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(chain, 0))))
        for entry in entries:
            await self._insert_linked(session, entry)

    async def _insert_linked(self, session: AsyncSession, entry: AuditEntry) -> None:
        chain = chain_of(entry.tenant_id)
        for attempt in range(_ATTEMPTS):
            head = (
                await session.execute(
                    select(AuditRecord.seq, AuditRecord.hash)
                    .where(AuditRecord.chain == chain, AuditRecord.seq.is_not(None))
                    .order_by(AuditRecord.seq.desc())
                    .limit(1)
                )
            ).first()
            seq, prev_hash = (int(head.seq or 0), str(head.hash)) if head is not None else (0, GENESIS)
            chained = link(entry, seq=seq + 1, prev_hash=prev_hash, key=self._key)
            try:
                async with session.begin_nested():
                    await session.execute(insert(AuditRecord), [_row(chained)])
                return
            except IntegrityError as exc:
                if await self._exists(session, entry.id):
                    raise Conflict("An audit record with this id already exists; records are never rewritten.") from exc
            # Another writer took this seq; back off a little so a crowd does not retry in lockstep.
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise ServiceUnavailable(f"The audit chain {chain} is too busy to append to; try again.")

    @staticmethod
    async def _exists(session: AsyncSession, ident: uuid.UUID) -> bool:
        found = await session.execute(select(AuditRecord.id).where(AuditRecord.id == ident))
        return found.first() is not None

    async def read_chain(self, tenant_id: uuid.UUID | None, *, after_seq: int, limit: int) -> list[AuditLink]:
        """Up to `limit` links of a tenant's chain after `after_seq`, in seq order."""
        stmt = (
            select(AuditRecord)
            .where(AuditRecord.chain == chain_of(tenant_id), AuditRecord.seq > after_seq)
            .order_by(AuditRecord.seq)
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = (await session.execute(stmt)).scalars().all()
            return [_link(row) for row in rows]

    async def count_unchained(self, tenant_id: uuid.UUID | None) -> int:
        """Rows of the tenant (None: platform) without a link."""
        owner = AuditRecord.tenant_id.is_(None) if tenant_id is None else AuditRecord.tenant_id == tenant_id
        stmt = select(func.count()).select_from(AuditRecord).where(owner, AuditRecord.seq.is_(None))
        async with self._sessions() as session:
            return int((await session.execute(stmt)).scalar_one())

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


def _row(chained: AuditLink) -> dict[str, object]:
    return {
        **chained.entry.model_dump(),
        "chain": chained.chain,
        "seq": chained.seq,
        "prev_hash": chained.prev_hash,
        "hash": chained.hash,
        "alg": chained.alg,
    }


def _link(row: AuditRecord) -> AuditLink:
    # A linked row has every chain column; the partial ones are reported by verification as edited.
    return AuditLink(
        entry=_entry(row),
        chain=row.chain or "",
        seq=int(row.seq or 0),
        prev_hash=row.prev_hash or "",
        hash=row.hash or "",
        alg=row.alg or "",
    )


def _entry(row: AuditRecord) -> AuditEntry:
    entry = AuditEntry.model_validate(row, from_attributes=True)
    entry.at = as_utc(entry.at)
    return entry
