"""PTZ: move a camera's head, keep its presets, walk it through tours, and re-centre it on a target.

Everything goes through the camera's control interface (`service.open_camera_device(...).ptz()`), so no
vendor protocol appears here, and device failures arrive as the adapters' DeviceProblem (422).

Who has the camera: a manual command — a move, a stop, going to a preset, re-centring on a target —
*stops* the camera's running tour rather than pausing it. The operator has taken the camera; a tour
that resumed by itself would swing it away from what they are watching. They start the tour again when
done, and the tour's row says who stopped it (audit log).

Moves are logged (structlog), not audited: a joystick sends several a second. Storing and removing
presets and every change to a tour (create, edit, delete, start, stop) are audited.

Tours run server-side (`TourRunner`): the adapters expose no camera-side patrol, so the server goes
preset by preset itself, which also works the same on every brand.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import select

from vms.cameras.devices.base import CameraAdapter, PtzVector
from vms.cameras.models import Camera, PtzTour
from vms.cameras.ptz_schemas import (
    Box,
    MoveMode,
    PresetCreate,
    PresetRead,
    PtzMove,
    PtzStatusRead,
    PtzVectorRead,
    TourCreate,
    TourRead,
    TourStep,
    TourUpdate,
    TrackingGains,
    TrackRead,
)
from vms.cameras.service import open_camera_device
from vms.events import service as events
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.crypto import SecretBox
from vms.kernel.errors import Conflict, DeviceProblem, NotFound, ValidationFailed
from vms.kernel.ids import TenantId
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor, UnitOfWork

log = structlog.get_logger(__name__)

UnitOfWorkFactory = Callable[[TenantScope, Actor], AbstractAsyncContextManager[UnitOfWork]]
Sleep = Callable[[float], Awaitable[None]]
MAX_DEVICE_ERRORS = 3  # consecutive failed steps before a tour gives up (a camera rebooting misses one or two)
STALE_GRACE = timedelta(seconds=60)  # beyond a step's dwell, how late a heartbeat may be before the tour is dead


# --- moves and status -------------------------------------------------------------------------------


async def move(*, uow: UnitOfWork, secrets: SecretBox, tours: TourRunner, camera_id: uuid.UUID, data: PtzMove) -> None:
    """Send a continuous, absolute or relative move; the camera's running tour is stopped first."""
    adapter = await open_camera_device(uow=uow, secrets=secrets, camera_id=camera_id)
    await take_control(uow=uow, tours=tours, camera_id=camera_id, reason=f"a manual {data.mode.value} move")
    vector = PtzVector(data.pan, data.tilt, data.zoom)
    async with adapter:
        head = await adapter.ptz()
        if data.mode is MoveMode.CONTINUOUS:
            await head.continuous_move(vector, timeout_s=data.timeout_s)
        elif data.mode is MoveMode.ABSOLUTE:
            await head.absolute_move(vector, speed=data.speed)
        else:
            await head.relative_move(vector, speed=data.speed)
    log.info("ptz move", camera_id=str(camera_id), mode=data.mode.value, pan=data.pan, tilt=data.tilt, zoom=data.zoom)


async def stop(*, uow: UnitOfWork, secrets: SecretBox, tours: TourRunner, camera_id: uuid.UUID) -> None:
    """Stop pan, tilt and zoom, and the camera's running tour."""
    adapter = await open_camera_device(uow=uow, secrets=secrets, camera_id=camera_id)
    await take_control(uow=uow, tours=tours, camera_id=camera_id, reason="a manual stop")
    async with adapter:
        await (await adapter.ptz()).stop()
    log.info("ptz stop", camera_id=str(camera_id))


async def status(*, uow: UnitOfWork, secrets: SecretBox, tours: TourRunner, camera_id: uuid.UUID) -> PtzStatusRead:
    """Where the head points, whether it moves, and which tour drives it."""
    adapter = await open_camera_device(uow=uow, secrets=secrets, camera_id=camera_id)
    async with adapter:
        found = await (await adapter.ptz()).status()
    running = [t for t in await _running_tours(uow, camera_id) if not _settle_stale(t, utcnow(), tours)]
    return PtzStatusRead(
        position=_vector_read(found.position) if found.position else None,
        moving=found.moving,
        tour_id=running[0].id if running else None,
    )


