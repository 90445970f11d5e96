"""The stream supervisor stores segments, reconnects with backoff and reports status honestly."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.media import make_clip
from vms.media.ingest import Backoff, StreamHealth, StreamIngest, StreamStatus, _redact
from vms.media.segmenter import SegmentInfo


async def run_for(ingest: StreamIngest, seconds: float) -> None:
    task = asyncio.create_task(ingest.run())
    await asyncio.sleep(seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_source_that_ends_is_segmented_then_reconnected(tmp_path: Path):
    clip = make_clip(tmp_path / "cam.mp4", width=320, height=240, fps=25, seconds=11)
    stored: list[SegmentInfo] = []

    async def store(info: SegmentInfo) -> None:
        stored.append(info)

    ingest = StreamIngest(
        url=str(clip), work_dir=tmp_path / "work", on_segment=store, backoff=Backoff(base_s=0.05, cap_s=0.1), options={}
    )
    await run_for(ingest, 1.5)
    assert len(stored) >= 6  # 3 per pass over the file, at least two passes
    assert [round(s.duration_s) for s in stored[:3]] == [5, 5, 1]
    assert ingest.health.reconnects >= 2
    assert ingest.health.last_error == "stream ended"
    assert ingest.health.segments == len(stored)
    assert ingest.health.bitrate_kbps and ingest.health.fps == 25.0
    sequences = [s.sequence for s in stored]
    assert sequences == sorted(set(sequences)), "sequence numbers keep rising across reconnects"


async def test_an_unreachable_camera_is_offline_and_retried(tmp_path: Path):
    statuses: list[StreamStatus] = []

    def on_status(health: StreamHealth) -> None:
        statuses.append(health.status)

    async def store(info: SegmentInfo) -> None:
        raise AssertionError("nothing to store")

    ingest = StreamIngest(
        url="rtsp://127.0.0.1:9/none",
        work_dir=tmp_path,
        on_segment=store,
        on_status=on_status,
        backoff=Backoff(base_s=0.05, cap_s=0.1),
        stall_s=1,
    )
    await run_for(ingest, 1.5)
    assert ingest.health.reconnects >= 2
    assert StreamStatus.OFFLINE in statuses
    assert StreamStatus.ONLINE not in statuses
    assert ingest.health.last_error and "refused" in ingest.health.last_error.lower()


async def test_a_corrupt_source_does_not_kill_the_supervisor(tmp_path: Path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"garbage" * 1000)
    statuses: list[StreamStatus] = []

    async def store(info: SegmentInfo) -> None:
        raise AssertionError("nothing to store")

    ingest = StreamIngest(
        url=str(junk),
        work_dir=tmp_path / "w",
        on_segment=store,
        on_status=lambda health: statuses.append(health.status),
        backoff=Backoff(base_s=0.02, cap_s=0.05),
        options={},
    )
    await run_for(ingest, 0.5)
    assert ingest.health.reconnects >= 2
    assert StreamStatus.OFFLINE in statuses and StreamStatus.ONLINE not in statuses
    assert "Invalid data" in (ingest.health.last_error or "")
    assert not list((tmp_path / "w").glob("*.mp4"))


def test_backoff_grows_is_capped_and_jittered():
    backoff = Backoff(base_s=1, cap_s=8)
    delays = [max(backoff.delay(5) for _ in range(200)), max(backoff.delay(1) for _ in range(200))]
    assert 6 < delays[0] <= 8
    assert delays[1] <= 1
    assert len({round(backoff.delay(3), 6) for _ in range(20)}) > 1
    assert backoff.delay(1, auth_failed=True) == backoff.auth_failed_s


def test_credentials_never_reach_the_logs():
    assert _redact("rtsp://admin:s3cret@10.0.0.7:554/stream1") == "rtsp://10.0.0.7:554/stream1"
    assert _redact("rtsp://10.0.0.7/x") == "rtsp://10.0.0.7/x"
