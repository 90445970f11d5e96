"""The api role: serve the HTTP API (and, once it lands, the web console) with uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator

import structlog
import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from vms import migrations
from vms.api.app import create_app
from vms.bootstrap import Container, build_container
from vms.edge import agent as edge_agent
from vms.roles.streaming import build_gateway
from vms.settings import Settings
from vms.stats.board import SlaBoard, publish_heartbeats

log = structlog.get_logger(__name__)


def is_embedded_database(settings: Settings) -> bool:
    """Whether the database is the embedded SQLite file (which the process may migrate itself)."""
    return make_url(settings.database.url).get_backend_name() == "sqlite"


async def run(settings: Settings, *, banner: str | None = None) -> None:
    """Serve until interrupted; the container is closed on the way out."""
    container = build_container(settings)
    try:
        await serve(container, banner=banner)
    finally:
        await container.close()


class RoleServer(uvicorn.Server):
    """uvicorn that stops on SIGINT/SIGTERM and returns.

    Stock uvicorn re-raises the signal once it has shut down; for SIGTERM (what process managers
    and `kill` send) that ends the process on the spot, before the role stops its go2rtc sidecar
    and closes the container — the sidecar was left running, holding its ports.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


async def serve(container: Container, *, banner: str | None = None, app: FastAPI | None = None) -> None:
    """Serve the API (or `app`, built around the same container) on the container's settings until interrupted."""
    settings = container.settings
    app = app or create_app(container)
    # The streaming gateway (go2rtc) runs beside the API that proxies its WebRTC signalling; without
    # a go2rtc binary it reports itself unavailable and the API still starts (HLS keeps working).
    gateway = build_gateway(container)
    app.state.streaming_gateway = gateway
    gateway_task = asyncio.create_task(gateway.run())
    # Delivers what committed transactions staged (config-changes, documents), this process's and others'.
    relay_task = asyncio.create_task(container.outbox.run())
    # Workers' heartbeats, merged for GET /api/v1/ops/sla (they run in other processes).
    board = SlaBoard(container.bus, container.metrics, cache=container.cache)
    app.state.sla_board = board
    board_task = asyncio.create_task(_follow_heartbeats(board))
    # This role's own heartbeat, which the watchdog expects like every role's.
    beat_task = asyncio.create_task(publish_heartbeats(container.bus, container.metrics, role="api"))
    # On an edge server: the edge lane of the outbox to the cloud, from this one process.
    edge_task = asyncio.create_task(edge_agent.run(container))
    config = uvicorn.Config(
        app,
        host=settings.api.host,
        port=settings.api.port,
        log_config=None,
        proxy_headers=False,
        access_log=False,
    )
    if banner:
        print(banner, flush=True)
    try:
        await RoleServer(config).serve()
    finally:
        tasks = (gateway_task, relay_task, board_task, beat_task, edge_task)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await gateway.close()


async def _follow_heartbeats(board: SlaBoard) -> None:
    """Run the SLA board until cancelled, starting over after a bus outage."""
    while True:
        try:
            await board.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the API keeps serving; the figures wait for the bus to return
            log.warning("heartbeat board stopped; restarting", error=str(exc))
            await asyncio.sleep(5.0)


def migrate_if_embedded(settings: Settings) -> None:
    """Embedded SQLite is migrated at start-up; server databases are migrated by `vms migrate`."""
    if is_embedded_database(settings):
        migrations.upgrade(settings.database.url)
