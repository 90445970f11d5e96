"""Keeping one camera stream flowing into segments: reconnects, stalls, status.

Each stream gets a supervisor: the segmenter runs on a worker thread (PyAV releases the GIL
while it waits on the network and demuxes, so one process carries many cameras), closed segments
are handed back to the event loop to be stored and indexed, and every failure ends in a reconnect
with exponential backoff and jitter. A stream that stops delivering packets for `stall_s` is
restarted even if the socket stays open. Credentials refused by the camera back off longer: they
will not fix themselves, and hammering a camera can lock its account.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import structlog
from av.error import FFmpegError, HTTPUnauthorizedError

from vms.kernel.clock import utcnow
from vms.media.segmenter import Segmenter, SegmentInfo

log = structlog.get_logger(__name__)


class StreamStatus(StrEnum):
    """A stream's state as operators see it."""

    CONNECTING = "connecting"
    ONLINE = "online"
    DEGRADED = "degraded"  # connected, but packets are late (stalling) or reconnects are frequent
    OFFLINE = "offline"
    AUTH_FAILED = "auth_failed"


@dataclass
class StreamHealth:
    """What the supervisor knows about its stream, for the API, metrics and the watchdog."""

    status: StreamStatus = StreamStatus.CONNECTING
    last_packet_at: datetime | None = None
    reconnects: int = 0
    last_error: str | None = None
    segments: int = 0
    bitrate_kbps: float | None = None
    fps: float | None = None
    keyframe_interval_s: float | None = None


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter, capped."""

    base_s: float = 1.0
    cap_s: float = 60.0
    auth_failed_s: float = 300.0

    def delay(self, attempt: int, *, auth_failed: bool = False) -> float:
        """Seconds to wait before reconnect attempt number `attempt` (1-based)."""
        if auth_failed:
            return self.auth_failed_s
        return random.uniform(0, min(self.cap_s, self.base_s * 2 ** (attempt - 1)))


@dataclass
class StreamIngest:
    """Supervises one stream until cancelled.

    >>> ingest = StreamIngest(url=camera.main_url, work_dir=tmp, on_segment=store)
    >>> task = asyncio.create_task(ingest.run())
    """

    url: str
    work_dir: Path
    on_segment: Callable[[SegmentInfo], Awaitable[None]]
    on_status: Callable[[StreamHealth], None] = lambda _health: None
    target_s: float = 5.0
    stall_s: float = 10.0
    backoff: Backoff = field(default_factory=Backoff)
    options: dict[str, str] = field(default_factory=lambda: {"rtsp_transport": "tcp"})
    realtime: bool = False  # pace a file source at its frame rate (the demo camera)
    clock: Callable[[], datetime] = utcnow
    health: StreamHealth = field(default_factory=StreamHealth)

    async def run(self) -> None:
        """Connect, segment, reconnect — forever, until the task is cancelled."""
        attempt = 0
        sequence = 0
        loop = asyncio.get_running_loop()

        def deliver(info: SegmentInfo) -> None:
            # Runs on the segmenter thread; waiting here gives natural backpressure.
            asyncio.run_coroutine_threadsafe(self._store(info), loop).result()

        while True:
            self._set(StreamStatus.CONNECTING)
            segmenter = Segmenter(
                out_dir=self.work_dir, target_s=self.target_s, clock=self.clock, first_sequence=sequence
            )
            stop = threading.Event()
            worker = asyncio.create_task(
                asyncio.to_thread(
                    segmenter.run,
                    self.url,
                    on_segment=deliver,
                    stop=stop,
                    options=self.options,
                    open_timeout_s=self.stall_s,
                    read_timeout_s=self.stall_s,
                    realtime=self.realtime,
                )
            )
            watch = asyncio.create_task(self._watch(segmenter, stop))
            auth_failed = False
            try:
                await worker
                self.health.last_error = "stream ended"
            except asyncio.CancelledError:
                stop.set()
                raise
            except HTTPUnauthorizedError as exc:
                auth_failed = True
                self.health.last_error = f"camera refused the credentials: {exc}"
            except (FFmpegError, OSError, IndexError) as exc:  # IndexError: no video stream in the source
                self.health.last_error = f"{type(exc).__name__}: {exc}"
            finally:
                watch.cancel()
                stop.set()
            sequence = segmenter.next_sequence
            healthy = self.health.last_packet_at is not None and segmenter.last_packet_at is not None
            attempt = 1 if healthy else attempt + 1
            self.health.reconnects += 1
            self._set(StreamStatus.AUTH_FAILED if auth_failed else StreamStatus.OFFLINE)
            delay = self.backoff.delay(attempt, auth_failed=auth_failed)
            log.warning(
                "stream lost; reconnecting",
                url=_redact(self.url),
                error=self.health.last_error,
                retry_in_s=round(delay, 2),
            )
            await asyncio.sleep(delay)

    async def _store(self, info: SegmentInfo) -> None:
        await self.on_segment(info)
        h = self.health
        h.segments += 1
        h.bitrate_kbps = round(info.bitrate_kbps, 1)
        h.fps = round(info.frames / info.duration_s, 2) if info.duration_s else None
        h.keyframe_interval_s = info.keyframe_interval_s

    async def _watch(self, segmenter: Segmenter, stop: threading.Event) -> None:
        """Status from packet arrival; restart the reader when packets stop (a stall)."""
        while not stop.is_set():
            await asyncio.sleep(min(1.0, self.stall_s / 4))
            last = segmenter.last_packet_at
            if last is None:
                continue
            self.health.last_packet_at = last
            silent = (self.clock() - last).total_seconds()
            if silent >= self.stall_s:
                self.health.last_error = f"no packets for {silent:.0f} s"
                stop.set()  # the segmenter closes its open segment and returns; run() reconnects
            else:
                self._set(StreamStatus.DEGRADED if silent >= self.stall_s / 2 else StreamStatus.ONLINE)

    def _set(self, status: StreamStatus) -> None:
        if self.health.status is not status:
            self.health.status = status
            self.on_status(self.health)


def _redact(url: str) -> str:
    """A URL safe for logs: credentials removed."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url
