"""Segment times: the camera's RTCP sender-report clock when it is trustworthy, else receive time; the
index records which one dated each segment (migration 0018)."""

from __future__ import annotations

import asyncio
import struct
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
from sqlalchemy import select

from tests import factories
from tests.migration_check import diffs_touching, read_schema
from vms import migrations
from vms.kernel.tenancy import TenantScope
from vms.media import service
from vms.media.models import Segment
from vms.media.segmenter import SegmentInfo
from vms.media.timing import CAMERA_STEP_S, CREEP, ClockSource, StreamClock, sender_report_time
from vms.uow import Actor

T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def test_a_file_is_placed_from_its_first_packet_by_timestamps():
    clock = StreamClock(live=False)
    assert clock.place(pts_s=10.0, received=T0, camera=None) == T0
    assert clock.place(pts_s=12.0, received=T0 + s(0.001), camera=None) == T0 + s(2)  # read fast, dated by pts
    assert clock.source is ClockSource.RECEIVE and clock.skew_s is None


def test_a_live_stream_is_never_placed_after_its_arrival_but_jitter_does_not_move_it():
    clock = StreamClock()
    clock.place(pts_s=0.0, received=T0, camera=None)
    # A burst at connect: 1.5 s of buffered video arrives within 0.1 s; the anchor moves back to fit it.
    assert clock.place(pts_s=1.5, received=T0 + s(0.1), camera=None) == T0 + s(0.1)
    assert abs((clock.at(0.0) - (T0 - s(1.4))).total_seconds()) < 0.001
    # Later packets arrive late by network jitter: their times follow their timestamps, not their arrival.
    late = clock.place(pts_s=2.5, received=T0 + s(1.4), camera=None)
    assert abs((late - (T0 + s(1.1))).total_seconds()) < 0.001


def test_a_slow_camera_clock_is_followed_by_the_creep():
    clock = StreamClock()
    clock.place(pts_s=0.0, received=T0, camera=None)
    day = 86_400.0
    at = clock.place(pts_s=day, received=T0 + s(day + 3), camera=None)  # its clock lost 3 s in a day
    assert CREEP * day > 3, "the creep outpaces the camera's drift"
    assert at == T0 + s(day + 3), "so its video is dated by when it arrived, not 3 s early"


def test_a_camera_clock_close_to_ours_is_used_from_the_first_sender_report_on():
    clock = StreamClock()
    clock.place(pts_s=0.0, received=T0, camera=None)
    camera = T0 + s(1.0) - s(2.5)  # the packet was captured 2.5 s earlier than we would say
    assert clock.place(pts_s=1.0, received=T0 + s(1.05), camera=camera) == camera
    assert clock.source is ClockSource.CAMERA
    assert clock.skew_s == -2.55
    # Then anchored: later packets follow their timestamps from the camera anchor.
    assert clock.place(pts_s=2.0, received=T0 + s(2.3), camera=camera + s(1.0)) == camera + s(1.0)


def test_a_camera_clock_far_from_ours_is_reported_but_not_trusted():
    clock = StreamClock(max_skew_s=10)
    at = clock.place(pts_s=0.0, received=T0, camera=T0 - timedelta(hours=1))
    assert at == T0 and clock.source is ClockSource.RECEIVE
    assert clock.skew_s == -3600.0


def test_a_step_of_the_camera_clock_re_anchors_but_small_drift_does_not():
    clock = StreamClock()
    clock.place(pts_s=0.0, received=T0, camera=T0)
    drifted = T0 + s(1.0) + s(CAMERA_STEP_S / 2)
    assert clock.place(pts_s=1.0, received=T0 + s(1), camera=drifted) == T0 + s(1.0)
    stepped = T0 + s(2.0) + s(2.0)  # the camera's NTP client corrected it by 2 s
    assert clock.place(pts_s=2.0, received=T0 + s(2), camera=stepped) == stepped


class PacketWithReferenceTime:
    """What PyAV shows of a packet FFmpeg's RTP demuxer tagged with `prft` (AVProducerReferenceTime)."""

    def __init__(self, wallclock_us: int) -> None:
        self.data = struct.pack("<qi", wallclock_us, 24) + b"\x00" * 4

    def has_sidedata(self, kind: str) -> bool:
        return kind == "prft"

    def get_sidedata(self, kind: str) -> bytes:
        return self.data


def test_sender_report_time_reads_ffmpegs_producer_reference_time():
    assert sender_report_time(av.Packet(b"\x00\x00\x00\x01\x65")) is None  # no sender report seen yet
    wallclock_us = int((T0 - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000) + 250_000
    assert sender_report_time(PacketWithReferenceTime(wallclock_us)) == T0 + s(0.25)


async def test_the_index_records_which_clock_dated_a_segment(container, tmp_path: Path):
    customer = await factories.customer(container)
    camera = uuid.uuid4()
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("ingest")) as uow:
        for i, clock in enumerate((ClockSource.CAMERA, ClockSource.RECEIVE)):
            path = tmp_path / f"{i}.mp4"
            path.write_bytes(b"x" * 100)
            start = T0 + s(5 * i)
            info = SegmentInfo(path, i, start, start + s(5), 50, 100, "h264", 320, 240, 1.0, clock=clock)
            await service.record_segment(
                uow=uow, blobs=container.blobs, tenant_id=customer.id, camera_id=camera, stream="main", info=info
            )
        await uow.commit()
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
        rows = (await uow.session.execute(select(Segment).order_by(Segment.sequence))).scalars().all()
    assert [r.clock for r in rows] == ["camera", "receive"]


async def _clock_column(url: str) -> tuple[bool, list[object]]:
    schema = await read_schema(url)
    return "clock" in schema.columns("segments"), diffs_touching(schema.diffs, quoted=("clock",))


async def test_migration_0018_goes_down_and_up_and_matches_the_model(any_database_url):
    assert await _clock_column(any_database_url) == (True, [])
    await asyncio.to_thread(migrations.downgrade, any_database_url, "0017")
    assert (await _clock_column(any_database_url))[0] is False
    await asyncio.to_thread(migrations.upgrade, any_database_url, "head")
    assert await _clock_column(any_database_url) == (True, [])
