"""Keeping one camera stream flowing into segments: reconnects, stalls, status.

Each stream gets a supervisor: the segmenter runs on a thread of its own (PyAV releases the GIL
while it waits on the network and demuxes, so one process carries many cameras; not the event loop's
default executor, which has cores + 4 workers: readers that never return would fill it, starve every
other `to_thread` — blob writes included — and leave cameras past the sixth never started), closed segments
are handed back to the event loop to be stored and indexed, and every failure ends in a reconnect
with exponential backoff and jitter. A stream that stops delivering packets for `stall_s` is
restarted even if the socket stays open. Credentials refused by the camera back off longer: they
will not fix themselves, and hammering a camera can lock its account.

Every way a stream can fail ends in a status and a reason (`StreamHealth.status`, `.fault`,
`.last_error`) and a reconnect; nothing a camera or the storage does ends the supervisor. A segment
that cannot be stored (disk full, blob store or database down) stays in the work directory and is
retried, oldest first, before each new one, up to `max_pending`; the stream stays connected meanwhile
and reports `degraded` / `storage`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import random
import re
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import structlog
from av.error import FFmpegError, HTTPUnauthorizedError, InvalidDataError

from vms.kernel.clock import utcnow
from vms.media.segmenter import Segmenter, SegmentInfo
from vms.media.timing import ClockSource

log = structlog.get_logger(__name__)


class StreamStatus(StrEnum):
    """A stream's state as operators see it."""

    CONNECTING = "connecting"
    ONLINE = "online"
    DEGRADED = "degraded"  # connected, but packets are late (stalling) or reconnects are frequent
    OFFLINE = "offline"
    AUTH_FAILED = "auth_failed"


class StreamFault(StrEnum):
    """Why a stream is not plainly online; `StreamHealth.last_error` says it in words."""

    UNREACHABLE = "unreachable"  # no connection: refused, no route, no answer
    DISCONNECTED = "disconnected"  # the connection dropped or the stream ended mid-way
    STALLED = "stalled"  # connected, but no packets for a while
    AUTH_FAILED = "auth_failed"  # the camera refuses the stored credentials (401)
    BAD_STREAM = "bad_stream"  # data that cannot be demuxed, or no video in it
    STORAGE = "storage"  # segments cannot be written or stored: disk full, blob store or database down


STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}
_USERINFO = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@'\"]*@")


