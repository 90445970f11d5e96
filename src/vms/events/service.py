"""Events: store what the correlator decides, search, and the operator's actions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Text, and_, case, cast, func, or_, select

from vms.cameras import service as cameras
from vms.events import mirror  # noqa: F401 - installs the metadata mirror on every event write
from vms.events.correlate import Change, Outcome
from vms.events.models import Event, EventNote, EventStatus
from vms.events.schemas import DetectionMetadata, EventAction, EventRead, NoteRead
from vms.kernel.ai_models import MODEL_SPECS, AiModel
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.errors import Conflict, NotFound
from vms.kernel.paging import LIKE_ESCAPE, contains_pattern
from vms.kernel.priority import Priority
from vms.tickets import service as tickets
from vms.tickets.schemas import TicketCreate, TicketRead
from vms.uow import UnitOfWork

MEDIA_PATH = "/api/v1/events"  # clip and snapshot URLs; the API signs them per viewer (events/api.py)

# action → (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[EventStatus], EventStatus]] = {
    "acknowledge": (frozenset({EventStatus.NEW}), EventStatus.ACKNOWLEDGED),
    "resolve": (frozenset({EventStatus.NEW, EventStatus.ACKNOWLEDGED}), EventStatus.RESOLVED),
    "false_positive": (frozenset({EventStatus.NEW, EventStatus.ACKNOWLEDGED}), EventStatus.FALSE_POSITIVE),
    "reopen": (frozenset({EventStatus.RESOLVED, EventStatus.FALSE_POSITIVE}), EventStatus.ACKNOWLEDGED),
}


async def apply_outcome(
    *, uow: UnitOfWork, outcome: Outcome, tenant_id: uuid.UUID, priority: Priority, model_version: str = "1"
) -> Event | None:
    """Create the event on OPENED; extend it on UPDATED and CLOSED. Idempotent on the incident id."""
    incident = outcome.incident
    event = await uow.session.get(Event, incident.id)
    if event is None:
        if outcome.change is not Change.OPENED:
            return None  # an update for an event this instance never opened (e.g. after a restart)
        event = Event(
            id=incident.id,
            tenant_id=tenant_id,
            camera_id=incident.camera_id,
            event_type=incident.model.value,
            confidence=round(incident.best_score, 4),
            occurred_at=incident.first_at,
            priority=priority.value,
            object_class=incident.object_class,
            tracking_id=incident.track_id,
            bounding_box=list(incident.box),
            model_version=model_version,
            detections=incident.hits,
            last_seen_at=incident.last_at,  # cross-camera links measure gaps from it (events.links)
            updated_at=utcnow(),  # every change, creation included, stamps the live feed (events.feed)
        )
        uow.add(event)
        await uow.flush()
        return event
    event.confidence = round(max(event.confidence, incident.best_score), 4)
    event.detections = incident.hits
    event.bounding_box = list(incident.box)
    event.last_seen_at = incident.last_at
    if outcome.change is Change.CLOSED:
        event.ended_at = incident.last_at
    event.updated_at = utcnow()
    return event


async def search(
    *,
    uow: UnitOfWork,
    since: datetime | None = None,
    until: datetime | None = None,
    camera_ids: list[uuid.UUID] | None = None,
    event_type: AiModel | None = None,
    status: EventStatus | None = None,
    priority: Priority | None = None,
    tag: str | None = None,
    text: str | None = None,
    correlation_id: uuid.UUID | None = None,
    limit: int,
    offset: int,
) -> tuple[list[EventRead], int]:
    """Events matching every given filter, newest first."""
    stmt = select(Event).order_by(Event.occurred_at.desc(), Event.id)
    if since is not None:
        stmt = stmt.where(Event.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(Event.occurred_at < until)
    if camera_ids:
        stmt = stmt.where(Event.camera_id.in_(camera_ids))
    if correlation_id is not None:  # one object's trail across cameras (events.links)
        stmt = stmt.where(Event.correlation_id == correlation_id)
    for column, value in ((Event.event_type, event_type), (Event.status, status), (Event.priority, priority)):
        if value is not None:
            stmt = stmt.where(column == value.value)
    if tag:
        # Tags are a JSON list; matching the quoted tag in its text works the same on every engine.
        stmt = stmt.where(cast(Event.tags, Text).ilike(contains_pattern(f'"{tag.lower()}"'), escape=LIKE_ESCAPE))
    if text:
        notes = select(EventNote.event_id).where(EventNote.text.ilike(contains_pattern(text), escape=LIKE_ESCAPE))
        stmt = stmt.where(
            or_(Event.id.in_(notes), Event.object_class.ilike(contains_pattern(text), escape=LIKE_ESCAPE))
        )
    rows, total = await uow.page(stmt, limit=limit, offset=offset)
    return [event_read(e) for e in rows], total


async def count_per_bucket(
    *,
    uow: UnitOfWork,
    bounds: list[tuple[datetime, datetime]],
    camera_ids: list[uuid.UUID] | None = None,
    event_type: AiModel | None = None,
) -> list[int]:
    """How many events occurred in each [start, end) window of `bounds` (contiguous, oldest first).

    One query, one conditional sum per window: no dialect-specific date truncation, so SQLite and
    PostgreSQL agree, and buckets may start at any instant (a console's local clock hour). The
    tenant guard and a scoped user's camera scope apply as for `search`.
    """
    if not bounds:
        return []
    occurred = Event.occurred_at
    sums = [func.sum(case((and_(occurred >= start, occurred < end), 1), else_=0)) for start, end in bounds]
    stmt = select(*sums).select_from(Event).where(occurred >= bounds[0][0], occurred < bounds[-1][1])
    if camera_ids:
        stmt = stmt.where(Event.camera_id.in_(camera_ids))
    if event_type is not None:
        stmt = stmt.where(Event.event_type == event_type.value)
    row = (await uow.session.execute(stmt)).one()
    return [int(value or 0) for value in row]  # SUM over no rows is NULL


async def get_event(*, uow: UnitOfWork, event_id: uuid.UUID) -> EventRead:
    """One event."""
    return event_read(await uow.get(Event, event_id, what="Event"))


async def act(*, uow: UnitOfWork, event_id: uuid.UUID, data: EventAction) -> EventRead:
    """Acknowledge, resolve, mark false positive or reopen; repeating the current state is a no-op."""
    event = await uow.get(Event, event_id, what="Event")
    allowed_from, target = TRANSITIONS[data.action]
    current = EventStatus(event.status)
    if current is not target:
        if current not in allowed_from:
            raise Conflict(f"An event that is {current.value} cannot be {data.action.replace('_', ' ')}d.")
        before = {"status": current.value}
        event.status = target.value
        event.updated_at = utcnow()
        uow.audit(data.action, "event", event.id, old=before, new={"status": target.value})
    if data.note:
        await add_note(uow=uow, event_id=event_id, text=data.note)
    return event_read(event)


async def escalate(
    *, uow: UnitOfWork, event_id: uuid.UUID, data: TicketCreate, console_url: str | None = None
) -> tuple[TicketRead, bool]:
    """Open the event's ticket (once: escalating again returns the same ticket); (ticket, created).

    The ticket keeps what an external tracker's ticket is written from: a link to the event in the
    console (`console_url` + the inbox path), the camera's name and the event's time.
    """
    event = await uow.get(Event, event_id, what="Event")
    at = as_utc(event.occurred_at).strftime("%Y-%m-%d %H:%M:%S UTC")
    try:
        camera_name: str | None = (await cameras.get_camera(uow=uow, camera_id=event.camera_id)).name
    except NotFound:  # a camera removed since: the ticket still names it by id
        camera_name = f"camera {event.camera_id}"
    ticket, created = await tickets.escalate(
        uow=uow,
        event_id=event.id,
        camera_id=event.camera_id,
        default_title=f"{MODEL_SPECS[AiModel(event.event_type)].title} at {at}",
        default_priority=Priority(event.priority),
        data=data,
        context={
            "event_path": f"/events?event={event.id}",
            "console_url": console_url,
            "camera_name": camera_name,
            "occurred_at": as_utc(event.occurred_at).isoformat(),
            "event_type": event.event_type,
        },
    )
    if created:
        event.attributes = {**event.attributes, "ticketId": str(ticket.id)}
        event.updated_at = utcnow()  # live consoles show the ticket
    return ticket, created


async def set_tags(*, uow: UnitOfWork, event_id: uuid.UUID, tags: list[str]) -> EventRead:
    """Replace the event's tags (normalised: trimmed, lower-case, unique)."""
    event = await uow.get(Event, event_id, what="Event")
    before = list(event.tags)
    event.tags = sorted({t.strip().lower() for t in tags if t.strip()})
    event.updated_at = utcnow()
    uow.audit("tag", "event", event.id, old={"tags": before}, new={"tags": event.tags})
    return event_read(event)


async def add_note(*, uow: UnitOfWork, event_id: uuid.UUID, text: str) -> NoteRead:
    """Append a comment to the event's thread."""
    event = await uow.get(Event, event_id, what="Event")
    event.updated_at = utcnow()  # live consoles refresh the thread
    note = EventNote(event_id=event_id, author_id=uow.actor.user_id, author=uow.actor.email, text=text)
    uow.add(note)
    await uow.flush()
    uow.audit("create", "event_note", note.id, new={"event_id": str(event_id), "text": text})
    return NoteRead.model_validate(note)


async def list_notes(*, uow: UnitOfWork, event_id: uuid.UUID) -> list[NoteRead]:
    """The event's comments, oldest first."""
    await uow.get(Event, event_id, what="Event")
    rows = await uow.session.execute(
        select(EventNote).where(EventNote.event_id == event_id).order_by(EventNote.created_at)
    )
    return [NoteRead.model_validate(n) for n in rows.scalars()]


def event_read(event: Event) -> EventRead:
    """The requirements-§7 view of an event."""
    return EventRead(
        event_id=event.id,
        customer_id=event.tenant_id,
        camera_id=event.camera_id,
        event_type=AiModel(event.event_type),
        confidence=event.confidence,
        timestamp=as_utc(event.occurred_at),
        ended_at=as_utc(event.ended_at) if event.ended_at else None,
        detection_metadata=DetectionMetadata(
            bounding_box=list(event.bounding_box), object_class=event.object_class, tracking_id=event.tracking_id
        ),
        clip_url=event.clip_url or (f"{MEDIA_PATH}/{event.id}/clip.mp4" if event.clip_key else None),
        snapshot_url=f"{MEDIA_PATH}/{event.id}/snapshot.jpg" if event.snapshot_key else None,
        clip_error=event.clip_error,
        ticket_id=event.attributes.get("ticketId"),
        priority=Priority(event.priority),
        status=EventStatus(event.status),
        tags=list(event.tags),
        model_version=event.model_version,
        detections=event.detections,
        updated_at=as_utc(event.updated_at) if event.updated_at else None,
        correlation_id=event.correlation_id,
        linked_event_ids=[uuid.UUID(i) for i in event.linked_event_ids or ()],
    )