async def take_control(*, uow: UnitOfWork, tours: TourRunner, camera_id: uuid.UUID, reason: str) -> None:
    """Stop the tour running on a camera because someone moves it by hand (recorded on the tour and audited).

    The tour task is cancelled before the command is sent, so it cannot send one more preset after it,
    and the stop is committed on its own: it stands even if the command then fails (the task is gone).
    """
    await tours.take_control(camera_id, scope=uow.scope, actor=uow.actor, reason=f"Stopped by {reason}.")


# --- presets ----------------------------------------------------------------------------------------


async def list_presets(*, uow: UnitOfWork, secrets: SecretBox, camera_id: uuid.UUID) -> list[PresetRead]:
    """The positions stored in the camera."""
    adapter = await open_camera_device(uow=uow, secrets=secrets, camera_id=camera_id)
    async with adapter:
        presets = await (await adapter.ptz()).presets()
    return [PresetRead(token=p.token, name=p.name) for p in presets]


async def set_preset(*, uow: UnitOfWork, secrets: SecretBox, camera_id: uuid.UUID, data: PresetCreate) -> PresetRead:
    """Store the head's current position as a new preset, or over the preset `data.token`."""
    adapter = await open_camera_device(uow=uow, secrets=secrets, camera_id=camera_id)
    async with adapter:
        preset = await (await adapter.ptz()).set_preset(data.name, token=data.token)
    read = PresetRead(token=preset.token, name=preset.name)
    uow.audit("set", "ptz_preset", f"{camera_id}/{preset.token}", new={"camera_id": camera_id, **read.model_dump()})
    return read


async def goto_preset(
    *,
    uow: UnitOfWork,
    secrets: SecretBox,
    tours: TourRunner,
    camera_id: uuid.UUID,
    token: str,
    speed: float | None = None,
) -> None:
    """Send the head to a stored position; the camera's running tour is stopped first."""
    adapter = await open_camera_device(uow=uow, secrets=secrets, camera_id=camera_id)
    await take_control(uow=uow, tours=tours, camera_id=camera_id, reason=f"going to preset {token}")
    async with adapter:
        await (await adapter.ptz()).goto_preset(token, speed=speed)
    log.info("ptz goto preset", camera_id=str(camera_id), token=token)


async def remove_preset(*, uow: UnitOfWork, secrets: SecretBox, camera_id: uuid.UUID, token: str) -> None:
    """Forget a stored position (tours still naming it fail at that step until edited)."""
    adapter = await open_camera_device(uow=uow, secrets=secrets, camera_id=camera_id)
    async with adapter:
        await (await adapter.ptz()).remove_preset(token)
    uow.audit("delete", "ptz_preset", f"{camera_id}/{token}", old={"camera_id": camera_id, "token": token})


# --- tours ------------------------------------------------------------------------------------------


async def list_tours(
    *, uow: UnitOfWork, tours: TourRunner, camera_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[TourRead], int]:
    """A camera's tours, by name."""
    await uow.get(Camera, camera_id, what="Camera")
    stmt = select(PtzTour).where(PtzTour.camera_id == camera_id).order_by(PtzTour.name, PtzTour.id)
    items, total = await uow.page(stmt, limit=limit, offset=offset)
    now = utcnow()
    for tour in items:
        _settle_stale(tour, now, tours)
    return [tour_read(t) for t in items], total


async def create_tour(*, uow: UnitOfWork, secrets: SecretBox, camera_id: uuid.UUID, data: TourCreate) -> TourRead:
    """Add a tour after checking that the camera has every preset it names."""
    camera = await uow.get(Camera, camera_id, what="Camera")
    await _ensure_name_free(uow, camera_id, data.name)
    await _check_presets(uow, secrets, camera_id, data.steps)
    now = utcnow()
    tour = PtzTour(
        tenant_id=camera.tenant_id,
        camera_id=camera_id,
        name=data.name,
        steps=[s.model_dump() for s in data.steps],
        loop=data.loop,
        running=False,
        updated_at=now,
    )
    uow.add(tour)
    await uow.flush()
    read = tour_read(tour)
    uow.audit("create", "ptz_tour", tour.id, new=_document(tour))
    return read


async def get_tour(*, uow: UnitOfWork, tours: TourRunner, camera_id: uuid.UUID, tour_id: uuid.UUID) -> TourRead:
    """One tour of a camera, with where it stands."""
    tour = await _tour(uow, camera_id, tour_id)
    _settle_stale(tour, utcnow(), tours)
    return tour_read(tour)


