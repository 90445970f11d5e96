"""What you can do with cameras: add (within the license, after probing), list, edit, move, delete.

Order of checks on a write: the cheap ones first (zone, external id, license limit, licensed
models), then the probe (seconds), then model compatibility against what the probe measured.
Any failure raises before a row is added, and the request's unit of work rolls back, so a
refused camera leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import cast as cast_table

from pydantic import SecretStr
from sqlalchemy import Table, Text, bindparam, cast, func, select, update

from vms.cameras import hierarchy
from vms.cameras.compatibility import fit
from vms.cameras.devices.base import CameraAdapter, DeviceCredentials, open_device_url
from vms.cameras.models import Camera, CameraGroupMember, CameraStatus
from vms.cameras.probe import Prober, StreamCredentials, StreamInfo
from vms.cameras.schemas import (
    CameraAuth,
    CameraCreate,
    CameraModelRead,
    CameraRead,
    CameraUpdate,
    DeviceLink,
    StreamStats,
)
from vms.cameras.urls import with_credentials
from vms.kernel.ai_models import MODEL_SPECS, AiModel
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.crypto import SecretBox
from vms.kernel.errors import Conflict, DeviceUnsupported, Forbidden, ModelIncompatible, NotFound, StreamProblem
from vms.kernel.ids import TenantId
from vms.kernel.paging import LIKE_ESCAPE, contains_pattern
from vms.tenants import service as tenants
from vms.tenants.schemas import LicenseState
from vms.uow import UnitOfWork

_SECRET_KEYS = ("username", "password", "token", "client_cert_pem", "client_key_pem")


@dataclass(frozen=True, slots=True)
class CameraFilter:
    """What a camera list is narrowed to; every field optional."""

    query: str | None = None
    node_id: uuid.UUID | None = None
    tag: str | None = None
    status: CameraStatus | None = None
    model: AiModel | None = None
    group_id: uuid.UUID | None = None


async def create_camera(
    *, uow: UnitOfWork, tenant_id: uuid.UUID, secrets: SecretBox, prober: Prober, data: CameraCreate
) -> CameraRead:
    """Add a camera: within the license's camera limit, licensed models only, streams probed and fit for them."""
    if data.zone_id:
        await hierarchy.zone(uow=uow, zone_id=data.zone_id)
    _ensure_placeable(uow, data.zone_id)
    if data.external_id:
        await _ensure_external_id_free(uow, data.external_id)
    current = int((await uow.session.execute(select(func.count()).select_from(Camera))).scalar_one())
    await tenants.ensure_can_add_cameras(uow=uow, tenant_id=tenant_id, current=current)
    for model in data.enabled_models:
        await tenants.ensure_model_licensed(uow=uow, tenant_id=tenant_id, model=model)
    credentials = _credentials(data.auth)
    main = sub = None
    if data.probe:
        main, sub = await _probe(prober, data.main_url, data.sub_url, credentials, main=True, sub=True)
    model_streams = _fit_models(data.enabled_models, main=main, sub=sub)
    camera = Camera(
        tenant_id=tenant_id,
        name=data.name,
        main_url=data.main_url,
        sub_url=data.sub_url,
        manufacturer=data.manufacturer,
        model=data.model,
        firmware=data.firmware,
        zone_id=data.zone_id,
        tags=list(data.tags),
        external_id=data.external_id,
        auth_method=data.auth.method.value if data.auth else "none",
        credentials=_seal(secrets, credentials),
        status=CameraStatus.UNKNOWN.value,
        main_stream=_dump(main),
        sub_stream=_dump(sub),
        probed_at=utcnow() if data.probe else None,
        enabled_models=[m.value for m in data.enabled_models],
        model_streams=model_streams,
        device_kind=data.device.kind if data.device else None,
        device_url=data.device.url if data.device else None,
    )
    uow.add(camera)
    await uow.flush()
    read = camera_read(camera)
    uow.audit("create", "camera", camera.id, new=read)
    return read