@dataclass
class StreamHealth:
    """What the supervisor knows about its stream, for the API, metrics and the watchdog."""

    status: StreamStatus = StreamStatus.CONNECTING
    fault: StreamFault | None = None  # set while the status is not online
    last_packet_at: datetime | None = None
    reconnects: int = 0
    last_error: str | None = None
    segments: int = 0
    bitrate_kbps: float | None = None
    fps: float | None = None
    keyframe_interval_s: float | None = None
    format: str | None = None  # `h264 1920x1080`, as the latest keyframe describes it
    format_changes: int = 0  # in-band resolution/profile changes seen (each started a new segment)
    discontinuities: int = 0  # timestamp jumps (rebased so time runs on)
    damaged_keyframes: int = 0  # keyframes with damaged parameter sets (corrupt packets from the camera)
    clock: ClockSource | None = None  # which clock dated the latest segment (media.timing)
    clock_skew_s: float | None = None  # camera clock minus ours, when the camera sends sender reports
    pending_segments: int = 0  # closed segments waiting for storage to come back
    lost_segments: int = 0  # segments given up (storage out for longer than max_pending segments)


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
    max_pending: int = 360  # segments kept for retry while storage is out (30 min of 5 s segments)
    health: StreamHealth = field(default_factory=StreamHealth)
    _pending: deque[SegmentInfo] = field(default_factory=deque, init=False, repr=False)
    _counted: tuple[int, int, int] = field(default=(0, 0, 0), init=False, repr=False)  # counts before this connection

    async def run(self) -> None:
        """Connect, segment, reconnect — forever, until the task is cancelled."""
        attempt = 0
        sequence = 0
        loop = asyncio.get_running_loop()

        def deliver(info: SegmentInfo) -> None:
            # Runs on the segmenter thread; waiting here gives natural backpressure.
            store = self._store(info)
            try:
                stored = asyncio.run_coroutine_threadsafe(store, loop)
            except RuntimeError:  # the loop closed under a stopping reader: nobody will await the coroutine
                store.close()
                raise
            stored.result()

        while True:
            await self._flush_pending()
            self._set(StreamStatus.CONNECTING, self.health.fault)
            segmenter = Segmenter(
                out_dir=self.work_dir, target_s=self.target_s, clock=self.clock, first_sequence=sequence
            )
            stop = threading.Event()
            h = self.health
            self._counted = (h.format_changes, h.discontinuities, h.damaged_keyframes)
            worker = _in_own_thread(
                functools.partial(
                    segmenter.run,
                    self.url,
                    on_segment=deliver,
                    stop=stop,
                    options=self.options,
                    open_timeout_s=self.stall_s,
                    read_timeout_s=self.stall_s,
                    realtime=self.realtime,
                ),
                name=f"ingest {_redact(self.url)}",
            )
            watch = asyncio.create_task(self._watch(segmenter, stop))
            try:
                await worker
                fault, error = self._ended(segmenter, None)
            except asyncio.CancelledError:
                stop.set()
                raise
            except Exception as exc:  # whatever the camera, the network or the disk did, the supervisor goes on
                fault, error = self._ended(segmenter, exc)
            finally:
                watch.cancel()
                stop.set()
                self._observe(segmenter)
            sequence = segmenter.next_sequence
            healthy = self.health.last_packet_at is not None and segmenter.last_packet_at is not None
            attempt = 1 if healthy else attempt + 1
            self.health.reconnects += 1
            self.health.last_error = redact_text(error, self.url)  # FFmpeg's messages quote the URL
            status = {StreamFault.AUTH_FAILED: StreamStatus.AUTH_FAILED, StreamFault.STORAGE: StreamStatus.DEGRADED}
            self._set(status.get(fault, StreamStatus.OFFLINE), fault)
            delay = self.backoff.delay(attempt, auth_failed=fault is StreamFault.AUTH_FAILED)
            log.warning(
                "stream lost; reconnecting",
                url=_redact(self.url),
                fault=fault.value,
                error=self.health.last_error,
                retry_in_s=round(delay, 2),
            )
            await asyncio.sleep(delay)

    def _ended(self, segmenter: Segmenter, exc: BaseException | None) -> tuple[StreamFault, str]:
        """Why the segmenter returned: the fault and the reason in words."""
        last = segmenter.last_packet_at
        silent = (self.clock() - last).total_seconds() if last is not None else 0.0
        if isinstance(exc, HTTPUnauthorizedError):
            return StreamFault.AUTH_FAILED, f"camera refused the credentials: {exc}"
        if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
            return StreamFault.STORAGE, f"segment not written: {exc}"
        if last is not None and silent >= self.stall_s * 0.9:  # our watch or FFmpeg's read timeout
            return StreamFault.STALLED, f"no packets for {silent:.0f} s"
        if isinstance(exc, InvalidDataError | IndexError):  # IndexError: no video stream in the source
            return StreamFault.BAD_STREAM, f"{type(exc).__name__}: {exc}"
        if exc is None:
            return StreamFault.DISCONNECTED, "stream ended"
        if not isinstance(exc, FFmpegError | OSError):
            log.error("ingest failed unexpectedly", url=_redact(self.url), exc_info=exc)
        fault = StreamFault.UNREACHABLE if last is None else StreamFault.DISCONNECTED
        return fault, f"{type(exc).__name__}: {exc}"

    async def _store(self, info: SegmentInfo) -> None:
        """Store a closed segment after any that wait for storage, in order; keep it for retry if storage fails."""
        await self._flush_pending()
        if self._pending:
            self._keep_for_retry(info)
            return
        try:
            await self.on_segment(info)
        except Exception as exc:  # storage or index down: the camera is fine, keep the video
            self._storage_failed(info, exc)
            return
        self._stored(info)

    async def _flush_pending(self) -> None:
        while self._pending:
            info = self._pending[0]
            try:
                await self.on_segment(info)
            except Exception as exc:
                self.health.last_error = redact_text(f"segment not stored: {exc}", self.url)
                return
            self._pending.popleft()
            self.health.pending_segments = len(self._pending)
            self._stored(info)
        if self.health.fault is StreamFault.STORAGE:
            log.info("storage back; pending segments stored", url=_redact(self.url))
            self._set(StreamStatus.ONLINE if self.health.status is StreamStatus.DEGRADED else self.health.status)

    def _storage_failed(self, info: SegmentInfo, exc: Exception) -> None:
        self.health.last_error = redact_text(f"segment not stored: {exc}", self.url)
        log.warning(
            "segment not stored; kept for retry",
            url=_redact(self.url),
            segment=info.path.name,
            error=self.health.last_error,
        )
        if info.path.exists():
            self._keep_for_retry(info)
        else:  # moved into storage but not indexed: the orphan sweep will reclaim the blob
            self.health.lost_segments += 1
            log.error("segment lost after it left the work directory", url=_redact(self.url), segment=info.path.name)
        self._set(StreamStatus.DEGRADED, StreamFault.STORAGE)

    def _keep_for_retry(self, info: SegmentInfo) -> None:
        self._pending.append(info)
        while len(self._pending) > self.max_pending:
            dropped = self._pending.popleft()
            dropped.path.unlink(missing_ok=True)
            self.health.lost_segments += 1
            log.error("storage out too long; oldest waiting segment dropped", segment=dropped.path.name)
        self.health.pending_segments = len(self._pending)

    def _stored(self, info: SegmentInfo) -> None:
        h = self.health
        h.segments += 1
        h.bitrate_kbps = round(info.bitrate_kbps, 1)
        h.fps = round(info.frames / info.duration_s, 2) if info.duration_s else None
        h.keyframe_interval_s = info.keyframe_interval_s
        h.clock = info.clock

    async def _watch(self, segmenter: Segmenter, stop: threading.Event) -> None:
        """Status from packet arrival; restart the reader when packets stop (a stall)."""
        while not stop.is_set():
            await asyncio.sleep(min(1.0, self.stall_s / 4))
            self._observe(segmenter)
            last = segmenter.last_packet_at
            if last is None:
                continue
            self.health.last_packet_at = last
            silent = (self.clock() - last).total_seconds()
            if silent >= self.stall_s:
                stop.set()  # the segmenter closes its open segment and returns; run() reconnects
            elif silent >= self.stall_s / 2:
                self.health.last_error = f"no packets for {silent:.0f} s"
                self._set(StreamStatus.DEGRADED, StreamFault.STALLED)
            elif self._pending:
                self._set(StreamStatus.DEGRADED, StreamFault.STORAGE)
            else:
                self._set(StreamStatus.ONLINE)

    def _observe(self, segmenter: Segmenter) -> None:
        """Copy what the segmenter learnt about the stream into the health record."""
        h = self.health
        changes = self._counted[0] + len(segmenter.format_changes)
        if changes > h.format_changes:
            log.info("stream format changed", url=_redact(self.url), change=segmenter.format_changes[-1])
        h.format, h.format_changes = segmenter.format, changes
        h.discontinuities = self._counted[1] + segmenter.discontinuities
        damaged = self._counted[2] + segmenter.damaged_keyframes
        if damaged > h.damaged_keyframes:
            log.warning("damaged keyframes from the camera", url=_redact(self.url), total=damaged)
        h.damaged_keyframes = damaged
        skew = segmenter.timing.skew_s
        h.clock_skew_s = round(skew, 3) if skew is not None else None

    def _set(self, status: StreamStatus, fault: StreamFault | None = None) -> None:
        changed = self.health.status is not status or self.health.fault is not fault
        self.health.status, self.health.fault = status, fault
        if changed:
            self.on_status(self.health)