async def update_tour(
    *, uow: UnitOfWork, secrets: SecretBox, camera_id: uuid.UUID, tour_id: uuid.UUID, data: TourUpdate
) -> TourRead:
    """Rename, re-step or change looping; a running tour takes the new steps from its next step."""
    tour = await _tour(uow, camera_id, tour_id)
    before = _document(tour)
    if data.name is not None and data.name != tour.name:
        await _ensure_name_free(uow, camera_id, data.name)
        tour.name = data.name
    if data.steps is not None:
        await _check_presets(uow, secrets, camera_id, data.steps)
        tour.steps = [s.model_dump() for s in data.steps]
    if data.loop is not None:
        tour.loop = data.loop
    tour.updated_at = utcnow()
    await uow.flush()
    uow.audit("update", "ptz_tour", tour.id, old=before, new=_document(tour))
    return tour_read(tour)


async def delete_tour(*, uow: UnitOfWork, tours: TourRunner, camera_id: uuid.UUID, tour_id: uuid.UUID) -> None:
    """Delete a tour, stopping it first if it runs."""
    tour = await _tour(uow, camera_id, tour_id)
    if tours.running(camera_id) == tour.id:
        await tours.cancel(camera_id)
    uow.audit("delete", "ptz_tour", tour.id, old=_document(tour))
    await uow.delete(tour)


async def start_tour(
    *, uow: UnitOfWork, secrets: SecretBox, tours: TourRunner, camera_id: uuid.UUID, tour_id: uuid.UUID
) -> TourRead:
    """Mark a tour running (stopping the camera's other tour: one at a time); the caller commits, then
    hands it to `tours.start` — the runner reads the row from its own unit of work."""
    tour = await _tour(uow, camera_id, tour_id)
    await open_camera_device(uow=uow, secrets=secrets, camera_id=camera_id)  # 422 now if it has no control interface
    await tours.cancel(camera_id)
    for other in await _running_tours(uow, camera_id):
        if other.id != tour.id:
            _mark_stopped(uow, other, reason=f"Replaced by tour {tour.name!r}.")
    tour.running, tour.last_error, tour.current_step, tour.stepped_at = True, None, None, None
    tour.updated_at = utcnow()
    uow.audit("start", "ptz_tour", tour.id, new={"camera_id": camera_id, "name": tour.name})
    return tour_read(tour)


async def stop_tour(*, uow: UnitOfWork, tours: TourRunner, camera_id: uuid.UUID, tour_id: uuid.UUID) -> TourRead:
    """Stop a tour (the head stays where it is); stopping a stopped tour changes nothing."""
    tour = await _tour(uow, camera_id, tour_id)
    if tours.running(camera_id) == tour.id:
        await tours.cancel(camera_id)
    if tour.running:
        _mark_stopped(uow, tour, reason=None)
    return tour_read(tour)


def tour_read(tour: PtzTour) -> TourRead:
    """The API view of a tour."""
    return TourRead(
        id=tour.id,
        camera_id=tour.camera_id,
        name=tour.name,
        steps=[TourStep.model_validate(s) for s in tour.steps],
        loop=tour.loop,
        running=tour.running,
        current_step=tour.current_step,
        stepped_at=as_utc(tour.stepped_at) if tour.stepped_at else None,
        last_error=tour.last_error,
        created_at=as_utc(tour.created_at),
        updated_at=as_utc(tour.updated_at) if tour.updated_at else None,
    )


async def _tour(uow: UnitOfWork, camera_id: uuid.UUID, tour_id: uuid.UUID) -> PtzTour:
    tour = await uow.get(PtzTour, tour_id, what="PTZ tour")
    if tour.camera_id != camera_id:
        raise NotFound(f"PTZ tour {tour_id} not found.")
    return tour


async def _running_tours(uow: UnitOfWork, camera_id: uuid.UUID) -> list[PtzTour]:
    stmt = select(PtzTour).where(PtzTour.camera_id == camera_id, PtzTour.running.is_(True))
    return list((await uow.session.execute(stmt)).scalars())


async def _ensure_name_free(uow: UnitOfWork, camera_id: uuid.UUID, name: str) -> None:
    stmt = select(PtzTour.id).where(PtzTour.camera_id == camera_id, PtzTour.name == name)
    if (await uow.session.execute(stmt)).first():
        raise Conflict(f"This camera already has a tour named {name!r}.")


