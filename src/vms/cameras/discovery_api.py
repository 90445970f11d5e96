"""Routes: camera discovery jobs — start, follow (SSE), cancel, and add a found device in one call.

    POST /cameras/discovery                              start a scan or WS-Discovery (202, queued)
    GET  /cameras/discovery                              the customer's jobs, newest first
    GET  /cameras/discovery/{id}                         one job with its results
    GET  /cameras/discovery/{id}/events                  Server-Sent Events: snapshot, progress, device, done
    POST /cameras/discovery/{id}/cancel                  stop it (202); results so far are kept
    POST /cameras/discovery/{id}/devices/{index}/add     add result `index` as a camera (201)

Starting, cancelling and adding need camera:write (Admin, Supervisor); reading needs camera:read.
Another customer's job is 404. The event stream takes a one-time `?ticket=` from
POST /auth/stream-ticket (EventSource cannot send headers) or a bearer token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import StreamingResponse
from starlette.requests import HTTPConnection

from vms.api.deps import AppContainer, Paging, UoW, camera_part, get_connection_principal, require
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.bootstrap import Container
from vms.cameras import discovery, discovery_runner
from vms.cameras.discovery_schemas import (
    FINISHED,
    DiscoveredCameraAdd,
    DiscoveryCreate,
    DiscoveryJobPage,
    DiscoveryJobRead,
)
from vms.cameras.models import DiscoveryJob
from vms.cameras.schemas import CameraRead
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor, UnitOfWork

router = APIRouter(prefix="/cameras/discovery", tags=["cameras"])
Reader = Annotated[Principal, Depends(require(Permission.CAMERA_READ))]
Writer = Annotated[Principal, Depends(require(Permission.CAMERA_WRITE))]
ResultIndex = Annotated[int, Path(ge=0, le=100_000, description="The result's index in the job.")]
KEEPALIVE_S = 15.0
POLL_S = 1.0  # how often a stream re-reads a job that runs in another api process
CANCEL_WAIT_S = 5.0


def get_discovery_runner(connection: HTTPConnection) -> discovery_runner.DiscoveryRunner:
    """The app's discovery runner, made on first use (its tasks live in the app's event loop, stopped at shutdown)."""
    state = connection.app.state
    runner: discovery_runner.DiscoveryRunner | None = getattr(state, "discovery_runner", None)
    if runner is None:
        container: Container = state.container
        runner = discovery_runner.DiscoveryRunner(unit_of_work=container.unit_of_work)
        state.discovery_runner = runner
        connection.app.router.add_event_handler("shutdown", runner.close)
    return runner


Runner = Annotated[discovery_runner.DiscoveryRunner, Depends(get_discovery_runner)]


def _read(
    job: DiscoveryJob, runner: discovery_runner.DiscoveryRunner, known: dict[str, uuid.UUID] | None
) -> DiscoveryJobRead:
    return discovery.job_read(job, known=known, live=runner.live(job.id))


@router.post("", status_code=202, response_model=DiscoveryJobRead)
async def start_discovery(body: DiscoveryCreate, uow: UoW, user: Writer, runner: Runner) -> DiscoveryJobRead:
    """Start a discovery job: an address scan (CIDRs/ranges, at most 1,024 addresses) or ONVIF WS-Discovery.

    Follow it at /events (SSE) or by polling; add what it finds with /devices/{index}/add.
    """
    job, plan = await discovery.create_job(uow=uow, tenant_id=user.tenant, data=body, requested_by=user.user_id)
    await uow.commit()  # the runner reads and writes the row from its own unit of work
    runner.submit(job.id, tenant_id=job.tenant_id, plan=plan)
    return _read(job, runner, known=None)


@router.get("", response_model=DiscoveryJobPage)
async def list_discoveries(uow: UoW, _: Reader, page: Paging, runner: Runner) -> DiscoveryJobPage:
    """The customer's discovery jobs, newest first (without their results)."""
    items, total = await discovery.list_jobs(uow=uow, limit=page.limit, offset=page.offset)
    return DiscoveryJobPage(
        items=[_read(job, runner, known=None) for job in items], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/{job_id}", response_model=DiscoveryJobRead)
async def get_discovery(job_id: uuid.UUID, uow: UoW, _: Reader, runner: Runner) -> DiscoveryJobRead:
    """One job: status, progress and everything found so far (devices that are cameras already flagged)."""
    job = await discovery.get_job(uow=uow, job_id=job_id)
    return _read(job, runner, known=await discovery.known_cameras(uow=uow))


@router.post("/{job_id}/cancel", status_code=202, response_model=DiscoveryJobRead)
async def cancel_discovery(job_id: uuid.UUID, uow: UoW, _: Writer, runner: Runner) -> DiscoveryJobRead:
    """Stop a queued or running job; what it found so far is kept. 409 when it has finished."""
    job = await discovery.get_job(uow=uow, job_id=job_id)
    discovery.ensure_cancellable(job)
    if runner.cancel(job_id):
        await uow.commit()  # end our read before the runner writes its last state
        await runner.wait(job_id, timeout_s=CANCEL_WAIT_S)
        await uow.session.refresh(job)
    else:
        discovery.mark_cancelled(job)  # its runner, in another process, stops at its next write
    uow.audit("cancel", "discovery_job", job.id)
    return _read(job, runner, known=await discovery.known_cameras(uow=uow))


@router.post("/{job_id}/devices/{index}/add", status_code=201, response_model=CameraRead)
async def add_discovered_camera(
    job_id: uuid.UUID,
    index: ResultIndex,
    body: DiscoveredCameraAdd,
    uow: UoW,
    user: Writer,
    container: AppContainer,
    runner: Runner,
) -> CameraRead:
    """Add a found device as a camera in one call: identity and stream URLs read from the device with `auth`,
    then probed and checked like any new camera. 409 when this result was added already."""
    camera = await discovery.add_camera(
        uow=uow,
        tenant_id=user.tenant,
        secrets=container.identity.secrets,
        prober=container.prober,
        job_id=job_id,
        index=index,
        data=body,
    )
    runner.mark_added(job_id, index, camera.id)
    return camera


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events."}},
)
async def stream_discovery(
    job_id: uuid.UUID,
    request: Request,
    user: Annotated[Principal, Depends(get_connection_principal)],
    runner: Runner,
) -> StreamingResponse:
    """Server-Sent Events of one job: `snapshot` (the job with its results), then `progress`, `device` and a last
    `done` (the job as it ended), after which the stream ends; comment keep-alives in between."""
    user.require(Permission.CAMERA_READ)
    container: Container = request.app.state.container
    async with _unit_of_work(container, user) as uow:  # read, then let go: a stream holds no transaction
        job = await discovery.get_job(uow=uow, job_id=job_id)
        known = await discovery.known_cameras(uow=uow)
        await uow.commit()

    async def body() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        with runner.listen(job_id) as listener:
            snapshot = _read(job, runner, known)
            yield _sse("snapshot", {"type": "snapshot", "job": snapshot.model_dump(mode="json")})
            if snapshot.status in FINISHED:
                yield _sse("done", {"type": "done", "job": snapshot.model_dump(mode="json", exclude={"results"})})
                return
            if listener is not None:
                async for chunk in _relay(job, listener, known):
                    yield chunk
                return
        async for chunk in _poll(container, user, job_id, snapshot, known):  # it runs in another process
            yield chunk

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


