"""Event shapes. JSON field names are requirements §7's (camelCase): eventId, customerId, …"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from vms.events.models import EventStatus
from vms.kernel.ai_models import AiModel
from vms.kernel.paging import Page
from vms.kernel.priority import Priority


class Camel(BaseModel):
    """camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class DetectionMetadata(Camel):
    """Where and what was seen (requirements §7)."""

    bounding_box: list[float] = Field(description="x, y, width, height as fractions of the frame.")
    object_class: str
    tracking_id: str


class EventRead(Camel):
    """requirements §7 Event, plus end time, tags, model version and the supporting detection count."""

    event_id: uuid.UUID
    customer_id: uuid.UUID
    camera_id: uuid.UUID
    event_type: AiModel
    confidence: float = Field(ge=0, le=1)
    timestamp: datetime
    ended_at: datetime | None = None
    detection_metadata: DetectionMetadata
    clip_url: str | None = Field(
        None, description="The 20 s MP4 around the event (10 s before, 10 s after), a signed URL that expires."
    )
    snapshot_url: str | None = Field(None, description="A JPEG of the event's moment, a signed URL that expires.")
    clip_error: str | None = Field(None, description="Why no clip could be cut (no recording at the time …).")
    ticket_id: uuid.UUID | None = Field(None, description="The ticket this event was escalated to.")
    priority: Priority
    status: EventStatus
    tags: list[str] = Field(default_factory=list)
    model_version: str = "1"
    detections: int = 1
    updated_at: datetime | None = Field(None, description="Last change; live-push clients keep the newest per event.")
    correlation_id: uuid.UUID | None = Field(
        None,
        description="The same object seen on adjacent cameras: the id of its trail's first event, shared by every "
        "event of the trail; null when not linked. Filter the inbox with ?correlation_id=.",
    )
    linked_event_ids: list[uuid.UUID] = Field(
        default_factory=list, description="The trail's other events, oldest first (cross-camera correlation)."
    )


EventPage = Page[EventRead]
Tag = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[^\x00-\x1f]+$")]


class EventAction(BaseModel):
    """An operator's decision on an event."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["acknowledge", "resolve", "false_positive", "reopen"]
    note: str | None = Field(None, max_length=4000, description="Optional note stored with the action.")


class EventTags(BaseModel):
    """Replace an event's tags (False Alarm, Critical, custom)."""

    model_config = ConfigDict(extra="forbid")

    tags: list[Tag] = Field(max_length=20)


class NoteCreate(BaseModel):
    """A comment on an event."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000)


class NoteRead(BaseModel):
    """A comment as shown in the thread."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    author: str | None
    text: str
    created_at: datetime


class FeedbackRead(Camel):
    """False alarms of one camera and model over the window, and a threshold that would stop them."""

    camera_id: uuid.UUID
    event_type: AiModel
    events: int = Field(description="Events in the window.")
    false_positives: int = Field(description="Of those, marked false positive by operators.")
    false_positive_rate: float = Field(ge=0, le=1)
    current_threshold: float = Field(description="The camera's confidence threshold in force now (configuration).")
    proposed_threshold: float | None = Field(
        None, description="Just above the most confident false alarm; null when false alarms are too rare to act on."
    )
    genuine_suppressed: int = Field(0, description="Events not marked false that the proposal would also have dropped.")


class FeedbackReport(Camel):
    """The false-positive feedback of a window, worst rate first."""

    since: datetime
    until: datetime
    items: list[FeedbackRead]