async def _check_presets(uow: UnitOfWork, secrets: SecretBox, camera_id: uuid.UUID, steps: list[TourStep]) -> None:
    """422 naming the first step whose preset the camera does not have (a typo found now, not at 3 a.m.)."""
    adapter = await open_camera_device(uow=uow, secrets=secrets, camera_id=camera_id)
    async with adapter:
        known = {p.token for p in await (await adapter.ptz()).presets()}
    for number, step in enumerate(steps, 1):
        if step.preset_token not in known:
            have = ", ".join(sorted(known, key=lambda t: (len(t), t))) or "none"
            raise ValidationFailed(
                f"Step {number}: the camera has no preset {step.preset_token!r} (it has: {have}).", step=number
            )


def _mark_stopped(uow: UnitOfWork, tour: PtzTour, *, reason: str | None) -> None:
    tour.running, tour.last_error, tour.updated_at = False, reason, utcnow()
    uow.audit("stop", "ptz_tour", tour.id, new={"camera_id": tour.camera_id, "reason": reason or "Stopped on request."})


def _settle_stale(tour: PtzTour, now: datetime, tours: TourRunner) -> bool:
    """Whether a tour marked running has lost its runner (the server restarted); it is then marked stopped.

    A runner stamps `stepped_at` at every step, so a heartbeat older than the longest dwell plus a
    grace period means nobody walks the camera any more — in this process or another.
    """
    if not tour.running or tours.running(tour.camera_id) == tour.id:
        return False
    seen = as_utc(tour.stepped_at or tour.updated_at or tour.created_at)
    longest = max((float(s.get("dwell_s", 0)) for s in tour.steps), default=0.0)
    if now - seen <= timedelta(seconds=longest) + STALE_GRACE:
        return False
    tour.running = False
    tour.last_error = "The tour was interrupted (the server restarted); start it again."
    return True


def _document(tour: PtzTour) -> dict[str, Any]:
    return {"camera_id": str(tour.camera_id), "name": tour.name, "steps": tour.steps, "loop": tour.loop}


def _vector_read(vector: PtzVector) -> PtzVectorRead:
    return PtzVectorRead(pan=vector.pan, tilt=vector.tilt, zoom=vector.zoom)


# --- the tour runner --------------------------------------------------------------------------------


