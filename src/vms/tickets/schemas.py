"""Ticket shapes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from vms.kernel.paging import Page
from vms.kernel.priority import Priority
from vms.tickets.models import TicketStatus


class TicketCreate(BaseModel):
    """What an operator adds when escalating (the rest comes from the event)."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=200, description="Default: the event's type and camera.")
    description: str = Field("", max_length=8000, description="What needs doing.")
    priority: Priority | None = Field(None, description="Default: the event's priority.")
    assignee: str | None = Field(None, max_length=320, description="Who should handle it (name or email).")


class TicketUpdate(BaseModel):
    """Change a ticket's status, assignee or description."""

    model_config = ConfigDict(extra="forbid")

    status: TicketStatus | None = None
    assignee: str | None = Field(None, max_length=320)
    description: str | None = Field(None, max_length=8000)


class TicketRead(BaseModel):
    """A ticket."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_id: uuid.UUID | None
    camera_id: uuid.UUID | None
    title: str
    description: str
    priority: Priority
    status: TicketStatus
    assignee: str | None
    system: str = Field(description="Where the ticket lives: builtin, or an external tracker.")
    external_id: str | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime | None


TicketPage = Page[TicketRead]
