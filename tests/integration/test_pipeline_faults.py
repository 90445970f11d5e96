"""Faults of the AI job pipeline on real Kafka (issue 5): a worker killed mid-job, a broker restart,
poison messages and a slow model. Each test proves its outcome downstream, where the results land."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.conftest import engine_url
from tests.integration.fault_worker import Marker
from tests.media import make_clip
from vms.adapters.blobs.filesystem import FilesystemBlobStore
from vms.adapters.bus.embedded import EmbeddedBus
from vms.adapters.bus.kafka import KafkaBus
from vms.adapters.cache.memory import MemoryCache
from vms.analytics.jobs import SegmentRef, VideoJob, make_jobs, publish_jobs
from vms.analytics.plugin import Detection
from vms.analytics.worker import JOB_TOPICS, Worker
from vms.kernel.ai_models import AiModel
from vms.kernel.priority import Priority
from vms.kernel.topics import DEAD_LETTER, DETECTIONS, PARTITIONS
from vms.media.normalize import NormalizedClip
from vms.media.segmenter import Segmenter, SegmentInfo
from vms.messaging import RetryPolicy, run_consumer
from vms.ports import Bus, BusMessage
from vms.stats.metrics import Metrics

pytestmark = pytest.mark.engines
REPO = Path(__file__).resolve().parents[2]
CUSTOMER = uuid.uuid4()


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def segments(tmp_path_factory: pytest.TempPathFactory) -> list[SegmentInfo]:
    """Real 5 s fMP4 segments of a small test clip, cut once for the module."""
    work = tmp_path_factory.mktemp("segments")
    clip = make_clip(work / "cam.mp4", width=320, height=240, fps=15, seconds=10)
    found: list[SegmentInfo] = []
    Segmenter(out_dir=work / "segs", clock=lambda: datetime(2026, 11, 24, tzinfo=UTC)).run(
        str(clip), on_segment=found.append, stop=threading.Event()
    )
    assert found
    return found


class Plant:
    """Blobs holding the segments, and VideoJobs for them of one fresh camera."""

    def __init__(self, root: Path, segments: list[SegmentInfo]) -> None:
        self.blobs_dir = root / "blobs"
        self.blobs = FilesystemBlobStore(self.blobs_dir)
        self.camera = uuid.uuid4()
        self.segments = segments

    async def job(self, n: int, models: list[AiModel], *, blob_key: str | None = None) -> VideoJob:
        """A job for the camera's n-th segment (its sequence is n; the video is one of the real segments)."""
        seg = self.segments[n % len(self.segments)]
        key = blob_key or f"{CUSTOMER}/{self.camera}/main/{n}.mp4"
        if blob_key is None:
            await self.blobs.put_file(key, _copy(seg.path, self.blobs_dir / f"src-{n}.mp4"))
        ref = SegmentRef(blob_key=key, sequence=n, started_at=seg.started_at, ended_at=seg.ended_at, bytes=seg.bytes)
        [job] = make_jobs(
            customer_id=CUSTOMER,
            camera_id=self.camera,
            segment=ref,
            frames=75,
            codec="h264",
            width=320,
            height=240,
            models=models,
            priorities=dict.fromkeys(models, Priority.STANDARD),
        )
        return job


def _copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)  # put_file may move its source; the module's segments are shared
    return dst


@pytest.fixture
def plant(tmp_path: Path, segments: list[SegmentInfo]) -> Plant:
    return Plant(tmp_path, segments)


@pytest.fixture
async def kafka() -> AsyncIterator[KafkaBus]:
    bus = KafkaBus(engine_url("VMS_TEST_KAFKA_BOOTSTRAP"))
    await bus.ensure_topics(PARTITIONS)
    yield bus
    await bus.close()