async def list_cameras(
    *, uow: UnitOfWork, filters: CameraFilter, limit: int, offset: int
) -> tuple[list[CameraRead], int]:
    """Cameras matching the filters, by name."""
    stmt = select(Camera).order_by(Camera.name, Camera.id)
    if filters.query:
        stmt = stmt.where(Camera.name.ilike(contains_pattern(filters.query), escape=LIKE_ESCAPE))
    if filters.node_id:
        stmt = stmt.where(Camera.zone_id.in_(await hierarchy.zones_below(uow=uow, node_id=filters.node_id)))
    if filters.tag:
        stmt = stmt.where(_json_list_holds(Camera.tags, " ".join(filters.tag.split()).lower()))
    if filters.status:
        stmt = stmt.where(Camera.status == filters.status.value)
    if filters.model:
        stmt = stmt.where(_json_list_holds(Camera.enabled_models, filters.model.value))
    if filters.group_id:
        members = select(CameraGroupMember.camera_id).where(CameraGroupMember.group_id == filters.group_id)
        stmt = stmt.where(Camera.id.in_(members))
    cameras, total = await uow.page(stmt, limit=limit, offset=offset)
    return [camera_read(c) for c in cameras], total


async def get_camera(*, uow: UnitOfWork, camera_id: uuid.UUID) -> CameraRead:
    """One camera of the tenant."""
    return camera_read(await _camera(uow, camera_id))


async def update_camera(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    secrets: SecretBox,
    prober: Prober,
    camera_id: uuid.UUID,
    data: CameraUpdate,
) -> CameraRead:
    """Change a camera; new URLs or credentials are probed again and every enabled model re-checked."""
    camera = await _camera(uow, camera_id)
    before = camera_read(camera)
    changes = data.model_dump(exclude_unset=True, exclude={"probe", "auth", "device"})
    if changes.get("zone_id"):
        await hierarchy.zone(uow=uow, zone_id=changes["zone_id"])
    if "zone_id" in changes:
        _ensure_placeable(uow, changes["zone_id"])
    if changes.get("external_id") and changes["external_id"] != camera.external_id:
        await _ensure_external_id_free(uow, changes["external_id"])
    models = [AiModel(m) for m in changes.get("enabled_models", camera.enabled_models)]
    for model in sorted(set(models) - {AiModel(m) for m in camera.enabled_models}):
        await tenants.ensure_model_licensed(uow=uow, tenant_id=tenant_id, model=model)

    auth_changed = "auth" in data.model_fields_set
    credentials = _credentials(data.auth) if auth_changed else _unseal(secrets, camera.credentials)
    main_url = changes.get("main_url", camera.main_url)
    sub_url = changes.get("sub_url", camera.sub_url)
    main_changed = main_url != camera.main_url or (auth_changed and data.probe)
    sub_changed = sub_url != camera.sub_url or (auth_changed and data.probe)
    main, sub = _load(camera.main_stream), _load(camera.sub_stream)
    probed_at = camera.probed_at
    if data.probe and (main_changed or (sub_changed and sub_url)):
        main, sub = await _probe(
            prober, main_url, sub_url, credentials, main=main_changed, sub=sub_changed, known=(main, sub)
        )
        probed_at = utcnow()
    elif not data.probe:  # the old measurements describe streams that are no longer configured
        main = None if main_changed else main
        sub = None if sub_changed else sub
    if not sub_url:
        sub = None
    model_streams = _fit_models(models, main=main, sub=sub)

    # Every check passed: apply.
    if "enabled_models" in changes:
        changes["enabled_models"] = [m.value for m in models]
    for key, value in changes.items():
        setattr(camera, key, value)
    if auth_changed:
        camera.auth_method = data.auth.method.value if data.auth else "none"
        camera.credentials = _seal(secrets, credentials)
    if "device" in data.model_fields_set:
        camera.device_kind = data.device.kind if data.device else None
        camera.device_url = data.device.url if data.device else None
    camera.main_stream, camera.sub_stream, camera.probed_at = _dump(main), _dump(sub), probed_at
    camera.model_streams = model_streams
    camera.updated_at = utcnow()
    await uow.flush()
    after = camera_read(camera)
    uow.audit("update", "camera", camera.id, old=before, new=after)
    return after