async def _relay(
    job: DiscoveryJob, listener: asyncio.Queue[dict[str, Any]], known: dict[str, uuid.UUID]
) -> AsyncIterator[str]:
    """The runner's messages as SSE, until its `done`."""
    while True:
        try:
            message = await asyncio.wait_for(listener.get(), KEEPALIVE_S)
        except TimeoutError:
            yield ": keep-alive\n\n"
            continue
        if message["type"] == "device":
            device = discovery.result_read(message["index"], message["device"], known)
            yield _sse("device", {"type": "device", "index": device.index, "device": device.model_dump(mode="json")})
        elif message["type"] == "done":
            final = discovery.job_read(job, live=message["live"])
            yield _sse("done", {"type": "done", "job": final.model_dump(mode="json", exclude={"results"})})
            return
        else:
            yield _sse(message["type"], message)


async def _poll(
    container: Container, user: Principal, job_id: uuid.UUID, seen: DiscoveryJobRead, known: dict[str, uuid.UUID]
) -> AsyncIterator[str]:
    """The same events for a job running elsewhere, from re-reading its row."""
    count, progress, quiet_s = len(seen.results or []), seen.progress, 0.0
    while True:
        await asyncio.sleep(POLL_S)
        async with _unit_of_work(container, user) as uow:
            job = await discovery.get_job(uow=uow, job_id=job_id)
            await uow.commit()
        current = discovery.job_read(job, known=known)
        for device in (current.results or [])[count:]:
            yield _sse("device", {"type": "device", "index": device.index, "device": device.model_dump(mode="json")})
        count = len(current.results or [])
        if current.progress != progress:
            progress, quiet_s = current.progress, 0.0
            message = discovery.LiveJob.of(job).progress_message()
            yield _sse("progress", message)
        if current.status in FINISHED:
            yield _sse("done", {"type": "done", "job": current.model_dump(mode="json", exclude={"results"})})
            return
        quiet_s += POLL_S
        if quiet_s >= KEEPALIVE_S:
            quiet_s = 0.0
            yield ": keep-alive\n\n"


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


@contextlib.asynccontextmanager
async def _unit_of_work(container: Container, user: Principal) -> AsyncIterator[UnitOfWork]:
    """The stream caller's unit of work outside the request dependencies (a ticket brings no bearer header):
    their customer, narrowed to their part of the site tree."""
    scope = TenantScope.of(user.tenant)
    part = await camera_part(container, user)
    async with container.unit_of_work(scope.within(part) if part else scope, Actor(user_id=user.user_id)) as uow:
        yield uow
