"""Tables of the events domain: events and their notes."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vms.kernel.orm import Base, CameraOwned, HasId, TenantOwned


class EventStatus(StrEnum):
    """Where an event stands in the operator's workflow (requirements §7)."""

    NEW = "NEW"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"
    FALSE_POSITIVE = "FALSE_POSITIVE"


class Event(HasId, TenantOwned, CameraOwned, Base):
    """A trusted, correlated incident: one per real thing that happened, however many detections."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_tenant_time", "tenant_id", "occurred_at"),
        Index("ix_events_camera_time", "camera_id", "occurred_at"),
        Index("ix_events_tenant_updated", "tenant_id", "updated_at", "id"),  # the live feed's order
    )

    camera_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(32))
    confidence: Mapped[float]
    occurred_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    priority: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.NEW.value, index=True)
    object_class: Mapped[str] = mapped_column(String(64))
    tracking_id: Mapped[str] = mapped_column(String(64))
    bounding_box: Mapped[list[float]] = mapped_column(JSON)
    clip_url: Mapped[str | None] = mapped_column(String(2048))  # a clip hosted elsewhere (edge, CDN); else clip_key
    clip_key: Mapped[str | None] = mapped_column(String(400))  # our 20 s MP4 in the blob store (events.clips)
    clip_error: Mapped[str | None] = mapped_column(String(400))  # why no clip could be cut (not retried)
    snapshot_key: Mapped[str | None] = mapped_column(String(400))
    model_version: Mapped[str] = mapped_column(String(32), default="1")
    detections: Mapped[int] = mapped_column(default=1)
    tags: Mapped[list[str]] = mapped_column(default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime | None]  # every change stamps it, creation included (vms.events.feed)
    # Cross-camera trail (vms.events.links): the same object class moving between adjacent cameras.
    last_seen_at: Mapped[datetime | None]  # frame time of the newest detection stored; links measure gaps by it
    correlation_id: Mapped[uuid.UUID | None] = mapped_column(index=True)  # the trail's first event's id
    linked_event_ids: Mapped[list[str]] = mapped_column(default=list)  # the trail's other events, oldest first


class EventNote(HasId, TenantOwned, Base):
    """An operator's comment on an event."""

    __tablename__ = "event_notes"

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[uuid.UUID | None]
    author: Mapped[str | None] = mapped_column(String(320))
    text: Mapped[str] = mapped_column(Text)
