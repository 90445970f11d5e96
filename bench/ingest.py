"""Ingest cost: N simulated 1080p25 H.264 cameras stream-copied into 5 s segments, ours vs a bare ffmpeg remux.

All phases read the same RTSP streams (the camera simulator's cam1 profile: H.264 1920x1080 25 fps,
4 Mbit/s, keyframe every second; one go2rtc connection per reader) for the same `--seconds`, one
after the other, `--rounds` times over, medians reported (the machine is noisy: only ratios from
one run compare):
- bare: `ffmpeg -rtsp_transport tcp -i URL -c copy -f segment -segment_time 5` per camera;
- remux: one StreamIngest per camera in this process (reader + segmenter threads, the event loop,
  the supervisor), closed segments just deleted — the same work as the bare remux;
- indexed: the same, each closed segment moved into the filesystem blob store and indexed in
  SQLite through the unit of work, as the ingest role does;
- sharded: the remux with the cameras split over `--processes` child processes (default 2), as
  `VMS_INGEST__PROCESSES` splits them over `vms role ingest --shard I/N` children.

Figures:
- `bare_cpu_per_cam`, `remux_cpu_per_cam`, `indexed_cpu_per_cam`: CPU seconds per camera per second
  of video (user + system);
- `remux_vs_bare` (goal ≤ 1.2), `indexed_vs_bare`, `sharded_vs_bare`; `cams_per_core`: 1 ÷
  indexed_cpu_per_cam (goal ≥ 40);
- `indexed_p50_ms` (median of rounds), `indexed_p99_ms` (worst round): segment closed (its file's
  last write) → index row committed (goal p99 < 200 ms).

    uv run python bench/ingest.py [--cameras 8] [--seconds 20] [--rounds 2] [--processes 2]

Needs the camera simulator: VMS_TEST_RTSP_BASE, else `scripts/services up cameras` is run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import factories
from tests.conftest import make_settings

from vms import logs, migrations
from vms.bootstrap import Container, build_container
from vms.kernel.ids import TenantId
from vms.kernel.tenancy import TenantScope
from vms.media import service as media
from vms.media.ingest import Backoff, StreamIngest
from vms.media.segmenter import SegmentInfo
from vms.uow import Actor

REPO = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def simulator_base() -> str:
    """The simulator's RTSP base URL, starting it when it is not running."""
    if base := os.environ.get("VMS_TEST_RTSP_BASE"):
        return base
    out = subprocess.run([str(REPO / "scripts" / "services"), "up", "cameras"], check=True, capture_output=True)
    for line in out.stdout.decode().splitlines():
        if line.startswith("VMS_TEST_RTSP_BASE="):
            return line.split("=", 1)[1]
    raise SystemExit("bench/ingest.py: the camera simulator did not start (scripts/services up cameras)")


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_of(pid: int) -> float:
    """User + system seconds of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def ours(
    container: Container, tenant: uuid.UUID, urls: list[str], seconds: float, work: Path, *, index: bool
) -> dict[str, float]:
    latencies: list[float] = []
    segments = 0

    def camera(number: int) -> StreamIngest:
        camera_id = uuid.uuid4()

        async def store(info: SegmentInfo) -> None:
            nonlocal segments
            if not index:
                info.path.unlink()
                segments += 1
                return
            closed = info.path.stat().st_mtime  # the segment's last write: when it was closed
            async with container.unit_of_work(TenantScope.of(TenantId(tenant)), Actor.system("ingest")) as uow:
                await media.record_segment(
                    uow=uow, blobs=container.blobs, tenant_id=tenant, camera_id=camera_id, stream="main", info=info
                )
                await uow.commit()
            latencies.append(time.time() - closed)
            segments += 1

        return StreamIngest(
            url=urls[number], work_dir=work / f"cam{number}", on_segment=store, backoff=Backoff(base_s=0.2, cap_s=1)
        )

    ingests = [camera(i) for i in range(len(urls))]
    tasks = [asyncio.create_task(i.run()) for i in ingests]
    await asyncio.sleep(3.0)  # connect and reach the steady state before measuring
    latencies.clear()
    start_cpu, start = cpu_self(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, elapsed = cpu_self() - start_cpu, time.monotonic() - start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(1.0)  # the reader threads see the stop and exit
    if not segments:
        raise SystemExit("bench/ingest.py: no segment was made; is the simulator serving cam1?")
    latencies = sorted(latencies) or [float("nan")]
    return {
        "cpu_per_cam": cpu / elapsed / len(urls),
        "segments": segments,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "reconnects": sum(i.health.reconnects for i in ingests),
    }


async def remux_forever(url: str, cameras: int, work: Path) -> None:
    """A sharded phase's child: `cameras` StreamIngests of `url`, closed segments deleted, until killed."""

    async def drop(info: SegmentInfo) -> None:
        info.path.unlink()

    ingests = [
        StreamIngest(url=url, work_dir=work / f"cam{i}", on_segment=drop, backoff=Backoff(base_s=0.2, cap_s=1))
        for i in range(cameras)
    ]
    print("started", flush=True)  # the parent measures from here on: the imports cost seconds of CPU
    await asyncio.gather(*(i.run() for i in ingests))


