"""Tables of the tenants domain: Tenant (a customer) and its License."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vms.kernel.orm import Base, HasId, TenantOwned


class Tenant(HasId, Base):
    """A customer of the provider. Not tenant-owned itself: provider staff manage it."""

    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    contact_email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | suspended | deleted
    ip_allowlist: Mapped[list[str]] = mapped_column(default=list)
    deleted_at: Mapped[datetime | None]


class License(HasId, TenantOwned, Base):
    """What a customer has purchased: camera and edge-server limits, validity, AI models."""

    __tablename__ = "licenses"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    camera_limit: Mapped[int]
    edge_server_limit: Mapped[int] = mapped_column(default=0)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    models: Mapped[list[str]] = mapped_column(default=list)
    updated_at: Mapped[datetime | None]
