"""`GET /metrics`: the process's Prometheus metrics, outside /api/v1 like /health; and
`GET /api/v1/ops/sla`: every model's SLA figures over the last five minutes, for provider staff.

Scrapers rarely sign in with MFA, so besides platform staff (an access token with `platform:ops`)
a static scrape token from `VMS_METRICS__TOKEN` is accepted as the bearer. Anyone else gets 401
(or 403 for a signed-in caller without the permission) as problem+json. Left out of the OpenAPI
document: it is not part of the client API and answers Prometheus text, not JSON.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from vms.api.deps import AppContainer, CurrentUser, bearer, get_principal
from vms.auth.permissions import Permission
from vms.kernel.errors import Unauthenticated
from vms.stats.board import SlaBoard
from vms.stats.sla import SlaSnapshot

router = APIRouter(tags=["stats"])
ops_router = APIRouter(prefix="/ops", tags=["ops"])


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
