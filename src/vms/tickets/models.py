"""Tables of the tickets domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vms.kernel.orm import Base, CameraOwned, HasId, TenantOwned


class TicketStatus(StrEnum):
    """Where a ticket stands."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class Ticket(HasId, TenantOwned, CameraOwned, Base):
    """A piece of follow-up work, usually escalated from an event.

    `system` is where the ticket lives: "builtin" (this table is the ticket) or an external tracker
    (ServiceNow, Jira) whose id is `external_id` once the integration has delivered it.
    """

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_tenant_status", "tenant_id", "status", "created_at"),
        Index("ix_tickets_event", "event_id", unique=True),  # one ticket per event: escalating twice is a no-op
    )

    event_id: Mapped[uuid.UUID | None]  # the events domain's id; no foreign key across domains
    camera_id: Mapped[uuid.UUID | None]
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[str] = mapped_column(String(16))  # Priority
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.OPEN.value)
    assignee: Mapped[str | None] = mapped_column(String(320))
    system: Mapped[str] = mapped_column(String(32), default="builtin")
    external_id: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime | None]
