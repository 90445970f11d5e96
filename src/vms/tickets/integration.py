"""A customer's ticket system: its configuration, and delivering tickets to it.

Delivery never loses an escalation: the ticket row is committed first, then sent. If the tracker
refuses or is down, the row keeps `sync_error` and a `next_sync_at` with growing backoff, and the
ticket sync (tickets.sync) tries again; `POST /tickets/{id}/sync` tries at once. Every retry first
looks the ticket up by its reference (`vms-event-<event id>`), so a create whose answer was lost
does not open a second ticket. Undelivered tickets follow the configuration as it is when they are
sent: an Admin who fixes the credentials or switches trackers releases the whole queue.

>>> ticket = await deliver(uow=uow, secrets=container.identity.secrets, ticket_id=ticket.id)
>>> ticket.external_key, ticket.external_url, ticket.sync_error
('INC0010001', 'https://acme.service-now.com/incident.do?sys_id=9d38…', None)
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import select, update

from vms.kernel.clock import utcnow
from vms.kernel.crypto import SecretBox
from vms.kernel.errors import TicketingProblem, TicketingUnavailable, TicketingUnreachable, ValidationFailed, VmsError
from vms.kernel.priority import Priority
from vms.tickets.jira import Jira
from vms.tickets.models import Ticket, TicketIntegration, TicketSystemKind
from vms.tickets.schemas import IntegrationCheck, IntegrationRead, IntegrationUpdate, TicketRead
from vms.tickets.servicenow import ServiceNow
from vms.tickets.systems import RemoteApi, RemoteTicket, RetryPolicy, TicketDraft, TicketSystem
from vms.uow import UnitOfWork

log = structlog.get_logger(__name__)
OPTION_KEYS = ("project_key", "issue_type", "caller", "assignment_group", "category")
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
GIVE_UP_AFTER = 48  # attempts: about two days of hourly retries; then only POST /tickets/{id}/sync
DEFAULT_POLICY = RetryPolicy()  # the API and the sync use it; tests swap in a faster one


# --- configuration ------------------------------------------------------------------------------


async def get_integration(*, uow: UnitOfWork) -> IntegrationRead:
    """The customer's ticket system; built-in when none is configured."""
    row = await _integration(uow)
    return _read(row) if row else IntegrationRead(system=TicketSystemKind.BUILTIN)


async def put_integration(*, uow: UnitOfWork, secrets: SecretBox, data: IntegrationUpdate) -> IntegrationRead:
    """Configure the ticket system (audited, secret sealed); releases undelivered tickets to it at once."""
    row = await _integration(uow)
    before = _read(row) if row else None
    if row is None:
        row = TicketIntegration(tenant_id=uow.tenant_id, system=data.system.value)
        uow.add(row)
    _apply(row, data, secrets)
    row.updated_at = utcnow()
    await uow.flush()
    after = _read(row)
    uow.audit("update" if before else "create", "ticket_integration", row.id, old=before, new=after)
    await uow.session.execute(
        update(Ticket)  # pending or failed deliveries; tickets opened while built-in stay built-in
        .where(Ticket.external_id.is_(None), Ticket.next_sync_at.is_not(None) | Ticket.sync_error.is_not(None))
        .values(next_sync_at=utcnow(), sync_attempts=0)
        .execution_options(synchronize_session=False)
    )
    return after


async def check_integration(
    *, uow: UnitOfWork, secrets: SecretBox, data: IntegrationUpdate | None, policy: RetryPolicy | None = None
) -> IntegrationCheck:
    """Try the given settings (a stored secret fills in an omitted one) or the stored ones; raises what fails."""
    stored = await _integration(uow)
    row = TicketIntegration(system=TicketSystemKind.BUILTIN.value, options={})
    if stored is not None:
        for column in ("system", "base_url", "auth", "username", "secret_sealed", "options", "console_url"):
            setattr(row, column, getattr(stored, column))
    if data is not None:
        _apply(row, data, secrets)
    if row.system == TicketSystemKind.BUILTIN.value:
        return IntegrationCheck(system=TicketSystemKind.BUILTIN, message="Built-in tickets need no connection.")
    try:
        async with connect(row, secrets, policy=policy) as system:
            message = await system.check()
    except TicketingUnavailable as exc:
        # Here the settings under test are the likely cause (a wrong URL), not an outage of ours: a 422.
        raise TicketingUnreachable(f"{exc.detail} Check the base URL and that the tracker is reachable.") from None
    return IntegrationCheck(system=TicketSystemKind(row.system), message=message)


