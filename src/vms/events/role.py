"""The events role: detections in, events out (DESIGN.md §5).

Consumes `detections` (one consumer group for the role; instances share the cameras' partitions, so
one camera's detections always meet the same correlator), turns them into events with the
correlator — each camera's confidence thresholds come from the configuration service
(events.thresholds) — stores them, and announces every change on the `events` topic for live
push, notifications and tickets. Open events are closed once their object has been gone a while, and
each event gets its 20 s clip once the post-roll is recorded (events.clips).

Throughput: an open event is extended by every detection of its object (5–25 per second per
camera), but nobody needs each extension stored at once. Openings and closings are written and
announced immediately; extensions are coalesced and written every `update_every_s`, all of a
customer's in one transaction, and consumed offsets are committed in batches. A crash loses at most
that last second of extension — which a restarted correlator could not continue anyway — never an
event's opening or closing.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter, defaultdict
from datetime import datetime

import structlog

from vms.bootstrap import Container
from vms.events import feed, links, service
from vms.events.adjacency import CameraAdjacency
from vms.events.clips import ClipMaker
from vms.events.correlate import Change, Correlator, Observation, Outcome
from vms.events.models import Event
from vms.events.thresholds import ConfiguredThresholds
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

    def __init__(
        self,
        container: Container,
        *,
        correlator: Correlator | None = None,
        expire_every_s: float = 1.0,
        update_every_s: float = 1.0,
        commit_interval_s: float = 0.2,
        clips: ClipMaker | None = None,
        thresholds: ConfiguredThresholds | None = None,
        adjacency: CameraAdjacency | None = None,
    ):
        self.container = container
        self.correlator = correlator or Correlator()
        self.expire_every_s = expire_every_s
        self.update_every_s = update_every_s
        self.commit_interval_s = commit_interval_s
        self.clips = clips or ClipMaker(container)
        self.thresholds = thresholds or ConfiguredThresholds(container)
        self.adjacency = adjacency or CameraAdjacency(container)
        self._updates: dict[uuid.UUID, Outcome] = {}  # open events' newest extension, not yet written
        self._writing = asyncio.Lock()  # one write at a time, so changes are stored and announced in order
        self._tenants: dict[uuid.UUID, uuid.UUID] = {}  # camera → tenant, learned from detections
        self._priorities: dict[uuid.UUID, Priority] = {}  # event → priority of its job
        self.stored = 0
        self.changes: Counter[str] = Counter()  # opened / updated / closed events stored, for metrics

    async def run(self) -> None:
        """Consume detections and close finished events until cancelled."""
        await self.container.bus.ensure_topics(PARTITIONS)
        loops = [
            asyncio.create_task(self._expire_loop()),
            asyncio.create_task(self._update_loop()),
            asyncio.create_task(self.clips.run()),
            asyncio.create_task(self.container.outbox.run()),  # mirrors event metadata (events.mirror)
        ]
        try:
            await run_consumer(
                self.container.bus,
                [DETECTIONS],
                group=GROUP,
                handler=self.handle,
                seen=self.container.cache,
                commit_interval_s=self.commit_interval_s,
            )
        finally:
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await self.write_updates()

    async def handle(self, message: BusMessage) -> None:
        """One detection from a worker."""
        doc = json.loads(message.value)
        camera_id = uuid.UUID(doc["cameraId"])
        tenant_id = uuid.UUID(doc["customerId"])
        self._tenants[camera_id] = tenant_id
        model = AiModel(doc["model"])
        observation = Observation(
            camera_id=camera_id,
            model=model,
            at=datetime.fromisoformat(doc["frameTime"]),
            box=tuple(doc["boundingBox"]),
            object_class=doc["objectClass"],
            score=float(doc["score"]),
            track_id=doc.get("trackingId"),
            threshold=await self.thresholds.get(tenant_id, camera_id, model),
        )
        priority = Priority(doc.get("priority") or MODEL_SPECS[observation.model].default_priority)
        urgent: list[Outcome] = []
        for outcome in self.correlator.observe(observation):
            self._priorities.setdefault(outcome.incident.id, priority)
            if outcome.change is Change.UPDATED:
                self._updates[outcome.incident.id] = outcome
            else:
                urgent.append(outcome)
        await self._store(urgent)

    async def write_updates(self) -> None:
        """Store the coalesced extensions of open events now."""
        batch, self._updates = list(self._updates.values()), {}
        await self._store(batch)

    async def _update_loop(self) -> None:
        while True:
            await asyncio.sleep(self.update_every_s)
            try:
                await self.write_updates()
            except Exception as exc:  # a storage hiccup must not stop later writes
                log.error("writing event updates failed", error=str(exc))

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(self.expire_every_s)
            try:
                closed = self.correlator.expire(utcnow())
                for outcome in closed:
                    self._updates.pop(outcome.incident.id, None)  # the closing carries the newest extent
                await self._store(closed)
            except Exception as exc:  # a storage hiccup must not stop closing events later
                log.error("closing events failed", error=str(exc))

    async def _store(self, outcomes: list[Outcome]) -> None:
        """Write outcomes, one transaction per customer, then announce each stored change."""
        if outcomes:
            async with self._writing:
                await self._write(outcomes)

    async def _write(self, outcomes: list[Outcome]) -> None:
        by_tenant: dict[uuid.UUID, list[Outcome]] = defaultdict(list)
        for outcome in outcomes:
            by_tenant[self._tenants[outcome.incident.camera_id]].append(outcome)
        for tenant_id, batch in by_tenant.items():
            stored = []
            neighbours = await self._neighbours(tenant_id, batch)  # read before the write transaction opens
            linked: dict[uuid.UUID, Event] = {}  # earlier events of a trail that a new one joined
            async with self.container.unit_of_work(TenantScope.of(tenant_id), ACTOR) as uow:  # type: ignore[arg-type]
                for outcome in batch:
                    incident = outcome.incident
                    priority = self._priorities.get(incident.id, MODEL_SPECS[incident.model].default_priority)
                    event = await service.apply_outcome(
                        uow=uow, outcome=outcome, tenant_id=tenant_id, priority=priority
                    )
                    if event is not None:
                        stored.append((outcome, event, priority))
                        if outcome.change is Change.OPENED:
                            for member in await links.link_across_cameras(
                                uow=uow,
                                event=event,
                                neighbours=neighbours.get(incident.camera_id, frozenset()),
                                window_s=self.correlator.rules(incident.model).link_window_s,
                            ):
                                linked[member.id] = member
                await uow.commit()
            if stored:
                feed.changed(tenant_id)  # live streams in this process (single box) push it at once
            for outcome, event, priority in stored:
                linked.pop(event.id, None)  # announced with its own change
                await self._announce(tenant_id, outcome, event, priority)
            for member in linked.values():
                await self._announce_link(tenant_id, member)

    async def _neighbours(self, tenant_id: uuid.UUID, batch: list[Outcome]) -> dict[uuid.UUID, frozenset[uuid.UUID]]:
        """Adjacent cameras of the cameras where events open in this batch (events.adjacency)."""
        opening = {o.incident.camera_id for o in batch if o.change is Change.OPENED}
        return {camera_id: await self.adjacency.neighbours(tenant_id, camera_id) for camera_id in opening}

    async def _announce_link(self, tenant_id: uuid.UUID, event: Event) -> None:
        """An earlier event of a trail now links to a new one: consumers of `events` see it updated."""
        self.changes["linked"] += 1
        document = service.event_read(event).model_dump(mode="json", by_alias=True)
        await self.container.bus.publish(
            EVENTS,
            key=str(event.camera_id),
            value=json.dumps({"change": Change.UPDATED.value, "event": document}).encode(),
            headers={"tenant": str(tenant_id), "priority": event.priority},
        )

    async def _announce(self, tenant_id: uuid.UUID, outcome: Outcome, event: Event, priority: Priority) -> None:
        incident = outcome.incident
        self.stored += 1
        self.changes[outcome.change.value] += 1
        document = service.event_read(event).model_dump(mode="json", by_alias=True)
        await self.container.bus.publish(
            EVENTS,
            key=str(incident.camera_id),
            value=json.dumps({"change": outcome.change.value, "event": document}).encode(),
            headers={"tenant": str(tenant_id), "priority": priority.value},
        )
        if outcome.change is Change.CLOSED:
            self._priorities.pop(incident.id, None)
