"""The watchdog on the real engines (Kafka, PostgreSQL): a role that stops beating becomes an incident,
announced on the `incidents` topic; when it beats again the incident resolves, announced too."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import select

from tests.conftest import engine_url, make_settings
from vms.bootstrap import build_container
from vms.kernel.tenancy import TenantScope
from vms.kernel.topics import INCIDENTS, PARTITIONS
from vms.stats.board import beating
from vms.uow import Actor
from vms.watchdog.models import Incident
from vms.watchdog.role import WatchdogRole

BEAT_S = 0.5


async def until(check: Callable[[], Awaitable[object]], *, timeout_s: float = 60, what: str = "") -> object:
    """Poll `check` (the database, the tracker, the topic) until it returns something truthy."""
    try:
        async with asyncio.timeout(timeout_s):
            while not (found := await check()):  # noqa: ASYNC110 (polled: there is nothing to wait on)
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"not within {timeout_s} s: {what}") from None
    return found


async def test_a_role_that_stops_beating_opens_an_incident_and_beating_again_resolves_it(
    tmp_path: Path, postgres_url: str
):
    settings = make_settings(
        tmp_path,
        postgres_url,
        bus={"kind": "kafka", "kafka_bootstrap": engine_url("VMS_TEST_KAFKA_BOOTSTRAP")},
        watchdog={"evaluate_every_s": 1, "missed_beats": 3, "lease_s": 10},
    )
    container = build_container(settings)
    await container.bus.ensure_topics(PARTITIONS)
    detail = f"it-{uuid.uuid4().hex[:8]}"  # this run's role, among older runs' beats on the broker
    watchdog = WatchdogRole(container, heartbeat_s=BEAT_S)
    watching = asyncio.create_task(watchdog.run())

    async def events_role(stop: asyncio.Event) -> None:
        async with beating(container.bus, container.metrics, role="events", detail=detail, every_s=BEAT_S):
            await stop.wait()

    async def incident() -> Incident | None:
        async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
            stmt = select(Incident).where(Incident.dedupe_key.like(f"service:events:{detail}:%"))
            return (await uow.session.execute(stmt)).scalar_one_or_none()

    try:
        stop = asyncio.Event()
        role = asyncio.create_task(events_role(stop))

        async def heard() -> bool:
            return any(s.detail == detail for s in watchdog.tracker.services())

        await until(heard, what="the beats are heard")
        stop.set()
        await role  # the role ends; its heartbeats stop with it
        opened = await until(incident, what="an incident opens")
        assert isinstance(opened, Incident)
        assert (opened.status, opened.incident_type, opened.severity) == ("open", "SERVICE_FAILURE", "CRITICAL")
        assert opened.tenant_id is None and opened.source.startswith("events ")

        stop = asyncio.Event()
        role = asyncio.create_task(events_role(stop))  # back again

        async def resolved() -> Incident | None:
            row = await incident()
            return row if row is not None and row.status == "resolved" else None

        closed = await until(resolved, what="the incident resolves")
        assert isinstance(closed, Incident)
        assert closed.id == opened.id and closed.resolved_by is None
        assert closed.resolution.startswith("Condition cleared")
        stop.set()
        await role

        changes = await until(lambda: _announced(container, str(opened.id)), what="both changes announced")
        assert changes == ["opened", "resolved"]
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
        await container.close()


async def _announced(container, incident_id: str) -> list[str] | None:
    """The changes of one incident on the `incidents` topic, once both are there."""
    changes: list[str] = []
    group = f"it-incidents-{uuid.uuid4().hex[:8]}"
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            async with contextlib.aclosing(container.bus.consume([INCIDENTS], group=group)) as stream:
                async for message in stream:
                    doc = json.loads(message.value)
                    if doc["incident"]["incidentId"] == incident_id:
                        changes.append(doc["change"])
                    if len(changes) == 2:
                        break
    return changes if len(changes) == 2 else None
