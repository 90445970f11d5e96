"""What an edge sends the cloud: event documents (the requirements-§7 record of events.mirror)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_EVENTS_PER_BATCH = 500
Text = Annotated[str, Field(max_length=64)]


class _Document(BaseModel):
    # Unknown keys are ignored: an edge running a newer release may send fields the cloud lacks.
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class DetectionMetadata(_Document):
    """Where and what was detected."""

    bounding_box: list[float] = Field(alias="boundingBox", max_length=8)
    object_class: Text = Field(alias="objectClass")
    tracking_id: Text = Field(alias="trackingId")


class EdgeEvent(_Document):
    """One event document as events.mirror writes it; the cloud upserts it by `eventId`."""

    event_id: uuid.UUID = Field(alias="eventId")
    customer_id: uuid.UUID = Field(alias="customerId")
    camera_id: uuid.UUID = Field(alias="cameraId")
    event_type: str = Field(alias="eventType", min_length=1, max_length=32)
    confidence: float = Field(ge=0.0, le=1.0)
    timestamp: datetime
    ended_at: datetime | None = Field(None, alias="endedAt")
    detection_metadata: DetectionMetadata = Field(alias="detectionMetadata")
    # The values of events.models.EventStatus (another domain's model module: spelled out here).
    status: Literal["NEW", "ACKNOWLEDGED", "RESOLVED", "FALSE_POSITIVE"]
    priority: str = Field(min_length=1, max_length=16)
    tags: list[Text] = Field(default_factory=list, max_length=50)
    clip_error: str | None = Field(None, alias="clipError", max_length=400)
    model_version: str = Field("1", alias="modelVersion", max_length=32)
    detections: int = Field(1, ge=0)
    updated_at: datetime | None = Field(None, alias="updatedAt")


class EdgeEventBatch(BaseModel):
    """Events an edge delivers in one request, oldest change first."""

    events: list[EdgeEvent] = Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)


class EdgeAccepted(BaseModel):
    """What the cloud did with a delivery."""

    received: int = Field(description="Items in the request.")
    changed: int = Field(description="Items that changed the cloud's copy (a repeat changes nothing).")
