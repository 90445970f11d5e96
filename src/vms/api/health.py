"""Health endpoints: liveness, readiness and per-component detail (requirements §10)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from vms.api.deps import AppContainer
from vms.bootstrap import Container

router = APIRouter(prefix="/health", tags=["health"])
CHECK_TIMEOUT_S = 2.0


class ComponentHealth(BaseModel):
    """One dependency's state."""

    status: Literal["up", "down"]
    latency_ms: float | None = None
    detail: str | None = None


class HealthReport(BaseModel):
    """The process's overall state and each component's."""

    status: Literal["up", "degraded", "down"]
    components: dict[str, ComponentHealth] = Field(default_factory=dict)


@router.get("", response_model=HealthReport)
async def health() -> HealthReport:
    """Basic health: the process answers."""
    return HealthReport(status="up")


@router.get("/live", response_model=HealthReport)
async def live() -> HealthReport:
    """Liveness probe: the event loop is not stuck."""
    return HealthReport(status="up")


@router.get("/ready", response_model=HealthReport, responses={503: {"model": HealthReport}})
async def ready(container: AppContainer) -> JSONResponse:
    """Readiness probe: the database answers (the one dependency requests cannot do without)."""
    database = await _check(lambda: _database(container))
    report = HealthReport(status="up" if database.status == "up" else "down", components={"database": database})
    return JSONResponse(report.model_dump(), status_code=200 if report.status == "up" else 503)


@router.get("/detailed", response_model=HealthReport, responses={503: {"model": HealthReport}})
async def detailed(container: AppContainer) -> JSONResponse:
    """Every component: database, cache, audit store, bus, storage."""
    names = ("database", "cache", "audit", "bus", "storage")
    checks = await asyncio.gather(
        _check(lambda: _database(container)),
        _check(container.cache.ping),
        _check(container.audit_store.ping),
        _check(container.bus.ping),
        _check(container.blobs.ping),
    )
    components = dict(zip(names, checks, strict=True))
    down = [n for n, c in components.items() if c.status == "down"]
    status = "down" if "database" in down else "degraded" if down else "up"
    report = HealthReport(status=status, components=components)
    return JSONResponse(report.model_dump(), status_code=503 if status == "down" else 200)


async def _check(probe: Callable[[], Awaitable[None]]) -> ComponentHealth:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT_S)
    except Exception as exc:  # any failure of a probe means "down", with its reason
        return ComponentHealth(status="down", detail=f"{type(exc).__name__}: {exc}"[:300])
    return ComponentHealth(status="up", latency_ms=round((time.perf_counter() - started) * 1000, 2))


async def _database(container: Container) -> None:
    async with container.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
