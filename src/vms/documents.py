"""The embedded document store's table (adapters/documents/sql.py writes it).

It lives outside `adapters/` so the migrations' metadata (vms.migrations.models) sees it: only
`bootstrap.py` and the Alembic env may import adapters. One row per (collection, id); the owner
and time are columns, so a tenant's documents read newest first from the (collection, tenant,
time) index, and the body is one JSON document.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from vms.kernel.orm import Base


class DocumentRecord(Base):
    """A document of a collection (event metadata, configuration history)."""

    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_collection_tenant_at", "collection", "tenant_id", "at"),)

    collection: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    # No foreign key to tenants: a mirror must never refuse a document its source accepted.
    tenant_id: Mapped[uuid.UUID | None]
    at: Mapped[datetime]
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