class TourRunner:
    """Walks cameras through their tours in this process's event loop: one task, and one tour, per camera.

    Each step re-reads the tour row, so an edit applies from the next step and a stop written by another
    api process ends the tour within one dwell. A step whose device call fails is skipped; after
    `max_errors` failures in a row the tour stops with the last error on its row.

    >>> tours = TourRunner(unit_of_work=container.unit_of_work, secrets=container.identity.secrets)
    >>> tours.start(tour.id, tenant_id=tour.tenant_id, camera_id=tour.camera_id)
    >>> await tours.cancel(tour.camera_id)
    """

    def __init__(
        self,
        *,
        unit_of_work: UnitOfWorkFactory,
        secrets: SecretBox,
        max_errors: int = MAX_DEVICE_ERRORS,
        sleep: Sleep = asyncio.sleep,  # tests pass a faster one: dwells are at least a second
    ) -> None:
        self.unit_of_work = unit_of_work
        self.secrets = secrets
        self.max_errors = max_errors
        self.sleep = sleep
        self._tasks: dict[uuid.UUID, tuple[uuid.UUID, asyncio.Task[None]]] = {}  # camera → (tour, task)

    def running(self, camera_id: uuid.UUID) -> uuid.UUID | None:
        """The tour this process walks the camera through, if any."""
        entry = self._tasks.get(camera_id)
        return entry[0] if entry and not entry[1].done() else None

    def start(self, tour_id: uuid.UUID, *, tenant_id: uuid.UUID, camera_id: uuid.UUID) -> None:
        """Walk the camera through a tour whose row is committed as running; returns at once."""
        previous = self._tasks.pop(camera_id, None)
        if previous is not None:
            previous[1].cancel()  # start_tour cancelled it already; this only covers a racing second start
        task = asyncio.create_task(self._run(tour_id, tenant_id, camera_id), name=f"ptz-tour-{tour_id}")
        self._tasks[camera_id] = (tour_id, task)
        task.add_done_callback(lambda done: self._forget(camera_id, done))

    async def cancel(self, camera_id: uuid.UUID) -> uuid.UUID | None:
        """Stop the camera's tour task and wait until it has ended; the caller records it on the row."""
        entry = self._tasks.pop(camera_id, None)
        if entry is None:
            return None
        tour_id, task = entry
        task.cancel()
        await asyncio.wait({task})  # not `await task`: our own cancellation must still reach us
        return tour_id

    async def take_control(self, camera_id: uuid.UUID, *, scope: TenantScope, actor: Actor, reason: str) -> None:
        """Cancel the camera's tour task and mark its running tours stopped, committed in a unit of work of its own."""
        await self.cancel(camera_id)
        async with self.unit_of_work(scope, actor) as uow:
            stopped = await _running_tours(uow, camera_id)
            for tour in stopped:
                _mark_stopped(uow, tour, reason=reason)
            if stopped:
                await uow.commit()

    async def wait(self, camera_id: uuid.UUID) -> None:
        """Until the camera's tour task ends by itself (a tour without loop, or one giving up)."""
        entry = self._tasks.get(camera_id)
        if entry is not None:
            await asyncio.wait({entry[1]})

    async def close(self) -> None:
        """Cancel every tour task (rows stay running; a restarted server reports them interrupted)."""
        for camera_id in list(self._tasks):
            await self.cancel(camera_id)

    def _forget(self, camera_id: uuid.UUID, done: asyncio.Task[None]) -> None:
        entry = self._tasks.get(camera_id)
        if entry is not None and entry[1] is done:
            del self._tasks[camera_id]

    async def _run(self, tour_id: uuid.UUID, tenant_id: uuid.UUID, camera_id: uuid.UUID) -> None:
        scope, actor = TenantScope.of(TenantId(tenant_id)), Actor.system("ptz-tour")
        bound = log.bind(tour_id=str(tour_id), camera_id=str(camera_id), tenant_id=str(tenant_id))
        errors, index = 0, 0
        try:
            while True:
                # Shielded: a cancel arriving mid-commit must not leave the connection half-used.
                step = await asyncio.shield(self._begin_step(tour_id, scope, actor, index))
                if step is None:
                    return
                index, token, dwell_s, speed, adapter = step
                try:
                    async with adapter:
                        await (await adapter.ptz()).goto_preset(token, speed=speed)
                    errors = 0
                except DeviceProblem as exc:
                    errors += 1
                    bound.warning("tour step failed", step=index, token=token, error=exc.detail, in_a_row=errors)
                    if errors >= self.max_errors:
                        error = f"Stopped after {errors} failed steps in a row; last: {exc.detail}"
                        await asyncio.shield(self._end(tour_id, scope, actor, error=error))
                        return
                await self.sleep(dwell_s)
                index += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must still end the tour on its row, not leave it "running"
            bound.exception("tour failed")
            await asyncio.shield(self._end(tour_id, scope, actor, error=f"The tour failed: {type(exc).__name__}."))

    async def _begin_step(
        self, tour_id: uuid.UUID, scope: TenantScope, actor: Actor, index: int
    ) -> tuple[int, str, float, float | None, CameraAdapter] | None:
        """The next step to take (and the adapter to take it with), stamped on the row; None: the tour ends."""
        async with self.unit_of_work(scope, actor) as uow:
            tour = (await uow.session.execute(select(PtzTour).where(PtzTour.id == tour_id))).scalar_one_or_none()
            if tour is None or not tour.running:
                return None  # deleted (with its camera, perhaps) or stopped by another process
            if index >= len(tour.steps):
                if not tour.loop:
                    _mark_stopped(uow, tour, reason="Finished (the tour does not loop).")
                    await uow.commit()
                    return None
                index = 0
            step = tour.steps[index]
            try:
                adapter = await open_camera_device(uow=uow, secrets=self.secrets, camera_id=tour.camera_id)
            except NotFound:
                return None  # the camera is gone; its tours went with it
            except DeviceProblem as exc:  # the control interface was removed from the camera
                _mark_stopped(uow, tour, reason=exc.detail[:400])
                await uow.commit()
                return None
            tour.current_step, tour.stepped_at = index, utcnow()
            await uow.commit()
        speed = step.get("speed")
        return index, str(step["preset_token"]), float(step["dwell_s"]), float(speed) if speed else None, adapter

    async def _end(self, tour_id: uuid.UUID, scope: TenantScope, actor: Actor, *, error: str) -> None:
        async with self.unit_of_work(scope, actor) as uow:
            tour = (await uow.session.execute(select(PtzTour).where(PtzTour.id == tour_id))).scalar_one_or_none()
            if tour is not None and tour.running:
                _mark_stopped(uow, tour, reason=error[:400])
                await uow.commit()


