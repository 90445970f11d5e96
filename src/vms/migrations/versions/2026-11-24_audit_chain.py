"""audit chain: seq, prev_hash, hash and alg on audit_log, one hash chain per tenant

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24

Records already in the log are chained here, per tenant in (at, id) order, with plain SHA-256 (a
migration has no chain key): verification then covers the whole log, not only what comes after the
upgrade. That needs UPDATEs on a table whose triggers refuse them, so the triggers are lifted for
the backfill and put back within the same migration (on PostgreSQL inside its transaction).
The columns stay nullable in the database: a row inserted around the application carries no link,
and verification reports such rows as `unchained` instead of the insert failing unnoticed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from vms.audit.chain import GENESIS, chain_of, link
from vms.ports import AuditEntry

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_PAGE = 1000
_COLUMNS = ("chain", "seq", "prev_hash", "hash", "alg")


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("alg", sa.String(length=16), nullable=True))
        batch_op.create_index("ux_audit_log_chain_seq", ["chain", "seq"], unique=True)
    _lift_triggers()
    _chain_existing_records()
    _restore_triggers()


def downgrade() -> None:
    _lift_triggers()  # SQLite drops columns by copying the table, which loses its triggers
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ux_audit_log_chain_seq")
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
    _restore_triggers()


_log = sa.table(
    "audit_log",
    sa.column("id", sa.Uuid()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("tenant_id", sa.Uuid()),
    sa.column("actor_id", sa.Uuid()),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("resource_type", sa.String()),
    sa.column("resource_id", sa.String()),
    sa.column("old_value", sa.JSON()),
    sa.column("new_value", sa.JSON()),
    sa.column("request_id", sa.String()),
    sa.column("ip", sa.Text()),
    sa.column("chain", sa.String()),
    sa.column("seq", sa.BigInteger()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
    sa.column("alg", sa.String()),
)


def _chain_existing_records() -> None:
    """Link every existing record, a page at a time (keyset on (at, id)), keeping only each chain's head."""
    bind = op.get_bind()
    heads: dict[str, tuple[int, str]] = {}
    fields = [c for c in _log.c if c.name not in _COLUMNS]
    last: tuple[Any, Any] | None = None
    while True:
        stmt = sa.select(*fields).order_by(_log.c.at, _log.c.id).limit(_PAGE)
        if last is not None:
            at, ident = last
            stmt = stmt.where(sa.or_(_log.c.at > at, sa.and_(_log.c.at == at, _log.c.id > ident)))
        rows = bind.execute(stmt).mappings().all()
        if not rows:
            return
        for row in rows:
            entry = AuditEntry.model_validate(dict(row))
            seq, prev_hash = heads.get(chain_of(entry.tenant_id), (0, GENESIS))
            chained = link(entry, seq=seq + 1, prev_hash=prev_hash, key=None)
            bind.execute(
                sa.update(_log)
                .where(_log.c.id == row["id"])
                .values(
                    chain=chained.chain,
                    seq=chained.seq,
                    prev_hash=chained.prev_hash,
                    hash=chained.hash,
                    alg=chained.alg,
                )
            )
            heads[chained.chain] = (chained.seq, chained.hash)
        last = (rows[-1]["at"], rows[-1]["id"])


def _lift_triggers() -> None:
    """Let this migration UPDATE audit_log (or copy the table); _restore_triggers puts the refusal back."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    elif dialect == "postgresql":
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    elif dialect == "mssql":
        op.execute("DISABLE TRIGGER audit_log_append_only ON audit_log")


def _restore_triggers() -> None:
    """The same refusal the foundation migration (0001) installs."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    elif dialect == "mssql":
        op.execute("ENABLE TRIGGER audit_log_append_only ON audit_log")