async def reprobe_camera(*, uow: UnitOfWork, secrets: SecretBox, prober: Prober, camera_id: uuid.UUID) -> CameraRead:
    """Probe a camera's streams again and re-check its models (422, nothing changed, if one no longer fits)."""
    camera = await _camera(uow, camera_id)
    before = camera_read(camera)
    credentials = _unseal(secrets, camera.credentials)
    main, sub = await _probe(prober, camera.main_url, camera.sub_url, credentials, main=True, sub=True)
    camera.model_streams = _fit_models([AiModel(m) for m in camera.enabled_models], main=main, sub=sub)
    camera.main_stream, camera.sub_stream, camera.probed_at = _dump(main), _dump(sub), utcnow()
    after = camera_read(camera)
    uow.audit("probe", "camera", camera.id, old=before, new=after)
    return after


async def move_cameras(*, uow: UnitOfWork, camera_ids: list[uuid.UUID], zone_id: uuid.UUID | None) -> list[CameraRead]:
    """Put cameras into a zone (or into none); all of them or, if one is missing, none."""
    if zone_id:
        await hierarchy.zone(uow=uow, zone_id=zone_id)
    _ensure_placeable(uow, zone_id)
    wanted = list(dict.fromkeys(camera_ids))
    found = {c.id: c for c in (await uow.session.execute(select(Camera).where(Camera.id.in_(wanted)))).scalars()}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(f"Camera {missing[0]} not found.")
    moved = []
    for camera_id in wanted:
        camera = found[camera_id]
        if camera.zone_id != zone_id:
            before = camera_read(camera)
            camera.zone_id, camera.updated_at = zone_id, utcnow()
            uow.audit("move", "camera", camera.id, old={"zone_id": before.zone_id}, new={"zone_id": zone_id})
        moved.append(camera_read(camera))
    return moved


async def delete_camera(*, uow: UnitOfWork, camera_id: uuid.UUID) -> None:
    """Remove a camera (its group memberships go with it)."""
    camera = await _camera(uow, camera_id)
    before = camera_read(camera)
    await uow.delete(camera)
    uow.audit("delete", "camera", camera.id, old=before)


async def camera_models(*, uow: UnitOfWork, tenant_id: uuid.UUID, camera_id: uuid.UUID) -> list[CameraModelRead]:
    """Each of the ten AI models for this camera: licensed, enabled, compatible, on which stream, and why not."""
    camera = await _camera(uow, camera_id)
    licensed, license_problem = await _licensed_models(uow, tenant_id)
    main, sub = _load(camera.main_stream), _load(camera.sub_stream)
    result = []
    for model, spec in MODEL_SPECS.items():
        enabled = model.value in camera.enabled_models
        compatible: bool | None = None
        stream = camera.model_streams.get(model.value) if enabled else None
        reason = None
        if main is None:
            reason = "The streams have not been probed yet."
        else:
            found = fit(model, main=main, sub=sub)
            compatible, stream, reason = found.compatible, found.stream, found.reason
        if model not in licensed:
            reason = license_problem or f"The AI model '{model.value}' is not part of this customer's license."
        result.append(
            CameraModelRead(
                model=model,
                title=spec.title,
                default_priority=spec.default_priority,
                min_height=spec.min_height,
                min_bitrate_kbps=spec.min_bitrate_kbps,
                licensed=model in licensed,
                enabled=enabled,
                compatible=compatible,
                stream=stream,
                reason=reason,
            )
        )
    return result


