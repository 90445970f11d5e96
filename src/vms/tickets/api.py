"""Routes under /tickets: the customer's follow-up work. Reading needs event:read (who sees the
events sees their tickets); changing needs ticket:write (Supervisor, Admin). Escalating an event
is `POST /events/{id}/ticket` (events/api.py)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from vms.api.deps import Paging, UoW, require
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.tickets import service
from vms.tickets.models import TicketStatus
from vms.tickets.schemas import TicketPage, TicketRead, TicketUpdate

router = APIRouter(prefix="/tickets", tags=["tickets"])
Reader = Annotated[Principal, Depends(require(Permission.EVENT_READ))]
Writer = Annotated[Principal, Depends(require(Permission.TICKET_WRITE))]


@router.get("", response_model=TicketPage)
async def list_tickets(
    uow: UoW, user: Reader, page: Paging, status: TicketStatus | None = None, event_id: uuid.UUID | None = None
) -> TicketPage:
    """Tickets, newest first; filter by status or event."""
    user.tenant  # noqa: B018  (tickets belong to customers)
    items, total = await service.list_tickets(
        uow=uow, status=status, event_id=event_id, limit=page.limit, offset=page.offset
    )
    return TicketPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{ticket_id}", response_model=TicketRead)
async def get_ticket(ticket_id: uuid.UUID, uow: UoW, user: Reader) -> TicketRead:
    """One ticket."""
    return await service.get_ticket(uow=uow, ticket_id=ticket_id)


@router.patch("/{ticket_id}", response_model=TicketRead)
async def update_ticket(ticket_id: uuid.UUID, body: TicketUpdate, uow: UoW, user: Writer) -> TicketRead:
    """Change status (open, in_progress, closed), assignee or description."""
    return await service.update_ticket(uow=uow, ticket_id=ticket_id, data=body)
