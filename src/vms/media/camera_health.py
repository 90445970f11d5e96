"""What the ingest role tells the camera row about its stream: status and fault on change, last frame in batches.

At 6,000 cameras the row cannot follow the stream packet by packet. So:

- a status change (online, degraded, offline, auth_failed) is written as it happens, with its fault and
  error (credentials removed), one writer per camera that always writes the latest state: a camera
  flapping faster than the database answers costs one write per round trip, not one per flap;
  `connecting` is not written (every reconnect attempt would cost two writes and two audit records,
  and the row's last known state is the better answer while the camera is retried); a write that
  fails (a database failover) is tried again by that camera's writer with a backoff capped at
  `retry_max_s`, unless a newer change arrived meanwhile (that one is written instead): a camera
  that went offline during the failover must not stay "online" on its row;
- the last frame time and the stream's measured figures (reconnects, bitrate, fps, keyframe interval)
  are noted in memory when a segment closes and written for all cameras in one statement every
  `flush_s` (the time also with each status change), so the row is at most that stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime

import structlog

from vms.cameras import service as cameras
from vms.cameras.schemas import StreamStats
from vms.kernel.clock import utcnow
from vms.kernel.ids import TenantId
from vms.kernel.tenancy import TenantScope
from vms.media.ingest import StreamHealth, StreamStatus, redact_text
from vms.uow import Actor, UnitOfWork

log = structlog.get_logger(__name__)
ACTOR = Actor.system("ingest")
UnitOfWorkFactory = Callable[[TenantScope, Actor], AbstractAsyncContextManager[UnitOfWork]]


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A stream's state at the moment it changed (a copy: the health record keeps changing)."""

    tenant_id: uuid.UUID
    status: StreamStatus
    fault: str | None
    last_error: str | None
    at: datetime
    last_frame_at: datetime | None

    @classmethod
    def of(cls, tenant_id: uuid.UUID, health: StreamHealth, *, at: datetime) -> StatusChange:
        """The change `health` reports now; fault and error are cleared once the stream is online."""
        online = health.status is StreamStatus.ONLINE
        return cls(
            tenant_id=tenant_id,
            status=health.status,
            fault=None if online or health.fault is None else health.fault.value,
            last_error=None if online or not health.last_error else redact_text(health.last_error)[:400],
            at=at,
            last_frame_at=health.last_packet_at,
        )


