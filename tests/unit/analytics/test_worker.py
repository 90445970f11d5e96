"""The worker decodes each job once for all hosted models, takes CRITICAL first, publishes detections."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.media import make_clip
from vms.adapters.blobs.filesystem import FilesystemBlobStore
from vms.adapters.bus.embedded import EmbeddedBus
from vms.analytics.jobs import SegmentRef, make_jobs, publish_jobs
from vms.analytics.plugin import AnalyticsModel, Detection
from vms.analytics.worker import Worker
from vms.kernel.ai_models import AiModel
from vms.kernel.priority import Priority
from vms.kernel.topics import DETECTIONS, PARTITIONS
from vms.media.normalize import NormalizedClip
from vms.media.segmenter import Segmenter, SegmentInfo

CUSTOMER, CAMERA = uuid.uuid4(), uuid.uuid4()


class BrightSpot(AnalyticsModel[Any]):
    """A real (tiny) model: finds the bright square the test video draws, one detection per clip."""

    key = AiModel.MOTION

    def __init__(self, key: AiModel, order: list[tuple[AiModel, int]]) -> None:
        super().__init__()
        self.model_key, self.order = key, order

    def analyze(self, clip: NormalizedClip, *, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        self.order.append((self.model_key, segment_sequence))
        frame = clip.frames[0]
        ys, xs = np.nonzero(frame.min(axis=2) > 250)
        h, w = frame.shape[:2]
        box = (xs.min() / w, ys.min() / h, (xs.max() - xs.min()) / w, (ys.max() - ys.min()) / h)
        return [Detection(self.model_key, camera_id, segment_sequence, clip.timestamps[0], box, "square", 0.9)]


@pytest.fixture
async def plant(tmp_path: Path):
    bus = EmbeddedBus(tmp_path / "bus.db")
    await bus.ensure_topics(PARTITIONS)
    blobs = FilesystemBlobStore(tmp_path / "blobs")
    clip = make_clip(tmp_path / "cam.mp4", width=640, height=360, fps=25, seconds=10)
    segments: list[SegmentInfo] = []
    Segmenter(out_dir=tmp_path / "segs", clock=lambda: datetime(2026, 11, 24, tzinfo=UTC)).run(
        str(clip), on_segment=segments.append, stop=threading.Event()
    )
    refs = []
    for seg in segments:
        key = f"{CUSTOMER}/{CAMERA}/main/{seg.sequence}.mp4"
        await blobs.put_file(key, seg.path)
        refs.append(
            SegmentRef(
                blob_key=key, sequence=seg.sequence, started_at=seg.started_at, ended_at=seg.ended_at, bytes=seg.bytes
            )
        )
    yield bus, blobs, refs
    await bus.close()


def jobs(ref: SegmentRef, models: list[AiModel], priorities: dict[AiModel, Priority] | None = None):
    return make_jobs(
        customer_id=CUSTOMER,
        camera_id=CAMERA,
        segment=ref,
        frames=125,
        codec="h264",
        width=640,
        height=360,
        models=models,
        priorities=priorities,
    )


async def run_until(worker: Worker, done, wait_s: float = 15) -> None:
    task = asyncio.create_task(worker.run())
    try:
        for _ in range(int(wait_s / 0.05)):
            if done():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("worker did not finish in time")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def detections(bus: EmbeddedBus, n: int) -> list[dict[str, Any]]:
    out = []
    async with contextlib.aclosing(bus.consume([DETECTIONS], group="events")) as stream:
        async for message in stream:
            out.append(json.loads(message.value))
            if len(out) == n:
                return out
    return out


async def test_one_decode_feeds_every_hosted_model_and_detections_are_published(plant):
    bus, blobs, refs = plant
    order: list[tuple[AiModel, int]] = []
    worker = Worker(
        bus=bus,
        blobs=blobs,
        models={
            AiModel.MOTION: BrightSpot(AiModel.MOTION, order),
            AiModel.INTRUSION: BrightSpot(AiModel.INTRUSION, order),
        },
    )
    await publish_jobs(
        bus, jobs(refs[0], [AiModel.MOTION, AiModel.INTRUSION], priorities={AiModel.INTRUSION: Priority.STANDARD})
    )
    await run_until(worker, lambda: worker.completed == 1)
    assert len(order) == 2
    assert worker.decoded == 1  # decode once, two models
    got = await asyncio.wait_for(detections(bus, 2), 5)
    assert {d["model"] for d in got} == {"motion", "intrusion"}
    assert all(d["cameraId"] == str(CAMERA) and d["objectClass"] == "square" for d in got)
    x, y, w, _h = got[0]["boundingBox"]
    assert 0 <= x < 1 and 0.3 < y < 0.7 and 0 < w < 0.2  # the square sits a third of the way down
    assert worker.stats[AiModel.MOTION].jobs == 1
    assert worker.stats[AiModel.MOTION].percentile(99) is not None


async def test_critical_jobs_go_before_a_standard_backlog(plant):
    bus, blobs, refs = plant
    order: list[tuple[AiModel, int]] = []
    worker = Worker(
        bus=bus,
        blobs=blobs,
        models={
            AiModel.MOTION: BrightSpot(AiModel.MOTION, order),
            AiModel.FIRE_SMOKE: BrightSpot(AiModel.FIRE_SMOKE, order),
        },
    )
    await publish_jobs(bus, jobs(refs[0], [AiModel.MOTION]))
    await publish_jobs(bus, jobs(refs[1], [AiModel.MOTION]))
    await publish_jobs(bus, jobs(refs[1], [AiModel.FIRE_SMOKE]))  # CRITICAL, published last
    await run_until(worker, lambda: len(order) == 3)
    assert order[0][0] is AiModel.FIRE_SMOKE or order[1][0] is AiModel.FIRE_SMOKE
    assert order.index((AiModel.FIRE_SMOKE, 1)) < order.index((AiModel.MOTION, 1))


async def test_jobs_for_models_hosted_elsewhere_are_skipped_without_decoding(plant):
    bus, blobs, refs = plant
    order: list[tuple[AiModel, int]] = []
    worker = Worker(bus=bus, blobs=blobs, models={AiModel.MOTION: BrightSpot(AiModel.MOTION, order)})
    await publish_jobs(bus, jobs(refs[0], [AiModel.ANPR]))
    await publish_jobs(bus, jobs(refs[1], [AiModel.MOTION]))
    await run_until(worker, lambda: worker.completed == 1)
    assert worker.decoded == 1
    assert await bus.lag(worker.group, ["video-jobs-standard"]) == {"video-jobs-standard": 0}


async def test_a_failing_model_is_counted_and_the_job_still_completes(plant):
    bus, blobs, refs = plant

    class Broken(BrightSpot):
        def analyze(self, clip, *, camera_id, segment_sequence):
            raise RuntimeError("model crashed")

    order: list[tuple[AiModel, int]] = []
    worker = Worker(bus=bus, blobs=blobs, models={AiModel.MOTION: Broken(AiModel.MOTION, order)})
    await publish_jobs(bus, jobs(refs[0], [AiModel.MOTION]))
    await run_until(worker, lambda: worker.completed == 1)
    assert worker.stats[AiModel.MOTION].failures == 1
    assert await bus.lag(worker.group, ["video-jobs-standard"]) == {"video-jobs-standard": 0}


async def test_a_missing_segment_is_a_failure_not_a_crash(plant):
    bus, blobs, refs = plant
    order: list[tuple[AiModel, int]] = []
    worker = Worker(bus=bus, blobs=blobs, models={AiModel.MOTION: BrightSpot(AiModel.MOTION, order)})
    gone = refs[0].model_copy(update={"blob_key": "nowhere/x.mp4"})
    await publish_jobs(bus, jobs(gone, [AiModel.MOTION]))
    await publish_jobs(bus, jobs(refs[1], [AiModel.MOTION]))
    await run_until(worker, lambda: len(order) == 1)
    assert worker.stats[AiModel.MOTION].failures == 1
