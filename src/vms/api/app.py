"""The api role's application factory."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.middleware.cors import CORSMiddleware

from vms import __version__
from vms.api import errors, health, web
from vms.api.middleware import BodyLimit, IpRateLimit, RequestContext
from vms.api.routers import V1_ROUTERS
from vms.bootstrap import Container
from vms.stats.api import router as metrics_router

API_PREFIX = "/api/v1"


def operation_id(route: APIRoute) -> str:
    """Stable operation ids `tag-name`, so the generated TypeScript client keeps its names."""
    return f"{route.tags[0] if route.tags else 'default'}-{route.name}"


def create_app(container: Container) -> FastAPI:
    """Build the FastAPI app around a container (the caller owns the container's lifetime)."""

    app = FastAPI(
        title="VMS Platform API",
        version=__version__,
        description=(
            "Video management with AI analytics. Sign in at `/api/v1/auth/login`, answer the MFA challenge at "
            "`/api/v1/auth/mfa`, then send `Authorization: Bearer <access_token>`. Errors are "
            "`application/problem+json`."
        ),
        generate_unique_id_function=operation_id,
    )
    app.state.container = container
    errors.install(app)
    app.include_router(health.router)
    app.include_router(metrics_router)  # /metrics, outside /api/v1 like /health
    for router in V1_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)

    web.mount_console(app)  # the operator console at "/"; a catch-all, so it stays after every API route

    settings = container.settings
    # Outermost first: ids and logs see everything, then size and rate limits, then CORS.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.api.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["x-request-id"],
    )
    app.add_middleware(IpRateLimit, container=container)
    app.add_middleware(BodyLimit, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(RequestContext, metrics=container.metrics)
    return app
