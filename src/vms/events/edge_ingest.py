"""The cloud side of edge buffering: authenticate an edge, upsert its events, store its clips.

Edges are configured in settings (`VMS_EDGE__PEERS`: edge id -> customer and the SHA-256 of its
token), not in a table: there are few, they change with deployments, and the cloud keeps only
hashes. A presented token is hashed and compared in constant time, and an unknown edge id costs
the same comparison, so timing tells nothing.

Delivery from an edge is at-least-once and may repeat, so both writes are idempotent: an event
is upserted by id (an older document than the stored one is ignored), and a clip whose SHA-256
matches the stored one is not written again.
"""

from __future__ import annotations

import hashlib
import hmac
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from vms.edge.schemas import EdgeEvent
from vms.events.models import Event
from vms.kernel.clock import as_utc
from vms.kernel.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthenticated, ValidationFailed
from vms.ports import BlobStore
from vms.settings import EdgeSettings
from vms.uow import UnitOfWork

_NO_HASH = "0" * 64  # compared against when the edge id is unknown, so both cases take as long


@dataclass(frozen=True, slots=True)
class EdgeIdentity:
    """An authenticated edge: its id and the customer it writes for."""

    edge_id: str
    tenant_id: uuid.UUID


def authenticate(settings: EdgeSettings, *, edge_id: str, token: str) -> EdgeIdentity:
    """The edge presenting `token`, or Unauthenticated."""
    peer = settings.peers.get(edge_id)
    presented = hashlib.sha256(token.encode()).hexdigest()
    matches = hmac.compare_digest(presented, peer.token_sha256 if peer else _NO_HASH)
    if peer is None or not matches or not token:
        raise Unauthenticated("Unknown edge or wrong edge token.")
    return EdgeIdentity(edge_id=edge_id, tenant_id=peer.tenant_id)


async def upsert_events(*, uow: UnitOfWork, edge: EdgeIdentity, events: list[EdgeEvent]) -> int:
    """Insert or update the edge's events (newest document wins); returns how many rows changed."""
    changed = 0
    for doc in events:
        if doc.customer_id != edge.tenant_id:
            raise Forbidden(f"Edge {edge.edge_id} may not write events of customer {doc.customer_id}.")
        row = await _event(uow, doc.event_id)
        if row is None:
            if await _exists_elsewhere(uow, doc.event_id):
                raise Conflict(f"Event {doc.event_id} belongs to another customer.")
            row = Event(id=doc.event_id, tenant_id=edge.tenant_id, attributes={"edgeId": edge.edge_id})
            uow.add(row)
        elif _older(doc.updated_at, row.updated_at):
            continue  # a late retry of an earlier state
        _apply(row, doc)
        changed += 1
    await uow.session.flush()
    return changed


async def store_clip(
    *,
    uow: UnitOfWork,
    blobs: BlobStore,
    edge: EdgeIdentity,
    event_id: uuid.UUID,
    sha256: str,
    body: AsyncIterator[bytes],
    max_bytes: int,
) -> bool:
    """Store the event's clip from `body` if it is new; returns whether anything was written."""
    row = await _event(uow, event_id)
    if row is None:
        raise NotFound(f"Event {event_id} not found; send its document first.")
    attributes = dict(row.attributes or {})
    if row.clip_key and attributes.get("clipSha256") == sha256:
        return False  # a repeated upload
    key = f"{edge.tenant_id}/edge/{edge.edge_id}/clips/{event_id}.mp4"
    # Spooled to a file, not memory: many edges may upload clips of tens of MB at once.
    with tempfile.TemporaryDirectory(prefix="vms-edge-clip-") as folder:
        path = Path(folder) / "clip.mp4"
        with path.open("wb") as file:
            size, head, digest = 0, b"", hashlib.sha256()
            async for chunk in body:
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"A clip may be at most {max_bytes} bytes.")
                head = (head + chunk)[:8] if len(head) < 8 else head
                digest.update(chunk)
                file.write(chunk)
        if digest.hexdigest() != sha256:
            raise ValidationFailed("The clip's SHA-256 does not match X-Content-SHA256.")
        if head[4:8] != b"ftyp":
            raise ValidationFailed("The clip is not an MP4 file.")
        await blobs.put_file(key, path, move=True)
    row.clip_key = key
    row.attributes = {**attributes, "clipSha256": sha256}
    await uow.session.flush()
    return True


async def _event(uow: UnitOfWork, event_id: uuid.UUID) -> Any:
    return (await uow.session.execute(select(Event).where(Event.id == event_id))).scalar_one_or_none()


async def _exists_elsewhere(uow: UnitOfWork, event_id: uuid.UUID) -> bool:
    # The tenant filter hides other customers' rows; the primary key would still collide on insert.
    # A Core select of the table (no mapped entity) is outside that filter.
    table = Event.__table__
    stmt = select(table.c.id).where(table.c.id == event_id)
    return (await uow.session.execute(stmt)).first() is not None


def _older(incoming: datetime | None, stored: datetime | None) -> bool:
    return incoming is not None and stored is not None and as_utc(incoming) < as_utc(stored)


def _apply(row: Any, doc: EdgeEvent) -> None:
    meta = doc.detection_metadata
    row.camera_id = doc.camera_id
    row.event_type = doc.event_type
    row.confidence = doc.confidence
    row.occurred_at = doc.timestamp
    row.ended_at = doc.ended_at
    row.priority = doc.priority
    row.status = doc.status
    row.object_class = meta.object_class
    row.tracking_id = meta.tracking_id
    row.bounding_box = list(meta.bounding_box)
    row.clip_error = doc.clip_error
    row.model_version = doc.model_version
    row.detections = doc.detections
    row.tags = list(doc.tags)
    row.updated_at = doc.updated_at or doc.timestamp
    row.last_seen_at = doc.ended_at or doc.timestamp