async def set_status(
    *,
    uow: UnitOfWork,
    camera_id: uuid.UUID,
    status: CameraStatus,
    fault: str | None = None,
    last_error: str | None = None,
    at: datetime | None = None,
    last_frame_at: datetime | None = None,
) -> None:
    """Record whether the camera's stream is being received, and why not (called by the ingest role).

    `status_changed_at` moves only when the status does; a status change is audited, a new fault or
    error under the same status is not (a flapping camera must not flood the audit trail).
    """
    camera = await _camera(uow, camera_id)
    if camera.status != status.value:
        uow.audit(
            "status", "camera", camera.id, old={"status": camera.status}, new={"status": status.value, "fault": fault}
        )
        camera.status = status.value
        camera.status_changed_at = at or utcnow()
    camera.fault = fault
    camera.last_error = last_error[:400] if last_error else None
    if last_frame_at is not None:
        camera.last_frame_at = last_frame_at


async def record_last_frames(*, uow: UnitOfWork, frames: dict[uuid.UUID, tuple[datetime, StreamStats | None]]) -> None:
    """When video was last received and the stream's figures then, for many cameras in one statement (the
    ingest role's periodic flush)."""
    if not frames:
        return
    # A Core statement on the table: executemany in one round trip (an ORM bulk update would need primary keys only).
    table = cast_table(Table, Camera.__table__)
    stmt = (
        update(table)
        .where(table.c.id == bindparam("camera"))
        .values(last_frame_at=bindparam("at"), stream_stats=bindparam("stats"))
    )
    rows = [
        {"camera": c, "at": at, "stats": stats.model_dump(mode="json") if stats else None}
        for c, (at, stats) in frames.items()
    ]
    await uow.session.execute(stmt, rows)


@dataclass(frozen=True, slots=True)
class DownCamera:
    """A camera whose stream is not being received, with its customer (the watchdog's view)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    status: str
    status_changed_at: datetime | None
    last_error: str | None


async def cameras_down(*, uow: UnitOfWork, statuses: Sequence[CameraStatus]) -> list[DownCamera]:
    """Every camera in one of `statuses`, across the customers the unit of work spans, in one query."""
    stmt = select(
        Camera.id, Camera.tenant_id, Camera.name, Camera.status, Camera.status_changed_at, Camera.last_error
    ).where(Camera.status.in_([s.value for s in statuses]))
    rows = (await uow.session.execute(stmt)).all()
    return [
        DownCamera(
            r.id,
            r.tenant_id,
            r.name,
            r.status,
            as_utc(r.status_changed_at) if r.status_changed_at else None,
            r.last_error,
        )
        for r in rows
    ]


def stream_credentials(secrets: SecretBox, camera: Camera) -> StreamCredentials | None:
    """The camera's decrypted credentials, for whoever opens its streams (the probe, ingest)."""
    return _unseal(secrets, camera.credentials)


async def open_camera_device(*, uow: UnitOfWork, secrets: SecretBox, camera_id: uuid.UUID) -> CameraAdapter:
    """The control-interface adapter of a camera, with its decrypted credentials (not yet connected).

    422 when the camera has no control interface recorded: PTZ and device queries need one.
    """
    camera = await _camera(uow, camera_id)
    if not camera.device_kind or not camera.device_url:
        raise DeviceUnsupported(
            f"Camera {camera.name!r} has no control interface; set device.kind and device.url (e.g. ONVIF) first."
        )
    stored = _unseal(secrets, camera.credentials)
    credentials = DeviceCredentials(stored.username, stored.password or "") if stored and stored.username else None
    return open_device_url(camera.device_kind, camera.device_url, credentials)