def _apply(row: TicketIntegration, data: IntegrationUpdate, secrets: SecretBox) -> None:
    base_url = str(data.base_url).rstrip("/") if data.base_url else None
    moved = row.system != data.system.value or row.base_url != base_url
    row.system = data.system.value
    row.base_url = base_url
    row.auth = data.auth
    row.username = data.username
    row.options = {k: getattr(data, k) for k in OPTION_KEYS if getattr(data, k) is not None}
    row.console_url = str(data.console_url).rstrip("/") if data.console_url else None
    if data.secret is not None:
        row.secret_sealed = secrets.encrypt(data.secret.get_secret_value())
    elif moved:
        row.secret_sealed = None  # a secret is never sent to a tracker it was not given for
    if data.system is not TicketSystemKind.BUILTIN and row.secret_sealed is None:
        raise ValidationFailed(f"{data.system.value} needs a secret (password, API token or bearer token).")


def _read(row: TicketIntegration) -> IntegrationRead:
    return IntegrationRead(
        system=TicketSystemKind(row.system),
        base_url=row.base_url,
        auth="bearer" if row.auth == "bearer" else "basic",
        username=row.username,
        has_secret=row.secret_sealed is not None,
        console_url=row.console_url,
        updated_at=row.updated_at,
        **{k: row.options.get(k) for k in OPTION_KEYS},
    )


async def _integration(uow: UnitOfWork) -> TicketIntegration | None:
    return (await uow.session.execute(select(TicketIntegration))).scalar_one_or_none()


async def configured_system(*, uow: UnitOfWork) -> TicketSystemKind:
    """Where the customer's new tickets go."""
    row = await _integration(uow)
    return TicketSystemKind(row.system) if row else TicketSystemKind.BUILTIN


