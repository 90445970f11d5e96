"""Findings become incidents: one row per ongoing condition, auto-resolved when it clears, announced."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from vms.kernel.tenancy import TenantScope
from vms.kernel.topics import INCIDENTS
from vms.outbox import OutboxMessage
from vms.uow import Actor
from vms.watchdog import service
from vms.watchdog.models import Incident, IncidentType, Severity
from vms.watchdog.rules import Assessment, Finding

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
WORKER_DOWN = Finding(
    key="service:worker:worker-anpr:h:1",
    incident_type=IncidentType.SERVICE_FAILURE,
    severity=Severity.CRITICAL,
    actual=95.0,
    threshold=90.0,
    summary="The worker process h:1 has sent no heartbeat for 95 s.",
    source="worker h:1",
)


def judged(*findings: Finding, families=("service",), notes=None) -> Assessment:
    return Assessment(findings=list(findings), families=set(families), notes=dict(notes or {}))


async def reconcile(container, assessment: Assessment, at: datetime) -> service.Reconciled:
    async with container.unit_of_work(TenantScope.platform(), Actor.system("watchdog")) as uow:
        changes = await service.reconcile(uow=uow, assessment=assessment, now=at, still_s=35)
        await uow.commit()
    return changes


async def incidents(container) -> list[Incident]:
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        return list((await uow.session.execute(select(Incident).order_by(Incident.created_at))).scalars())


async def announcements(container) -> list[dict]:
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        rows = (
            await uow.session.execute(
                select(OutboxMessage).where(OutboxMessage.target == INCIDENTS).order_by(OutboxMessage.id)
            )
        ).scalars()
        return [json.loads(r.payload) for r in rows]


async def test_an_ongoing_condition_is_one_incident_updated_at_each_evaluation(container):
    opened = await reconcile(container, judged(WORKER_DOWN), T0)
    assert len(opened.opened) == 1
    later = replace(WORKER_DOWN, actual=140.0, summary="The worker process h:1 has sent no heartbeat for 140 s.")
    again = await reconcile(container, judged(later), T0 + timedelta(seconds=15))
    assert again.opened == [] and len(again.updated) == 1
    [row] = await incidents(container)
    assert row.status == "open"
    assert row.actual_value == 140.0 and "140 s" in row.summary
    assert row.last_seen_at == T0 + timedelta(seconds=15) and row.created_at == T0
    assert [m["change"] for m in await announcements(container)] == ["opened"]


async def test_a_cleared_condition_resolves_its_incident_with_the_restart_seen_and_announces_it(container):
    await reconcile(container, judged(WORKER_DOWN), T0)
    note = "The worker process was restarted: h:2 beating since 2026-11-24 12:00:20 UTC."
    cleared = await reconcile(container, judged(notes={WORKER_DOWN.key: note}), T0 + timedelta(seconds=30))
    assert len(cleared.resolved) == 1
    [row] = await incidents(container)
    assert row.status == "resolved" and row.resolved_at == T0 + timedelta(seconds=30)
    assert row.resolved_by is None and row.remediation == note
    assert row.resolution.startswith("Condition cleared.")
    messages = await announcements(container)
    assert [m["change"] for m in messages] == ["opened", "resolved"]
    assert messages[1]["incident"]["incidentId"] == str(row.id)
    assert messages[1]["incident"]["status"] == "resolved"


async def test_an_incident_is_left_alone_when_its_rule_could_not_judge(container):
    await reconcile(container, judged(WORKER_DOWN), T0)
    await reconcile(container, judged(families=("camera",)), T0 + timedelta(seconds=15))
    [row] = await incidents(container)
    assert row.status == "open"


async def test_the_condition_coming_back_after_it_cleared_opens_a_new_incident(container):
    await reconcile(container, judged(WORKER_DOWN), T0)
    await reconcile(container, judged(), T0 + timedelta(seconds=15))
    reopened = await reconcile(container, judged(WORKER_DOWN), T0 + timedelta(seconds=30))
    assert len(reopened.opened) == 1
    assert [r.status for r in await incidents(container)] == ["resolved", "open"]


async def test_an_incident_an_operator_resolved_is_not_reopened_while_the_condition_lasts(container):
    await reconcile(container, judged(WORKER_DOWN), T0)
    [row] = await incidents(container)
    async with container.unit_of_work(TenantScope.platform(), Actor(user_id=uuid.uuid4(), email="ops@x")) as uow:
        await service.resolve(uow=uow, incident_id=row.id, now=T0 + timedelta(seconds=5), note="decommissioned")
        await uow.commit()
    for step in (15, 30, 45):
        changes = await reconcile(container, judged(WORKER_DOWN), T0 + timedelta(seconds=step))
        assert changes.opened == []
    [row] = await incidents(container)
    assert row.status == "resolved" and row.resolution == "decommissioned"
    assert row.last_seen_at == T0 + timedelta(seconds=45)
    # once it has cleared, the same condition is news again
    await reconcile(container, judged(), T0 + timedelta(seconds=60))
    back = await reconcile(container, judged(WORKER_DOWN), T0 + timedelta(seconds=200))
    assert len(back.opened) == 1


async def test_open_counts_cover_every_type_and_severity(container):
    camera = Finding(
        key=f"camera:{uuid.uuid4()}",
        incident_type=IncidentType.SERVICE_FAILURE,
        severity=Severity.HIGH,
        actual=300.0,
        threshold=120.0,
        summary="Camera 'Gate' has been offline for 5 min.",
        source="camera",
        tenant_id=uuid.uuid4(),
    )
    await reconcile(container, judged(WORKER_DOWN, camera, families=("service", "camera")), T0)
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        counts = await service.open_counts(uow=uow)
    assert len(counts) == 12
    assert counts[("SERVICE_FAILURE", "CRITICAL")] == 1
    assert counts[("SERVICE_FAILURE", "HIGH")] == 1
    assert sum(counts.values()) == 2
