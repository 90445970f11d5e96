"""Tables of the tickets domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vms.kernel.orm import Base, CameraOwned, HasId, TenantOwned


class TicketStatus(StrEnum):
    """Where a ticket stands."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class TicketSystemKind(StrEnum):
    """Where a customer's tickets live: this platform's own table, or their tracker."""

    BUILTIN = "builtin"
    SERVICENOW = "servicenow"
    JIRA = "jira"


class Ticket(HasId, TenantOwned, CameraOwned, Base):
    """A piece of follow-up work, usually escalated from an event.

    `system` is where the ticket lives: "builtin" (this table is the ticket) or an external tracker
    (ServiceNow, Jira) whose id is `external_id` once the integration has delivered it. Until then
    the row is the escalation's safe copy: `sync_error` says why delivery failed and the ticket sync
    retries at `next_sync_at` (tickets.sync), so an escalation is never lost to a tracker outage.
    `context` keeps what the remote ticket is written from (event link, camera name, event time),
    so a retry hours later needs nothing from the events domain.
    """

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_tenant_status", "tenant_id", "status", "created_at"),
        Index("ix_tickets_event", "event_id", unique=True),  # one ticket per event: escalating twice is a no-op
        Index("ix_tickets_sync_due", "next_sync_at"),  # the ticket sync's queue (tickets.sync)
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
    external_key: Mapped[str | None] = mapped_column(String(200))  # what people quote: INC0010001, SEC-24
    external_url: Mapped[str | None] = mapped_column(String(1000))
    external_status: Mapped[str | None] = mapped_column(String(64))  # the tracker's own word: "In Progress"
    sync_error: Mapped[str | None] = mapped_column(String(400))
    sync_attempts: Mapped[int] = mapped_column(default=0)
    next_sync_at: Mapped[datetime | None]
    synced_at: Mapped[datetime | None]
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime | None]


class TicketIntegration(HasId, TenantOwned, Base):
    """A customer's ticket system: which one, where, and how to sign in (one per customer).

    The secret (password, API token or OAuth bearer token) is stored sealed with the platform's
    SecretBox, like camera credentials, and never leaves through the API.
    """

    __tablename__ = "ticket_integrations"
    __table_args__ = (UniqueConstraint("tenant_id", name="uq_ticket_integrations_tenant"),)

    system: Mapped[str] = mapped_column(String(32))  # TicketSystemKind
    base_url: Mapped[str | None] = mapped_column(String(500))
    auth: Mapped[str] = mapped_column(String(16), default="basic")  # basic | bearer
    username: Mapped[str | None] = mapped_column(String(320))
    secret_sealed: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # project key, issue type, caller …
    console_url: Mapped[str | None] = mapped_column(String(500))  # links back to events in our console
    updated_at: Mapped[datetime | None]