@asynccontextmanager
async def connect(
    row: TicketIntegration,
    secrets: SecretBox,
    *,
    policy: RetryPolicy | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[TicketSystem]:
    """The TicketSystem an integration row describes, its connection closed afterwards."""
    secret = secrets.decrypt(row.secret_sealed) if row.secret_sealed else ""
    auth: httpx.Auth = httpx.BasicAuth(row.username or "", secret) if row.auth == "basic" else _Bearer(secret)
    kind = TicketSystemKind(row.system)
    name = "ServiceNow" if kind is TicketSystemKind.SERVICENOW else "Jira"
    api = RemoteApi(
        name=name, base_url=row.base_url or "", auth=auth, policy=policy or DEFAULT_POLICY, transport=transport
    )
    try:
        if kind is TicketSystemKind.SERVICENOW:
            yield ServiceNow(api, options=row.options)
        elif kind is TicketSystemKind.JIRA:
            yield Jira(api, options=row.options)
        else:
            raise ValidationFailed("The built-in ticket system has nothing to connect to.")
    finally:
        await api.close()


class _Bearer(httpx.Auth):
    """`Authorization: Bearer <token>` (ServiceNow OAuth, Jira personal access tokens)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["authorization"] = f"Bearer {self.token}"
        yield request


# --- delivery -----------------------------------------------------------------------------------


def reference(ticket: Ticket) -> str:
    """Our idempotency reference on the remote ticket: one ticket per event, so the event's id."""
    return f"vms-event-{ticket.event_id}" if ticket.event_id else f"vms-ticket-{ticket.id}"


def draft(ticket: Ticket, *, console_url: str | None) -> TicketDraft:
    """The remote ticket's content, from the ticket and the context kept at escalation."""
    context: dict[str, Any] = ticket.context or {}
    base = console_url or context.get("console_url")
    path = context.get("event_path")
    return TicketDraft(
        reference=reference(ticket),
        title=ticket.title,
        description=ticket.description,
        priority=Priority(ticket.priority),
        assignee=ticket.assignee,
        event_url=f"{str(base).rstrip('/')}{path}" if base and path else path,
        camera_name=context.get("camera_name"),
        occurred_at=context.get("occurred_at"),
    )


async def deliver(
    *,
    uow: UnitOfWork,
    secrets: SecretBox,
    ticket_id: uuid.UUID,
    now: datetime | None = None,
    look_up_first: bool = True,
    policy: RetryPolicy | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> TicketRead:
    """Send an undelivered ticket to the customer's tracker and record the outcome on it.

    Call it with the ticket committed and no write pending: the tracker may take seconds. A
    failure is recorded (sync_error, next_sync_at), not raised — the escalation stands either way.
    `look_up_first` (every try but the escalation's own) finds a ticket an earlier try opened but
    could not record, instead of opening a second one.
    """
    now = now or utcnow()
    ticket = await uow.get(Ticket, ticket_id, what="Ticket")
    if ticket.external_id is not None:
        return TicketRead.model_validate(ticket)
    row = await _integration(uow)
    if row is None or row.system == TicketSystemKind.BUILTIN.value:
        ticket.system, ticket.sync_error, ticket.next_sync_at = TicketSystemKind.BUILTIN.value, None, None
        return TicketRead.model_validate(ticket)
    ticket.system = row.system
    content = draft(ticket, console_url=row.console_url)
    try:
        async with connect(row, secrets, policy=policy, transport=transport) as system:
            remote = await _find_earlier(system, content.reference) if look_up_first else None
            remote = remote or await system.create(content)
    except VmsError as exc:  # refused, rejected, unavailable — or a secret the platform key no longer opens
        _failed(ticket, exc.detail, now)
        log.warning("ticket delivery failed", ticket_id=str(ticket.id), system=row.system, error=exc.detail)
        return TicketRead.model_validate(ticket)
    _record(ticket, remote, now)
    read = TicketRead.model_validate(ticket)
    uow.audit("deliver", "ticket", ticket.id, new={"system": ticket.system, "external_key": ticket.external_key})
    return read


async def refresh(
    *,
    uow: UnitOfWork,
    secrets: SecretBox,
    ticket_id: uuid.UUID,
    now: datetime | None = None,
    policy: RetryPolicy | None = None,
) -> TicketRead:
    """Read a delivered ticket's status from its tracker (the tracker is where it is worked)."""
    now = now or utcnow()
    ticket = await uow.get(Ticket, ticket_id, what="Ticket")
    row = await _integration(uow)
    if ticket.external_id is None or row is None or row.system != ticket.system:
        return TicketRead.model_validate(ticket)
    try:
        async with connect(row, secrets, policy=policy) as system:
            remote = await system.fetch(ticket.external_id)
    except VmsError as exc:
        ticket.sync_error, ticket.synced_at = f"Status sync: {exc.detail}"[:400], now  # next try after the interval
        return TicketRead.model_validate(ticket)
    before = ticket.status
    _record(ticket, remote, now)
    if ticket.status != before:
        uow.audit("sync", "ticket", ticket.id, old={"status": before}, new={"status": ticket.status})
    return TicketRead.model_validate(ticket)


async def sync_now(*, uow: UnitOfWork, secrets: SecretBox, ticket_id: uuid.UUID) -> TicketRead:
    """Deliver an undelivered ticket, or refresh a delivered one's status — now."""
    ticket = await uow.get(Ticket, ticket_id, what="Ticket")
    if ticket.external_id is None:
        return await deliver(uow=uow, secrets=secrets, ticket_id=ticket_id)
    return await refresh(uow=uow, secrets=secrets, ticket_id=ticket_id)


async def _find_earlier(system: TicketSystem, ref: str) -> RemoteTicket | None:
    try:
        return await system.find(ref)
    except TicketingProblem:  # a site whose search is off or moved: creating is still right
        return None


def _record(ticket: Ticket, remote: RemoteTicket, now: datetime) -> None:
    ticket.external_id, ticket.external_key, ticket.external_url = remote.external_id, remote.key, remote.url
    ticket.external_status, ticket.status = remote.status_text, remote.status.value
    ticket.sync_error, ticket.next_sync_at, ticket.synced_at, ticket.updated_at = None, None, now, now


def _failed(ticket: Ticket, detail: str, now: datetime) -> None:
    ticket.sync_attempts += 1
    ticket.sync_error = detail[:400]
    if ticket.sync_attempts >= GIVE_UP_AFTER:
        ticket.next_sync_at = None
        ticket.sync_error = f"Gave up after {ticket.sync_attempts} tries: {detail}"[:400]
        return
    wait = min(FIRST_RETRY * 2 ** (ticket.sync_attempts - 1), LONGEST_WAIT)
    ticket.next_sync_at = now + wait
