"""Discovery jobs: find cameras by ONVIF WS-Discovery or an address scan in the background, then add one in one call.

A job is checked and stored synchronously (a too-large range or a bad port is a 422 and stores
nothing), then run by the `DiscoveryRunner` in the api process's event loop. The runner keeps the
job's live state in memory, hands every change (progress, a device found, the end) to in-process
listeners at once, and writes the row at most twice a second — plus a heartbeat, so a job whose
process died is reported failed instead of running forever. A job cancelled in another process is
noticed at the next write.

A result is added as a camera by its index: the device adapter reads who the device is and its
stream URLs with the credentials given for the camera, then the cameras service adds it as usual
(license limit, probe, model checks). Credentials given for a scan are used by that job only.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pydantic
import structlog
from sqlalchemy import func, select

from vms.cameras import service as cameras
from vms.cameras.devices import scan as scanner
from vms.cameras.devices import wsdiscovery
from vms.cameras.devices.base import DeviceCredentials, DiscoveredDevice, StreamProfile, open_device_url
from vms.cameras.discovery_schemas import FINISHED, DiscoveredCameraAdd, DiscoveredDeviceRead, DiscoveryCreate
from vms.cameras.discovery_schemas import DiscoveryJobRead as JobRead
from vms.cameras.models import Camera, DiscoveryJob, DiscoveryStatus
from vms.cameras.probe import Prober
from vms.cameras.schemas import CameraAuth, CameraCreate, CameraRead, DeviceLink
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.crypto import SecretBox
from vms.kernel.errors import Conflict, NotFound, ValidationFailed
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor, UnitOfWork

log = structlog.get_logger(__name__)
MAX_RUNNING_PER_CUSTOMER = 2  # jobs queued or running at once per customer; each may hold 256 sockets
FLUSH_S = 0.5  # the row is written at most this often (and progress pushed to listeners)
HEARTBEAT_S = 5.0  # ... and at least this often while running
STALE_AFTER = timedelta(seconds=60)  # a running job without a heartbeat this long has lost its runner
DEVICE_KINDS = frozenset({"onvif", "hikvision", "dahua"})  # kinds with a control interface to read
_RANGE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}-[\d.]+$")

UnitOfWorkFactory = Callable[[TenantScope, Actor], AbstractAsyncContextManager[UnitOfWork]]
Message = dict[str, Any]


# --- the plan of a job ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiscoveryPlan:
    """What a job probes, checked; held in memory only (it carries the job's credentials)."""

    method: str
    targets: tuple[str, ...]  # scan: addresses; ws-discovery: host or host:port for directed probes
    multicast: bool
    ports: tuple[int, ...]
    timeout_s: float
    credentials: DeviceCredentials | None = field(default=None, repr=False)


def plan(data: DiscoveryCreate) -> DiscoveryPlan:
    """Check a job's targets and options before anything is stored; ValidationFailed names what is wrong."""
    text = data.targets or ""
    if data.method == "scan":
        targets = scanner.parse_targets(text)
        ports = tuple(dict.fromkeys(data.ports))
    else:
        targets = _ws_targets(text)
        ports = ()
    credentials = None
    if data.credentials is not None:
        credentials = DeviceCredentials(data.credentials.username, data.credentials.password.get_secret_value())
    return DiscoveryPlan(
        method=data.method,
        targets=tuple(targets),
        multicast=data.multicast if data.method == "ws-discovery" else False,
        ports=ports,
        timeout_s=data.effective_timeout_s,
        credentials=credentials,
    )


def _ws_targets(text: str) -> list[str]:
    """Directed WS-Discovery targets: host[:port] as given, IPv4 CIDRs and ranges expanded."""
    found: dict[str, None] = {}
    for token in (t for t in re.split(r"[,;\s]+", text.strip()) if t):
        if "/" in token or _RANGE.match(token):
            found.update(dict.fromkeys(scanner.parse_targets(token)))
        else:
            wsdiscovery.parse_target(token)  # ValidationFailed for anything that is not a host[:port]
            found[token] = None
        if len(found) > scanner.MAX_HOSTS:
            raise ValidationFailed(
                f"The targets add up to more than {scanner.MAX_HOSTS:,} addresses, the most one discovery probes; "
                "split them into several runs."
            )
    return list(found)


# --- the service ------------------------------------------------------------------------------------


async def create_job(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    data: DiscoveryCreate,
    requested_by: uuid.UUID | None,
    max_running: int = MAX_RUNNING_PER_CUSTOMER,
) -> tuple[DiscoveryJob, DiscoveryPlan]:
    """Accept a job (queued) within the customer's limit of running jobs; hand the plan to the runner."""
    checked = plan(data)
    now = utcnow()
    active = (
        select(func.count())
        .select_from(DiscoveryJob)
        .where(
            DiscoveryJob.status.in_([DiscoveryStatus.QUEUED.value, DiscoveryStatus.RUNNING.value]),
            DiscoveryJob.updated_at >= now - STALE_AFTER,
        )
    )
    running = int((await uow.session.execute(active)).scalar_one())
    if running >= max_running:
        raise Conflict(
            f"{running} discovery jobs are already running for this customer (at most {max_running} at once); "
            "wait for one to finish or cancel it."
        )
    job = DiscoveryJob(
        tenant_id=tenant_id,
        method=checked.method,
        targets=" ".join((data.targets or "").split()) or None,
        multicast=checked.multicast,
        ports=list(checked.ports),
        timeout_s=checked.timeout_s,
        with_credentials=checked.credentials is not None,
        status=DiscoveryStatus.QUEUED.value,
        hosts_total=len(checked.targets),
        hosts_done=0,
        devices_found=0,
        progress=0.0,
        results=[],
        requested_by=requested_by,
        updated_at=now,
    )
    uow.add(job)
    await uow.flush()
    uow.audit("create", "discovery_job", job.id, new=_document(job))
    return job, checked


async def get_job(*, uow: UnitOfWork, job_id: uuid.UUID) -> DiscoveryJob:
    """One job of the caller's customer (a running one whose runner died is reported failed)."""
    job = await uow.get(DiscoveryJob, job_id, what="Discovery job")
    _settle_stale(job, utcnow())
    return job


async def list_jobs(*, uow: UnitOfWork, limit: int, offset: int) -> tuple[list[DiscoveryJob], int]:
    """The customer's jobs, newest first."""
    stmt = select(DiscoveryJob).order_by(DiscoveryJob.created_at.desc(), DiscoveryJob.id)
    items, total = await uow.page(stmt, limit=limit, offset=offset)
    now = utcnow()
    for job in items:
        _settle_stale(job, now)
    return items, total


def ensure_cancellable(job: DiscoveryJob) -> None:
    """409 unless the job is queued or running."""
    if DiscoveryStatus(job.status) in FINISHED:
        raise Conflict(f"Discovery job {job.id} is already {job.status}; there is nothing to cancel.")


def mark_cancelled(job: DiscoveryJob) -> None:
    """Cancel a job no runner of this process holds; its runner (in another process) stops at its next write."""
    ensure_cancellable(job)
    job.status = DiscoveryStatus.CANCELLED.value
    job.finished_at = job.updated_at = utcnow()


async def known_cameras(*, uow: UnitOfWork) -> dict[str, uuid.UUID]:
    """The customer's cameras by host (of any stream or control URL), to flag devices that are cameras already."""
    rows = await uow.session.execute(select(Camera.id, Camera.main_url, Camera.sub_url, Camera.device_url))
    hosts: dict[str, uuid.UUID] = {}
    for camera_id, *urls in rows:
        for url in urls:
            host = _host_of(url)
            if host:
                hosts.setdefault(host, camera_id)
    return hosts


def job_read(job: DiscoveryJob, *, known: dict[str, uuid.UUID] | None = None, live: LiveJob | None = None) -> JobRead:
    """The API view of a job; with `known`, its results (each flagged when its host is a camera already)."""
    state = live or LiveJob.of(job)
    results = None
    if known is not None:
        results = [result_read(i, r, known) for i, r in enumerate(state.results)]
    return JobRead(
        id=job.id,
        method="scan" if job.method == "scan" else "ws-discovery",
        targets=job.targets,
        multicast=job.multicast,
        ports=list(job.ports),
        timeout_s=job.timeout_s,
        with_credentials=job.with_credentials,
        status=state.status,
        hosts_total=state.hosts_total,
        hosts_done=state.hosts_done,
        devices_found=state.devices_found,
        progress=round(state.progress, 3),
        error=state.error,
        created_at=as_utc(job.created_at),
        started_at=as_utc(state.started_at) if state.started_at else None,
        finished_at=as_utc(state.finished_at) if state.finished_at else None,
        results=results,
    )


def result_read(index: int, result: dict[str, Any], known: dict[str, uuid.UUID]) -> DiscoveredDeviceRead:
    """One stored result as the API shows it."""
    camera_id = result.get("camera_id")
    return DiscoveredDeviceRead.model_validate(
        {
            **result,
            "index": index,
            "camera_id": uuid.UUID(camera_id) if camera_id else None,
            "known_camera_id": known.get(normal_host(str(result.get("host", "")))),
        }
    )


async def add_camera(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    secrets: SecretBox,
    prober: Prober,
    job_id: uuid.UUID,
    index: int,
    data: DiscoveredCameraAdd,
) -> CameraRead:
    """Add result `index` of a job as a camera: streams and identity read from the device, then created as usual.

    409 when this result was added already (and that camera still exists); the device's refusals
    (wrong password, unreachable) are the adapter's 422s, and nothing is stored then.
    """
    job = await get_job(uow=uow, job_id=job_id)
    results = list(job.results)
    if not 0 <= index < len(results):
        raise NotFound(f"Discovery job {job_id} has no result {index}; it has {len(results)}.")
    result = dict(results[index])
    if result.get("camera_id"):
        added = uuid.UUID(result["camera_id"])
        if (await uow.session.execute(select(Camera.id).where(Camera.id == added))).first():
            raise Conflict(f"This device was added already, as camera {added}.", camera_id=str(added))
    create = await _camera_from_device(result, data)
    camera = await cameras.create_camera(uow=uow, tenant_id=tenant_id, secrets=secrets, prober=prober, data=create)
    results[index] = {**result, "camera_id": str(camera.id)}
    job.results = results
    return camera


async def _camera_from_device(result: dict[str, Any], data: DiscoveredCameraAdd) -> CameraCreate:
    """What to create for a result: the device's identity and streams (read with `data.auth`), `data` overriding."""
    kind, device_url = str(result["kind"]), result.get("device_url")
    identity = {name: result.get(name) for name in ("manufacturer", "model", "firmware")}
    main_url, sub_url, link = data.main_url, data.sub_url, None
    if kind in DEVICE_KINDS and device_url:
        async with open_device_url(kind, device_url, _device_credentials(data.auth)) as device:
            info = await device.device_info()
            if main_url is None:
                main, sub = _main_and_sub(await device.stream_profiles())
                main_url, sub_url = main, sub_url or sub
        identity = {
            "manufacturer": info.manufacturer or identity["manufacturer"],
            "model": info.model or identity["model"],
            "firmware": info.firmware or identity["firmware"],
        }
        link = {"kind": kind, "url": device_url}
    main_url = main_url or result.get("rtsp_url")
    if not main_url:
        raise ValidationFailed("No stream URL is known for this device; give main_url.")
    if data.manufacturer:
        identity["manufacturer"] = data.manufacturer
    if data.model:
        identity["model"] = data.model
    try:
        return CameraCreate(
            name=data.name,
            main_url=main_url,
            sub_url=sub_url,
            **{name: _label(value) for name, value in identity.items()},
            zone_id=data.zone_id,
            tags=data.tags,
            enabled_models=data.enabled_models,
            auth=data.auth,
            device=DeviceLink.model_validate(link) if link else None,
        )
    except pydantic.ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "camera"
        raise ValidationFailed(f"The device's answer cannot make a camera ({where}: {problem['msg']}).") from None


def _main_and_sub(profiles: list[StreamProfile]) -> tuple[str | None, str | None]:
    main = next((p for p in profiles if p.role == "main"), profiles[0] if profiles else None)
    sub = next((p for p in profiles if p.role == "sub" and main and p.rtsp_url != main.rtsp_url), None)
    return (main.rtsp_url if main else None), (sub.rtsp_url if sub else None)


def _device_credentials(auth: CameraAuth | None) -> DeviceCredentials | None:
    if auth is None or not auth.username:
        return None
    return DeviceCredentials(auth.username, auth.password.get_secret_value() if auth.password else "")


def _label(value: object) -> str | None:
    """A device-reported name made fit for a camera label: printable, at most 100 characters."""
    text = "".join(ch for ch in str(value) if ch.isprintable()).strip() if value else ""
    return text[:100] or None


def _host_of(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return normal_host(host) if host else None


def normal_host(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return host.lower().rstrip(".")


def _is_stale(job: DiscoveryJob, now: datetime) -> bool:
    seen = as_utc(job.updated_at or job.created_at)
    active = job.status in (DiscoveryStatus.QUEUED, DiscoveryStatus.RUNNING)
    return active and now - seen > STALE_AFTER


def _settle_stale(job: DiscoveryJob, now: datetime) -> None:
    # The runner lives in an api process; if that process died, nobody will ever finish this job.
    if _is_stale(job, now):
        job.status = DiscoveryStatus.FAILED.value
        job.error = "The discovery was interrupted (the server restarted); run it again."
        job.finished_at = now


def _document(job: DiscoveryJob) -> dict[str, object]:
    return {
        "method": job.method,
        "targets": job.targets,
        "multicast": job.multicast,
        "ports": list(job.ports),
        "timeout_s": job.timeout_s,
        "with_credentials": job.with_credentials,
    }


def device_document(device: DiscoveredDevice) -> dict[str, Any]:
    """A found device as stored in a job's results."""
    document = dataclasses.asdict(device)
    document["ports"], document["scopes"] = list(device.ports), list(device.scopes)
    document["camera_id"] = None
    return document


# --- the background runner --------------------------------------------------------------------------


@dataclass
class LiveJob:
    """A job's changing state: in the runner's memory while it runs, else as stored."""

    status: DiscoveryStatus
    hosts_total: int = 0
    hosts_done: int = 0
    devices_found: int = 0
    progress: float = 0.0
    error: str | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def of(cls, job: DiscoveryJob) -> LiveJob:
        """The state a stored row holds."""
        return cls(
            status=DiscoveryStatus(job.status),
            hosts_total=job.hosts_total,
            hosts_done=job.hosts_done,
            devices_found=job.devices_found,
            progress=job.progress,
            error=job.error,
            results=list(job.results),
            started_at=job.started_at,
            finished_at=job.finished_at,
        )

    def progress_message(self) -> Message:
        """The `progress` event."""
        return {
            "type": "progress",
            "hosts_total": self.hosts_total,
            "hosts_done": self.hosts_done,
            "devices_found": self.devices_found,
            "progress": round(self.progress, 3),
        }
