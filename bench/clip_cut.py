"""Event clips: what one 20 s clip (10 s before, 10 s after the event) costs to cut.

Real segments: a 720p25 H.264 clip (keyframe every second) cut into 5 s segments by the real
segmenter and recorded three times over (36 s) into the blob store. Events are spread across the
middle, so each clip spans 4–5 segments. Figures (medians, seconds per clip):
- `cut_stored_s`: the stream-copy cutter alone (vms.streaming.export.cut_stored);
- `clip_maker_s`: the events role's ClipMaker end to end — segment lookup, cut, snapshot JPEG
  (one frame decoded), blob writes, event update;
- `ffmpeg_cli_s`: the baseline, measured in the same run: the ffmpeg CLI doing the same stream-copy
  cut (concat demuxer over the same segment files, seek, 20 s, `-c copy`);
- `vs_ffmpeg`, `maker_vs_ffmpeg`: ours ÷ baseline (below 1: cheaper than spawning ffmpeg per clip).

    uv run python bench/clip_cut.py [--clips 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import factories
from tests.conftest import make_settings
from tests.media import make_clip
from tests.unit.events.test_clips import add_event
from tests.unit.streaming.recorded import record_run

from vms import logs, migrations
from vms.bootstrap import Container, build_container
from vms.events.clips import ClipMaker, ClipPolicy
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.tenancy import TenantScope
from vms.media import service as media
from vms.media.segmenter import Segmenter, SegmentInfo
from vms.streaming.export import cut_stored
from vms.uow import Actor


async def record(container: Container, tenant: uuid.UUID, camera: uuid.UUID, work: Path) -> tuple[datetime, datetime]:
    """36 s of real segments for `camera`, ending a minute ago; (start, end)."""
    source = await asyncio.to_thread(make_clip, work / "src.mp4", width=1280, height=720, fps=25, seconds=12, gop_s=1)
    pieces: list[SegmentInfo] = []
    origin = datetime(2026, 1, 1, tzinfo=UTC)
    segmenter = Segmenter(out_dir=work / "cut", target_s=5, clock=lambda: origin)
    await asyncio.to_thread(segmenter.run, str(source), on_segment=pieces.append, stop=threading.Event())
    start = (utcnow() - timedelta(minutes=2)).replace(microsecond=0)
    at = start
    for run in range(3):
        at = await record_run(
            container,
            tenant_id=tenant,
            camera_id=camera,
            stream="main",
            pieces=pieces,
            start=at,
            first_sequence=run * 10,
            work=work / f"run{run}",
        )
    return start, at


async def ffmpeg_cut(listing: Path, offset_s: float, out: Path) -> None:
    """The baseline: the ffmpeg CLI's stream-copy cut of the same 20 s from the same files."""
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
        "-ss", f"{offset_s:.3f}", "-t", "20", "-c", "copy", str(out),
    )  # fmt: skip
    if await proc.wait() != 0:
        raise RuntimeError("ffmpeg could not cut the baseline clip")


async def measure(container: Container, tenant: uuid.UUID, clips: int, work: Path) -> dict[str, object]:
    camera = uuid.uuid4()
    start, end = await record(container, tenant, camera, work)
    moments = [start + timedelta(seconds=11 + 14 * i / max(clips - 1, 1)) for i in range(clips)]
    async with container.unit_of_work(TenantScope.of(tenant), Actor.system("bench")) as uow:  # type: ignore[arg-type]
        segments = await media.segments_between(uow=uow, camera_id=camera, start=start, end=end, stream="main")
        sources = [(s.blob_key, as_utc(s.started_at)) for s in segments]
    paths = [await container.blobs.local_path(key) for key, _ in sources]
    if any(p is None for p in paths):
        raise RuntimeError("the bench needs the filesystem blob store (the ffmpeg baseline reads files)")

    listing = work / "segments.txt"  # the concat demuxer's list of the same segment files
    await asyncio.to_thread(listing.write_text, "".join(f"file '{p}'\n" for p in paths))
    ours, baseline = [], []
    for i, moment in enumerate(moments):
        begin, finish = moment - timedelta(seconds=10), moment + timedelta(seconds=10)
        started = time.perf_counter()
        await cut_stored(container.blobs, sources, start=begin, end=finish, out_path=work / f"ours{i}.mp4")
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        offset = (begin - start).total_seconds()
        await ffmpeg_cut(listing, offset, work / f"ffmpeg{i}.mp4")
        baseline.append(time.perf_counter() - started)

    for moment in moments:
        await add_event(container, tenant, camera, moment)
    maker = ClipMaker(container, policy=ClipPolicy(batch=clips))  # the whole set in one pass
    started = time.perf_counter()
    await maker.make_due(now=end + timedelta(seconds=60))
    maker_s = (time.perf_counter() - started) / max(maker.made, 1)
    if maker.made != clips:
        raise RuntimeError(f"the ClipMaker cut {maker.made} of {clips} clips ({maker.failed} failed)")
    cut, ffmpeg = statistics.median(ours), statistics.median(baseline)
    return {
        "clips": clips,
        "cut_stored_s": round(cut, 4),
        "clip_maker_s": round(maker_s, 4),
        "ffmpeg_cli_s": round(ffmpeg, 4),
        "vs_ffmpeg": round(cut / ffmpeg, 3),
        "maker_vs_ffmpeg": round(maker_s / ffmpeg, 3),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=10)
    args = parser.parse_args()
    logs.configure(level="WARNING")
    work = Path(tempfile.mkdtemp(prefix="vms-bench-clips-"))
    settings = make_settings(work, f"sqlite+aiosqlite:///{work}/vms.db")
    await asyncio.to_thread(migrations.upgrade, settings.database.url)
    container = build_container(settings)
    try:
        tenant = (await factories.customer(container)).id
        figures = await measure(container, tenant, args.clips, work)
    finally:
        await container.close()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"bench": "clip_cut", "segment": "720p25 h264, 5 s", **figures}))


if __name__ == "__main__":
    asyncio.run(main())
