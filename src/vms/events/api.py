"""Routes: the events inbox — search, details, operator actions, tags, notes."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response

from vms.api.deps import AppContainer, Paging, UoW, require
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.events import feedback, service
from vms.events.media_api import sign_media_urls
from vms.events.models import EventStatus
from vms.events.push_api import poke_after_commit
from vms.events.schemas import (
    EventAction,
    EventPage,
    EventRead,
    EventTags,
    FeedbackRead,
    FeedbackReport,
    NoteCreate,
    NoteRead,
)
from vms.events.thresholds import ConfiguredThresholds
from vms.kernel.ai_models import AiModel
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.errors import ValidationFailed
from vms.kernel.priority import Priority
from vms.tickets import integration as ticket_delivery
from vms.tickets.schemas import TicketCreate, TicketRead

router = APIRouter(prefix="/events", tags=["events"])
Reader = Annotated[Principal, Depends(require(Permission.EVENT_READ))]
Actor = Annotated[Principal, Depends(require(Permission.EVENT_ACT))]
TicketWriter = Annotated[Principal, Depends(require(Permission.TICKET_WRITE))]


@router.get("", response_model=EventPage)
async def list_events(
    uow: UoW,
    user: Reader,
    page: Paging,
    container: AppContainer,
    since: datetime | None = None,
    until: datetime | None = None,
    camera_id: Annotated[list[uuid.UUID] | None, Query(max_length=200)] = None,
    event_type: AiModel | None = None,
    status: EventStatus | None = None,
    priority: Priority | None = None,
    tag: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in notes or the object class.")] = None,
    correlation_id: Annotated[
        uuid.UUID | None, Query(description="One object's trail across cameras: the events sharing this correlationId.")
    ] = None,
) -> EventPage:
    """The inbox: events matching the filters, newest first."""
    user.tenant  # noqa: B018  (events belong to customers; provider staff have none)
    items, total = await service.search(
        uow=uow,
        since=since,
        until=until,
        camera_ids=camera_id,
        event_type=event_type,
        status=status,
        priority=priority,
        tag=tag,
        text=q,
        correlation_id=correlation_id,
        limit=page.limit,
        offset=page.offset,
    )
    signed = [sign_media_urls(item, user, container) for item in items]
    return EventPage(items=signed, total=total, limit=page.limit, offset=page.offset)


@router.get("/feedback", response_model=FeedbackReport)
async def false_positive_feedback(
    uow: UoW,
    user: Reader,
    container: AppContainer,
    since: datetime | None = None,
    until: datetime | None = None,
    min_false_positives: Annotated[int, Query(ge=1, le=10_000)] = 3,
    min_rate: Annotated[float, Query(ge=0, le=1)] = 0.3,
) -> FeedbackReport:
    """False-positive rate per camera and model (default: the last 7 days) and, where false alarms
    are frequent, the camera threshold that would have stopped them — apply it with PATCH /config/camera/{id}."""
    until = as_utc(until) if until else utcnow()
    since = as_utc(since) if since else until - timedelta(days=7)
    if until <= since or until - since > timedelta(days=92):
        raise ValidationFailed("The window must end after it starts and span at most 92 days.")
    rows = await feedback.false_positive_report(
        uow=uow, since=since, until=until, min_false_positives=min_false_positives, min_rate=min_rate
    )
    thresholds = ConfiguredThresholds(container, ttl_s=0)
    items = [
        FeedbackRead(
            camera_id=row.camera_id,
            event_type=AiModel(row.event_type),
            events=row.events,
            false_positives=row.false_positives,
            false_positive_rate=round(row.rate, 4),
            current_threshold=await thresholds.get(user.tenant, row.camera_id, AiModel(row.event_type)),
            proposed_threshold=row.proposed_threshold,
            genuine_suppressed=row.genuine_suppressed,
        )
        for row in rows
    ]
    return FeedbackReport(since=since, until=until, items=items)


@router.get("/{event_id}", response_model=EventRead)
async def get_event(event_id: uuid.UUID, uow: UoW, user: Reader, container: AppContainer) -> EventRead:
    """One event."""
    return sign_media_urls(await service.get_event(uow=uow, event_id=event_id), user, container)


@router.post("/{event_id}/actions", response_model=EventRead)
async def act_on_event(
    event_id: uuid.UUID,
    body: EventAction,
    uow: UoW,
    user: Actor,
    background: BackgroundTasks,
    container: AppContainer,
) -> EventRead:
    """Acknowledge, resolve, mark as false positive, or reopen."""
    read = await service.act(uow=uow, event_id=event_id, data=body)
    poke_after_commit(background, user.tenant)
    return sign_media_urls(read, user, container)


@router.post("/{event_id}/ticket", status_code=201, response_model=TicketRead)
async def escalate_event(
    event_id: uuid.UUID,
    body: TicketCreate,
    uow: UoW,
    user: TicketWriter,
    background: BackgroundTasks,
    response: Response,
    request: Request,
    container: AppContainer,
) -> TicketRead:
    """Escalate to a ticket (201); an event that already has one answers it with 200.

    With a ServiceNow or Jira integration the ticket is committed first, then delivered: the
    answer carries the tracker's key and URL, or `syncError` if the tracker failed (the ticket
    sync retries; the escalation is never lost)."""
    console_url = str(request.base_url).rstrip("/")
    ticket, created = await service.escalate(uow=uow, event_id=event_id, data=body, console_url=console_url)
    if not created:
        response.status_code = 200
    elif ticket.next_sync_at is not None:
        await uow.commit()  # the escalation is safe before the tracker is called
        ticket = await ticket_delivery.deliver(
            uow=uow, secrets=container.identity.secrets, ticket_id=ticket.id, look_up_first=False
        )
    poke_after_commit(background, user.tenant)
    return ticket


@router.put("/{event_id}/tags", response_model=EventRead)
async def tag_event(
    event_id: uuid.UUID,
    body: EventTags,
    uow: UoW,
    user: Actor,
    background: BackgroundTasks,
    container: AppContainer,
) -> EventRead:
    """Replace the event's tags (False Alarm, Critical, custom)."""
    read = await service.set_tags(uow=uow, event_id=event_id, tags=body.tags)
    poke_after_commit(background, user.tenant)
    return sign_media_urls(read, user, container)


@router.get("/{event_id}/notes", response_model=list[NoteRead])
async def list_event_notes(event_id: uuid.UUID, uow: UoW, user: Reader) -> list[NoteRead]:
    """The comment thread."""
    return await service.list_notes(uow=uow, event_id=event_id)


@router.post("/{event_id}/notes", status_code=201, response_model=NoteRead)
async def add_event_note(
    event_id: uuid.UUID, body: NoteCreate, uow: UoW, user: Actor, background: BackgroundTasks
) -> NoteRead:
    """Add a comment."""
    note = await service.add_note(uow=uow, event_id=event_id, text=body.text)
    poke_after_commit(background, user.tenant)
    return note
