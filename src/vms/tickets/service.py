"""Tickets: open one for an event (once), list, read, update. Delivery to a customer's tracker
(ServiceNow, Jira) is tickets.integration."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from vms.kernel.clock import utcnow
from vms.kernel.priority import Priority
from vms.tickets.integration import configured_system
from vms.tickets.models import Ticket, TicketStatus, TicketSystemKind
from vms.tickets.schemas import TicketCreate, TicketRead, TicketUpdate
from vms.uow import UnitOfWork


async def escalate(
    *,
    uow: UnitOfWork,
    event_id: uuid.UUID,
    camera_id: uuid.UUID,
    default_title: str,
    default_priority: Priority,
    data: TicketCreate,
    context: dict[str, Any] | None = None,
) -> tuple[TicketRead, bool]:
    """The event's ticket, opened now unless it already has one; (ticket, created).

    `context` is what a remote ticket is written from besides title and description (`event_path`,
    `console_url`, `camera_name`, `occurred_at`). With a tracker configured the ticket is queued for
    delivery (`next_sync_at` now); the caller delivers it after committing (tickets.integration).
    """
    existing = (await uow.session.execute(select(Ticket).where(Ticket.event_id == event_id))).scalar_one_or_none()
    if existing is not None:
        return TicketRead.model_validate(existing), False
    ticket = Ticket(
        tenant_id=uow.tenant_id,
        event_id=event_id,
        camera_id=camera_id,
        title=data.title or default_title,
        description=data.description,
        priority=(data.priority or default_priority).value,
        assignee=data.assignee,
        created_by=uow.actor.user_id,
        updated_at=utcnow(),
        context=context or {},
    )
    system = await configured_system(uow=uow)
    if system is not TicketSystemKind.BUILTIN:
        ticket.system, ticket.next_sync_at = system.value, utcnow()
    uow.add(ticket)
    await uow.flush()
    read = TicketRead.model_validate(ticket)
    uow.audit("create", "ticket", ticket.id, new=read)
    return read, True


async def list_tickets(
    *, uow: UnitOfWork, status: TicketStatus | None, event_id: uuid.UUID | None, limit: int, offset: int
) -> tuple[list[TicketRead], int]:
    """The customer's tickets, newest first."""
    stmt = select(Ticket).order_by(Ticket.created_at.desc(), Ticket.id)
    if status is not None:
        stmt = stmt.where(Ticket.status == status.value)
    if event_id is not None:
        stmt = stmt.where(Ticket.event_id == event_id)
    rows, total = await uow.page(stmt, limit=limit, offset=offset)
    return [TicketRead.model_validate(t) for t in rows], total


async def get_ticket(*, uow: UnitOfWork, ticket_id: uuid.UUID) -> TicketRead:
    """One ticket."""
    return TicketRead.model_validate(await uow.get(Ticket, ticket_id, what="Ticket"))


async def update_ticket(*, uow: UnitOfWork, ticket_id: uuid.UUID, data: TicketUpdate) -> TicketRead:
    """Change status, assignee or description (audited)."""
    ticket = await uow.get(Ticket, ticket_id, what="Ticket")
    before = TicketRead.model_validate(ticket)
    for key, value in data.model_dump(exclude_unset=True).items():
        setattr(ticket, key, value.value if isinstance(value, TicketStatus) else value)
    ticket.updated_at = utcnow()
    after = TicketRead.model_validate(ticket)
    uow.audit("update", "ticket", ticket.id, old=before, new=after)
    return after
