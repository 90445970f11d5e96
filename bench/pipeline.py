"""AI job pipeline under load: 50 simulated cameras, 5 s segments, a STANDARD backlog, on the
embedded bus and on Kafka (when VMS_TEST_KAFKA_BOOTSTRAP is set).

Each camera runs a CRITICAL model and a STANDARD model, so every segment makes two jobs. Before
the paced load starts, a backlog of STANDARD jobs is queued; CRITICAL latency must stay low while
the worker digs through it. The models are trivial (mean brightness): this measures the
pipeline (bus, claim check, decode, scheduling), not model cost. Also measured in the same run:
decode-once vs decode-per-model CPU, and a direct in-process call as the no-bus baseline.

    uv run python bench/pipeline.py [--seconds 20] [--cameras 50] [--backlog 150]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.media import make_clip

from vms.adapters.blobs.filesystem import FilesystemBlobStore
from vms.adapters.bus.embedded import EmbeddedBus
from vms.adapters.bus.kafka import KafkaBus
from vms.analytics.jobs import SegmentRef, make_jobs, publish_jobs
from vms.analytics.plugin import AnalyticsModel, Detection
from vms.analytics.worker import Worker
from vms.kernel.ai_models import AiModel
from vms.kernel.topics import PARTITIONS
from vms.media.normalize import NormalizedClip, normalize
from vms.media.segmenter import Segmenter, SegmentInfo
from vms.ports import Bus

CUSTOMER = uuid.uuid4()


class MeanBrightness(AnalyticsModel[Any]):
    key = AiModel.MOTION

    def __init__(self, model: AiModel) -> None:
        super().__init__()
        self.model = model

    def analyze(self, clip: NormalizedClip, *, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        level = float(clip.frames[::5].mean()) / 255
        return [Detection(self.model, camera_id, segment_sequence, clip.timestamps[0], (0, 0, 1, 1), "scene", level)]


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"n": len(values)}
    q = statistics.quantiles(values, n=100)
    return {"n": len(values), "p50_ms": round(q[49], 1), "p99_ms": round(q[98], 1)}


def one_segment(work: Path) -> SegmentInfo:
    clip = make_clip(work / "sub.mp4", width=640, height=360, fps=15, seconds=5, gop_s=1)
    got: list[SegmentInfo] = []
    Segmenter(out_dir=work / "seg", target_s=5).run(str(clip), on_segment=got.append, stop=threading.Event())
    return got[0]


async def run_load(
    bus: Bus, blobs: FilesystemBlobStore, seg: SegmentInfo, key: str, *, cameras: int, seconds: float, backlog: int
) -> dict[str, Any]:
    await bus.ensure_topics(PARTITIONS)
    models = {AiModel.FIRE_SMOKE: MeanBrightness(AiModel.FIRE_SMOKE), AiModel.MOTION: MeanBrightness(AiModel.MOTION)}
    worker = Worker(bus=bus, blobs=blobs, models=models, group=f"bench-{uuid.uuid4().hex[:6]}", decode_threads=2)
    camera_ids = [uuid.uuid4() for _ in range(cameras)]
    ref = SegmentRef(blob_key=key, sequence=0, started_at=seg.started_at, ended_at=seg.ended_at, bytes=seg.bytes)

    def jobs_for(camera: uuid.UUID, models_: list[AiModel]):
        return make_jobs(
            customer_id=CUSTOMER,
            camera_id=camera,
            segment=ref,
            frames=seg.frames,
            codec=seg.codec,
            width=seg.width,
            height=seg.height,
            models=models_,
        )

    for i in range(backlog):  # the STANDARD backlog
        await publish_jobs(bus, jobs_for(camera_ids[i % cameras], [AiModel.MOTION]))
    task = asyncio.create_task(worker.run())
    if isinstance(bus, KafkaBus):
        await asyncio.sleep(5)  # consumer group join
    started = time.monotonic()
    published = 0
    interval = 5.0 / cameras  # every camera closes a segment every 5 s, staggered
    while time.monotonic() - started < seconds:
        camera = camera_ids[published % cameras]
        await publish_jobs(bus, jobs_for(camera, [AiModel.FIRE_SMOKE, AiModel.MOTION]))
        published += 1
        await asyncio.sleep(interval)
    total = backlog + 2 * published
    deadline = time.monotonic() + 120
    while sum(s.jobs for s in worker.stats.values()) < total and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    elapsed = time.monotonic() - started
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    done = sum(s.jobs for s in worker.stats.values())
    return {
        "jobs_done": done,
        "jobs_expected": total,
        "jobs_per_s": round(done / elapsed, 1),
        "critical": percentiles(list(worker.stats[AiModel.FIRE_SMOKE].latencies_ms)),
        "standard_incl_backlog": percentiles(list(worker.stats[AiModel.MOTION].latencies_ms)),
        "decodes": worker.decoded,
    }


def decode_once_ratio(seg: SegmentInfo) -> dict[str, float]:
    data = seg.path.read_bytes()
    models = [MeanBrightness(AiModel.FIRE_SMOKE), MeanBrightness(AiModel.MOTION)]
    cam = uuid.uuid4()

    def once() -> None:
        clip = normalize(data, started_at=seg.started_at)
        for m in models:
            m.analyze(clip, camera_id=cam, segment_sequence=0)

    def per_model() -> None:
        for m in models:
            m.analyze(normalize(data, started_at=seg.started_at), camera_id=cam, segment_sequence=0)

    def cpu(fn) -> float:
        t = time.process_time()
        for _ in range(10):
            fn()
        return (time.process_time() - t) / 10

    a, b = cpu(once), cpu(per_model)
    return {
        "decode_once_ms": round(a * 1000, 1),
        "decode_per_model_ms": round(b * 1000, 1),
        "per_model_over_once": round(b / a, 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--cameras", type=int, default=50)
    parser.add_argument("--backlog", type=int, default=150)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vms-pipeline-"))
    seg = one_segment(work)
    blobs = FilesystemBlobStore(work / "blobs")
    key = f"{CUSTOMER}/cam/sub/0.mp4"
    await blobs.put_file(key, seg.path)
    result: dict[str, Any] = {
        "bench": "pipeline",
        "cameras": args.cameras,
        "seconds": args.seconds,
        "segment": f"{seg.width}x{seg.height} {seg.codec} {seg.duration_s:.0f}s",
        "backlog_standard_jobs": args.backlog,
    }
    result["decode"] = decode_once_ratio(seg)
    embedded = EmbeddedBus(work / "bus.db")
    try:
        result["embedded"] = await run_load(
            embedded, blobs, seg, key, cameras=args.cameras, seconds=args.seconds, backlog=args.backlog
        )
    finally:
        await embedded.close()
    if os.environ.get("VMS_TEST_KAFKA_BOOTSTRAP"):
        kafka = KafkaBus(os.environ["VMS_TEST_KAFKA_BOOTSTRAP"])
        try:
            result["kafka"] = await run_load(
                kafka, blobs, seg, key, cameras=args.cameras, seconds=args.seconds, backlog=args.backlog
            )
        finally:
            await kafka.close()
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
