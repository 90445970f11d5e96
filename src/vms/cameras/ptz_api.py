"""Routes for PTZ under /cameras/{camera_id}/ptz: moves, presets, server-side tours and auto-tracking.

    POST   /move                        continuous | absolute | relative move (204)
    POST   /stop                        stop pan, tilt, zoom (204)
    GET    /status                      position, moving, running tour
    GET    /presets                     the camera's presets
    POST   /presets                     store the current position (201)
    POST   /presets/{token}/goto        go to a preset (204)
    DELETE /presets/{token}             remove a preset (204)
    GET    /tours  POST /tours          the camera's tours; add one (201)
    GET    /tours/{id}  PATCH  DELETE   one tour
    POST   /tours/{id}/start  /stop     walk the camera through it, or stop
    POST   /track                       re-centre on a box or an AI event's bounding box

Reading (status, presets, tours) needs camera:read; anything that moves the head or changes presets
or tours needs camera:control (Supervisor, Admin). A manual move, stop, goto or track stops the
camera's running tour. Device failures are 422 problem+json from the adapters (e.g. "Not supported by
the camera" without PTZ).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from vms.api.deps import AppContainer, Paging, UoW, require
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.cameras import ptz
from vms.cameras.ptz_schemas import (
    PresetCreate,
    PresetGoto,
    PresetRead,
    PtzMove,
    PtzStatusRead,
    TourCreate,
    TourPage,
    TourRead,
    TourUpdate,
    TrackRead,
    TrackRequest,
)

router = APIRouter(prefix="/cameras/{camera_id}/ptz", tags=["ptz"])
Reader = Annotated[Principal, Depends(require(Permission.CAMERA_READ))]
Controller = Annotated[Principal, Depends(require(Permission.CAMERA_CONTROL))]
Token = Annotated[str, Path(min_length=1, max_length=64, description="The preset's token (its id on the camera).")]


async def get_tour_runner(request: Request, container: AppContainer) -> ptz.TourRunner:
    """The app's tour runner, made on first use (its tasks live in the app's event loop)."""
    runner: ptz.TourRunner | None = getattr(request.app.state, "ptz_tours", None)
    if runner is None:
        runner = ptz.TourRunner(unit_of_work=container.unit_of_work, secrets=container.identity.secrets)
        request.app.state.ptz_tours = runner
    return runner


Tours = Annotated[ptz.TourRunner, Depends(get_tour_runner)]


# --- moves ------------------------------------------------------------------------------------------


@router.post("/move", status_code=204, response_class=Response)
async def move_head(
    camera_id: uuid.UUID, body: PtzMove, uow: UoW, _: Controller, container: AppContainer, tours: Tours
) -> Response:
    """Move the head: velocities (continuous, until stop or timeout_s), a position (absolute) or an offset."""
    await ptz.move(uow=uow, secrets=container.identity.secrets, tours=tours, camera_id=camera_id, data=body)
    return Response(status_code=204)


@router.post("/stop", status_code=204, response_class=Response)
async def stop_head(camera_id: uuid.UUID, uow: UoW, _: Controller, container: AppContainer, tours: Tours) -> Response:
    """Stop pan, tilt and zoom (and the camera's running tour)."""
    await ptz.stop(uow=uow, secrets=container.identity.secrets, tours=tours, camera_id=camera_id)
    return Response(status_code=204)


@router.get("/status", response_model=PtzStatusRead)
async def get_ptz_status(
    camera_id: uuid.UUID, uow: UoW, _: Reader, container: AppContainer, tours: Tours
) -> PtzStatusRead:
    """Where the head points (normalised), whether it moves, and the tour driving it."""
    return await ptz.status(uow=uow, secrets=container.identity.secrets, tours=tours, camera_id=camera_id)


# --- presets ----------------------------------------------------------------------------------------


@router.get("/presets", response_model=list[PresetRead])
async def list_presets(camera_id: uuid.UUID, uow: UoW, _: Reader, container: AppContainer) -> list[PresetRead]:
    """The positions stored in the camera, as it lists them."""
    return await ptz.list_presets(uow=uow, secrets=container.identity.secrets, camera_id=camera_id)


@router.post("/presets", status_code=201, response_model=PresetRead)
async def create_preset(
    camera_id: uuid.UUID, body: PresetCreate, uow: UoW, _: Controller, container: AppContainer
) -> PresetRead:
    """Store the head's current position as a new preset, or over `token`."""
    return await ptz.set_preset(uow=uow, secrets=container.identity.secrets, camera_id=camera_id, data=body)


@router.post("/presets/{token}/goto", status_code=204, response_class=Response)
async def goto_preset(
    camera_id: uuid.UUID,
    token: Token,
    uow: UoW,
    _: Controller,
    container: AppContainer,
    tours: Tours,
    body: PresetGoto | None = None,
) -> Response:
    """Send the head to a preset (the camera's running tour stops)."""
    await ptz.goto_preset(
        uow=uow,
        secrets=container.identity.secrets,
        tours=tours,
        camera_id=camera_id,
        token=token,
        speed=body.speed if body else None,
    )
    return Response(status_code=204)


@router.delete("/presets/{token}", status_code=204, response_class=Response)
async def delete_preset(
    camera_id: uuid.UUID, token: Token, uow: UoW, _: Controller, container: AppContainer
) -> Response:
    """Remove a preset from the camera."""
    await ptz.remove_preset(uow=uow, secrets=container.identity.secrets, camera_id=camera_id, token=token)
    return Response(status_code=204)


# --- tours ------------------------------------------------------------------------------------------


@router.get("/tours", response_model=TourPage)
async def list_tours(camera_id: uuid.UUID, uow: UoW, _: Reader, page: Paging, tours: Tours) -> TourPage:
    """The camera's tours, by name, with which one runs."""
    items, total = await ptz.list_tours(uow=uow, tours=tours, camera_id=camera_id, limit=page.limit, offset=page.offset)
    return TourPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post("/tours", status_code=201, response_model=TourRead)
async def create_tour(
    camera_id: uuid.UUID, body: TourCreate, uow: UoW, _: Controller, container: AppContainer
) -> TourRead:
    """Add a tour; every preset it names must exist on the camera."""
    return await ptz.create_tour(uow=uow, secrets=container.identity.secrets, camera_id=camera_id, data=body)


@router.get("/tours/{tour_id}", response_model=TourRead)
async def get_tour(camera_id: uuid.UUID, tour_id: uuid.UUID, uow: UoW, _: Reader, tours: Tours) -> TourRead:
    """One tour: its steps, whether it runs and the step it is at."""
    return await ptz.get_tour(uow=uow, tours=tours, camera_id=camera_id, tour_id=tour_id)


@router.patch("/tours/{tour_id}", response_model=TourRead)
async def update_tour(
    camera_id: uuid.UUID, tour_id: uuid.UUID, body: TourUpdate, uow: UoW, _: Controller, container: AppContainer
) -> TourRead:
    """Rename a tour, replace its steps or change looping (a running tour uses them from its next step)."""
    return await ptz.update_tour(
        uow=uow, secrets=container.identity.secrets, camera_id=camera_id, tour_id=tour_id, data=body
    )


@router.delete("/tours/{tour_id}", status_code=204, response_class=Response)
async def delete_tour(camera_id: uuid.UUID, tour_id: uuid.UUID, uow: UoW, _: Controller, tours: Tours) -> Response:
    """Delete a tour (stopped first if it runs)."""
    await ptz.delete_tour(uow=uow, tours=tours, camera_id=camera_id, tour_id=tour_id)
    return Response(status_code=204)


@router.post("/tours/{tour_id}/start", response_model=TourRead)
async def start_tour(
    camera_id: uuid.UUID, tour_id: uuid.UUID, uow: UoW, user: Controller, container: AppContainer, tours: Tours
) -> TourRead:
    """Walk the camera through the tour, server-side; the camera's other tour stops (one at a time)."""
    read = await ptz.start_tour(
        uow=uow, secrets=container.identity.secrets, tours=tours, camera_id=camera_id, tour_id=tour_id
    )
    await uow.commit()  # the runner reads the row from its own unit of work
    tours.start(tour_id, tenant_id=user.tenant, camera_id=camera_id)
    return read


@router.post("/tours/{tour_id}/stop", response_model=TourRead)
async def stop_tour(camera_id: uuid.UUID, tour_id: uuid.UUID, uow: UoW, _: Controller, tours: Tours) -> TourRead:
    """Stop the tour where the head is; stopping a stopped tour is a no-op."""
    return await ptz.stop_tour(uow=uow, tours=tours, camera_id=camera_id, tour_id=tour_id)


# --- auto-tracking ----------------------------------------------------------------------------------


@router.post("/track", response_model=TrackRead)
async def track_target(
    camera_id: uuid.UUID, body: TrackRequest, uow: UoW, _: Controller, container: AppContainer, tours: Tours
) -> TrackRead:
    """Re-centre the camera on a box of its picture, or on an AI event's bounding box (one relative move)."""
    secrets = container.identity.secrets
    if body.event_id is not None:
        return await ptz.track_event(
            uow=uow,
            secrets=secrets,
            tours=tours,
            event_id=body.event_id,
            camera_id=camera_id,
            zoom_to_fraction=body.zoom_to_fraction,
            gains=body.gains,
        )
    assert body.box is not None  # TrackRequest requires one of the two
    return await ptz.recenter(
        uow=uow,
        secrets=secrets,
        tours=tours,
        camera_id=camera_id,
        box=body.box,
        zoom_to_fraction=body.zoom_to_fraction,
        gains=body.gains,
    )
