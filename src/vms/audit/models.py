"""The audit log table used by the SQL audit adapter (append-only: triggers refuse UPDATE and DELETE).

`chain`, `seq`, `prev_hash`, `hash` and `alg` link each row into its tenant's hash chain
(vms.audit.chain); (chain, seq) is unique, which is what serialises concurrent writers of one chain.
They are nullable only so that a row inserted around the application shows up as unchained in
verification rather than being refused unnoticed; the adapter always fills them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vms.kernel.orm import Base


class AuditRecord(Base):
    """A row of the append-only audit log."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ux_audit_log_chain_seq", "chain", "seq", unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    actor_id: Mapped[uuid.UUID | None]
    actor: Mapped[str | None] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(128), index=True)
    old_value: Mapped[dict[str, Any] | None]
    new_value: Mapped[dict[str, Any] | None]
    request_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(Text)
    chain: Mapped[str | None] = mapped_column(String(36))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
    alg: Mapped[str | None] = mapped_column(String(16))
