"""The watchdog role end to end on the embedded engines: heartbeats and cameras in, incidents, the
`vms_incidents_open` gauge and one evaluating watchdog out; and every role beats while it runs."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from sqlalchemy import select

from tests import factories
from vms.bootstrap import Container
from vms.cameras import service as cameras
from vms.cameras.models import CameraStatus
from vms.kernel.clock import utcnow
from vms.kernel.tenancy import TenantScope
from vms.kernel.topics import HEARTBEATS, PARTITIONS
from vms.stats.board import Heartbeat, beating
from vms.stats.sla import SlaSnapshot
from vms.uow import Actor
from vms.watchdog.models import Incident
from vms.watchdog.role import WatchdogRole


def beat(role: str, process: str, at, *, detail: str = "", started=None, lag=None) -> Heartbeat:
    return Heartbeat(
        role=role,
        process=process,
        detail=detail,
        at=at,
        started_at=started or at,
        sla=SlaSnapshot(at=at, window_s=300, sources=[process], models=[]),
        consumer_lag=lag or {},
    )


async def rows(container: Container) -> list[Incident]:
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        return list((await uow.session.execute(select(Incident).order_by(Incident.created_at))).scalars())


def gauge(container: Container, kind: str, severity: str) -> float:
    value = container.metrics.registry.get_sample_value("vms_incidents_open", {"type": kind, "severity": severity})
    return value or 0.0


async def test_a_worker_that_stops_beating_opens_an_incident_and_its_restart_resolves_it(container):
    role = WatchdogRole(container, camera_source=_no_cameras)
    t0 = utcnow()
    role.tracker.observe(beat("worker", "box:100", t0, detail="worker-fire_smoke", started=t0 - timedelta(hours=1)))
    role.tracker.observe(beat("ingest", "box:50", t0))

    assert (await role.evaluate(t0 + timedelta(seconds=15))).opened == []
    role.tracker.observe(beat("ingest", "box:50", t0 + timedelta(seconds=90)))
    changes = await role.evaluate(t0 + timedelta(seconds=100))
    [incident] = changes.opened
    assert incident.dedupe_key == "service:worker:worker-fire_smoke:box:100"
    assert (incident.incident_type, incident.severity, incident.source) == (
        "SERVICE_FAILURE",
        "CRITICAL",
        "worker box:100",
    )
    assert gauge(container, "SERVICE_FAILURE", "CRITICAL") == 1.0

    # the supervisor starts a new worker process; the watchdog records the restart on the incident
    restarted = t0 + timedelta(seconds=110)
    role.tracker.observe(beat("worker", "box:200", restarted, detail="worker-fire_smoke"))
    role.tracker.observe(beat("ingest", "box:50", restarted))
    changes = await role.evaluate(t0 + timedelta(seconds=115))
    [resolved] = changes.resolved
    assert resolved.id == incident.id and resolved.resolved_by is None
    assert "restarted" in resolved.remediation and "box:200" in resolved.remediation
    assert gauge(container, "SERVICE_FAILURE", "CRITICAL") == 0.0


async def test_a_camera_offline_past_its_grace_is_a_customer_incident_resolved_when_it_is_back(container):
    customer = await factories.customer(container)
    cam = await factories.camera(container, tenant_id=customer.id, name="Gate", status="offline")
    role = WatchdogRole(container)
    grace = container.settings.watchdog.camera_grace_s
    assert (await role.evaluate(utcnow())).opened == []  # still within its grace period
    [incident] = (await role.evaluate(utcnow() + timedelta(seconds=grace + 30))).opened
    assert (incident.tenant_id, incident.camera_id, incident.severity) == (customer.id, cam.id, "HIGH")
    assert "Gate" in incident.summary

    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("ingest")) as uow:
        await cameras.set_status(uow=uow, camera_id=cam.id, status=CameraStatus.ONLINE)
        await uow.commit()
    [resolved] = (await role.evaluate(utcnow() + timedelta(seconds=grace + 45))).resolved
    assert resolved.id == incident.id


async def test_cameras_down_are_read_across_customers_in_one_pass(container):
    first, second = await factories.customer(container), await factories.customer(container)
    offline = await factories.camera(container, tenant_id=first.id, status="offline")
    refused = await factories.camera(container, tenant_id=second.id, status="auth_failed")
    await factories.camera(container, tenant_id=second.id, status="online")
    down = {c.camera_id: c for c in await WatchdogRole(container).cameras_down(utcnow())}
    assert set(down) == {offline.id, refused.id}
    assert (down[offline.id].tenant_id, down[offline.id].status) == (first.id, "offline")
    assert (down[refused.id].tenant_id, down[refused.id].status) == (second.id, "auth_failed")
    assert all(c.since is not None for c in down.values())


async def test_consumer_lag_reported_in_heartbeats_over_the_bound_is_a_throughput_incident(container):
    role = WatchdogRole(container, camera_source=_no_cameras)
    now = utcnow()
    bound = container.settings.watchdog.lag_max_messages
    lag = {"worker-intrusion": {"video-jobs-high": bound + 1}}
    role.tracker.observe(beat("worker", "box:1", now, detail="worker-intrusion", lag=lag))
    [incident] = (await role.evaluate(now)).opened
    assert (incident.dedupe_key, incident.incident_type, incident.ai_model) == (
        "lag:worker-intrusion:video-jobs-high",
        "THROUGHPUT_DROP",
        "intrusion",
    )


async def test_only_the_lease_holder_evaluates(container):
    first = WatchdogRole(container, camera_source=_no_cameras)
    second = WatchdogRole(container, camera_source=_no_cameras)
    now = utcnow()
    for role in (first, second):
        role.started_at = now - timedelta(hours=1)  # both have watched long enough to judge silences
        role.tracker.observe(beat("events", "gone:1", now - timedelta(seconds=300)))
    assert (await first.evaluate(now)) is not None
    assert (await second.evaluate(now)) is None and not second.leading
    assert len(await rows(container)) == 1
    await first.lease.release()
    assert (await second.evaluate(now + timedelta(seconds=15))) is not None  # a standby takes over
    assert len(await rows(container)) == 1  # and finds the same incident, not a second one


async def test_a_role_beats_while_it_runs_and_stops_when_it_crashes(container):
    await container.bus.ensure_topics(PARTITIONS)

    async def crashing_role() -> None:
        await asyncio.sleep(0.3)
        raise RuntimeError("the model ran out of memory")

    async def run() -> None:
        async with beating(container.bus, container.metrics, role="events", every_s=0.05):
            await crashing_role()

    with contextlib.suppress(RuntimeError):
        await run()
    beats = await _drain(container)
    assert len(beats) >= 3 and {b.role for b in beats} == {"events"}
    assert all(b.started_at == beats[0].started_at for b in beats)
    await asyncio.sleep(0.3)
    assert await _drain(container, group="after") == beats  # nothing new since it crashed


async def _drain(container: Container, group: str = "inspect") -> list[Heartbeat]:
    found: list[Heartbeat] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(1.5):
            async with contextlib.aclosing(container.bus.consume([HEARTBEATS], group=group)) as stream:
                async for message in stream:
                    found.append(Heartbeat.model_validate_json(message.value))
    return found


async def _no_cameras(_now) -> list:
    return []
