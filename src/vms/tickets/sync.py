"""The ticket sync: delivers tickets a tracker could not take at escalation, and keeps delivered
tickets' status in step with the tracker where they are worked.

Each pass (every `every_s`) sends the tickets whose `next_sync_at` has come (backoff doubles from
30 s to an hour per failure; tickets.integration), then reads the status of open delivered tickets
not read for `refresh_every`. One unit of work per ticket, in the ticket's customer's scope, so one
customer's broken tracker cannot hold back another's.

>>> syncer = TicketSync(container)
>>> await syncer.sync_due()           # one pass; `run()` loops
2
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select

from vms.bootstrap import Container
from vms.kernel.clock import utcnow
from vms.kernel.ids import TenantId
from vms.kernel.tenancy import TenantScope
from vms.tickets import integration
from vms.tickets.models import Ticket, TicketStatus, TicketSystemKind
from vms.tickets.schemas import TicketRead
from vms.tickets.systems import RetryPolicy
from vms.uow import Actor, UnitOfWork

log = structlog.get_logger(__name__)
ACTOR = Actor.system("ticket-sync")


class TicketSync:
    """Delivers due tickets and refreshes delivered ones, a batch per pass."""

    def __init__(
        self,
        container: Container,
        *,
        every_s: float = 30.0,
        refresh_every: timedelta = timedelta(minutes=5),
        batch: int = 50,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.container = container
        self.every_s = every_s
        self.refresh_every = refresh_every
        self.batch = batch
        self.policy = policy
        self.delivered = 0
        self.failed = 0
        self.refreshed = 0

    async def run(self) -> None:
        """Sync until cancelled."""
        while True:
            try:
                await self.sync_due()
            except Exception as exc:  # one bad pass must not end the sync
                log.error("ticket sync pass failed", error=str(exc))
            await asyncio.sleep(self.every_s)

    async def sync_due(self, *, now: datetime | None = None) -> int:
        """One pass; returns how many tickets were handled."""
        now = now or utcnow()
        async with self.container.unit_of_work(TenantScope.platform(), ACTOR) as uow:
            due = (
                await uow.session.execute(
                    select(Ticket.id, Ticket.tenant_id)
                    .where(Ticket.external_id.is_(None), Ticket.next_sync_at <= now)
                    .order_by(Ticket.next_sync_at)
                    .limit(self.batch)
                )
            ).all()
            stale = (
                await uow.session.execute(
                    select(Ticket.id, Ticket.tenant_id)
                    .where(
                        Ticket.external_id.is_not(None),
                        Ticket.system != TicketSystemKind.BUILTIN.value,
                        Ticket.status != TicketStatus.CLOSED.value,
                        (Ticket.synced_at.is_(None)) | (Ticket.synced_at <= now - self.refresh_every),
                    )
                    .order_by(Ticket.synced_at)
                    .limit(self.batch)
                )
            ).all()
        for ticket_id, tenant_id in due:
            read = await self._one(ticket_id, tenant_id, self._deliver(now))
            if read is not None and read.external_id is not None:
                self.delivered += 1
            elif read is not None:
                self.failed += 1
        for ticket_id, tenant_id in stale:
            if await self._one(ticket_id, tenant_id, self._refresh(now)) is not None:
                self.refreshed += 1
        return len(due) + len(stale)

    def _deliver(self, now: datetime) -> Callable[[UnitOfWork, uuid.UUID], Awaitable[TicketRead]]:
        async def deliver(uow: UnitOfWork, ticket_id: uuid.UUID) -> TicketRead:
            secrets = self.container.identity.secrets
            return await integration.deliver(uow=uow, secrets=secrets, ticket_id=ticket_id, now=now, policy=self.policy)

        return deliver

    def _refresh(self, now: datetime) -> Callable[[UnitOfWork, uuid.UUID], Awaitable[TicketRead]]:
        async def refresh(uow: UnitOfWork, ticket_id: uuid.UUID) -> TicketRead:
            secrets = self.container.identity.secrets
            return await integration.refresh(uow=uow, secrets=secrets, ticket_id=ticket_id, now=now, policy=self.policy)

        return refresh

    async def _one(
        self,
        ticket_id: uuid.UUID,
        tenant_id: uuid.UUID,
        work: Callable[[UnitOfWork, uuid.UUID], Awaitable[TicketRead]],
    ) -> TicketRead | None:
        try:
            async with self.container.unit_of_work(TenantScope.of(TenantId(tenant_id)), ACTOR) as uow:
                read = await work(uow, ticket_id)
                await uow.commit()
                return read
        except Exception as exc:  # one ticket's trouble must not stop the others
            log.error("ticket sync failed", ticket_id=str(ticket_id), error=str(exc))
            return None
