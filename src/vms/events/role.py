"""The events role: detections in, events out (DESIGN.md §5).

Consumes `detections` (one consumer group for the role; instances share the cameras' partitions, so
one camera's detections always meet the same correlator), turns them into events with the
correlator, stores them, and announces every change on the `events` topic for live push,
notifications and tickets. Open events are closed once their object has been gone a while.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import datetime

import structlog

from vms.bootstrap import Container
from vms.events import service
from vms.events.correlate import Correlator, Observation, Outcome
from vms.kernel.ai_models import MODEL_SPECS, AiModel
from vms.kernel.clock import utcnow
from vms.kernel.priority import Priority
from vms.kernel.tenancy import TenantScope
from vms.kernel.topics import DETECTIONS, EVENTS, PARTITIONS
from vms.messaging import run_consumer
from vms.ports import BusMessage
from vms.uow import Actor

log = structlog.get_logger(__name__)
ACTOR = Actor.system("events")
GROUP = "events"


class EventsRole:
    """Correlates detections into events until cancelled."""

    def __init__(self, container: Container, *, correlator: Correlator | None = None, expire_every_s: float = 1.0):
        self.container = container
        self.correlator = correlator or Correlator()
        self.expire_every_s = expire_every_s
        self._tenants: dict[uuid.UUID, uuid.UUID] = {}  # camera → tenant, learned from detections
        self._priorities: dict[uuid.UUID, Priority] = {}  # event → priority of its job
        self.stored = 0
        self.changes: Counter[str] = Counter()  # opened / updated / closed events stored, for metrics

    async def run(self) -> None:
        """Consume detections and close finished events until cancelled."""
        await self.container.bus.ensure_topics(PARTITIONS)
        expiry = asyncio.create_task(self._expire_loop())
        try:
            await run_consumer(
                self.container.bus, [DETECTIONS], group=GROUP, handler=self.handle, seen=self.container.cache
            )
        finally:
            expiry.cancel()
            await asyncio.gather(expiry, return_exceptions=True)

    async def handle(self, message: BusMessage) -> None:
        """One detection from a worker."""
        doc = json.loads(message.value)
        camera_id = uuid.UUID(doc["cameraId"])
        tenant_id = uuid.UUID(doc["customerId"])
        self._tenants[camera_id] = tenant_id
        observation = Observation(
            camera_id=camera_id,
            model=AiModel(doc["model"]),
            at=datetime.fromisoformat(doc["frameTime"]),
            box=tuple(doc["boundingBox"]),
            object_class=doc["objectClass"],
            score=float(doc["score"]),
            track_id=doc.get("trackingId"),
        )
        priority = Priority(doc.get("priority") or MODEL_SPECS[observation.model].default_priority)
        outcomes = self.correlator.observe(observation)
        for outcome in outcomes:
            self._priorities.setdefault(outcome.incident.id, priority)
        await self._store(outcomes)

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(self.expire_every_s)
            try:
                await self._store(self.correlator.expire(utcnow()))
            except Exception as exc:  # a storage hiccup must not stop closing events later
                log.error("closing events failed", error=str(exc))

    async def _store(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            incident = outcome.incident
            tenant_id = self._tenants[incident.camera_id]
            priority = self._priorities.get(incident.id, MODEL_SPECS[incident.model].default_priority)
            async with self.container.unit_of_work(TenantScope.of(tenant_id), ACTOR) as uow:  # type: ignore[arg-type]
                event = await service.apply_outcome(uow=uow, outcome=outcome, tenant_id=tenant_id, priority=priority)
                await uow.commit()
            if event is None:
                continue
            self.stored += 1
            self.changes[outcome.change.value] += 1
            document = service.event_read(event).model_dump(mode="json", by_alias=True)
            await self.container.bus.publish(
                EVENTS,
                key=str(incident.camera_id),
                value=json.dumps({"change": outcome.change.value, "event": document}).encode(),
                headers={"tenant": str(tenant_id), "priority": priority.value},
            )
            if outcome.change.value == "closed":
                self._priorities.pop(incident.id, None)
