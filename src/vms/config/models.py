"""Tables of the config domain: each node's overrides and its versions.

System rows belong to no customer, so they live in their own tables; customer, site and camera
rows are tenant-owned and the tenant guard confines them. A node's overrides are one JSON
document (dotted key → value); every change appends a version holding the full snapshot.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vms.kernel.orm import Base, HasId, TenantOwned


class OverrideColumns:
    """A node's current overrides and the number of its latest version."""

    overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime | None]


class VersionColumns:
    """One change of a node: who, when, why, what changed, and the full snapshot after it."""

    version: Mapped[int]
    action: Mapped[str] = mapped_column(String(16))  # replace | patch | delete | rollback
    reason: Mapped[str] = mapped_column(String(500))
    actor_id: Mapped[uuid.UUID | None]
    actor: Mapped[str | None] = mapped_column(String(320))
    snapshot: Mapped[dict[str, Any]]
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    rolled_back_to: Mapped[int | None]


class SystemConfig(OverrideColumns, HasId, Base):
    """The provider's overrides of the built-in defaults (one row, id SYSTEM_NODE_ID)."""

    __tablename__ = "config_system"


class SystemConfigVersion(VersionColumns, HasId, Base):
    """A version of the system overrides."""

    __tablename__ = "config_system_versions"
    __table_args__ = (UniqueConstraint("version"),)


class NodeConfig(OverrideColumns, HasId, TenantOwned, Base):
    """A customer's, site's or camera's overrides (node_id: the tenant, site or camera id)."""

    __tablename__ = "config_nodes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "level", "node_id"),
        CheckConstraint("level IN ('customer', 'site', 'camera')", name="level"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))  # indexed by the unique key
    level: Mapped[str] = mapped_column(String(16))
    node_id: Mapped[uuid.UUID] = mapped_column(index=True)


class NodeConfigVersion(VersionColumns, HasId, TenantOwned, Base):
    """A version of a customer's, site's or camera's overrides."""

    __tablename__ = "config_node_versions"
    __table_args__ = (UniqueConstraint("tenant_id", "level", "node_id", "version"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))  # indexed by the unique key
    level: Mapped[str] = mapped_column(String(16))
    node_id: Mapped[uuid.UUID]