async def park_at_end(bootstrap: str, group: str, topics: list[str]) -> None:
    """Commit `group` at the end of `topics`, so it starts with this test's messages, not older runs'."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    member = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        await admin.start()
        await probe.start()
        await member.start()
        for _ in range(100):  # as the broker has them (a broker kept from older runs may have other counts)
            described = await admin.describe_topics(topics)
            if all(desc["partitions"] for desc in described):  # a topic just created may show none yet
                break
            await asyncio.sleep(0.1)
        partitions = [TopicPartition(str(d["topic"]), int(p["partition"])) for d in described for p in d["partitions"]]
        ends = await probe.end_offsets(partitions)
        member.assign(partitions)
        await member.commit(dict(ends))
    finally:
        await member.stop()
        await probe.stop()
        await admin.close()


class Collector:
    """A downstream consumer on `run_consumer` (dedupe by message id, as the events role does)
    that keeps the documents of one camera; `raw` keeps the message id of everything the camera's
    partition carried, repeats included."""

    def __init__(self, bus: Bus, topic: str, camera: uuid.UUID) -> None:
        self.bus, self.topic, self.camera = bus, topic, str(camera)
        self.group = unique("downstream")
        self.docs: list[dict[str, Any]] = []
        self.markers: set[str] = set()
        self.raw: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._raw_task: asyncio.Task[None] | None = None

    async def handle(self, message: BusMessage) -> None:
        if message.key != self.camera:
            return
        doc = json.loads(message.value)
        if "marker" in doc:
            self.markers.add(doc["marker"])
        else:
            self.docs.append(doc)

    async def start(self, bootstrap: str | None) -> None:
        """Start consuming; on Kafka (`bootstrap`) from the topic's end, skipping older runs' messages."""
        if bootstrap is not None:
            await park_at_end(bootstrap, self.group, [self.topic])
        self._task = asyncio.create_task(
            run_consumer(self.bus, [self.topic], group=self.group, handler=self.handle, seen=MemoryCache())
        )
        if bootstrap is not None:
            await park_at_end(bootstrap, self.group + "-raw", [self.topic])
        self._raw_task = asyncio.create_task(self._read_raw())

    async def _read_raw(self) -> None:
        async for message in self.bus.consume([self.topic], group=self.group + "-raw"):
            if message.key == self.camera and b'"marker"' not in message.value:
                self.raw.append(message.message_id)
            await message.commit()

    async def drained(self, publisher: Bus, wait_s: float = 30) -> None:
        """Wait until everything published to the camera's partition so far was handled: a marker
        published now, on the same key, arrives after all of it."""
        marker = uuid.uuid4().hex
        await publisher.publish(self.topic, key=self.camera, value=json.dumps({"marker": marker}).encode())
        await until(lambda: marker in self.markers, wait_s, f"marker not consumed on {self.topic}")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, self._raw_task) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def until(done: Callable[[], bool], wait_s: float, what: str) -> None:
    """Poll for an outcome (not a timing assertion: the bound only stops a hung test)."""
    for _ in range(int(wait_s / 0.1)):
        if done():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {wait_s} s: {what}")


async def lag_is_zero(bus: Bus, group: str, wait_s: float = 60) -> None:
    """Wait until `group` has committed everything on the job topics."""
    for _ in range(int(wait_s / 0.25)):
        if sum((await bus.lag(group, JOB_TOPICS)).values()) == 0:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"group {group} still has uncommitted jobs after {wait_s} s")


@contextlib.contextmanager
def worker_process(
    bootstrap: str, plant: Plant, group: str, state: Path, mode: str
) -> Iterator[subprocess.Popen[bytes]]:
    """The worker of tests/integration/fault_worker.py as a child process; killed on the way out."""
    state.mkdir(parents=True, exist_ok=True)
    log = (state / f"worker-{mode}.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.fault_worker", "--bootstrap", bootstrap, "--blobs",
         str(plant.blobs_dir), "--group", group, "--state", str(state), "--mode", mode],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        log.close()


def attempts(state: Path) -> list[str]:
    path = state / "attempts"
    return path.read_text().split() if path.exists() else []


async def test_a_worker_killed_mid_job_gets_the_job_again_and_its_detection_lands_once(kafka, plant, tmp_path):
    bootstrap = kafka.bootstrap
    group, state = unique("worker-fault"), tmp_path / "state"
    await park_at_end(bootstrap, group, JOB_TOPICS)
    downstream = Collector(kafka, DETECTIONS, plant.camera)
    await downstream.start(bootstrap)
    job = await plant.job(7, [AiModel.MOTION])
    await publish_jobs(kafka, [job])
    try:
        with worker_process(bootstrap, plant, group, state, "hang-first") as first:
            await until(lambda: attempts(state) == ["7"], 60, "the first worker never started the job")
            first.send_signal(signal.SIGKILL)  # mid-analysis: nothing published, nothing committed
            first.wait(10)
        assert downstream.docs == []
        with worker_process(bootstrap, plant, group, state, "normal") as second:
            await lag_is_zero(kafka, group)
            assert second.poll() is None
        assert attempts(state) == ["7", "7"]  # delivered again after the kill
        await downstream.drained(kafka)
        assert [(d["jobId"], d["model"], d["segmentSequence"]) for d in downstream.docs] == [
            (str(job.job_id), "motion", 7)
        ]
    finally:
        await downstream.stop()


async def test_a_worker_killed_after_publishing_but_before_committing_lands_each_detection_once(kafka, plant, tmp_path):
    bootstrap = kafka.bootstrap
    group, state = unique("worker-fault"), tmp_path / "state"
    await park_at_end(bootstrap, group, JOB_TOPICS)
    downstream = Collector(kafka, DETECTIONS, plant.camera)
    await downstream.start(bootstrap)
    job = await plant.job(3, [AiModel.MOTION])
    await publish_jobs(kafka, [job])
    try:
        with worker_process(bootstrap, plant, group, state, "die-on-commit") as first:
            assert await asyncio.to_thread(first.wait, 60) == -signal.SIGKILL  # died at the commit
        with worker_process(bootstrap, plant, group, state, "normal"):
            await lag_is_zero(kafka, group)
        assert attempts(state) == ["3", "3"]
        await downstream.drained(kafka)
        await until(lambda: len(downstream.raw) == 2, 30, "the redelivered job's detection was not republished")
        # Published by both workers under one message id, so the deduping consumer handled it once.
        assert len(set(downstream.raw)) == 1
        assert [(d["jobId"], d["model"], d["segmentSequence"]) for d in downstream.docs] == [
            (str(job.job_id), "motion", 3)
        ]
    finally:
        await downstream.stop()


class HangsOn(Marker):
    """The Marker model, except that it stalls for good on one segment sequence (the test kills it there)."""

    def __init__(self, *, attempts: Path, sequence: int | None) -> None:
        super().__init__(AiModel.MOTION, attempts=attempts)
        self.sequence = sequence

    def analyze(self, clip: NormalizedClip, *, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        detections = super().analyze(clip, camera_id=camera_id, segment_sequence=segment_sequence)  # records it
        if segment_sequence == self.sequence:
            time.sleep(600)
        return detections


def bus_from(spec: str) -> Bus:
    """`kafka:<bootstrap>` or `embedded:<path>` (the embedded log shared with the test process)."""
    kind, _, where = spec.partition(":")
    if kind == "kafka":
        return KafkaBus(where)
    return EmbeddedBus(Path(where), heartbeat_s=0.2, session_timeout_s=2)


async def run_concurrent_worker(spec: str, blobs: str, group: str, state: str, hang_on: int | None) -> None:
    """A worker process running two STANDARD jobs at once (one may hang); writes how many it completed
    to `<state>/completed` (a completed job has gone through its commit)."""
    bus = bus_from(spec)
    worker = Worker(
        seen=MemoryCache(),
        bus=bus,
        blobs=FilesystemBlobStore(Path(blobs)),
        models={AiModel.MOTION: HangsOn(attempts=Path(state) / "attempts", sequence=hang_on)},
        group=group,
        decode_threads=3,  # two jobs in flight besides the slot kept for CRITICAL
        threads_per_model=2,
    )
    task = asyncio.create_task(worker.run())
    reported = -1
    while not task.done():
        if worker.completed != reported:
            reported = worker.completed
            (Path(state) / "completed").write_text(str(reported))
        await asyncio.sleep(0.05)
    await task


@contextlib.contextmanager
def concurrent_worker_process(spec: str, plant: Plant, group: str, state: Path, hang_on: int | None):
    """`run_concurrent_worker` as a child process; killed on the way out."""
    state.mkdir(parents=True, exist_ok=True)
    log = (state / "worker.log").open("ab")
    code = (
        "import asyncio, sys; from tests.integration.test_pipeline_faults import run_concurrent_worker as run; "
        "asyncio.run(run(*sys.argv[1:5], int(sys.argv[5]) if sys.argv[5] else None))"
    )
    args = [spec, str(plant.blobs_dir), group, str(state), "" if hang_on is None else str(hang_on)]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        log.close()


def completed(state: Path) -> int:
    path = state / "completed"
    return int(path.read_text() or 0) if path.exists() else 0


@pytest.mark.parametrize("kind", ["embedded", "kafka"])
async def test_a_job_still_running_when_a_later_job_of_its_partition_finished_is_delivered_again_after_a_kill(
    kind: str, plant: Plant, tmp_path: Path
):
    bus: Bus
    if kind == "kafka":
        bootstrap: str | None = engine_url("VMS_TEST_KAFKA_BOOTSTRAP")
        bus, spec = KafkaBus(bootstrap), f"kafka:{bootstrap}"
    else:
        bootstrap, path = None, tmp_path / "bus.db"
        bus, spec = bus_from(f"embedded:{path}"), f"embedded:{path}"
    await bus.ensure_topics(PARTITIONS)
    group, state = unique("worker-order"), tmp_path / "state"
    if bootstrap is not None:
        await park_at_end(bootstrap, group, JOB_TOPICS)
    downstream = Collector(bus, DETECTIONS, plant.camera)
    await downstream.start(bootstrap)
    early, late = await plant.job(1, [AiModel.MOTION]), await plant.job(2, [AiModel.MOTION])
    await publish_jobs(bus, [early, late])  # one camera: one partition, the early job first
    try:
        with concurrent_worker_process(spec, plant, group, state, hang_on=1) as first:
            await until(lambda: completed(state) == 1, 60, "the late job did not finish while the early one hung")
            # Both jobs run side by side; the early one may still be decoding when the late one is done.
            await until(lambda: sorted(attempts(state)) == ["1", "2"], 60, "the early job never reached its model")
            assert completed(state) == 1  # the early job hangs in its model: still running, not committed
            first.send_signal(signal.SIGKILL)  # the early job still runs
            first.wait(10)
        # The late job's commit must not have covered the early one: both are still uncommitted.
        assert sum((await bus.lag(group, JOB_TOPICS)).values()) == 2
        with concurrent_worker_process(spec, plant, group, state / "again", hang_on=None) as second:
            await lag_is_zero(bus, group)
            assert second.poll() is None
        assert sorted(attempts(state / "again")) == ["1", "2"]  # the early job was delivered again
        await downstream.drained(bus)
        assert sorted(d["segmentSequence"] for d in downstream.docs) == [1, 2]  # each detection once downstream
    finally:
        await downstream.stop()
        await bus.close()


async def test_an_undecodable_job_is_dead_lettered_and_the_next_job_is_processed(kafka, plant):
    group = unique("worker-poison")
    await park_at_end(kafka.bootstrap, group, JOB_TOPICS)
    downstream = Collector(kafka, DETECTIONS, plant.camera)
    await downstream.start(kafka.bootstrap)
    poison = b"\xff not a VideoJob " + uuid.uuid4().hex.encode()
    await kafka.publish("video-jobs-standard", key=str(plant.camera), value=poison)
    good = await plant.job(1, [AiModel.MOTION])
    await publish_jobs(kafka, [good])
    worker = Worker(
        seen=MemoryCache(), bus=kafka, blobs=plant.blobs, models={AiModel.MOTION: Marker(AiModel.MOTION)}, group=group
    )
    task = asyncio.create_task(worker.run())
    try:
        await until(lambda: worker.completed == 1, 60, "the job after the poison message was not processed")
        await downstream.drained(kafka)
        assert [d["jobId"] for d in downstream.docs] == [str(good.job_id)]
        [parked] = await first_matching(kafka, DEAD_LETTER, lambda m: m.value == poison)
        assert parked.headers["dead-letter-error"] == "unreadable VideoJob"
        assert parked.key == str(plant.camera)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await downstream.stop()


class CountingBlobs(FilesystemBlobStore):
    """The plant's blob store, counting the worker's reads per key."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads: Counter[str] = Counter()

    async def local_path(self, key: str) -> Path | None:
        self.reads[key] += 1
        return await super().local_path(key)


