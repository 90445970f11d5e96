"""Cross-camera correlation: one object walking from camera to camera leaves one trail of events.

When an event opens, the events role asks for the best earlier event of the same model and object
class on an adjacent camera (events.adjacency) whose sighting lies within the link window
(`Rules.link_window_s`, 30 s by default) of the new one — and for the best later one too, since
cameras' partitions are consumed at their own pace and the middle step of a walk may be stored
last. The gap is the time between the object's last sighting on one camera and its first on the
other, zero when the views overlap. Trackers do not follow objects across
cameras, so class, time and adjacency are the evidence; among candidates whose gaps are within
`TIE_S` of the best, the one whose object was last seen nearest a frame edge — it walked out of
view rather than standing in the middle of it — wins.

Linked events share a `correlation_id`, the id of the trail's earliest event, and each lists its
neighbours in the trail (`linked_event_ids`: the step before, then the step after); the inbox's
`?correlation_id=` filter lists the whole trail. An object is in one place at a time, so a trail is
a chain: a new event attaches only to a step that has not yet gone on to another camera (or, for a
later step, not yet come from one) — two people walking A → B one after the other are two trails,
in whatever order the role consumes their detections — and a trail stops growing at `MAX_TRAIL`
events, beyond which it is a busy area rather than one object. Linking changes at most the three
events involved, so it costs the same however long the trail (only when detections arrive out of
order may a later trail be re-keyed to an earlier first event, touching its members).

The candidates come from the events table, not the correlator's memory: cameras on different
partitions may be correlated by different instances of the role, and a restarted role still links
to events from before its restart.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from vms.events.correlate import Box
from vms.events.models import Event
from vms.kernel.clock import as_utc, utcnow
from vms.uow import UnitOfWork

TIE_S = 2.0  # candidates this close to the best gap count as equally near in time
MAX_TRAIL = 50  # events in one trail; beyond this it is a busy area, not one object
MAX_CANDIDATES = 50  # the nearest events examined per opening


@dataclass(frozen=True, slots=True)
class Sighting:
    """An event as the linker compares it: when its object was first and last seen, and where."""

    event_id: uuid.UUID
    camera_id: uuid.UUID
    first_at: datetime
    last_at: datetime
    box: Box  # the newest box: where the object left the view, for an event that has ended

    @classmethod
    def of(cls, event: Event) -> Sighting:
        """The sighting an event row records."""
        box = event.bounding_box
        return cls(
            event.id,
            event.camera_id,
            as_utc(event.occurred_at),
            as_utc(event.last_seen_at or event.occurred_at),
            (float(box[0]), float(box[1]), float(box[2]), float(box[3])),
        )


def gap_s(a: Sighting, b: Sighting) -> float:
    """Seconds between the earlier sighting's last detection and the later one's first (0 if they overlap)."""
    earlier, later = (a, b) if (a.first_at, str(a.event_id)) <= (b.first_at, str(b.event_id)) else (b, a)
    return max(0.0, (later.first_at - earlier.last_at).total_seconds())


def edge_distance(box: Box) -> float:
    """How far a box is from the nearest frame edge (0: touching it), as a share of the frame."""
    x, y, w, h = box
    return max(0.0, min(x, y, 1.0 - (x + w), 1.0 - (y + h)))


def best_link(new: Sighting, candidates: Sequence[Sighting], *, window_s: float) -> Sighting | None:
    """The candidate the new sighting continues: nearest in time, then nearest a frame edge on leaving."""
    near = [(gap_s(new, c), c) for c in candidates if c.camera_id != new.camera_id]
    near = [(gap, c) for gap, c in near if gap <= window_s]
    if not near:
        return None
    best_gap = min(gap for gap, _ in near)
    ties = [(gap, c) for gap, c in near if gap - best_gap <= TIE_S]

    def exit_box(c: Sighting) -> Box:  # where the object left the earlier of the two views
        return c.box if c.first_at <= new.first_at else new.box

    return min(ties, key=lambda t: (edge_distance(exit_box(t[1])), t[0], str(t[1].event_id)))[1]


async def link_across_cameras(
    *, uow: UnitOfWork, event: Event, neighbours: frozenset[uuid.UUID], window_s: float
) -> list[Event]:
    """Join a newly opened event to the trails of its best matches on adjacent cameras.

    Returns the events whose links changed (the new one included); the caller's unit of work
    commits them, and their `updated_at` stamps push them to live consoles.
    """
    if window_s <= 0 or not neighbours or event.correlation_id is not None:  # off, alone, or linked already
        return []
    new = Sighting.of(event)
    window = timedelta(seconds=window_s)
    rows = await uow.session.execute(
        select(Event)
        .where(
            Event.camera_id.in_(neighbours),
            Event.event_type == event.event_type,
            Event.object_class == event.object_class,
            Event.id != event.id,
            Event.occurred_at <= new.last_at + window,
            Event.last_seen_at >= new.first_at - window,
        )
        .order_by(Event.occurred_at.desc())
        .limit(MAX_CANDIDATES)
    )
    candidates = {row.id: row for row in rows.scalars()}
    if not candidates:
        return []
    starts = await _starts(uow, [uuid.UUID(i) for c in candidates.values() for i in c.linked_event_ids])
    before, after = [], []
    for c in candidates.values():
        at = (as_utc(c.occurred_at), str(c.id))
        if at <= (new.first_at, str(new.event_id)):  # an earlier step: it must not have gone on already
            if not any(starts.get(uuid.UUID(i), at) > at for i in c.linked_event_ids):
                before.append(Sighting.of(c))
        elif not any(starts.get(uuid.UUID(i), at) < at for i in c.linked_event_ids):  # a later one: no step before
            after.append(Sighting.of(c))
    earlier = best_link(new, before, window_s=window_s)
    later = best_link(new, after, window_s=window_s)
    if earlier is not None and await _trail_length(uow, candidates[earlier.event_id]) >= MAX_TRAIL:
        earlier = None
    if earlier is None and later is None:
        return []
    return await _join(
        uow,
        event,
        candidates[earlier.event_id] if earlier else None,
        candidates[later.event_id] if later else None,
    )


async def _starts(uow: UnitOfWork, event_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[datetime, str]]:
    """When each of these events began, as (time, id) so that equal times still order."""
    if not event_ids:
        return {}
    rows = await uow.session.execute(select(Event.id, Event.occurred_at).where(Event.id.in_(set(event_ids))))
    return {event_id: (as_utc(at), str(event_id)) for event_id, at in rows}


async def _trail_length(uow: UnitOfWork, event: Event) -> int:
    if event.correlation_id is None:
        return 1
    count = select(func.count()).select_from(Event).where(Event.correlation_id == event.correlation_id)
    return int((await uow.session.execute(count)).scalar_one())


async def _join(uow: UnitOfWork, event: Event, earlier: Event | None, later: Event | None) -> list[Event]:
    """Put the new event between its earlier and later step; the trail keeps its earliest event's id."""
    changed: dict[uuid.UUID, Event] = {event.id: event}
    trail_id = event.id
    if earlier is not None:
        trail_id = earlier.correlation_id or earlier.id
        earlier.correlation_id = trail_id
        earlier.linked_event_ids = [*earlier.linked_event_ids, str(event.id)]  # its successor comes last
        event.linked_event_ids = [str(earlier.id), *event.linked_event_ids]  # its predecessor first
        changed[earlier.id] = earlier
    event.correlation_id = trail_id
    if later is not None:
        event.linked_event_ids = [*event.linked_event_ids, str(later.id)]
        later.linked_event_ids = [str(event.id), *later.linked_event_ids]
        old_trail = later.correlation_id
        later.correlation_id = trail_id
        changed[later.id] = later
        if old_trail is not None and old_trail != trail_id:  # the later trail now starts earlier: re-key it
            rows = await uow.session.execute(select(Event).where(Event.correlation_id == old_trail))
            for member in rows.scalars():
                member.correlation_id = trail_id
                changed[member.id] = member
    stamp = utcnow()
    for member in changed.values():
        member.updated_at = stamp  # live consoles show the link
    return list(changed.values())
