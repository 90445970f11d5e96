"""The discovery runner: runs discovery jobs in the api process's event loop.

It keeps each running job's live state in memory, hands every change (progress, a device found,
the end) to in-process listeners at once (the SSE stream), and writes the row at most twice a
second plus a heartbeat, so a job whose process died is reported failed instead of running forever.
A job cancelled through another process is noticed at its next write. What a job is, how it is
checked and stored, and how a result becomes a camera is `vms.cameras.discovery`'s; this module
only runs jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import structlog

from vms.cameras import discovery
from vms.cameras.devices import scan as scanner
from vms.cameras.devices import wsdiscovery
from vms.cameras.devices.base import DiscoveredDevice
from vms.cameras.models import DiscoveryJob, DiscoveryStatus
from vms.kernel.clock import utcnow
from vms.kernel.errors import VmsError
from vms.kernel.ids import TenantId
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor

log = structlog.get_logger(__name__)


class _StoppedElsewhere(Exception):
    """The job was cancelled through another process."""


@dataclass
class _Running:
    live: discovery.LiveJob
    tenant_id: uuid.UUID
    listeners: set[asyncio.Queue[discovery.Message]] = field(default_factory=set)
    by_key: dict[tuple[str, str], int] = field(default_factory=dict)  # (host, kind) → result index
    dirty: bool = True
    task: asyncio.Task[None] | None = None


class DiscoveryRunner:
    """Runs discovery jobs in this process's event loop and pushes their changes to listeners.

    >>> runner = DiscoveryRunner(unit_of_work=container.unit_of_work)
    >>> runner.submit(job.id, tenant_id=job.tenant_id, plan=checked)
    >>> with runner.listen(job.id) as listener:   # None when the job does not run here
    ...     message = await listener.get()          # {"type": "device", "index": 0, "device": {...}}
    >>> await runner.wait(job.id)
    """

    def __init__(self, *, unit_of_work: discovery.UnitOfWorkFactory) -> None:
        self.unit_of_work = unit_of_work
        self._jobs: dict[uuid.UUID, _Running] = {}
        self._closing = False

    def submit(self, job_id: uuid.UUID, *, tenant_id: uuid.UUID, plan: discovery.DiscoveryPlan) -> None:
        """Start a stored (queued) job; returns at once."""
        running = _Running(discovery.LiveJob(DiscoveryStatus.QUEUED, hosts_total=len(plan.targets)), tenant_id)
        self._jobs[job_id] = running
        running.task = asyncio.create_task(self._run(job_id, running, plan), name=f"discovery-{job_id}")
        running.task.add_done_callback(lambda _t: self._jobs.pop(job_id, None))

    def live(self, job_id: uuid.UUID) -> discovery.LiveJob | None:
        """The in-memory state of a job running here."""
        running = self._jobs.get(job_id)
        return running.live if running else None

    @contextlib.contextmanager
    def listen(self, job_id: uuid.UUID) -> Iterator[asyncio.Queue[discovery.Message] | None]:
        """A queue of the job's changes from now on (None when it does not run here); ends with a `done`."""
        running = self._jobs.get(job_id)
        if running is None:
            yield None
            return
        queue: asyncio.Queue[discovery.Message] = asyncio.Queue()
        running.listeners.add(queue)
        try:
            yield queue
        finally:
            running.listeners.discard(queue)

    def cancel(self, job_id: uuid.UUID) -> bool:
        """Stop a job running here (its results so far are kept); False when it does not run here."""
        running = self._jobs.get(job_id)
        if running is None or running.task is None:
            return False
        running.task.cancel()
        return True

    def mark_added(self, job_id: uuid.UUID, index: int, camera_id: uuid.UUID) -> None:
        """Record in the live state that a result became a camera (the row already says so)."""
        running = self._jobs.get(job_id)
        if running is not None and 0 <= index < len(running.live.results):
            running.live.results[index] = {**running.live.results[index], "camera_id": str(camera_id)}

    async def wait(self, job_id: uuid.UUID, *, timeout_s: float | None = None) -> None:
        """Until a job running here has finished (at once if it does not run here)."""
        running = self._jobs.get(job_id)
        if running is not None and running.task is not None:
            await asyncio.wait({running.task}, timeout=timeout_s)

    async def close(self) -> None:
        """Stop every job (reported as interrupted); called when the app shuts down."""
        self._closing = True
        tasks = [r.task for r in self._jobs.values() if r.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, job_id: uuid.UUID, running: _Running, plan: discovery.DiscoveryPlan) -> None:
        live = running.live
        bound = log.bind(discovery_job_id=str(job_id), tenant_id=str(running.tenant_id), method=plan.method)
        live.status, live.started_at = DiscoveryStatus.RUNNING, utcnow()
        work = asyncio.create_task(self._discover(running, plan), name=f"discovery-work-{job_id}")
        try:
            await self._write(job_id, running)
            last_write = time.monotonic()
            last_progress = live.progress_message()
            while not work.done():
                await asyncio.wait({work}, timeout=discovery.FLUSH_S)
                if plan.method == "ws-discovery" and live.started_at is not None:
                    elapsed = (utcnow() - live.started_at).total_seconds()
                    live.progress = min(elapsed / plan.timeout_s, 0.99)
                if (message := live.progress_message()) != last_progress:
                    last_progress = message
                    running.dirty = True
                    self._publish(running, message)
                if running.dirty or time.monotonic() - last_write >= discovery.HEARTBEAT_S:
                    await self._write(job_id, running)
                    last_write = time.monotonic()
            work.result()
            live.status, live.progress = DiscoveryStatus.COMPLETED, 1.0
            live.hosts_done = live.hosts_total
            bound.info("discovery completed", devices=live.devices_found)
        except asyncio.CancelledError:
            live.status = DiscoveryStatus.FAILED if self._closing else DiscoveryStatus.CANCELLED
            live.error = "The server stopped during the discovery; run it again." if self._closing else None
            raise
        except _StoppedElsewhere:
            live.status = DiscoveryStatus.CANCELLED
        except VmsError as exc:
            bound.warning("discovery failed", error=exc.detail)
            live.status, live.error = DiscoveryStatus.FAILED, exc.detail[:400]
        except Exception as exc:  # a bug must still end the job, not leave it running
            bound.exception("discovery failed")
            live.status, live.error = DiscoveryStatus.FAILED, f"Discovery failed: {type(exc).__name__}."
        finally:
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            live.finished_at = utcnow()
            running.dirty = True
            # Shielded: a cancelled job must still be recorded as finished, or it would look running.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._write(job_id, running, final=True))
            self._publish(running, {"type": "done", "live": live})

    async def _discover(self, running: _Running, plan: discovery.DiscoveryPlan) -> None:
        """Feed every device found into the live state; scan progress comes through its callback."""
        live = running.live

        def progress(p: scanner.ScanProgress) -> None:
            live.hosts_total, live.hosts_done = p.hosts_total, p.hosts_done
            live.progress = p.hosts_done / p.hosts_total if p.hosts_total else 1.0

        found: AsyncIterator[DiscoveredDevice]
        if plan.method == "scan":
            found = scanner.scan(
                plan.targets,
                ports=plan.ports,
                timeout_s=plan.timeout_s,
                credentials=plan.credentials,
                progress=progress,
            )
        else:
            found = wsdiscovery.discover(targets=plan.targets, multicast=plan.multicast, timeout_s=plan.timeout_s)
        async with contextlib.aclosing(found) as devices:
            async for device in devices:
                self._found(running, device)

    def _found(self, running: _Running, device: DiscoveredDevice) -> None:
        """Add a device (or fill in what an earlier answer from the same host and kind left out); push it."""
        live, document = running.live, discovery.device_document(device)
        key = (discovery.normal_host(device.host), device.kind)
        index = running.by_key.get(key)
        if index is None:
            index = len(live.results)
            running.by_key[key] = index
            live.results.append(document)
        else:
            earlier = live.results[index]
            live.results[index] = {name: earlier.get(name) or value for name, value in document.items()}
        live.devices_found = len(live.results)
        running.dirty = True
        self._publish(running, {"type": "device", "index": index, "device": live.results[index]})

    def _publish(self, running: _Running, message: discovery.Message) -> None:
        for queue in running.listeners:
            queue.put_nowait(message)

    async def _write(self, job_id: uuid.UUID, running: _Running, *, final: bool = False) -> None:
        """Store the live state; a job cancelled elsewhere stops here (unless this is its last write)."""
        live = running.live
        async with self.unit_of_work(TenantScope.of(TenantId(running.tenant_id)), Actor.system("discovery")) as uow:
            job = await uow.get(DiscoveryJob, job_id, what="Discovery job")
            cancelled_elsewhere = job.status == DiscoveryStatus.CANCELLED and live.status != DiscoveryStatus.CANCELLED
            if cancelled_elsewhere and not final:
                raise _StoppedElsewhere
            # Cameras added from results while the job runs are marked in the row by the add route.
            for stored, result in zip(job.results, live.results, strict=False):
                if stored.get("camera_id") and not result.get("camera_id"):
                    result["camera_id"] = stored["camera_id"]
            job.status = DiscoveryStatus.CANCELLED.value if cancelled_elsewhere else live.status.value
            job.hosts_total, job.hosts_done, job.devices_found = live.hosts_total, live.hosts_done, live.devices_found
            job.progress, job.error = round(live.progress, 3), live.error
            job.results = [dict(result) for result in live.results]
            job.started_at, job.finished_at, job.updated_at = live.started_at, live.finished_at, utcnow()
            await uow.commit()
        running.dirty = False
