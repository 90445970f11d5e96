"""The `incidents` table: requirements §9's incident record plus its lifecycle.

One ongoing condition is one row: the watchdog finds it again at every evaluation by its
`dedupe_key` (e.g. `service:worker:worker-fire_smoke:host-a`) and updates `last_seen_at` and the
actual value, and resolves it when the condition clears. A partial unique index keeps two
unresolved rows of one key from ever existing, even if two watchdogs briefly overlap.

Customer incidents (a camera down) carry the customer's `tenant_id` and the camera, so the tenant
guard shows them to that customer's users (and to users scoped to the camera's part of the tree);
platform-wide ones (a worker down, a model's SLA) have no tenant and only provider staff see them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from vms.kernel.clock import utcnow
from vms.kernel.orm import Base, CameraOwned, HasId, TenantOwned


class IncidentType(StrEnum):
    """What kind of trouble (requirements §9)."""

    LATENCY_BREACH = "LATENCY_BREACH"
    THROUGHPUT_DROP = "THROUGHPUT_DROP"
    SERVICE_FAILURE = "SERVICE_FAILURE"


class Severity(StrEnum):
    """How urgent (requirements §9)."""

    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class IncidentStatus(StrEnum):
    """Where an incident is in its lifecycle."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"  # someone is on it; the watchdog still updates and resolves it
    RESOLVED = "resolved"


UNRESOLVED = (IncidentStatus.OPEN.value, IncidentStatus.ACKNOWLEDGED.value)


class Incident(HasId, TenantOwned, CameraOwned, Base):
    """One incident; `created_at` is when it opened (the record's `timestamp`)."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index(
            "uq_incidents_unresolved_dedupe_key",
            "dedupe_key",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
            mssql_where=text("resolved_at IS NULL"),
        ),
        Index("ix_incidents_created_at", "created_at"),
    )

    # Null for platform-wide incidents: the tenant guard then shows the row to provider staff only.
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(index=True)  # type: ignore[assignment]
    camera_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    ai_model: Mapped[str | None] = mapped_column(String(32))
    incident_type: Mapped[str] = mapped_column(String(24), index=True)
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=IncidentStatus.OPEN.value, index=True)
    actual_value: Mapped[float]
    threshold_value: Mapped[float]
    summary: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(200))  # the role/process (or camera, model) it is about
    dedupe_key: Mapped[str] = mapped_column(String(300))
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What was done about it that the watchdog saw (a supervisor's restart), never invented.
    remediation: Mapped[str | None] = mapped_column(String(500))
    acknowledged_by: Mapped[uuid.UUID | None]
    acknowledged_at: Mapped[datetime | None]
    resolved_by: Mapped[uuid.UUID | None]  # null with resolved_at set: the condition cleared by itself
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime | None]
