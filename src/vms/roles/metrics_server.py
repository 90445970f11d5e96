"""`GET /metrics` (and `/health`) on a port of their own, for roles that serve no API.

A worker, events, ingest or retention process started on its own (`vms role worker`) records its
metrics in its container's registry like any process; with `VMS_METRICS__PORT` set it serves them
on that port, with the same access rule as the API's `/metrics` (the static scrape token or a
provider staff access token). `vms serve` and `vms role api` need none: the API serves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

import structlog
import uvicorn
from fastapi import FastAPI

from vms.api import errors, health
from vms.api.middleware import RequestContext
from vms.bootstrap import Container
from vms.kernel.errors import ValidationFailed
from vms.stats.api import router as metrics_router

log = structlog.get_logger(__name__)


def scrape_app(container: Container) -> FastAPI:
    """The small app a stand-alone role serves: /metrics and /health, problem+json errors, no docs."""
    app = FastAPI(title="VMS role metrics", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.container = container
    errors.install(app)
    app.include_router(health.router)
    app.include_router(metrics_router)
    app.add_middleware(RequestContext, metrics=container.metrics)  # request ids; scrapes are counted too
    return app


class _ScrapeServer(uvicorn.Server):
    """uvicorn that leaves the signals alone: the role's process handles Ctrl+C / SIGTERM and stops us."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def metrics_endpoint(container: Container) -> AsyncIterator[int | None]:
    """Serve the scrape app on `settings.metrics.port` while the block runs; yields the port (None when off).

    >>> async with metrics_endpoint(container):
    ...     await WorkerRole(container).run()
    """
    settings = container.settings.metrics
    if not settings.port:
        yield None
        return
    # Bound here rather than by uvicorn, which answers a taken port with sys.exit: a clear error instead.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        sock.close()
        raise ValidationFailed(
            f"Metrics port {settings.host}:{settings.port} is not available: {exc.strerror}"
        ) from exc
    config = uvicorn.Config(scrape_app(container), log_config=None, access_log=False, lifespan="off")
    server = _ScrapeServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    log.info("metrics served", url=f"http://{settings.host}:{settings.port}/metrics")
    try:
        yield settings.port
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
        sock.close()