def sharded(urls: list[str], seconds: float, work: Path, processes: int) -> float:
    """CPU seconds per camera per second of our remux with the cameras split over `processes` children."""
    shares = [len(urls) // processes + (1 if i < len(urls) % processes else 0) for i in range(processes)]
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", urls[0], "--cameras", str(n), "--work", str(work / f"shard{i}")],
            stdout=subprocess.PIPE,
        )
        for i, n in enumerate(shares)
        if n
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == b"started", "a sharded child did not start"
    return per_camera(procs, seconds, len(urls))


def bare(urls: list[str], seconds: float, work: Path) -> float:
    """CPU seconds per camera per second of a bare ffmpeg segmenting remux of the same streams."""
    procs = []
    for i, url in enumerate(urls):
        out = work / f"bare{i}"
        out.mkdir(parents=True)
        command = [
            "ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", url, "-map", "0:v", "-c", "copy",
            "-f", "segment", "-segment_time", "5", "-segment_format", "mp4", "-reset_timestamps", "1",
            str(out / "%05d.mp4"),
        ]  # fmt: skip
        procs.append(subprocess.Popen(command))
    return per_camera(procs, seconds, len(urls))


def per_camera(procs: list[subprocess.Popen[bytes]], seconds: float, cameras: int) -> float:
    """CPU seconds per camera per second the running `procs` use over `seconds` after a 3 s warm-up; stops them."""
    time.sleep(3.0)
    start, t0 = sum(cpu_of(p.pid) for p in procs), time.monotonic()
    time.sleep(seconds)
    used, elapsed = sum(cpu_of(p.pid) for p in procs) - start, time.monotonic() - t0
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(10)
    return used / elapsed / cameras


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--processes", type=int, default=2, help="Child processes of the sharded phase.")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)  # a sharded phase's child
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logs.configure(level="WARNING")
    if args.child:
        await remux_forever(args.child, args.cameras, args.work)
        return
    urls = [f"{simulator_base()}/cam1"] * args.cameras  # one go2rtc session each, like N cameras
    work = Path(tempfile.mkdtemp(prefix="vms-bench-ingest-"))
    settings = make_settings(work, f"sqlite+aiosqlite:///{work}/vms.db")
    await asyncio.to_thread(migrations.upgrade, settings.database.url)
    container = build_container(settings)
    try:
        tenant = (await factories.customer(container)).id
        bares, remuxes, indexed, shards = [], [], [], []
        for r in range(args.rounds):
            bares.append(await asyncio.to_thread(bare, urls, args.seconds, work / f"bare{r}"))
            shards.append(await asyncio.to_thread(sharded, urls, args.seconds, work / f"sharded{r}", args.processes))
            remuxes.append(await ours(container, tenant, urls, args.seconds, work / f"remux{r}", index=False))
            indexed.append(await ours(container, tenant, urls, args.seconds, work / f"indexed{r}", index=True))
        baseline = statistics.median(bares)
        remux = {k: statistics.median(r[k] for r in remuxes) for k in remuxes[0]}
        mine = {k: statistics.median(r[k] for r in indexed) for k in indexed[0]}
        mine["p99_ms"] = max(r["p99_ms"] for r in indexed)  # the worst round's p99, not a median of tails
    finally:
        await container.close()
        shutil.rmtree(work, ignore_errors=True)
    figures = {
        "bench": "ingest",
        "stream": "1080p25 h264 4 Mbit/s, 5 s segments",
        "cameras": args.cameras,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "bare_cpu_per_cam": round(baseline, 5),
        "remux_cpu_per_cam": round(remux["cpu_per_cam"], 5),
        "indexed_cpu_per_cam": round(mine["cpu_per_cam"], 5),
        "remux_vs_bare": round(remux["cpu_per_cam"] / baseline, 3) if baseline else None,
        "indexed_vs_bare": round(mine["cpu_per_cam"] / baseline, 3) if baseline else None,
        "processes": args.processes,
        "sharded_cpu_per_cam": round(statistics.median(shards), 5),
        "sharded_vs_bare": round(statistics.median(shards) / baseline, 3) if baseline else None,
        "cams_per_core": round(1 / mine["cpu_per_cam"], 1) if mine["cpu_per_cam"] else None,
        "segments_indexed": sum(r["segments"] for r in indexed),
        "indexed_p50_ms": round(mine["p50_ms"], 1),
        "indexed_p99_ms": round(mine["p99_ms"], 1),
        "reconnects": sum(r["reconnects"] for r in remuxes + indexed),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
