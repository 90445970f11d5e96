"""Routes: the watchdog's incidents — list, one, acknowledge, resolve.

Who sees what: provider staff (`platform:ops`) see every incident; a customer's users see the
incidents of their customer (`event:read`; acting needs `event:act`) — the tenant guard drops the
rest, including platform-wide incidents, and a user scoped to part of the site tree sees only their
cameras' incidents. Anything outside the caller's view answers 404.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query

from vms.api.deps import CurrentUser, Paging, UoW
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.kernel.ai_models import AiModel
from vms.kernel.clock import as_utc, utcnow
from vms.watchdog import service
from vms.watchdog.models import IncidentStatus, IncidentType, Severity
from vms.watchdog.schemas import IncidentPage, IncidentRead, IncidentResolve

router = APIRouter(prefix="/incidents", tags=["incidents"])


async def _reader(user: CurrentUser) -> Principal:
    user.require(Permission.PLATFORM_OPS if user.tenant_id is None else Permission.EVENT_READ)
    return user


async def _actor(user: CurrentUser) -> Principal:
    user.require(Permission.PLATFORM_OPS if user.tenant_id is None else Permission.EVENT_ACT)
    return user


Reader = Annotated[Principal, Depends(_reader)]
Actor = Annotated[Principal, Depends(_actor)]


@router.get("", response_model=IncidentPage)
async def list_incidents(
    uow: UoW,
    user: Reader,
    page: Paging,
    status: IncidentStatus | None = None,
    incident_type: IncidentType | None = None,
    severity: Severity | None = None,
    camera_id: uuid.UUID | None = None,
    customer_id: Annotated[uuid.UUID | None, Query(description="Provider staff: one customer's incidents.")] = None,
    ai_model: AiModel | None = None,
    since: Annotated[datetime | None, Query(description="Incidents opened at or after this time.")] = None,
) -> IncidentPage:
    """Incidents matching the filters, newest first."""
    filters = service.IncidentFilter(
        status=status,
        incident_type=incident_type,
        severity=severity,
        camera_id=camera_id,
        customer_id=customer_id,
        ai_model=ai_model.value if ai_model else None,
        since=as_utc(since) if since else None,
    )
    items, total = await service.search(uow=uow, filters=filters, limit=page.limit, offset=page.offset)
    return IncidentPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{incident_id}", response_model=IncidentRead)
async def get_incident(incident_id: uuid.UUID, uow: UoW, user: Reader) -> IncidentRead:
    """One incident."""
    return await service.get_incident(uow=uow, incident_id=incident_id)


@router.post("/{incident_id}/acknowledge", response_model=IncidentRead)
async def acknowledge_incident(incident_id: uuid.UUID, uow: UoW, user: Actor) -> IncidentRead:
    """Say someone is on it (again: no change; a resolved incident: 409). The watchdog still resolves it
    when its condition clears."""
    return await service.acknowledge(uow=uow, incident_id=incident_id, now=utcnow())


@router.post("/{incident_id}/resolve", response_model=IncidentRead)
async def resolve_incident(
    incident_id: uuid.UUID, uow: UoW, user: Actor, body: Annotated[IncidentResolve | None, Body()] = None
) -> IncidentRead:
    """Close an incident by hand (again: no change). While its condition lasts it is not reopened."""
    return await service.resolve(uow=uow, incident_id=incident_id, now=utcnow(), note=body.note if body else None)
