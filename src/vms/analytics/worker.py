"""The worker runtime: video jobs in, detections out, within the SLAs (requirements §6, §7, §9).

One worker hosts one or more models. It consumes the three job topics, always taking CRITICAL
before HIGH before STANDARD from its local queue — with a starvation guard that lets the oldest
lower-priority job through when it has waited `starvation_s` — decodes each job's segment ONCE
(the normaliser) and feeds every hosted model the job names, each model on its own thread pool,
then publishes the detections keyed by camera and commits the job. Jobs naming none of the hosted
models are committed and skipped without fetching any video (another group hosts them). Jobs finish
out of order, so commits go through an `OffsetTracker` (offsets.py): a job's commit takes its
partition's committed offset only as far as the first job of that partition still running.

Each model runs with its job's priority in the thread's context: ONNX inference of non-critical
jobs is micro-batched across jobs (batching.py), CRITICAL inference bypasses the batches and goes
first at the device gate (gate.py); sessions come from the process's cache (sessions.py).

Per model it measures job latency (published → detections out), throughput and failures: in
`stats` for the watchdog and, when given a `Metrics`, as Prometheus metrics (with the group's lag).

Faults (docs/pipeline.md): each job goes through `messaging.handle_one`, the bus's one retry and
dead-letter path, so a job whose video cannot be fetched (blob store away, blob missing) or whose
detections cannot be published is tried again with backoff and then dead-lettered. A job that can
never succeed (unreadable, or a segment that decodes to garbage) is dead-lettered at once. A job
that is neither done nor dead-lettered (the bus away) goes back on the queue after a capped backoff:
abandoned, it would hold its partition's commits until a restart. Each detection carries a message
id derived from job, model and index, so one published again by a retry or a redelivery is dropped
by consumers' dedupe.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import time
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import structlog

from vms.analytics.gate import inference_priority
from vms.analytics.jobs import VideoJob
from vms.analytics.plugin import AnalyticsModel, Detection
from vms.analytics.sessions import configure, default_cache
from vms.kernel.ai_models import AiModel
from vms.kernel.errors import CorruptVideo, ValidationFailed
from vms.kernel.topics import DEAD_LETTER, DETECTIONS, VIDEO_JOBS
from vms.media.normalize import NormalizedClip, NormalizeSpec, normalize
from vms.messaging import RetryPolicy, handle_one, redo_delay
from vms.offsets import OffsetTracker
from vms.ports import BlobStore, Bus, BusMessage, Cache
from vms.settings import InferenceSettings
from vms.stats.metrics import Metrics

log = structlog.get_logger(__name__)
RANK = {"video-jobs-critical": 0, "video-jobs-high": 1, "video-jobs-standard": 2}
JOB_TOPICS = sorted(set(VIDEO_JOBS.values()), key=RANK.__getitem__)
# A blob store or broker outage of a few seconds should not cost a job: 4 tries, 0.5 + 1 + 2 s apart.
# The job holds its decode slot meanwhile (one slot stays kept for CRITICAL jobs).
JOB_RETRY = RetryPolicy(max_attempts=4, backoff_s=0.5)
DEDUPE_TTL_S = 86_400.0


@dataclass
class ModelStats:
    """SLA figures of one model in this worker."""

    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    jobs: int = 0
    failures: int = 0
    detections: int = 0

    def percentile(self, q: float) -> float | None:
        """Latency percentile (0-100) over the recent jobs."""
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


@dataclass(order=True)
class _Queued:
    rank: int
    seq: int
    received: float = field(compare=False)
    message: BusMessage = field(compare=False)
    redone: int = field(default=0, compare=False)  # times it neither finished nor was dead-lettered


class Worker:
    """Consumes video jobs for its hosted models until cancelled.

    >>> worker = Worker(bus=bus, blobs=blobs, seen=container.cache, models={AiModel.FIRE_SMOKE: FireSmoke()})
    >>> await worker.run()
    """

    def __init__(
        self,
        *,
        bus: Bus,
        blobs: BlobStore,
        models: dict[AiModel, AnalyticsModel[Any]],
        spec: NormalizeSpec = NormalizeSpec(),
        group: str | None = None,
        threads_per_model: int | None = None,
        decode_threads: int = 2,
        queue_per_priority: int = 8,
        starvation_s: float = 5.0,
        metrics: Metrics | None = None,
        inference: InferenceSettings | None = None,
        retry: RetryPolicy = JOB_RETRY,
        seen: Cache,
    ) -> None:
        if inference is not None:  # sessions, device gates and batchers of this process (sessions.py)
            configure(inference)
        if threads_per_model is None:
            threads_per_model = inference.threads_per_model if inference is not None else 1
        self.bus = bus
        self.blobs = blobs
        self.models = models
        self.spec = spec
        self.group = group or "worker-" + "+".join(sorted(m.value for m in models))
        self.starvation_s = starvation_s
        self.metrics = metrics
        self.retry = retry
        # Jobs already done by this group (dedupe on the job's message id); the container's shared
        # cache lets every process of the group see them, a process-local one covers redeliveries here.
        self.seen = seen
        if metrics is not None:
            metrics.watch_lag(bus, group=self.group, topics=JOB_TOPICS)
            default_cache().bind_metrics(metrics.registry)
        self.stats: dict[AiModel, ModelStats] = defaultdict(ModelStats)
        self.decoded = 0
        self.completed = 0  # jobs finished and committed (detections published first)
        self._pools = {m: ThreadPoolExecutor(threads_per_model, thread_name_prefix=f"model-{m.value}") for m in models}
        self._decoder = ThreadPoolExecutor(decode_threads, thread_name_prefix="decode")
        self._queue: list[_Queued] = []
        # Each priority has its own room in the local queue: a full STANDARD backlog must never
        # stop a CRITICAL job from being fetched (priority inversion).
        self._space = {topic: asyncio.Semaphore(queue_per_priority) for topic in JOB_TOPICS}
        # Jobs in flight: one per decode thread, so decoding overlaps across jobs. One slot is kept
        # for CRITICAL jobs, so they never wait for a lower-priority decode to finish.
        self._slots = max(1, decode_threads)
        self._non_critical_slots = max(1, self._slots - 1)
        self._in_flight: dict[asyncio.Task[None], int] = {}
        self._waiting_retry: set[asyncio.Task[None]] = set()  # jobs to be queued again after a pause
        self._trackers: dict[str, OffsetTracker] = {}  # per topic, of the running feed
        self._changed = asyncio.Event()
        self._seq = itertools.count()

    async def run(self) -> None:
        """Consume and process until cancelled."""
        feeders = [asyncio.create_task(self._feed(topic)) for topic in JOB_TOPICS]
        for feeder in feeders:
            feeder.add_done_callback(lambda _task: self._changed.set())
        try:
            while True:
                # A topic's feed that ended (the bus failed under it) would leave its jobs unread while the
                # process looks alive: end the worker instead, so its supervisor restarts it (and the
                # watchdog sees the restart).
                if ended := next((f for f in feeders if f.done()), None):
                    error = None if ended.cancelled() else ended.exception()
                    raise RuntimeError(f"a job feed of {self.group} ended: {error!r}") from error
                item = self._pick()  # chosen only when a slot is free, so priority decides late
                if item is None:
                    self._changed.clear()
                    await self._changed.wait()
                    continue
                task = asyncio.create_task(self._run_one(item))
                self._in_flight[task] = item.rank
                task.add_done_callback(self._finished)
        finally:
            others = (*feeders, *self._in_flight, *self._waiting_retry)  # jobs not done are delivered again
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            for pool in (*self._pools.values(), self._decoder):
                pool.shutdown(wait=False, cancel_futures=True)

    async def _run_one(self, item: _Queued) -> None:
        again = False
        try:
            await self._process(item.message)
        except Exception as exc:  # neither done nor dead-lettered (the bus away): try it again later
            # Left uncommitted, it would hold its partition's commits (and every later offset of it,
            # in the tracker) until a restart. It keeps its room in the queue meanwhile, so a long
            # outage stops the fetching of new jobs rather than piling them up behind it.
            message, delay = item.message, redo_delay(self.retry, item.redone)
            log.exception(
                "job neither done nor dead-lettered; tried again",
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                retry_in_s=delay,
                error=str(exc),
            )
            item.redone += 1
            again = True
            task = asyncio.create_task(self._requeue(item, delay))
            self._waiting_retry.add(task)
            task.add_done_callback(self._waiting_retry.discard)
        finally:
            if not again:
                self._space[item.message.topic].release()
            self._count_waiting(item.message.topic)

    async def _requeue(self, item: _Queued, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        self._queue.append(item)  # its first arrival time stands: the starvation guard counts it
        self._changed.set()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._changed.set()

    async def _feed(self, topic: str) -> None:
        # Jobs of one partition run side by side and may finish in any order: the tracker commits a
        # partition only through its finished prefix, so a crash never loses a job still running.
        tracker = self._trackers[topic] = OffsetTracker()
        async with contextlib.aclosing(tracker.track(self.bus.consume([topic], group=self.group))) as stream:
            async for message in stream:
                await self._space[topic].acquire()  # backpressure: stop fetching while this queue is full
                self._queue.append(_Queued(RANK[topic], next(self._seq), time.monotonic(), message))
                self._changed.set()
                self._count_waiting(topic)

    def _count_waiting(self, topic: str) -> None:
        """Publish how many offsets of `topic` wait to be committed: a job that never finishes shows here."""
        tracker = self._trackers.get(topic)
        if self.metrics is not None and tracker is not None:
            self.metrics.offsets_waiting.labels(self.group, topic).set(tracker.waiting)

    def _pick(self) -> _Queued | None:
        """The next job to start, or None when no slot may take any queued job."""
        if not self._queue or len(self._in_flight) >= self._slots:
            return None
        non_critical_busy = sum(1 for rank in self._in_flight.values() if rank > 0)
        allowed = (
            self._queue if non_critical_busy < self._non_critical_slots else [q for q in self._queue if q.rank == 0]
        )
        if not allowed:
            return None
        oldest = min(allowed, key=lambda q: q.seq)
        # Highest priority first; but a job that has waited too long goes next, whatever its rank.
        pick = oldest if time.monotonic() - oldest.received >= self.starvation_s else min(allowed)
        self._queue.remove(pick)
        return pick

    async def _process(self, message: BusMessage) -> None:
        try:
            job = VideoJob.model_validate_json(message.value)
        except ValueError as exc:
            log.error("unreadable job dropped to dead letter", topic=message.topic, error=str(exc))
            await self._dead_letter(message, "unreadable VideoJob")
            await message.commit()
            return
        wanted = [m for m in job.metadata.enabled_models if m in self.models]
        if not wanted:
            await message.commit()
            return
        tries, analysed, parked = 0, False, False

        async def attempt(_: BusMessage) -> None:
            nonlocal tries, analysed, parked
            tries += 1
            analysed = await self._attempt(job, wanted, message)
            parked = not analysed

        await handle_one(
            message,
            bus=self.bus,
            group=self.group,
            handler=attempt,
            seen=self.seen,
            retry=self.retry,
            dedupe_ttl_s=DEDUPE_TTL_S,
        )
        if tries and not (analysed or parked):  # every try raised: handle_one dead-lettered the job
            self._count_failed(job, wanted)
        if analysed:
            self.completed += 1

    async def _attempt(self, job: VideoJob, wanted: list[AiModel], message: BusMessage) -> bool:
        """One try at a job: True once analysed and published. Raises what a retry may cure (fetching
        the video, publishing); a segment that decodes to garbage is dead-lettered here (False), since
        no retry can help."""
        published_at = float(message.headers.get("published-at", time.time()))
        data = await self._fetch(job)
        try:
            clip = await self._decode(job, data)
        except (CorruptVideo, ValidationFailed) as exc:
            log.error("job video unusable, dead-lettered", job_id=str(job.job_id), error=str(exc))
            await self._dead_letter(message, f"{type(exc).__name__}: {exc}")
            self._count_failed(job, wanted)
            return False
        results = await asyncio.gather(*(self._run_model(model, job, clip) for model in wanted), return_exceptions=True)
        # Publish everything before counting anything: a failed publish raises, and the retry must
        # neither count the job twice nor (thanks to the stable message ids) land a detection twice.
        for model, result in zip(wanted, results, strict=True):
            if not isinstance(result, BaseException):
                for index, detection in enumerate(result):
                    await self._publish(detection, job, message, model=model, index=index)
        latency_s = time.time() - published_at
        for model, result in zip(wanted, results, strict=True):
            stats = self.stats[model]
            stats.jobs += 1
            if isinstance(result, BaseException):  # a model bug is not retried: the other models' work stands
                stats.failures += 1
                log.error("model failed on job", model=model.value, job_id=str(job.job_id), error=str(result))
                self._observe(model, job, ok=False)
                continue
            stats.detections += len(result)
            stats.latencies_ms.append(latency_s * 1000)
            self._observe(model, job, ok=True, latency_s=latency_s, detections=len(result))
        return True

    def _count_failed(self, job: VideoJob, wanted: list[AiModel]) -> None:
        for model in wanted:
            self.stats[model].failures += 1
            self._observe(model, job, ok=False)

    async def _dead_letter(self, message: BusMessage, error: str) -> None:
        """Park a job that can never succeed, with the headers `messaging.handle_one` writes."""
        await self.bus.publish(
            DEAD_LETTER,
            key=message.key,
            value=message.value,
            headers={
                **message.headers,
                "dead-letter-topic": message.topic,
                "dead-letter-group": self.group,
                "dead-letter-error": error[:500],
            },
        )

    def _observe(
        self, model: AiModel, job: VideoJob, *, ok: bool, latency_s: float | None = None, detections: int = 0
    ) -> None:
        if self.metrics is not None:
            priority = job.metadata.priority.value
            self.metrics.observe_job(
                model=model.value, priority=priority, ok=ok, latency_s=latency_s, detections=detections
            )

    async def _fetch(self, job: VideoJob) -> bytes:
        """The segment's bytes (inline in the job, or from the blob store)."""
        segment = job.video_segment
        if segment.inline is not None:
            return base64.b64decode(segment.inline)
        path = await self.blobs.local_path(segment.blob_key)
        return path.read_bytes() if path is not None else await self.blobs.get(segment.blob_key)

    async def _decode(self, job: VideoJob, data: bytes) -> NormalizedClip:
        """The normalised clip; CorruptVideo or ValidationFailed when the bytes are no usable video."""
        segment = job.video_segment
        loop = asyncio.get_running_loop()
        clip = await loop.run_in_executor(
            self._decoder, lambda: normalize(data, started_at=segment.started_at, spec=self.spec)
        )
        self.decoded += 1
        return clip

    async def _run_model(self, model: AiModel, job: VideoJob, clip: NormalizedClip) -> list[Detection]:
        plugin = self.models[model]
        priority = job.metadata.priority

        def analyze() -> list[Detection]:
            # The job's priority travels with the thread: CRITICAL inference bypasses micro-batching
            # and goes first at the device gate (gate.py, batching.py).
            with inference_priority(priority):
                return plugin.analyze(clip, camera_id=job.camera_id, segment_sequence=job.segment_sequence)

        loop = asyncio.get_running_loop()
        detections = await loop.run_in_executor(self._pools[model], analyze)
        return [d for d in detections if d.score >= plugin.config.confidence_threshold]

    async def _publish(
        self, detection: Detection, job: VideoJob, message: BusMessage, *, model: AiModel, index: int
    ) -> None:
        document = {
            **detection.as_document(),
            "jobId": str(job.job_id),
            "customerId": str(job.customer_id),
            "priority": job.metadata.priority.value,
        }
        await self.bus.publish(
            DETECTIONS,
            key=str(job.camera_id),
            value=json.dumps(document).encode(),
            headers={
                "tenant": str(job.customer_id),
                "trace": message.headers.get("trace", ""),
                "priority": job.metadata.priority.value,
                # The same detection of the same job always gets the same id, so consumers drop the
                # copy a retried publish or a redelivered job (crash before commit) sends again.
                "message-id": f"{job.job_id}:{model.value}:{index}",
            },
        )
