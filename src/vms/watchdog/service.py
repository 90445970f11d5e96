"""Incidents: findings reconciled into rows, and what operators do with them.

`reconcile` is the watchdog's half: a finding whose key has an unresolved incident updates it
(`last_seen_at`, the actual value, severity, summary); a new key opens one; an unresolved incident
whose condition was judged and not found is resolved by the watchdog (`resolved_by` null). An
incident an operator resolved while its condition lasts is not reopened until the condition has
cleared once: its `last_seen_at` keeps moving instead, so a decommissioned worker resolved by hand
stays resolved. Openings and resolutions are announced on the `incidents` topic through the
outbox, in the same transaction.

The rest is the API's half: search, one incident, acknowledge, resolve — idempotent and audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select

from vms import outbox
from vms.kernel.clock import as_utc
from vms.kernel.errors import Conflict
from vms.kernel.topics import INCIDENTS
from vms.uow import UnitOfWork
from vms.watchdog.models import UNRESOLVED, Incident, IncidentStatus, IncidentType, Severity
from vms.watchdog.rules import Assessment, Finding
from vms.watchdog.schemas import IncidentMessage, IncidentRead


@dataclass
class Reconciled:
    """What one reconciliation changed."""

    opened: list[Incident] = field(default_factory=list)
    updated: list[Incident] = field(default_factory=list)
    resolved: list[Incident] = field(default_factory=list)


async def reconcile(*, uow: UnitOfWork, assessment: Assessment, now: datetime, still_s: float) -> Reconciled:
    """Bring the incidents in line with what the rules found at `now` (platform scope).

    `still_s`: an operator-resolved incident last seen within this long is the same condition
    still going on (use a little more than the evaluation interval).
    """
    done = Reconciled()
    unresolved = {
        i.dedupe_key: i
        for i in (await uow.session.execute(select(Incident).where(Incident.resolved_at.is_(None)))).scalars()
    }
    found = {f.key: f for f in assessment.findings}
    silenced = await _operator_resolved_lately(
        uow, [k for k in found if k not in unresolved], now - timedelta(seconds=still_s)
    )
    for key, finding in found.items():
        incident = unresolved.get(key)
        if incident is not None:
            _update(incident, finding, now)
            done.updated.append(incident)
        elif key in silenced:
            silenced[key].last_seen_at = now  # still going on, but an operator has closed it
        else:
            incident = _new(finding, now)
            uow.add(incident)
            done.opened.append(incident)
    for key, incident in unresolved.items():
        if key in found or not assessment.judges(key):
            continue
        note = assessment.notes.get(key)
        if note:
            incident.remediation = note[:500]
        incident.status = IncidentStatus.RESOLVED.value
        incident.resolved_at = now
        incident.resolution = (f"Condition cleared. {note}" if note else "Condition cleared.")[:300]
        incident.updated_at = now
        done.resolved.append(incident)
    await uow.flush()
    for incident in done.opened:
        _announce(uow, incident, "opened")
    for incident in done.resolved:
        _announce(uow, incident, "resolved")
    return done


async def _operator_resolved_lately(uow: UnitOfWork, keys: list[str], since: datetime) -> dict[str, Incident]:
    if not keys:
        return {}
    rows = await uow.session.execute(
        select(Incident)
        .where(Incident.dedupe_key.in_(keys), Incident.resolved_by.is_not(None), Incident.last_seen_at >= since)
        .order_by(Incident.resolved_at)
    )
    return {i.dedupe_key: i for i in rows.scalars()}  # the newest per key wins


def _new(finding: Finding, now: datetime) -> Incident:
    return Incident(
        tenant_id=finding.tenant_id,
        camera_id=finding.camera_id,
        ai_model=finding.ai_model,
        incident_type=finding.incident_type.value,
        severity=finding.severity.value,
        status=IncidentStatus.OPEN.value,
        actual_value=finding.actual,
        threshold_value=finding.threshold,
        summary=finding.summary[:500],
        source=finding.source[:200],
        dedupe_key=finding.key[:300],
        created_at=now,
        last_seen_at=now,
    )


def _update(incident: Incident, finding: Finding, now: datetime) -> None:
    incident.actual_value = finding.actual
    incident.threshold_value = finding.threshold
    incident.severity = finding.severity.value
    incident.summary = finding.summary[:500]
    incident.last_seen_at = now


def _announce(uow: UnitOfWork, incident: Incident, change: str) -> None:
    message = IncidentMessage(change=change, incident=incident_read(incident))
    headers = {"tenant": str(incident.tenant_id)} if incident.tenant_id else {}
    outbox.stage_publish(
        uow,
        INCIDENTS,
        key=str(incident.tenant_id or "platform"),
        value=message.model_dump_json(by_alias=True).encode(),
        headers={**headers, "severity": incident.severity},
    )


async def open_counts(*, uow: UnitOfWork) -> dict[tuple[str, str], int]:
    """Unresolved incidents per (type, severity), every pair present (zero where none)."""
    rows = await uow.session.execute(
        select(Incident.incident_type, Incident.severity, func.count())
        .where(Incident.status.in_(UNRESOLVED))
        .group_by(Incident.incident_type, Incident.severity)
    )
    counts = {(t.value, s.value): 0 for t in IncidentType for s in Severity}
    for kind, severity, count in rows.all():
        counts[(kind, severity)] = int(count)
    return counts


# --- the API's half ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentFilter:
    """What an incident list is narrowed to; every field optional."""

    status: IncidentStatus | None = None
    incident_type: IncidentType | None = None
    severity: Severity | None = None
    camera_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    ai_model: str | None = None
    since: datetime | None = None


async def search(
    *, uow: UnitOfWork, filters: IncidentFilter, limit: int, offset: int
) -> tuple[list[IncidentRead], int]:
    """Incidents visible to the unit of work's scope, newest first."""
    stmt = select(Incident).order_by(Incident.created_at.desc(), Incident.id)
    if filters.status:
        stmt = stmt.where(Incident.status == filters.status.value)
    if filters.incident_type:
        stmt = stmt.where(Incident.incident_type == filters.incident_type.value)
    if filters.severity:
        stmt = stmt.where(Incident.severity == filters.severity.value)
    if filters.camera_id:
        stmt = stmt.where(Incident.camera_id == filters.camera_id)
    if filters.customer_id:
        stmt = stmt.where(Incident.tenant_id == filters.customer_id)
    if filters.ai_model:
        stmt = stmt.where(Incident.ai_model == filters.ai_model)
    if filters.since:
        stmt = stmt.where(Incident.created_at >= filters.since)
    rows, total = await uow.page(stmt, limit=limit, offset=offset)
    return [incident_read(i) for i in rows], total


