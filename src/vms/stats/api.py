"""`GET /metrics`: the process's Prometheus metrics, outside /api/v1 like /health; and
`GET /api/v1/ops/sla`: every model's SLA figures over the last five minutes, for provider staff;
`GET /api/v1/statistics/events`: a customer's events per hour or day (the dashboard's chart).

Scrapers rarely sign in with MFA, so besides platform staff (an access token with `platform:ops`)
a static scrape token from `VMS_METRICS__TOKEN` is accepted as the bearer. Anyone else gets 401
(or 403 for a signed-in caller without the permission) as problem+json. Left out of the OpenAPI
document: it is not part of the client API and answers Prometheus text, not JSON.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from vms.api.deps import AppContainer, CurrentUser, UoW, bearer, get_principal, require
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.kernel.ai_models import AiModel
from vms.kernel.errors import Unauthenticated
from vms.stats import event_statistics
from vms.stats.board import SlaBoard
from vms.stats.sla import SlaSnapshot

router = APIRouter(tags=["stats"])
ops_router = APIRouter(prefix="/ops", tags=["ops"])
statistics_router = APIRouter(prefix="/statistics", tags=["statistics"])
EventReader = Annotated[Principal, Depends(require(Permission.EVENT_READ))]


@router.get("/metrics", include_in_schema=False)
async def scrape_metrics(
    request: Request,
    container: AppContainer,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Response:
    """Every metric of this process in the Prometheus text format."""
    if credentials is None:
        raise Unauthenticated("Send 'Authorization: Bearer <scrape token>' (VMS_METRICS__TOKEN) or an access token.")
    token = container.settings.metrics.token
    if not (token and secrets.compare_digest(credentials.credentials.encode(), token.encode())):
        user = await get_principal(request, container, credentials)
        user.require(Permission.PLATFORM_OPS)
    metrics = container.metrics
    return Response(await metrics.render(), media_type=metrics.CONTENT_TYPE)


@ops_router.get("/sla", response_model=SlaSnapshot)
async def get_sla(request: Request, container: AppContainer, user: CurrentUser) -> SlaSnapshot:
    """Per model and priority over the last five minutes: job latency p50/p95/p99 against the SLA target,
    throughput (segments/min) and failures — this process's jobs plus every worker heard from lately
    (`sources` names them; a worker silent for 90 s is left out)."""
    user.require(Permission.PLATFORM_OPS)
    board: SlaBoard | None = getattr(request.app.state, "sla_board", None)  # set by the api role
    if board is None:  # an app without the role around it (tests, tools): this process only
        board = SlaBoard(container.bus, container.metrics, cache=container.cache)
    return board.snapshot()


@statistics_router.get("/events", response_model=event_statistics.EventStatistics)
async def get_event_statistics(
    uow: UoW,
    user: EventReader,
    bucket: Annotated[event_statistics.Bucket, Query(description="hour (at most 168) or day (at most 92).")] = "hour",
    since: Annotated[datetime | None, Query(description="First bucket's start; buckets step from here.")] = None,
    until: Annotated[datetime | None, Query(description="End of the window (default now).")] = None,
    hours: Annotated[
        int | None,
        Query(ge=1, le=92 * 24, description="Instead of since: the last N hours, in whole UTC-aligned buckets."),
    ] = None,
    camera_id: Annotated[list[uuid.UUID] | None, Query(max_length=200)] = None,
    event_type: AiModel | None = None,
) -> event_statistics.EventStatistics:
    """Events per hour or day (default: the last 24 hours by hour), counted like the events list:
    the caller's customer only, and a user scoped to part of the site tree counts only their cameras."""
    user.tenant  # noqa: B018  (events belong to customers; provider staff have none)
    return await event_statistics.event_statistics(
        uow=uow, bucket=bucket, since=since, until=until, hours=hours, camera_ids=camera_id, event_type=event_type
    )
