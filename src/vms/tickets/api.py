"""Routes under /tickets: the customer's follow-up work. Reading needs event:read (who sees the
events sees their tickets); changing needs ticket:write (Supervisor, Admin). Escalating an event
is `POST /events/{id}/ticket` (events/api.py).

The customer's ticket system (built-in, ServiceNow, Jira) is the Admin's: it holds credentials, so
configuring and testing it need tenant:settings, and its secret is write-only.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends

from vms.api.deps import AppContainer, Paging, UoW, require
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.tickets import integration, service
from vms.tickets.models import TicketStatus
from vms.tickets.schemas import (
    IntegrationCheck,
    IntegrationRead,
    IntegrationUpdate,
    TicketPage,
    TicketRead,
    TicketUpdate,
)

router = APIRouter(prefix="/tickets", tags=["tickets"])
Reader = Annotated[Principal, Depends(require(Permission.EVENT_READ))]
Writer = Annotated[Principal, Depends(require(Permission.TICKET_WRITE))]
Admin = Annotated[Principal, Depends(require(Permission.TENANT_SETTINGS))]


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


# Before /{ticket_id}: "integration" is not a ticket id.
@router.get("/integration", response_model=IntegrationRead)
async def get_ticket_integration(uow: UoW, user: Admin) -> IntegrationRead:
    """The customer's ticket system (built-in when none is configured); never the secret."""
    user.tenant  # noqa: B018
    return await integration.get_integration(uow=uow)


@router.put("/integration", response_model=IntegrationRead)
async def put_ticket_integration(
    body: IntegrationUpdate, uow: UoW, user: Admin, container: AppContainer
) -> IntegrationRead:
    """Choose the ticket system and its connection; undelivered tickets are retried against it at once."""
    user.tenant  # noqa: B018
    return await integration.put_integration(uow=uow, secrets=container.identity.secrets, data=body)


@router.post("/integration/test", response_model=IntegrationCheck)
async def test_ticket_integration(
    uow: UoW, user: Admin, container: AppContainer, body: Annotated[IntegrationUpdate | None, Body()] = None
) -> IntegrationCheck:
    """Try a connection: the body's settings before saving them (the stored secret fills an omitted
    one), or the stored settings. 422 says what the tracker refused, or that nothing answered."""
    user.tenant  # noqa: B018
    return await integration.check_integration(uow=uow, secrets=container.identity.secrets, data=body)


@router.get("/{ticket_id}", response_model=TicketRead)
async def get_ticket(ticket_id: uuid.UUID, uow: UoW, user: Reader) -> TicketRead:
    """One ticket."""
    return await service.get_ticket(uow=uow, ticket_id=ticket_id)


@router.patch("/{ticket_id}", response_model=TicketRead)
async def update_ticket(ticket_id: uuid.UUID, body: TicketUpdate, uow: UoW, user: Writer) -> TicketRead:
    """Change status (open, in_progress, closed), assignee or description."""
    return await service.update_ticket(uow=uow, ticket_id=ticket_id, data=body)


@router.post("/{ticket_id}/sync", response_model=TicketRead)
async def sync_ticket(ticket_id: uuid.UUID, uow: UoW, user: Writer, container: AppContainer) -> TicketRead:
    """Now, rather than at the next sync: deliver an undelivered ticket, or read a delivered one's status."""
    return await integration.sync_now(uow=uow, secrets=container.identity.secrets, ticket_id=ticket_id)
