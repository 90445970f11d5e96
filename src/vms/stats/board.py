"""Heartbeats of every role process, and the fleet's SLA figures merged from them.

Every role (api, ingest, worker, events, retention, tickets, watchdog) beats on `heartbeats` every
`HEARTBEAT_S` while it runs (`beating`, wrapped around each role by the CLI and `vms serve`), with
its process's `SlaSnapshot` of the last five minutes and the lag of the consumer groups it watches.
A role whose task dies stops beating even when its process lives on (the single box runs several
roles in one process), which is what the watchdog alarms on (vms.watchdog).

Workers run as their own processes (child processes of `vms serve`, Deployments in a cluster), so
the API process never sees a job: it runs an `SlaBoard` that keeps the newest heartbeat of each
process and merges those heard from within `STALE_AFTER_S` with its own figures. A worker that stops
beating drops out of the figures after that time, not into a silent zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import structlog
from pydantic import BaseModel, Field, ValidationError

from vms.kernel.clock import utcnow
from vms.kernel.topics import HEARTBEATS, PARTITIONS
from vms.messaging import run_consumer
from vms.ports import Bus, BusMessage, Cache
from vms.stats.metrics import Metrics
from vms.stats.sla import SlaSnapshot, merge

log = structlog.get_logger(__name__)
HEARTBEAT_S = 30.0  # requirements §5: heartbeats every 30 s
STALE_AFTER_S = 3 * HEARTBEAT_S  # three missed beats: the process is gone or cut off


def this_process() -> str:
    """`host:pid`, naming this process in heartbeats and snapshot sources."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeat(BaseModel):
    """What a role process says about itself on the `heartbeats` topic."""

    role: str = Field(description="The role (api, ingest, worker, events, retention, tickets, watchdog …).")
    process: str = Field(description="host:pid of the process.")
    detail: str = Field("", description="What the process runs, e.g. its consumer group.")
    at: datetime = Field(description="When it was sent (UTC).")
    started_at: datetime | None = Field(None, description="When the role started beating in this process (UTC).")
    sla: SlaSnapshot = Field(description="The process's SLA figures over the last five minutes.")
    consumer_lag: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="Lag of the consumer groups the process watches: group -> topic -> messages."
    )


async def publish_heartbeats(
    bus: Bus, metrics: Metrics, *, role: str, detail: str = "", every_s: float = HEARTBEAT_S
) -> None:
    """Publish this process's heartbeat now and every `every_s` until cancelled; a bus outage skips beats."""
    process = this_process()
    started_at = utcnow()
    topic_ready = False
    while True:
        try:
            if not topic_ready:  # a bus that is down at start is tried again at the next beat
                await bus.ensure_topics({HEARTBEATS: PARTITIONS[HEARTBEATS]})
                topic_ready = True
            await metrics.refresh_lag()
            beat = Heartbeat(
                role=role,
                process=process,
                detail=detail,
                at=utcnow(),
                started_at=started_at,
                sla=metrics.sla.snapshot(),
                consumer_lag=watched_lag(metrics),
            )
            beat.sla.sources = [f"{role} {process}"]
            await bus.publish(HEARTBEATS, key=process, value=beat.model_dump_json().encode(), headers={"role": role})
        except Exception as exc:  # the next beat will try again; the role's work goes on
            log.warning("heartbeat not sent", role=role, error=str(exc))
        await asyncio.sleep(every_s)


def watched_lag(metrics: Metrics) -> dict[str, dict[str, int]]:
    """The consumer lag last read into `vms_bus_consumer_lag`, as group -> topic -> messages."""
    lag: dict[str, dict[str, int]] = {}
    for family in metrics.consumer_lag.collect():
        for sample in family.samples:
            lag.setdefault(sample.labels["group"], {})[sample.labels["topic"]] = int(sample.value)
    return lag


@contextlib.asynccontextmanager
async def beating(
    bus: Bus, metrics: Metrics, *, role: str, detail: str = "", every_s: float = HEARTBEAT_S
) -> AsyncIterator[None]:
    """Beat for `role` while the block runs: a role that ends or crashes stops beating.

    >>> async with beating(container.bus, container.metrics, role="events"):
    ...     await EventsRole(container).run()
    """
    task = asyncio.create_task(publish_heartbeats(bus, metrics, role=role, detail=detail, every_s=every_s))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class SlaBoard:
    """The newest heartbeat of each process, merged on demand with this process's own figures.

    >>> board = SlaBoard(bus, metrics, cache=cache)
    >>> task = asyncio.create_task(board.run())
    >>> board.snapshot().models
    """

    def __init__(self, bus: Bus, metrics: Metrics, *, cache: Cache, stale_after_s: float = STALE_AFTER_S) -> None:
        self.bus = bus
        self.metrics = metrics
        self.cache = cache
        self.stale_after = timedelta(seconds=stale_after_s)
        self.process = this_process()
        self.latest: dict[str, Heartbeat] = {}

    async def run(self) -> None:
        """Follow the heartbeats until cancelled (its own group: every board sees every beat)."""
        group = f"sla-board-{self.process}"
        await run_consumer(self.bus, [HEARTBEATS], group=group, handler=self.handle, seen=self.cache)

    async def handle(self, message: BusMessage) -> None:
        """Keep a heartbeat if it is the newest of its process; ignore what is not one."""
        try:
            beat = Heartbeat.model_validate_json(message.value)
        except ValidationError as exc:
            log.warning("heartbeat not understood; skipped", error=str(exc)[:200])
            return
        if beat.process == self.process:
            return  # our own figures come from our registry, not twice
        known = self.latest.get(beat.process)
        if known is None or beat.at >= known.at:
            self.latest[beat.process] = beat

    def fresh(self) -> list[Heartbeat]:
        """The heartbeats heard from within `stale_after_s`, newest process first."""
        since = utcnow() - self.stale_after
        return sorted((b for b in self.latest.values() if b.at >= since), key=lambda b: b.at, reverse=True)

    def snapshot(self) -> SlaSnapshot:
        """This process's figures merged with every live worker's."""
        own = self.metrics.sla.snapshot()
        own.sources = [f"this process {self.process}"]
        return merge([own, *(b.sla for b in self.fresh())])