async def test_a_missing_segment_is_retried_a_corrupt_one_is_not_both_are_dead_lettered_and_the_pipeline_goes_on(
    kafka, plant
):
    group = unique("worker-badvideo")
    await park_at_end(kafka.bootstrap, group, JOB_TOPICS)
    downstream = Collector(kafka, DETECTIONS, plant.camera)
    await downstream.start(kafka.bootstrap)
    gone_key, corrupt_key = f"{CUSTOMER}/{plant.camera}/main/gone.mp4", f"{CUSTOMER}/{plant.camera}/main/corrupt.mp4"
    await plant.blobs.put(corrupt_key, b"\x00\x00\x00\x18ftypmp42" + os.urandom(4096))
    missing = await plant.job(1, [AiModel.MOTION], blob_key=gone_key)
    corrupt = await plant.job(2, [AiModel.MOTION], blob_key=corrupt_key)
    good = await plant.job(3, [AiModel.MOTION])
    await publish_jobs(kafka, [missing, corrupt, good])
    metrics = Metrics()
    blobs = CountingBlobs(plant.blobs_dir)
    retry = RetryPolicy(max_attempts=3, backoff_s=0.1)
    worker = Worker(
        seen=MemoryCache(),
        bus=kafka,
        blobs=blobs,
        models={AiModel.MOTION: Marker(AiModel.MOTION)},
        group=group,
        metrics=metrics,
        retry=retry,
    )
    task = asyncio.create_task(worker.run())
    try:
        await until(lambda: worker.completed == 1, 60, "the good job after two bad ones was not processed")
        await lag_is_zero(kafka, group)  # the bad jobs are committed too: no redelivery loop
        await downstream.drained(kafka)
        assert [d["jobId"] for d in downstream.docs] == [str(good.job_id)]
        assert blobs.reads[gone_key] == retry.max_attempts  # a blob store may come back: retried
        assert blobs.reads[corrupt_key] == 1  # garbage stays garbage: parked at once
        for job, error in ((missing, "NotFound: "), (corrupt, "CorruptVideo: ")):
            [parked] = await first_matching(kafka, DEAD_LETTER, lambda m, j=job: str(j.job_id).encode() in m.value)
            assert parked.headers["dead-letter-error"].startswith(error)
            assert parked.headers["dead-letter-group"] == group
            assert parked.key == str(plant.camera)
        assert worker.stats[AiModel.MOTION].failures == 2
        assert metrics.registry.get_sample_value("vms_jobs_total", {"model": "motion", "outcome": "failed"}) == 2
        assert metrics.registry.get_sample_value("vms_jobs_total", {"model": "motion", "outcome": "ok"}) == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await downstream.stop()