async def get_incident(*, uow: UnitOfWork, incident_id: uuid.UUID) -> IncidentRead:
    """One incident (NotFound outside the caller's scope)."""
    return incident_read(await uow.get(Incident, incident_id, what="Incident"))


async def acknowledge(*, uow: UnitOfWork, incident_id: uuid.UUID, now: datetime) -> IncidentRead:
    """Mark an open incident as being worked on; again is a no-op, a resolved one is a conflict."""
    incident = await uow.get(Incident, incident_id, what="Incident")
    if incident.status == IncidentStatus.RESOLVED.value:
        raise Conflict("This incident is already resolved; there is nothing to acknowledge.")
    if incident.status == IncidentStatus.OPEN.value:
        incident.status = IncidentStatus.ACKNOWLEDGED.value
        incident.acknowledged_at = now
        incident.acknowledged_by = uow.actor.user_id
        incident.updated_at = now
        uow.audit(
            "acknowledge",
            "incident",
            incident.id,
            old={"status": IncidentStatus.OPEN.value},
            new={"status": incident.status},
            tenant_id=incident.tenant_id,
        )
    return incident_read(incident)


async def resolve(*, uow: UnitOfWork, incident_id: uuid.UUID, now: datetime, note: str | None) -> IncidentRead:
    """Resolve an incident by hand; resolving a resolved one changes nothing."""
    incident = await uow.get(Incident, incident_id, what="Incident")
    if incident.status != IncidentStatus.RESOLVED.value:
        before = incident.status
        incident.status = IncidentStatus.RESOLVED.value
        incident.resolved_at = now
        incident.resolved_by = uow.actor.user_id
        incident.resolution = (note or "Resolved by an operator.")[:300]
        incident.updated_at = now
        uow.audit(
            "resolve",
            "incident",
            incident.id,
            old={"status": before},
            new={"status": incident.status, "resolution": incident.resolution},
            tenant_id=incident.tenant_id,
        )
        await uow.flush()
        _announce(uow, incident, "resolved")
    return incident_read(incident)


def incident_read(incident: Incident) -> IncidentRead:
    """The API view of an incident."""
    return IncidentRead(
        incident_id=incident.id,
        timestamp=as_utc(incident.created_at),
        customer_id=incident.tenant_id,
        camera_id=incident.camera_id,
        ai_model=incident.ai_model,
        incident_type=IncidentType(incident.incident_type),
        actual_value=incident.actual_value,
        threshold_value=incident.threshold_value,
        severity=Severity(incident.severity),
        status=IncidentStatus(incident.status),
        summary=incident.summary,
        source=incident.source,
        last_seen_at=as_utc(incident.last_seen_at),
        remediation=incident.remediation,
        acknowledged_at=as_utc(incident.acknowledged_at) if incident.acknowledged_at else None,
        acknowledged_by=incident.acknowledged_by,
        resolved_at=as_utc(incident.resolved_at) if incident.resolved_at else None,
        resolved_by=incident.resolved_by,
        resolution=incident.resolution,
    )
