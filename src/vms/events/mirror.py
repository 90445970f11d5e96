"""Event metadata mirrored to the document store (requirements §7 record; MongoDB at scale).

Every insert of an event row and every update that changes it also writes an outbox row holding
the event's §7 document, in the same transaction (vms.outbox): the relay upserts it into the
`event_metadata` collection after the commit, in order, so the mirror converges on the newest
state and a crash after the commit loses nothing. The events role extends an open event about
once a second; the relay upserts only the newest of a document's rows in a batch.

The hook sits on the Event mapper (SQLAlchemy's after_insert / after_update, which may write to
the flush's connection), so every write path — the events role, the operator's actions, clips,
tickets — is mirrored without each remembering to. Statements that bypass the ORM (bulk
`update(Event)`) are not seen; the events domain has none. Importing this module installs the
hook (events.service does).

>>> doc = await container.documents.get("event_metadata", str(event_id))
>>> doc.body["status"]
'ACKNOWLEDGED'
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, object_session

from vms import outbox
from vms.events.models import Event
from vms.kernel.clock import as_utc

COLLECTION = "event_metadata"


def document(event: Event) -> dict[str, Any]:
    """The event's requirements-§7 record (camelCase, as the API and the `events` topic name it)."""
    ticket = (event.attributes or {}).get("ticketId")
    return {
        "eventId": str(event.id),
        "customerId": str(event.tenant_id),
        "cameraId": str(event.camera_id),
        "eventType": event.event_type,
        "confidence": event.confidence,
        "timestamp": as_utc(event.occurred_at).isoformat(),
        "endedAt": as_utc(event.ended_at).isoformat() if event.ended_at else None,
        "detectionMetadata": {
            "boundingBox": list(event.bounding_box or []),
            "objectClass": event.object_class,
            "trackingId": event.tracking_id,
        },
        "status": event.status,
        "priority": event.priority,
        "tags": list(event.tags or []),
        "clipKey": event.clip_key,
        "clipUrl": event.clip_url,
        "clipError": event.clip_error,
        "snapshotKey": event.snapshot_key,
        "modelVersion": event.model_version,
        "detections": event.detections,
        "ticketId": ticket,
        "updatedAt": as_utc(event.updated_at).isoformat() if event.updated_at else None,
    }


def _stage(connection: Connection, target: Event) -> None:
    row = outbox.document_row(
        COLLECTION, str(target.id), document(target), tenant_id=target.tenant_id, at=target.occurred_at
    )
    connection.execute(insert(outbox.OutboxMessage).values(**row))
    session = object_session(target)
    if session is not None:
        session.info[outbox.STAGED_KEY] = True  # the unit of work wakes the relay after its commit


@orm_event.listens_for(Event, "after_insert")
def _mirror_created(_mapper: Mapper[Event], connection: Connection, target: Event) -> None:
    _stage(connection, target)


@orm_event.listens_for(Event, "after_update")
def _mirror_changed(_mapper: Mapper[Event], connection: Connection, target: Event) -> None:
    session = object_session(target)
    # after_update also fires for rows that were only touched; mirror real changes only.
    if session is None or session.is_modified(target, include_collections=False):
        _stage(connection, target)