def camera_read(camera: Camera) -> CameraRead:
    """The API view of a camera: no credentials, only whether there are some."""
    return CameraRead(
        id=camera.id,
        name=camera.name,
        main_url=camera.main_url,
        sub_url=camera.sub_url,
        manufacturer=camera.manufacturer,
        model=camera.model,
        firmware=camera.firmware,
        zone_id=camera.zone_id,
        tags=list(camera.tags),
        external_id=camera.external_id,
        auth_method=camera.auth_method,
        has_credentials=camera.credentials is not None,
        status=CameraStatus(camera.status),
        fault=camera.fault,
        last_error=camera.last_error,
        status_changed_at=as_utc(camera.status_changed_at) if camera.status_changed_at else None,
        last_frame_at=as_utc(camera.last_frame_at) if camera.last_frame_at else None,
        stream_stats=StreamStats.model_validate(camera.stream_stats) if camera.stream_stats else None,
        main_stream=_load(camera.main_stream),
        sub_stream=_load(camera.sub_stream),
        probed_at=as_utc(camera.probed_at) if camera.probed_at else None,
        enabled_models=[AiModel(m) for m in camera.enabled_models],
        model_streams=dict(camera.model_streams),
        device=DeviceLink(kind=camera.device_kind, url=camera.device_url)
        if camera.device_kind and camera.device_url
        else None,
        created_at=as_utc(camera.created_at),
        updated_at=as_utc(camera.updated_at) if camera.updated_at else None,
    )


# --- helpers --------------------------------------------------------------------------------------


async def _camera(uow: UnitOfWork, camera_id: uuid.UUID) -> Camera:
    return await uow.get(Camera, camera_id, what="Camera")


async def _ensure_external_id_free(uow: UnitOfWork, external_id: str) -> None:
    # External ids are unique across the whole customer, so look past a scoped user's part of the
    # tree: through the table, which the scope guard does not filter, with the tenant filter by hand.
    table = Camera.__table__.c
    taken = select(table.id).where(table.tenant_id == uow.tenant_id, table.external_id == external_id)
    if (await uow.session.execute(taken)).first():
        raise Conflict(f"A camera with external_id {external_id!r} already exists.")


def _ensure_placeable(uow: UnitOfWork, zone_id: uuid.UUID | None) -> None:
    """A user limited to part of the site tree places cameras in their zones only (checked before
    anything is staged, so a refusal leaves the unit of work usable, e.g. for the next import row)."""
    part = uow.scope.part
    if part is not None and zone_id not in part.placeable:
        raise Forbidden("Your account is limited to part of the site tree; put the camera in one of your zones.")


def _json_list_holds(column: Any, value: str) -> Any:
    """`column` (a JSON list of strings) contains `value`, on every engine.

    JSON lists are stored as the text json.dumps writes (PostgreSQL's `json` keeps it verbatim),
    so the quoted element is found with LIKE — no dialect-specific JSON operators.
    """
    quoted = json.dumps(value)
    escaped = quoted.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return cast(column, Text).like(f"%{escaped}%", escape=LIKE_ESCAPE)


async def _probe(
    prober: Prober,
    main_url: str,
    sub_url: str | None,
    credentials: StreamCredentials | None,
    *,
    main: bool,
    sub: bool,
    known: tuple[StreamInfo | None, StreamInfo | None] = (None, None),
) -> tuple[StreamInfo | None, StreamInfo | None]:
    """Probe the streams asked for, both at once; a failure names the stream it happened on."""
    jobs = {"main": prober.probe(main_url, credentials=credentials) if main else None}
    jobs["sub"] = prober.probe(sub_url, credentials=credentials) if sub and sub_url else None
    running = {role: job for role, job in jobs.items() if job is not None}
    outcomes = dict(zip(running, await asyncio.gather(*running.values(), return_exceptions=True), strict=True))
    for role in ("main", "sub"):
        outcome = outcomes.get(role)
        if isinstance(outcome, StreamProblem):
            raise type(outcome)(f"{role.capitalize()} stream: {outcome.detail}", **{**outcome.extra, "stream": role})
        if isinstance(outcome, BaseException):
            raise outcome
    main_info = outcomes.get("main", known[0])
    sub_info = outcomes.get("sub", known[1])
    return main_info, sub_info  # type: ignore[return-value]