async def first_matching(bus: Bus, topic: str, wanted: Callable[[BusMessage], bool], wait_s: float = 30):
    """The first message of `topic` that `wanted` accepts (the dead-letter topic is shared)."""

    async def run() -> list[BusMessage]:
        async with contextlib.aclosing(bus.consume([topic], group=unique("inspect"))) as stream:
            async for message in stream:
                if wanted(message):
                    return [message]
        return []

    return await asyncio.wait_for(run(), wait_s)


async def test_a_slow_model_does_not_hold_up_another_models_consumer_group(kafka, plant):
    slow_group, fast_group = unique("worker-slow"), unique("worker-fast")
    for group in (slow_group, fast_group):
        await park_at_end(kafka.bootstrap, group, JOB_TOPICS)
    slow_model = Marker(AiModel.FIRE_SMOKE, sleep_s=3.0)
    fast_model = Marker(AiModel.INTRUSION)
    slow = Worker(
        seen=MemoryCache(), bus=kafka, blobs=plant.blobs, models={AiModel.FIRE_SMOKE: slow_model}, group=slow_group
    )
    fast = Worker(
        seen=MemoryCache(), bus=kafka, blobs=plant.blobs, models={AiModel.INTRUSION: fast_model}, group=fast_group
    )
    # Each job names both models: one message, two groups, each reading at its own pace.
    jobs = [await plant.job(n, [AiModel.FIRE_SMOKE, AiModel.INTRUSION]) for n in range(6)]
    await publish_jobs(kafka, jobs)
    tasks = [asyncio.create_task(w.run()) for w in (slow, fast)]
    try:
        await until(lambda: fast.completed == len(jobs), 60, "the fast model's group did not get through its jobs")
        # The slow model sleeps 3 s per job on its own group: it cannot have got far meanwhile.
        assert slow.completed < len(jobs)
        assert fast_model.calls == len(jobs)
        await until(lambda: slow_model.calls >= 1, 30, "the slow model never ran")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class PrivateKafka:
    """A Kafka broker of this test's own (the jars scripts/services installed), so restarting it
    disturbs no other test using the shared broker."""

    def __init__(self, root: Path) -> None:
        self.lib = REPO / ".services" / "kafka" / "lib"
        self.root = root
        self.port, self.controller = _free_port(), _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _java(self, *args: str) -> list[str]:
        return ["java", "-Xms128m", "-Xmx384m", "-cp", f"{self.lib}/*", *args]

    def format(self) -> None:
        props = self.root / "server.properties"
        shared = (REPO / ".services" / "kafka" / "server.properties").read_text()
        ours = ("listeners=", "advertised.", "controller.q", "log.dirs=")
        lines = [line for line in shared.splitlines() if not line.startswith(ours)]
        lines += [
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            f"controller.quorum.voters=1@127.0.0.1:{self.controller}",
            f"log.dirs={self.root / 'data'}",
        ]
        props.write_text("\n".join(lines) + "\n")
        cluster = subprocess.run(
            self._java("kafka.tools.StorageTool", "random-uuid"), capture_output=True, text=True, check=True
        ).stdout.strip()
        subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "-t", cluster, "-c", str(props)),
            capture_output=True,
            check=True,
        )

    def start(self) -> None:
        log = (self.root / "kafka.log").open("ab")
        self.proc = subprocess.Popen(
            self._java("kafka.Kafka", str(self.root / "server.properties")), stdout=log, stderr=subprocess.STDOUT
        )

    def stop(self) -> None:
        """Controlled shutdown (SIGTERM), as an operator's restart does."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    async def ready(self, wait_s: float = 90) -> None:
        probe = KafkaBus(self.bootstrap)
        try:
            for _ in range(int(wait_s / 0.5)):
                assert self.proc is not None and self.proc.poll() is None, "the private broker exited"
                try:
                    await probe.ping()
                    return
                except Exception:
                    await probe.close()
                    await asyncio.sleep(0.5)
            raise AssertionError("the private broker did not come up")
        finally:
            await probe.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def private_kafka(tmp_path: Path) -> AsyncIterator[PrivateKafka]:
    engine_url("VMS_TEST_KAFKA_BOOTSTRAP")  # the shared broker running means its jars are installed
    broker = PrivateKafka(tmp_path)
    if not (broker.lib.is_dir() and shutil.which("java")):
        pytest.fail("Kafka jars are missing: run scripts/services up kafka")
    await asyncio.to_thread(broker.format)
    broker.start()
    try:
        await broker.ready()
        yield broker
    finally:
        broker.stop()


async def test_no_job_is_lost_when_the_broker_restarts_while_jobs_are_published(private_kafka, plant):
    bus = KafkaBus(private_kafka.bootstrap)
    await bus.ensure_topics(PARTITIONS)
    downstream = Collector(bus, DETECTIONS, plant.camera)
    await downstream.start(private_kafka.bootstrap)
    worker = Worker(
        seen=MemoryCache(),
        bus=bus,
        blobs=plant.blobs,
        models={AiModel.MOTION: Marker(AiModel.MOTION)},
        group="worker-motion",
    )
    worker_task = asyncio.create_task(worker.run())
    published: list[VideoJob] = []
    restarted = asyncio.Event()

    async def publish_steadily() -> None:
        for n in range(24):
            job = await plant.job(n, [AiModel.MOTION])
            await publish_jobs(bus, [job])  # blocks while the broker is away, then goes through
            published.append(job)
            if n == 8:
                restarted.set()
            await asyncio.sleep(0.1)

    publisher = asyncio.create_task(publish_steadily())
    try:
        await asyncio.wait_for(restarted.wait(), 60)
        await asyncio.to_thread(private_kafka.stop)
        private_kafka.start()
        await private_kafka.ready()
        await asyncio.wait_for(publisher, 120)
        expected = {str(j.job_id) for j in published}
        await until(lambda: {d["jobId"] for d in downstream.docs} >= expected, 120, "jobs were lost")
        await downstream.drained(bus)
        assert len(published) == 24
        assert {d["jobId"] for d in downstream.docs} == expected
    finally:
        publisher.cancel()
        worker_task.cancel()
        await asyncio.gather(publisher, worker_task, return_exceptions=True)
        await downstream.stop()
        await bus.close()
