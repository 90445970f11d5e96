"""The false-positive feedback loop: what operators marked as false alarms, per camera and model,
and the confidence threshold that would have silenced them.

Operators' "false positive" clicks are the best ground truth a site has. Per camera and model over
a window this reports the false-positive rate and, where false alarms are frequent enough to act
on (`min_false_positives`, `min_rate`), a proposed camera threshold just above the most confident
false alarm, with its price: how many of the genuine events (not marked false) it would also have
suppressed. Applying it is a normal configuration change of the camera
(`PATCH /config/camera/{id}`), reviewed, versioned and reversible like any other.
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from vms.events.models import Event, EventStatus
from vms.uow import UnitOfWork

STEP = 0.01  # a proposal sits this far above the most confident false alarm


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    """One camera and model over the window."""

    camera_id: uuid.UUID
    event_type: str
    events: int
    false_positives: int
    max_false_confidence: float | None
    proposed_threshold: float | None = None
    genuine_suppressed: int = 0

    @property
    def rate(self) -> float:
        """Share of the events marked false positive."""
        return self.false_positives / self.events if self.events else 0.0


async def false_positive_report(
    *, uow: UnitOfWork, since: datetime, until: datetime, min_false_positives: int = 3, min_rate: float = 0.3
) -> list[FeedbackRow]:
    """Per camera and model with at least one event in [since, until), worst false-positive rate first."""
    is_false = case((Event.status == EventStatus.FALSE_POSITIVE.value, 1), else_=0)
    false_confidence = case((Event.status == EventStatus.FALSE_POSITIVE.value, Event.confidence), else_=None)
    rows = await uow.session.execute(
        select(Event.camera_id, Event.event_type, func.count(), func.sum(is_false), func.max(false_confidence))
        .where(Event.occurred_at >= since, Event.occurred_at < until)
        .group_by(Event.camera_id, Event.event_type)
    )
    report: list[FeedbackRow] = []
    for camera_id, event_type, events, false_positives, max_false in rows.all():
        row = FeedbackRow(camera_id, event_type, int(events), int(false_positives or 0), max_false)
        if row.false_positives >= min_false_positives and row.rate >= min_rate and max_false is not None:
            proposal = min(0.99, math.floor((float(max_false) + STEP) * 100 + 0.5) / 100)
            lost = await uow.session.scalar(
                select(func.count()).where(
                    Event.camera_id == camera_id,
                    Event.event_type == event_type,
                    Event.occurred_at >= since,
                    Event.occurred_at < until,
                    Event.status != EventStatus.FALSE_POSITIVE.value,
                    Event.confidence < proposal,
                )
            )
            row = dataclasses.replace(row, proposed_threshold=proposal, genuine_suppressed=int(lost or 0))
        report.append(row)
    return sorted(report, key=lambda r: (-r.rate, -r.false_positives, str(r.camera_id)))