def _in_own_thread(work: Callable[[], None], *, name: str) -> asyncio.Future[None]:
    """Run blocking `work` on a new daemon thread; the future settles when it returns or raises.

    Cancelling the future does not stop the thread: the caller's stop event does, at the next packet.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle(exc: BaseException | None) -> None:
        if done.done():
            return
        if exc is None:
            done.set_result(None)
        else:
            done.set_exception(exc)

    def target() -> None:
        outcome: BaseException | None = None
        try:
            work()
        except BaseException as exc:  # handed to the awaiting coroutine, which classifies it
            outcome = exc
        with contextlib.suppress(RuntimeError):  # the loop closed while this thread finished: nobody waits
            loop.call_soon_threadsafe(settle, outcome)

    threading.Thread(target=target, name=name, daemon=True).start()
    return done


def redact_text(text: str, url: str | None = None) -> str:
    """`text` without credentials: userinfo stripped from every URL in it, and `url`'s password wherever it appears."""
    cleaned = _USERINFO.sub(r"\1", text)
    if url and "://" in url:
        userinfo = url.split("://", 1)[1].rpartition("@")[0]
        password = userinfo.partition(":")[2]
        if password:
            cleaned = cleaned.replace(password, "***")
    return cleaned


def _redact(url: str) -> str:
    """A URL safe for logs: credentials removed."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url
