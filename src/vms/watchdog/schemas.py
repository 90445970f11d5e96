"""Incident shapes. JSON field names are requirements §9's (camelCase): incidentId, customerId, …"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from vms.kernel.paging import Page
from vms.watchdog.models import IncidentStatus, IncidentType, Severity


class Camel(BaseModel):
    """camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class IncidentRead(Camel):
    """requirements §9 incident record, plus its lifecycle."""

    incident_id: uuid.UUID
    timestamp: datetime = Field(description="When the incident opened (UTC).")
    customer_id: uuid.UUID | None = Field(description="The customer it concerns; null for platform-wide incidents.")
    camera_id: uuid.UUID | None = Field(description="The camera it concerns, if one.")
    ai_model: str | None = Field(description="The analytics model it concerns, if one.")
    incident_type: IncidentType
    actual_value: float = Field(
        description="What was measured: ms for latency, segments/min or messages for throughput, "
        "seconds silent or down (hours for a disk forecast) for service failures."
    )
    threshold_value: float = Field(description="The limit it was measured against, in the same unit.")
    severity: Severity
    status: IncidentStatus
    summary: str = Field(description="What is wrong, in one sentence.")
    source: str = Field(description="The role/process, model, camera or store it was seen on.")
    last_seen_at: datetime = Field(description="When the watchdog last found the condition.")
    remediation: str | None = Field(None, description="What was done about it that the watchdog saw (a restart).")
    acknowledged_at: datetime | None = None
    acknowledged_by: uuid.UUID | None = None
    resolved_at: datetime | None = None
    resolved_by: uuid.UUID | None = Field(None, description="Who resolved it; null when the condition cleared.")
    resolution: str | None = Field(None, description="How it ended: the condition cleared, or an operator's note.")


IncidentPage = Page[IncidentRead]


class IncidentResolve(BaseModel):
    """An operator's resolution of an incident."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=300, description="Why it is resolved (kept as the resolution).")


class IncidentMessage(Camel):
    """What the `incidents` topic carries: the incident and what just happened to it."""

    change: str = Field(description="opened | resolved")
    incident: IncidentRead
