"""Ingest under faults, on the camera simulator behind a fault-injecting RTSP proxy (tests.simulators.rtsp_faults).

For each fault: the stream's status says what happened, the supervisor keeps running and recovers
when the fault clears, every stored segment decodes completely (no half-written segment), and the
video before and after the fault is kept. Also: which clock dates the segments (RTCP sender reports
when the camera sends them, else receive time).
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import av
import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import engine_url
from tests.simulators.rtsp_faults import FaultyCamera, utc_offset_clock
from vms.adapters.blobs.filesystem import FilesystemBlobStore
from vms.kernel.clock import utcnow
from vms.kernel.errors import ServiceUnavailable
from vms.kernel.tenancy import TenantScope
from vms.media import service as media
from vms.media.ingest import Backoff, StreamFault, StreamHealth, StreamIngest, StreamStatus
from vms.media.models import Segment
from vms.media.segmenter import SegmentInfo
from vms.media.timing import ClockSource
from vms.uow import Actor

pytestmark = pytest.mark.engines
SUB = "cam2"  # H.264 640x360 15 fps, keyframe every second: cheap on two cores
H265 = "cam3"  # H.265 1280x720 25 fps


@pytest.fixture
def upstream() -> tuple[str, int]:
    parts = urlsplit(engine_url("VMS_TEST_RTSP_BASE"))
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


def decodes_whole(path: Path) -> int:
    """Frames decoded from the whole file; raises if the container or the stream is broken."""
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(c.streams.video[0]))


def demuxed(path: Path) -> int:
    """Packets read from the whole file (the container is whole even where the pictures are damaged)."""
    with av.open(str(path)) as c:
        return sum(1 for p in c.demux(c.streams.video[0]) if p.size)


def decodes_tolerantly(path: Path) -> int:
    """Frames decoded, skipping packets the decoder rejects (as a player conceals damage)."""
    frames = 0
    with av.open(str(path)) as c:
        for packet in c.demux(c.streams.video[0]):
            try:
                frames += len(packet.decode())
            except av.InvalidDataError:
                continue
    return frames


@dataclass
class Watched:
    """One supervised stream and everything it reported."""

    ingest: StreamIngest
    task: asyncio.Task[None]
    segments: list[SegmentInfo] = field(default_factory=list)
    closed_at: list[datetime] = field(default_factory=list)  # receive time when each segment was handed over
    statuses: list[tuple[StreamStatus, StreamFault | None]] = field(default_factory=list)

    async def until(self, what: Callable[[], bool], timeout_s: float = 30.0, why: str = "") -> None:
        for _ in range(int(timeout_s * 10)):
            if what():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"not within {timeout_s} s: {why}; statuses {self.statuses}, health {self.ingest.health}")

    async def more_segments(self, count: int, timeout_s: float = 30.0) -> None:
        target = len(self.segments) + count
        await self.until(lambda: len(self.segments) >= target, timeout_s, f"{count} more segments")

    def saw(self, status: StreamStatus, fault: StreamFault | None = None) -> bool:
        return any(s is status and (fault is None or f is fault) for s, f in self.statuses)

    async def check_all_whole(self, damaged: tuple[datetime, datetime] | None = None) -> None:
        """Stop the supervisor, then: every stored segment is whole and in order, and no partial file is left.

        Whole: every packet demuxes, and every frame decodes — except, in segments that overlap the
        `damaged` window, the pictures the camera sent damaged (recorded as sent, as a stream copy must).
        """
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        # The reader thread notices the stop at its next packet or timeout and closes its open segment.
        await self.until(lambda: not list(self.ingest.work_dir.glob("*.part")), 5.0, "the open segment closed")
        damaged_frames = damaged_decoded = 0
        for info in self.segments:
            assert await asyncio.to_thread(demuxed, info.path) == info.frames, "the container is whole"
            hit = damaged and info.started_at < damaged[1] + timedelta(seconds=0.3) and info.ended_at > damaged[0]
            if hit:
                damaged_frames += info.frames
                damaged_decoded += await asyncio.to_thread(decodes_tolerantly, info.path)
            else:
                assert await asyncio.to_thread(decodes_whole, info.path) == info.frames, "decodes completely"
        # How much of the damaged pictures a decoder can conceal is the codec's business (random byte
        # flips in every packet), not ours: what was kept must still play, without a fixed fraction.
        assert damaged_frames == 0 or damaged_decoded > 0, "the damaged stretch still plays in part"
        sequences = [s.sequence for s in self.segments]
        assert sequences == sorted(set(sequences))
        for before, after in itertools.pairwise(self.segments):
            assert after.started_at >= before.ended_at, "no overlap in time"


@pytest.fixture
async def watch(tmp_path: Path):
    started: list[Watched] = []

    async def start(
        url: str, *, store: Callable[[SegmentInfo], Awaitable[None]] | None = None, **options: object
    ) -> Watched:
        watched: Watched

        async def on_segment(info: SegmentInfo) -> None:
            if store is not None:
                await store(info)  # may fail (disk full); then the supervisor keeps the file for retry
                return
            watched.closed_at.append(utcnow())
            watched.segments.append(info)

        def on_status(health: StreamHealth) -> None:
            watched.statuses.append((health.status, health.fault))

        settings: dict[str, object] = {
            "target_s": 2.0,
            "stall_s": 3.0,
            "backoff": Backoff(base_s=0.2, cap_s=0.5, auth_failed_s=1.0),
        } | options
        ingest = StreamIngest(
            url=url,
            work_dir=tmp_path / f"work{len(started)}",
            on_segment=on_segment,
            on_status=on_status,
            **settings,  # type: ignore[arg-type]
        )
        watched = Watched(ingest, asyncio.create_task(ingest.run()))
        started.append(watched)
        return watched

    yield start
    for w in started:
        w.task.cancel()
    await asyncio.gather(*(w.task for w in started), return_exceptions=True)


async def test_a_camera_disconnect_mid_segment_keeps_what_came_before_and_reconnects(upstream, watch):
    async with FaultyCamera(*upstream) as camera:
        w = await watch(camera.url(SUB))
        await w.more_segments(2)
        await asyncio.sleep(1.0)  # halfway into the next 2 s segment
        cut_at = utcnow()
        camera.cut()
        await w.until(lambda: w.saw(StreamStatus.OFFLINE, StreamFault.DISCONNECTED), why="offline: disconnected")
        await w.more_segments(3)
        assert w.statuses[-1] == (StreamStatus.ONLINE, None), "recovered"
        assert camera.sessions >= 2 and w.ingest.health.reconnects >= 1
    # The segment open at the cut was closed at its last packet and stored, not thrown away.
    assert any(abs((s.ended_at - cut_at).total_seconds()) < 0.7 for s in w.segments), (cut_at, w.segments)
    assert not w.task.done(), "the supervisor is still running"
    await w.check_all_whole()


async def test_a_stalled_camera_goes_degraded_then_offline_and_recovers(upstream, watch):
    async with FaultyCamera(*upstream) as camera:
        w = await watch(camera.url(SUB))
        await w.more_segments(2)
        camera.mode = "stall"
        await w.until(lambda: w.saw(StreamStatus.DEGRADED, StreamFault.STALLED), why="degraded while packets are late")
        await w.until(lambda: w.saw(StreamStatus.OFFLINE, StreamFault.STALLED), why="offline: stalled")
        assert "no packets for" in (w.ingest.health.last_error or "")
        stored = len(w.segments)
        camera.mode = "pass"
        await w.more_segments(2)
        assert len(w.segments) > stored and w.statuses[-1] == (StreamStatus.ONLINE, None)
    await w.check_all_whole()


async def test_a_credential_change_reports_auth_failed_and_recovers_when_fixed(upstream, watch):
    async with FaultyCamera(*upstream) as camera:
        w = await watch(camera.url(SUB, userinfo="admin:old-password"))
        await w.more_segments(1)
        camera.mode = "refuse"  # the camera's password was changed: the session ends, every retry gets 401
        camera.cut()
        await w.until(lambda: w.saw(StreamStatus.AUTH_FAILED, StreamFault.AUTH_FAILED), why="auth_failed")
        assert "credentials" in (w.ingest.health.last_error or "")
        assert camera.refused >= 1
        camera.mode = "pass"  # the right password is back
        await w.more_segments(2)
        assert w.statuses[-1] == (StreamStatus.ONLINE, None)
    await w.check_all_whole()


@pytest.mark.parametrize("damage", ["corrupt", "truncate"])
async def test_corrupt_or_truncated_packets_never_break_a_segment_or_the_supervisor(upstream, watch, damage):
    async with FaultyCamera(*upstream) as camera:
        w = await watch(camera.url(SUB))
        await w.more_segments(1)
        started = utcnow()
        camera.mode = damage  # type: ignore[assignment]
        await asyncio.sleep(4.0)
        camera.mode = "pass"
        ended = utcnow()
        await w.more_segments(3)
        assert not w.task.done()
        assert w.statuses[-1] == (StreamStatus.ONLINE, None)
        assert any(s.started_at > ended for s in w.segments), "clean video after the damage"
    await w.check_all_whole(damaged=(started, ended))


async def test_timestamps_jumping_backwards_cut_a_segment_and_time_keeps_moving_forward(upstream, watch):
    async with FaultyCamera(*upstream) as camera:
        w = await watch(camera.url(SUB))
        await w.more_segments(2)
        camera.rewind(30.0)
        await w.until(lambda: w.ingest.health.discontinuities >= 1, why="the jump is seen")
        await w.more_segments(2)
        assert camera.sessions == 1, "handled in the same session, no reconnect"
    for before, after in itertools.pairwise(w.segments):
        assert after.started_at >= before.ended_at, "the index never runs backwards"
        assert (after.started_at - before.ended_at).total_seconds() < 1.0, "and has no hole at the jump"
    await w.check_all_whole()


async def test_a_codec_and_resolution_change_on_the_camera_is_followed(upstream, watch):
    async with FaultyCamera(*upstream) as camera:
        camera.route("camera", SUB)
        w = await watch(camera.url("camera"))
        await w.more_segments(2)
        assert w.ingest.health.format == "h264 640x360"
        camera.route("camera", H265)  # reconfigured: the camera restarts its stream
        camera.cut()
        await w.until(lambda: any(s.codec == "hevc" for s in w.segments), why="segments in the new codec")
        await w.more_segments(1)
    kinds = [(s.codec, s.width, s.height) for s in w.segments]
    first_new = kinds.index(("hevc", 1280, 720))
    assert set(kinds[:first_new]) == {("h264", 640, 360)} and set(kinds[first_new:]) == {("hevc", 1280, 720)}
    assert w.ingest.health.format == "hevc 1280x720"
    for info in w.segments:
        with av.open(str(info.path)) as c:
            ctx = c.streams.video[0].codec_context
            assert (ctx.name, ctx.width, ctx.height) == (info.codec, info.width, info.height)
    await w.check_all_whole()


class FillingDisk(FilesystemBlobStore):
    """The filesystem blob store on a disk that is full while `full` is set (writes fail with ENOSPC)."""

    full = False

    async def put_file(self, key: str, path: Path, *, move: bool = False) -> int:
        if self.full:
            raise ServiceUnavailable(f"Blob storage write failed: {OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))}")
        return await super().put_file(key, path, move=move)


async def test_a_full_disk_keeps_segments_waiting_and_indexes_them_in_order_when_space_returns(
    upstream, watch, container, tmp_path
):
    customer = await factories.customer(container)
    blobs = FillingDisk(tmp_path / "blobs")
    camera_id = uuid.uuid4()

    async def record(info: SegmentInfo) -> None:
        async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("ingest")) as uow:
            await media.record_segment(
                uow=uow, blobs=blobs, tenant_id=customer.id, camera_id=camera_id, stream="main", info=info
            )
            await uow.commit()

    async def indexed() -> list[Segment]:
        async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
            return list((await uow.session.execute(select(Segment).order_by(Segment.sequence))).scalars())

    async with FaultyCamera(*upstream) as camera:
        w = await watch(camera.url(SUB), store=record)
        await w.until(lambda: w.ingest.health.segments >= 2, why="two segments stored")
        blobs.full = True
        await w.until(lambda: w.ingest.health.pending_segments >= 3, why="segments waiting for storage")
        assert w.saw(StreamStatus.DEGRADED, StreamFault.STORAGE)
        assert "No space left on device" in (w.ingest.health.last_error or "")
        assert camera.sessions == 1, "the camera stays connected: it is not the camera's fault"
        during = len(await indexed())
        blobs.full = False
        await w.until(lambda: w.ingest.health.pending_segments == 0, why="the backlog is stored")
        await w.until(lambda: w.ingest.health.status is StreamStatus.ONLINE, why="online again")
    rows = await indexed()
    assert len(rows) >= during + 3
    assert [r.sequence for r in rows] == list(range(rows[0].sequence, rows[0].sequence + len(rows))), "none lost"
    for before, after in itertools.pairwise(rows):
        assert after.started_at >= before.ended_at
    for row in rows:
        path = await blobs.local_path(row.blob_key)
        assert path is not None and decodes_whole(path) == row.frames
    assert w.ingest.health.lost_segments == 0
    assert not list(w.ingest.work_dir.glob("*.mp4")), "nothing left behind in the work directory"


# --- which clock dates the segments ------------------------------------------------------------------


async def test_without_sender_reports_segments_are_dated_by_receive_time(upstream, watch):
    w = await watch(f"rtsp://{upstream[0]}:{upstream[1]}/{SUB}")  # go2rtc sends no RTCP sender reports
    await w.more_segments(2)
    assert {s.clock for s in w.segments} == {ClockSource.RECEIVE}
    assert w.ingest.health.clock_skew_s is None
    # A segment closes when the next one's first packet arrives: its end is (about) the moment we got it.
    assert all(abs((s.ended_at - at).total_seconds()) < 0.8 for s, at in zip(w.segments, w.closed_at, strict=True))


async def test_sender_reports_date_the_segments_by_the_cameras_clock(upstream, watch):
    async with FaultyCamera(*upstream, sender_clock=utc_offset_clock(-3.0)) as camera:
        w = await watch(camera.url(SUB))
        await w.more_segments(3)
        assert camera.reports_sent >= 2
    dated = [(s, at) for s, at in zip(w.segments, w.closed_at, strict=True) if s.clock is ClockSource.CAMERA]
    assert len(dated) >= 2, "from the first sender report on, the camera's clock dates the segments"
    for seg, at in dated:
        assert -3.8 < (seg.ended_at - at).total_seconds() < -2.2, "the camera's time, 3 s behind ours"
    assert w.ingest.health.clock is ClockSource.CAMERA
    assert w.ingest.health.clock_skew_s is not None and -3.5 < w.ingest.health.clock_skew_s < -2.5
    await w.check_all_whole()


async def test_a_camera_clock_an_hour_off_is_not_trusted_and_its_skew_is_reported(upstream, watch):
    async with FaultyCamera(*upstream, sender_clock=utc_offset_clock(-3600.0)) as camera:
        w = await watch(camera.url(SUB))
        await w.more_segments(2)
    assert {s.clock for s in w.segments} == {ClockSource.RECEIVE}
    assert all(abs((s.ended_at - at).total_seconds()) < 0.8 for s, at in zip(w.segments, w.closed_at, strict=True))
    assert w.ingest.health.clock_skew_s is not None and abs(w.ingest.health.clock_skew_s + 3600) < 2