# --- auto-tracking ----------------------------------------------------------------------------------


def recenter_translation(box: Box, *, gains: TrackingGains, zoom_to_fraction: float | None = None) -> PtzVector:
    """The relative move that brings a box's centre to the frame's centre (and, if asked, zooms it to size).

    The picture's x grows right and y grows down; the normalised PTZ space counts right and up, hence
    pan = (cx − 0.5) × gain and tilt = (0.5 − cy) × gain. Zoom is a magnification m = wanted / actual
    height, taken as `gains.zoom` of the range per doubling (log2 m), so zooming in and out are symmetric.
    """
    dx = box.x + box.w / 2 - 0.5
    dy = 0.5 - (box.y + box.h / 2)
    pan = dx * gains.pan if abs(dx) > gains.deadband else 0.0
    tilt = dy * gains.tilt if abs(dy) > gains.deadband else 0.0
    zoom = 0.0
    if zoom_to_fraction is not None and abs(zoom_to_fraction - box.h) > gains.deadband:
        zoom = gains.zoom * math.log2(zoom_to_fraction / box.h)
    return PtzVector(
        pan=round(_clamp(pan, -2, 2), 4), tilt=round(_clamp(tilt, -2, 2), 4), zoom=round(_clamp(zoom, -1, 1), 4)
    )


async def recenter(
    *,
    uow: UnitOfWork,
    secrets: SecretBox,
    tours: TourRunner,
    camera_id: uuid.UUID,
    box: Box,
    zoom_to_fraction: float | None = None,
    gains: TrackingGains | None = None,
) -> TrackRead:
    """Re-centre the camera on a box of its current picture with one relative move (its tour stops)."""
    translation = recenter_translation(box, gains=gains or TrackingGains(), zoom_to_fraction=zoom_to_fraction)
    adapter = await open_camera_device(uow=uow, secrets=secrets, camera_id=camera_id)
    moved = any((translation.pan, translation.tilt, translation.zoom))
    if moved:
        await take_control(uow=uow, tours=tours, camera_id=camera_id, reason="auto-tracking")
        async with adapter:
            await (await adapter.ptz()).relative_move(translation)
        log.info("ptz recenter", camera_id=str(camera_id), pan=translation.pan, tilt=translation.tilt)
    return TrackRead(translation=_vector_read(translation), moved=moved)


async def track_event(
    *,
    uow: UnitOfWork,
    secrets: SecretBox,
    tours: TourRunner,
    event_id: uuid.UUID,
    camera_id: uuid.UUID | None = None,
    zoom_to_fraction: float | None = None,
    gains: TrackingGains | None = None,
) -> TrackRead:
    """Re-centre the camera that saw an AI event on the event's bounding box (`camera_id`, when given, must be it)."""
    event = await events.get_event(uow=uow, event_id=event_id)
    if camera_id is not None and event.camera_id != camera_id:
        raise ValidationFailed(f"Event {event_id} was seen by another camera; track it with that camera.")
    box = box_of(event.detection_metadata.bounding_box)
    return await recenter(
        uow=uow,
        secrets=secrets,
        tours=tours,
        camera_id=event.camera_id,
        box=box,
        zoom_to_fraction=zoom_to_fraction,
        gains=gains,
    )


def box_of(values: list[float]) -> Box:
    """A detection's [x, y, w, h] (fractions of the frame) as a Box, clipped to the frame; 422 if unusable."""
    if len(values) != 4:
        raise ValidationFailed(f"The event's bounding box has {len(values)} numbers, not x, y, width, height.")
    x, y = _clamp(values[0], 0, 1), _clamp(values[1], 0, 1)
    try:
        return Box(x=x, y=y, w=min(values[2], 1 - x), h=min(values[3], 1 - y))
    except ValidationError:
        raise ValidationFailed(
            "The event's bounding box is empty or outside the frame; it cannot be tracked."
        ) from None


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))