class CameraHealthWriter:
    """Writes stream status to the camera rows on change, and last-frame times in periodic batches.

    >>> writer = CameraHealthWriter(container.unit_of_work, flush_s=60)
    >>> task = asyncio.create_task(writer.run())
    >>> writer.status(tenant_id, camera_id, ingest.health)   # from StreamIngest.on_status
    >>> writer.frame(camera_id, info.ended_at, ingest.health)  # from each closed segment
    """

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        *,
        flush_s: float = 60.0,
        retry_s: float = 1.0,
        retry_max_s: float = 30.0,
    ) -> None:
        self.unit_of_work = unit_of_work
        self.flush_s = flush_s
        self.retry_s, self.retry_max_s = retry_s, retry_max_s  # a failed status write: backoff, doubling, capped
        self._closing = asyncio.Event()  # set by close(): writers stop waiting and give up after one more try
        self._pending: dict[uuid.UUID, StatusChange] = {}
        self._writers: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._frames: dict[uuid.UUID, datetime] = {}
        self._stats: dict[uuid.UUID, StreamStats] = {}  # the figures as of each camera's noted frame
        self.writes = 0  # status statements issued (for tests and the curious)

    def status(self, tenant_id: uuid.UUID, camera_id: uuid.UUID, health: StreamHealth) -> None:
        """Note a status change; written in the background, latest state wins (never blocks ingest)."""
        if health.status is StreamStatus.CONNECTING:
            return
        self._pending[camera_id] = StatusChange.of(tenant_id, health, at=utcnow())
        if camera_id not in self._writers:
            self._writers[camera_id] = asyncio.get_running_loop().create_task(self._write(camera_id))

    def frame(self, camera_id: uuid.UUID, at: datetime, health: StreamHealth | None = None) -> None:
        """Note that video up to `at` was received (and the stream's figures then); written at the next flush."""
        known = self._frames.get(camera_id)
        if known is None or at > known:
            self._frames[camera_id] = at
            if health is not None:
                self._stats[camera_id] = stream_stats(health)

    async def run(self) -> None:
        """Flush last-frame times every `flush_s` until cancelled (then once more)."""
        try:
            while True:
                await asyncio.sleep(self.flush_s)
                await self.flush_frames()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.flush_frames())

    async def flush_frames(self) -> None:
        """Write every noted last-frame time in one statement; kept for the next flush when the database is out."""
        frames, self._frames = self._frames, {}
        if not frames:
            return
        noted = {camera_id: (at, self._stats.get(camera_id)) for camera_id, at in frames.items()}
        try:
            async with self.unit_of_work(TenantScope.platform(), ACTOR) as uow:
                await cameras.record_last_frames(uow=uow, frames=noted)
                await uow.commit()
        except Exception as exc:  # the database is out: keep the times, newer ones noted meanwhile win
            log.warning("last frame times not saved; retried at the next flush", cameras=len(frames), error=str(exc))
            for camera_id, at in frames.items():
                known = self._frames.get(camera_id)
                if known is None or at > known:
                    self._frames[camera_id] = at

    async def close(self) -> None:
        """Let pending status writes finish (one more try each if they were failing), then flush the frame times."""
        self._closing.set()
        await asyncio.gather(*self._writers.values(), return_exceptions=True)
        await self.flush_frames()
        self._closing.clear()  # the writer may be used again (a test, a restarted ingest)

    async def _write(self, camera_id: uuid.UUID) -> None:
        failures = 0
        try:
            while (change := self._pending.pop(camera_id, None)) is not None:
                if await self._save(camera_id, change):
                    failures = 0
                    continue
                if self._closing.is_set():  # shutting down with the database away: the next start reports anew
                    log.error("camera status not saved; given up at shutdown", camera_id=str(camera_id))
                    return
                self._pending.setdefault(camera_id, change)  # kept, unless a newer change arrived meanwhile
                delay = min(self.retry_max_s, self.retry_s * 2 ** min(failures, 32))
                failures += 1
                with contextlib.suppress(TimeoutError):  # a pause off the ingest path; close() cuts it short
                    await asyncio.wait_for(self._closing.wait(), delay)
        finally:
            self._writers.pop(camera_id, None)

    async def _save(self, camera_id: uuid.UUID, change: StatusChange) -> bool:
        """Write one change; False (logged) when the database did not take it."""
        noted = self._frames.get(camera_id)
        last_frame = max((t for t in (noted, change.last_frame_at) if t is not None), default=None)
        try:
            async with self.unit_of_work(TenantScope.of(TenantId(change.tenant_id)), ACTOR) as uow:
                await cameras.set_status(
                    uow=uow,
                    camera_id=camera_id,
                    status=cameras.status_of(change.status.value),
                    fault=change.fault,
                    last_error=change.last_error,
                    at=change.at,
                    last_frame_at=last_frame,
                )
                await uow.commit()
            self.writes += 1
            if noted is not None and self._frames.get(camera_id) == noted:
                del self._frames[camera_id]  # written with the status: no need to write it again at the flush
            return True
        except Exception as exc:  # a database outage must not end the writer: the change is tried again
            log.warning("camera status not saved", camera_id=str(camera_id), status=change.status, error=str(exc))
            return False


def stream_stats(health: StreamHealth) -> StreamStats:
    """The figures of a stream's health record that the camera row keeps."""
    return StreamStats(
        reconnects=health.reconnects,
        segments=health.segments,
        bitrate_kbps=health.bitrate_kbps,
        fps=health.fps,
        keyframe_interval_s=health.keyframe_interval_s,
        format=health.format,
        clock=health.clock.value if health.clock is not None else None,
        pending_segments=health.pending_segments,
        lost_segments=health.lost_segments,
    )