def _fit_models(models: list[AiModel], *, main: StreamInfo | None, sub: StreamInfo | None) -> dict[str, str]:
    """The stream each model runs on; 422 naming every model no stream is good enough for.

    Without probe results (probe skipped) models are taken on the main stream, unchecked; the
    camera's model list then shows them as not yet verified.
    """
    if main is None:
        return {model.value: "main" for model in models}
    fits = [fit(model, main=main, sub=sub) for model in models]
    short = [f for f in fits if not f.compatible]
    if short:
        raise ModelIncompatible("; ".join(f.reason or "" for f in short) + ".", models=[f.model.value for f in short])
    return {f.model.value: f.stream or "main" for f in fits}


async def _licensed_models(uow: UnitOfWork, tenant_id: uuid.UUID) -> tuple[set[AiModel], str | None]:
    try:
        license_ = await tenants.get_license(uow=uow, tenant_id=tenant_id)
    except NotFound:
        return set(), "This customer has no license."
    if license_.state in (LicenseState.EXPIRED, LicenseState.NOT_YET_VALID):
        return set(), license_.warning or "The license is not valid today."
    return set(license_.models), None


def _credentials(auth: CameraAuth | None) -> StreamCredentials | None:
    if auth is None or not auth.has_secrets:
        return None

    def plain(value: str | SecretStr | None) -> str | None:
        return value.get_secret_value() if isinstance(value, SecretStr) else value

    return StreamCredentials(**{key: plain(getattr(auth, key)) for key in _SECRET_KEYS})


def _seal(secrets: SecretBox, credentials: StreamCredentials | None) -> str | None:
    """One encrypted token holding every secret of the camera (none of them ever stored in clear)."""
    if credentials is None:
        return None
    values = {key: getattr(credentials, key) for key in _SECRET_KEYS if getattr(credentials, key) is not None}
    return secrets.encrypt(json.dumps(values))


def _unseal(secrets: SecretBox, token: str | None) -> StreamCredentials | None:
    if token is None:
        return None
    values = json.loads(secrets.decrypt(token))
    return StreamCredentials(**{key: values.get(key) for key in _SECRET_KEYS})


def _dump(info: StreamInfo | None) -> dict[str, Any] | None:
    return info.model_dump(mode="json") if info else None


def _load(document: dict[str, Any] | None) -> StreamInfo | None:
    return StreamInfo.model_validate(document) if document else None


@dataclass(frozen=True, slots=True)
class IngestTarget:
    """What the ingest role needs to record one camera and make its AI jobs."""

    tenant_id: TenantId
    camera_id: uuid.UUID
    streams: dict[str, str]  # "main" (always) and "sub" (when a model runs on it) → URL with credentials
    enabled_models: list[AiModel]
    model_streams: dict[AiModel, str]
    segment_seconds: float = 5.0


async def ingest_targets(*, uow: UnitOfWork, secrets: SecretBox) -> list[IngestTarget]:
    """Every camera to ingest, across the tenants visible to `uow` (the ingest role uses platform scope)."""
    targets = []
    for camera in (await uow.session.execute(select(Camera).order_by(Camera.created_at))).scalars():
        credentials = stream_credentials(secrets, camera)
        user = credentials.username if credentials else None
        password = credentials.password if credentials else None
        model_streams = {AiModel(m): s for m, s in camera.model_streams.items()}
        streams = {"main": with_credentials(camera.main_url, user, password)}
        if camera.sub_url and "sub" in model_streams.values():
            streams["sub"] = with_credentials(camera.sub_url, user, password)
        targets.append(
            IngestTarget(
                tenant_id=TenantId(camera.tenant_id),
                camera_id=camera.id,
                streams=streams,
                enabled_models=[AiModel(m) for m in camera.enabled_models],
                model_streams=model_streams,
            )
        )
    return targets


def status_of(value: str) -> CameraStatus:
    """The camera status for an ingest stream status (same words)."""
    return CameraStatus(value) if value in CameraStatus._value2member_map_ else CameraStatus.UNKNOWN
