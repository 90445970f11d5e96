"""`GET /metrics`: the process's Prometheus metrics, outside /api/v1 like /health.

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

from vms.api.deps import AppContainer, bearer, get_principal
from vms.auth.permissions import Permission
from vms.kernel.errors import Unauthenticated

router = APIRouter(tags=["stats"])


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
