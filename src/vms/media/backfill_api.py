"""Routes for SD-card backfill under /cameras/{camera_id}/recordings/backfill (media.backfill).

    POST /cameras/{id}/recordings/backfill?start&end     fill the window's gaps from the camera (202, queued)
    GET  /cameras/{id}/recordings/backfill/{run_id}      how a run went

Starting needs camera:write and is audited; reading needs camera:read. A camera without ONVIF
Profile G (or without a control interface) is 422; another customer's camera is 404.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict

from vms.api.deps import AppContainer, UoW, require
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.media import backfill, upload

router = APIRouter(prefix="/cameras/{camera_id}/recordings/backfill", tags=["recordings"])
Reader = Annotated[Principal, Depends(require(Permission.CAMERA_READ))]
Writer = Annotated[Principal, Depends(require(Permission.CAMERA_WRITE))]


class BackfillRunRead(BaseModel):
    """One backfill run: the window asked for and what it filled."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    camera_id: uuid.UUID
    window_start: datetime
    window_end: datetime
    status: str
    gaps_found: int
    segments_added: int
    seconds_filled: float
    error: str | None
    created_at: datetime
    finished_at: datetime | None


def get_backfill_runner(request: Request, container: AppContainer) -> backfill.BackfillRunner:
    """The app's backfill runner, made on first use (its tasks live in the app's event loop)."""
    runner: backfill.BackfillRunner | None = getattr(request.app.state, "backfill_runner", None)
    if runner is None:
        runner = backfill.BackfillRunner(
            unit_of_work=container.unit_of_work,
            secrets=container.identity.secrets,
            blobs=container.blobs,
            on_stored=upload.cloud_copy_queue(  # filled segments get cloud copies as recorded ones do
                cloud=container.cloud_blobs,
                bus=container.bus,
                unit_of_work=container.unit_of_work,
                config_cache=container.config,
            ),
        )
        request.app.state.backfill_runner = runner
        request.app.router.add_event_handler("shutdown", runner.close)
    return runner


Runner = Annotated[backfill.BackfillRunner, Depends(get_backfill_runner)]


@router.post("", status_code=202, response_model=BackfillRunRead)
async def start_backfill(
    camera_id: uuid.UUID,
    uow: UoW,
    user: Writer,
    container: AppContainer,
    runner: Runner,
    start: Annotated[datetime, Query(description="Window start (UTC).")],
    end: Annotated[datetime, Query(description="Window end (UTC), at most a day after start.")],
) -> BackfillRunRead:
    """Fill the window's recording gaps from the camera's SD card (ONVIF Profile G replay), in the background."""
    run = await backfill.request(
        uow=uow,
        secrets=container.identity.secrets,
        tenant_id=user.tenant,
        camera_id=camera_id,
        start=start,
        end=end,
        requested_by=user.user_id,
    )
    await uow.commit()  # the run reads its row from its own unit of work
    runner.submit(run)
    return BackfillRunRead.model_validate(run)


@router.get("/{run_id}", response_model=BackfillRunRead)
async def get_backfill(camera_id: uuid.UUID, run_id: uuid.UUID, uow: UoW, _: Reader) -> BackfillRunRead:
    """One backfill run of the camera."""
    return BackfillRunRead.model_validate(await backfill.get_run(uow=uow, camera_id=camera_id, run_id=run_id))
