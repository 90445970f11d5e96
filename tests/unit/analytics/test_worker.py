"""The worker decodes each job once for all hosted models, takes CRITICAL first, publishes detections;
a job it cannot finish is retried and then dead-lettered, and its detections land once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.fakes import ForgetfulCache
from tests.media import make_clip
from vms.adapters.blobs.filesystem import FilesystemBlobStore
from vms.adapters.bus.embedded import EmbeddedBus
from vms.adapters.cache.memory import MemoryCache
from vms.analytics.jobs import SegmentRef, make_jobs, publish_jobs
from vms.analytics.plugin import AnalyticsModel, Detection
from vms.analytics.worker import Worker
from vms.kernel.ai_models import AiModel
from vms.kernel.errors import ServiceUnavailable
from vms.kernel.priority import Priority
from vms.kernel.topics import DEAD_LETTER, DETECTIONS, PARTITIONS
from vms.media.normalize import NormalizedClip
from vms.media.segmenter import Segmenter, SegmentInfo
from vms.messaging import RetryPolicy, run_consumer
from vms.ports import BusMessage

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
        seen=MemoryCache(),
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


class HeldSpot(BrightSpot):
    """Holds its first clip until `release` is set, so the test knows a standard job is running
    (and the next one waiting) when it publishes the CRITICAL job."""

    def __init__(self, key: AiModel, order: list[tuple[AiModel, int]], release: threading.Event) -> None:
        super().__init__(key, order)
        self.release = release
        self.holding = threading.Event()

    def analyze(self, clip: NormalizedClip, *, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        found = super().analyze(clip, camera_id=camera_id, segment_sequence=segment_sequence)
        if segment_sequence == 0:
            self.holding.set()
            self.release.wait(10)  # bounded: a worker that never starts the critical job fails below
        return found


class Releasing(BrightSpot):
    """Sets `release` when it runs, letting a HeldSpot go on."""

    def __init__(self, key: AiModel, order: list[tuple[AiModel, int]], release: threading.Event) -> None:
        super().__init__(key, order)
        self.release = release

    def analyze(self, clip: NormalizedClip, *, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        self.release.set()
        return super().analyze(clip, camera_id=camera_id, segment_sequence=segment_sequence)


async def test_critical_jobs_go_before_a_standard_backlog(plant):
    bus, blobs, refs = plant
    order: list[tuple[AiModel, int]] = []
    critical_ran = threading.Event()
    held = HeldSpot(AiModel.MOTION, order, critical_ran)
    worker = Worker(
        seen=MemoryCache(),
        bus=bus,
        blobs=blobs,
        models={
            AiModel.MOTION: held,
            AiModel.FIRE_SMOKE: Releasing(AiModel.FIRE_SMOKE, order, critical_ran),
        },
    )
    await publish_jobs(bus, jobs(refs[0], [AiModel.MOTION]))
    await publish_jobs(bus, jobs(refs[1], [AiModel.MOTION]))

    async def backlog_then_critical() -> None:
        # The CRITICAL job is published only once the first standard job is running (held) and the
        # second one waits: it must take the slot kept for it rather than queue behind them.
        assert await asyncio.to_thread(held.holding.wait, 10)
        await publish_jobs(bus, jobs(refs[1], [AiModel.FIRE_SMOKE]))

    publisher = asyncio.create_task(backlog_then_critical())
    await run_until(worker, lambda: len(order) == 3)
    await publisher
    assert order == [(AiModel.MOTION, 0), (AiModel.FIRE_SMOKE, 1), (AiModel.MOTION, 1)]


async def test_jobs_for_models_hosted_elsewhere_are_skipped_without_decoding(plant):
    bus, blobs, refs = plant
    order: list[tuple[AiModel, int]] = []
    worker = Worker(
        seen=MemoryCache(), bus=bus, blobs=blobs, models={AiModel.MOTION: BrightSpot(AiModel.MOTION, order)}
    )
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
    worker = Worker(seen=MemoryCache(), bus=bus, blobs=blobs, models={AiModel.MOTION: Broken(AiModel.MOTION, order)})
    await publish_jobs(bus, jobs(refs[0], [AiModel.MOTION]))
    await run_until(worker, lambda: worker.completed == 1)
    assert worker.stats[AiModel.MOTION].failures == 1
    assert await bus.lag(worker.group, ["video-jobs-standard"]) == {"video-jobs-standard": 0}


QUICK = RetryPolicy(max_attempts=3, backoff_s=0.01)


class CountingBlobs(FilesystemBlobStore):
    """The filesystem store, counting reads per key; the first `outages` reads fail as an S3 outage would."""

    def __init__(self, root: Path, *, outages: int = 0) -> None:
        super().__init__(root)
        self.reads: Counter[str] = Counter()
        self.outages = outages

    async def local_path(self, key: str) -> Path | None:
        self.reads[key] += 1
        if self.outages:
            self.outages -= 1
            raise ServiceUnavailable("Blob storage is unreachable.")
        return await super().local_path(key)


class FlakyDetections:
    """The embedded bus, except that the next `failures` publishes to `detections` raise; with
    `lands=True` the message is appended first (the broker took it, the acknowledgement was lost)."""

    def __init__(self, bus: EmbeddedBus, *, failures: int, lands: bool) -> None:
        self.bus, self.failures, self.lands = bus, failures, lands

    async def publish(self, topic: str, *, key: str, value: bytes, headers: Mapping[str, str] | None = None) -> None:
        if topic == DETECTIONS and self.failures:
            self.failures -= 1
            if self.lands:
                await self.bus.publish(topic, key=key, value=value, headers=headers)
            raise ServiceUnavailable("The bus did not acknowledge the message.")
        await self.bus.publish(topic, key=key, value=value, headers=headers)

    def __getattr__(self, name: str) -> Any:  # consume, lag …
        return getattr(self.bus, name)


async def messages(bus: EmbeddedBus, topic: str, n: int, wait_s: float = 5) -> list[BusMessage]:
    """The first n messages of `topic`, without any dedupe."""

    async def read() -> list[BusMessage]:
        out: list[BusMessage] = []
        async with contextlib.aclosing(bus.consume([topic], group=f"inspect-{uuid.uuid4().hex[:6]}")) as stream:
            async for message in stream:
                out.append(message)
                if len(out) == n:
                    break
        return out

    return await asyncio.wait_for(read(), wait_s)


async def test_a_missing_segment_is_retried_then_dead_lettered_and_the_next_job_runs(plant, tmp_path):
    bus, _, refs = plant
    blobs = CountingBlobs(tmp_path / "blobs")
    order: list[tuple[AiModel, int]] = []
    worker = Worker(
        seen=MemoryCache(),
        bus=bus,
        blobs=blobs,
        models={AiModel.MOTION: BrightSpot(AiModel.MOTION, order)},
        retry=QUICK,
    )
    gone = refs[0].model_copy(update={"blob_key": "nowhere/x.mp4"})
    [bad] = jobs(gone, [AiModel.MOTION])
    await publish_jobs(bus, [bad])
    await publish_jobs(bus, jobs(refs[1], [AiModel.MOTION]))
    await run_until(worker, lambda: worker.completed == 1 and worker.stats[AiModel.MOTION].failures == 1)
    assert blobs.reads["nowhere/x.mp4"] == QUICK.max_attempts  # retried, then given up
    assert order == [(AiModel.MOTION, refs[1].sequence)]
    [parked] = await messages(bus, DEAD_LETTER, 1)
    assert json.loads(parked.value)["jobId"] == str(bad.job_id)
    assert parked.headers["dead-letter-error"].startswith("NotFound: ")
    assert parked.headers["dead-letter-group"] == worker.group
    assert await bus.lag(worker.group, ["video-jobs-standard"]) == {"video-jobs-standard": 0}


async def test_a_blob_store_outage_shorter_than_the_retries_costs_no_job(plant, tmp_path):
    bus, _, refs = plant
    blobs = CountingBlobs(tmp_path / "blobs", outages=QUICK.max_attempts - 1)
    order: list[tuple[AiModel, int]] = []
    worker = Worker(
        seen=MemoryCache(),
        bus=bus,
        blobs=blobs,
        models={AiModel.MOTION: BrightSpot(AiModel.MOTION, order)},
        retry=QUICK,
    )
    await publish_jobs(bus, jobs(refs[0], [AiModel.MOTION]))
    await run_until(worker, lambda: worker.completed == 1)
    assert blobs.reads[refs[0].blob_key] == QUICK.max_attempts
    assert worker.stats[AiModel.MOTION].failures == 0
    assert [d["segmentSequence"] for d in await detections(bus, 1)] == [refs[0].sequence]


async def test_a_segment_that_decodes_to_garbage_is_dead_lettered_at_once(plant, tmp_path):
    bus, _, refs = plant
    blobs = CountingBlobs(tmp_path / "blobs")
    await blobs.put("garbage/x.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 16)
    order: list[tuple[AiModel, int]] = []
    worker = Worker(
        seen=MemoryCache(),
        bus=bus,
        blobs=blobs,
        models={AiModel.MOTION: BrightSpot(AiModel.MOTION, order)},
        retry=QUICK,
    )
    await publish_jobs(bus, jobs(refs[0].model_copy(update={"blob_key": "garbage/x.mp4"}), [AiModel.MOTION]))
    await publish_jobs(bus, jobs(refs[1], [AiModel.MOTION]))
    await run_until(worker, lambda: worker.completed == 1 and worker.stats[AiModel.MOTION].failures == 1)
    assert blobs.reads["garbage/x.mp4"] == 1  # no retry can mend a corrupt file
    [parked] = await messages(bus, DEAD_LETTER, 1)
    assert parked.headers["dead-letter-error"].startswith("CorruptVideo: ")
    assert await bus.lag(worker.group, ["video-jobs-standard"]) == {"video-jobs-standard": 0}


async def test_a_publish_that_fails_is_retried_and_each_detection_lands_once_downstream(plant):
    bus, blobs, refs = plant
    flaky = FlakyDetections(bus, failures=2, lands=True)  # the worst case: each failed try did land
    order: list[tuple[AiModel, int]] = []
    worker = Worker(
        seen=MemoryCache(),
        bus=flaky,  # type: ignore[arg-type]
        blobs=blobs,
        models={
            AiModel.MOTION: BrightSpot(AiModel.MOTION, order),
            AiModel.INTRUSION: BrightSpot(AiModel.INTRUSION, order),
        },
        retry=QUICK,
    )
    await publish_jobs(bus, jobs(refs[0], [AiModel.MOTION, AiModel.INTRUSION], {AiModel.INTRUSION: Priority.STANDARD}))
    await run_until(worker, lambda: worker.completed == 1)
    assert len(order) == 2 * 3  # two models, analysed on each of the three tries
    raw = await messages(bus, DETECTIONS, 4)  # motion landed on tries 1, 2 and 3; intrusion on try 3
    assert Counter(m.message_id for m in raw) == {raw[0].message_id: 3, raw[3].message_id: 1}
    handled: list[dict[str, Any]] = []

    async def keep(message: BusMessage) -> None:
        handled.append(json.loads(message.value))

    downstream = asyncio.create_task(run_consumer(bus, [DETECTIONS], group="events", handler=keep, seen=MemoryCache()))
    try:
        for _ in range(100):
            if await bus.lag("events", [DETECTIONS]) == {DETECTIONS: 0}:
                break
            await asyncio.sleep(0.05)
    finally:
        downstream.cancel()
        await asyncio.gather(downstream, return_exceptions=True)
    assert sorted(d["model"] for d in handled) == ["intrusion", "motion"]  # once each
    assert worker.stats[AiModel.MOTION].jobs == 1  # counted once, not per try
    assert await bus.lag(worker.group, ["video-jobs-standard"]) == {"video-jobs-standard": 0}


async def test_a_publish_that_keeps_failing_dead_letters_the_job_and_the_worker_goes_on(plant):
    bus, blobs, refs = plant
    flaky = FlakyDetections(bus, failures=QUICK.max_attempts, lands=False)
    order: list[tuple[AiModel, int]] = []
    worker = Worker(
        seen=MemoryCache(),
        bus=flaky,  # type: ignore[arg-type]
        blobs=blobs,
        models={AiModel.MOTION: BrightSpot(AiModel.MOTION, order)},
        retry=QUICK,
        decode_threads=1,  # one job at a time: the first job takes every failure
    )
    [first] = jobs(refs[0], [AiModel.MOTION])
    await publish_jobs(bus, [first])
    await publish_jobs(bus, jobs(refs[1], [AiModel.MOTION]))
    await run_until(worker, lambda: worker.completed == 1 and worker.stats[AiModel.MOTION].failures == 1)
    [parked] = await messages(bus, DEAD_LETTER, 1)
    assert json.loads(parked.value)["jobId"] == str(first.job_id)
    assert parked.headers["dead-letter-error"] == "ServiceUnavailable: The bus did not acknowledge the message."
    assert [d["segmentSequence"] for d in await detections(bus, 1)] == [refs[1].sequence]
    assert await bus.lag(worker.group, ["video-jobs-standard"]) == {"video-jobs-standard": 0}


async def test_a_job_done_but_not_marked_seen_is_still_committed_and_so_are_later_ones(plant):
    bus, blobs, refs = plant
    order: list[tuple[AiModel, int]] = []
    seen = ForgetfulCache(failures=1)  # the first job's "handled" mark is lost
    worker = Worker(
        seen=seen, bus=bus, blobs=blobs, models={AiModel.MOTION: BrightSpot(AiModel.MOTION, order)}, decode_threads=1
    )
    await publish_jobs(bus, jobs(refs[0], [AiModel.MOTION]))
    await publish_jobs(bus, jobs(refs[1], [AiModel.MOTION]))  # same camera: the same partition
    await run_until(worker, lambda: worker.completed == 2)
    assert seen.failures == 0
    assert order == [(AiModel.MOTION, refs[0].sequence), (AiModel.MOTION, refs[1].sequence)]  # each analysed once
    assert await bus.lag(worker.group, ["video-jobs-standard"]) == {"video-jobs-standard": 0}


class BusAway(FlakyDetections):
    """Detections fail `failures` times (the job's every try), then the dead-letter publish fails
    `dead_letters_lost` times too: the bus is away, then comes back."""

    def __init__(self, bus: EmbeddedBus, *, failures: int, dead_letters_lost: int) -> None:
        super().__init__(bus, failures=failures, lands=False)
        self.dead_letters_lost = dead_letters_lost

    async def publish(self, topic: str, *, key: str, value: bytes, headers: Mapping[str, str] | None = None) -> None:
        if topic == DEAD_LETTER and self.dead_letters_lost:
            self.dead_letters_lost -= 1
            raise ServiceUnavailable("The bus is unreachable.")
        await super().publish(topic, key=key, value=value, headers=headers)


async def test_a_job_neither_done_nor_dead_lettered_is_tried_again_and_committed_when_the_bus_returns(plant):
    bus, blobs, refs = plant
    away = BusAway(bus, failures=QUICK.max_attempts, dead_letters_lost=1)
    order: list[tuple[AiModel, int]] = []
    worker = Worker(
        seen=MemoryCache(),
        bus=away,  # type: ignore[arg-type]
        blobs=blobs,
        models={AiModel.MOTION: BrightSpot(AiModel.MOTION, order)},
        retry=QUICK,
        decode_threads=1,
    )
    await publish_jobs(bus, jobs(refs[0], [AiModel.MOTION]))
    await publish_jobs(bus, jobs(refs[1], [AiModel.MOTION]))  # waits behind the first in the partition
    await run_until(worker, lambda: worker.completed == 2)
    assert away.failures == 0 and away.dead_letters_lost == 0  # the outage did happen
    assert order.count((AiModel.MOTION, refs[0].sequence)) == QUICK.max_attempts + 1  # tried again, then done
    assert sorted(d["segmentSequence"] for d in await detections(bus, 2)) == [refs[0].sequence, refs[1].sequence]
    with pytest.raises(TimeoutError):  # nothing was dead-lettered: the job succeeded when tried again
        await messages(bus, DEAD_LETTER, 1, wait_s=0.5)
    assert await bus.lag(worker.group, ["video-jobs-standard"]) == {"video-jobs-standard": 0}


class FeedFails:
    """A bus whose consumer of one job topic fails (a broker error under the fetch); the rest is the real bus."""

    def __init__(self, bus: EmbeddedBus, topic: str) -> None:
        self.bus, self.topic = bus, topic

    def consume(self, topics: list[str], *, group: str):
        if self.topic in topics:
            return self._failing()
        return self.bus.consume(topics, group=group)

    async def _failing(self):
        raise ServiceUnavailable("The bus is unreachable.")
        yield  # an async generator, like a real consumer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus, name)


async def test_a_job_feed_that_fails_ends_the_worker_instead_of_leaving_its_topic_unread(plant):
    bus, blobs, _refs = plant
    worker = Worker(
        seen=MemoryCache(),
        bus=FeedFails(bus, "video-jobs-critical"),  # type: ignore[arg-type]
        blobs=blobs,
        models={AiModel.MOTION: BrightSpot(AiModel.MOTION, [])},
        decode_threads=1,
    )
    with pytest.raises(RuntimeError, match="job feed") as ended:
        await asyncio.wait_for(worker.run(), 10)
    assert isinstance(ended.value.__cause__, ServiceUnavailable)  # the supervisor's log says why
