"""Micro-batching: frames of several jobs run as one call, results come back to each job in order, a
deadline flushes partial batches, CRITICAL bypasses the queue, and ONNX detectors give the same answers
batched as frame by frame (dynamic, fixed and missing batch axes)."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.unit.analytics.onnx_graphs import scored_detector
from tests.unit.analytics.test_gate import wait_for
from tests.unit.analytics.test_worker import jobs, plant, run_until  # noqa: F401  (plant is a fixture)
from vms.adapters.cache.memory import MemoryCache
from vms.analytics.batching import MicroBatcher, OrtBatchRunner
from vms.analytics.detect.onnx_loader import OnnxDetector
from vms.analytics.gate import InferenceGate, current_priority, inference_priority
from vms.analytics.plugin import AnalyticsModel, Detection
from vms.analytics.sessions import SessionCache
from vms.analytics.worker import Worker
from vms.kernel.ai_models import AiModel
from vms.kernel.priority import Priority
from vms.media.normalize import NormalizedClip
from vms.settings import InferenceSettings

LONG_WAIT_S = 30.0  # a deadline no test reaches: batches flush only when full (or on close)


class Doubler:
    """A batch function that records each call's items and the priority it ran at."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[int], Priority | None]] = []
        self.lock = threading.Lock()

    def __call__(self, items: list[int]) -> list[int]:
        with self.lock:
            self.calls.append((list(items), current_priority()))
        return [2 * i for i in items]


def submit_in_thread(batcher: MicroBatcher, items: list[int], priority: Priority | None, out: dict) -> threading.Thread:
    thread = threading.Thread(target=lambda: out.__setitem__(tuple(items), batcher.submit(items, priority=priority)))
    thread.start()
    return thread


def test_frames_of_several_jobs_run_as_one_call_and_return_to_their_jobs_in_order() -> None:
    run = Doubler()
    batcher = MicroBatcher(run, max_batch=8, max_wait_s=LONG_WAIT_S, name="t")
    out: dict = {}
    threads = [submit_in_thread(batcher, [1, 2], Priority.STANDARD, out)]
    wait_for(lambda: batcher._pending == 2)
    threads.append(submit_in_thread(batcher, [10, 20, 30], Priority.HIGH, out))
    wait_for(lambda: batcher._pending == 5)
    threads.append(submit_in_thread(batcher, [100, 200, 300], Priority.STANDARD, out))  # 8 frames: full
    for thread in threads:
        thread.join(10)
    assert run.calls == [([1, 2, 10, 20, 30, 100, 200, 300], Priority.HIGH)]  # the batch runs at its most urgent
    assert out == {(1, 2): [2, 4], (10, 20, 30): [20, 40, 60], (100, 200, 300): [200, 400, 600]}
    assert batcher.stats.full == 1 and batcher.stats.largest == 8
    batcher.close()


def test_the_deadline_flushes_a_partial_batch() -> None:
    run = Doubler()
    batcher = MicroBatcher(run, max_batch=8, max_wait_s=0.02, name="t")
    # Nothing else arrives: without the deadline this call would wait forever for five more frames.
    assert batcher.submit([1, 2, 3], priority=Priority.STANDARD) == [2, 4, 6]
    assert run.calls == [([1, 2, 3], Priority.STANDARD)]
    assert batcher.stats.by_deadline == 1 and batcher.stats.full == 0
    batcher.close()


def test_a_long_request_is_split_into_bounded_batches_in_order() -> None:
    run = Doubler()
    batcher = MicroBatcher(run, max_batch=8, max_wait_s=LONG_WAIT_S, name="t")
    out: dict = {}
    submitting = submit_in_thread(batcher, list(range(20)), Priority.STANDARD, out)
    # Two full batches run at once; the last 4 frames wait for company until the deadline (here: close).
    wait_for(lambda: len(run.calls) == 2 and batcher._pending == 4)
    assert [len(items) for items, _ in run.calls] == [8, 8]
    batcher.close()
    submitting.join(10)  # the caller stores its answer after close flushed the rest
    assert [len(items) for items, _ in run.calls] == [8, 8, 4]
    assert out[tuple(range(20))] == [2 * i for i in range(20)]


def test_critical_bypasses_the_batch_queue() -> None:
    run = Doubler()
    batcher = MicroBatcher(run, max_batch=8, max_wait_s=LONG_WAIT_S, name="t")
    out: dict = {}
    waiting = submit_in_thread(batcher, [1], Priority.STANDARD, out)
    wait_for(lambda: batcher._pending == 1)
    assert batcher.submit([5, 6], priority=Priority.CRITICAL) == [10, 12]  # returns while the STANDARD frame waits
    assert batcher.submit([7], priority=None) == [14]  # no job behind it (direct model use): nothing to batch with
    assert (1,) not in out and run.calls == [([5, 6], Priority.CRITICAL), ([7], None)]
    batcher.close()
    waiting.join(10)
    assert out[(1,)] == [2] and batcher.stats.direct_calls == 2


def test_critical_goes_before_a_queued_batch_at_the_device_gate() -> None:
    gate = InferenceGate(slots=1, name="cpu")
    order: list[Priority | None] = []

    def run(items: list[int]) -> list[int]:
        with gate.slot(current_priority()):  # as GatedSession.run does
            order.append(current_priority())
        return items

    batcher = MicroBatcher(run, max_batch=2, max_wait_s=LONG_WAIT_S, name="t")
    busy = gate.slot(Priority.STANDARD)  # another model's batch is running
    busy.__enter__()
    out: dict = {}
    batch = submit_in_thread(batcher, [1, 2], Priority.STANDARD, out)  # full: flushed, then waits at the gate
    wait_for(lambda: gate.waiting() == 1)
    critical = submit_in_thread(batcher, [3], Priority.CRITICAL, out)
    wait_for(lambda: gate.waiting() == 2)
    busy.__exit__(None, None, None)
    batch.join(10)
    critical.join(10)
    assert order == [Priority.CRITICAL, Priority.STANDARD]
    batcher.close()


def test_a_failing_batch_fails_its_callers_and_the_batcher_carries_on() -> None:
    def run(items: list[int]) -> list[int]:
        if 13 in items:
            raise ValueError("bad frame")
        return items

    batcher = MicroBatcher(run, max_batch=4, max_wait_s=0.01, name="t")
    with pytest.raises(ValueError, match="bad frame"):
        batcher.submit([13], priority=Priority.STANDARD)
    assert batcher.submit([1, 2], priority=Priority.STANDARD) == [1, 2]
    batcher.close()


# --- ONNX detectors -----------------------------------------------------------------------------------

CANDIDATES = [(32, 32, 10, 20, 0.9), (12, 40, 8, 8, 0.6), (50, 20, 6, 12, 0.4)]


def frames(count: int = 10) -> list[np.ndarray]:
    """Frames of different brightness: each gets different scores, some under the threshold."""
    return [np.full((480, 640, 3), 25 + 23 * i, np.uint8) for i in range(count)]


def boxes(found):
    return [[(b.label, round(b.score, 5), tuple(round(v, 5) for v in b.xywh)) for b in per] for per in found]


def detector(model: bytes, **settings) -> OnnxDetector:
    cache = SessionCache(InferenceSettings(**settings))
    return OnnxDetector(model, cache=cache, input_size=(64, 64), min_score=0.25, layout="v8")


def detect_as_jobs(det: OnnxDetector, batch: list[np.ndarray], priority: Priority | None) -> list:
    """Several jobs (threads) detecting two frames each at `priority`, as a worker's model pool does."""

    def job(i: int):
        with inference_priority(priority):
            return det.detect(batch[i : i + 2])

    with ThreadPoolExecutor(len(batch) // 2) as pool:
        return [b for part in pool.map(job, range(0, len(batch), 2)) for b in part]


@pytest.mark.parametrize(
    ("batch_axis", "keep_axis"), [("N", True), (1, True), (4, True), ("N", False)], ids=["dynamic", "1", "4", "lost"]
)
def test_onnx_detections_are_the_same_batched_as_frame_by_frame(batch_axis, keep_axis) -> None:
    model = scored_detector(CANDIDATES, batch=batch_axis, keep_batch_axis=keep_axis)
    one_by_one = detector(model, max_batch=1)
    batched = detector(model, max_batch=8, max_batch_wait_ms=50)
    expected = boxes(one_by_one.detect(frames()))
    assert any(expected) and len({tuple(e) for e in expected}) > 3  # the frames really differ
    got = boxes(detect_as_jobs(batched, frames(), Priority.STANDARD))
    assert got == expected
    runner = batched.batcher.run
    assert isinstance(runner, OrtBatchRunner)
    if batch_axis == "N" and keep_axis:
        assert runner.calls < 10 and batched.batcher.stats.largest > 2  # frames of several jobs shared calls
    if batch_axis == 4:
        assert runner.calls < 10  # padded calls of four
    if batch_axis == 1 or not keep_axis:
        assert runner.calls >= 10  # the same interface, one frame per call
    assert expected[0] == [] and len(expected[-1]) == 3  # the dark frame scores under the threshold, the bright one not


def test_two_detectors_on_one_weights_file_share_one_session_and_batcher() -> None:
    cache = SessionCache()
    model = scored_detector(CANDIDATES)
    intrusion = OnnxDetector(model, cache=cache, input_size=(64, 64), layout="v8")
    crowd = OnnxDetector(model, cache=cache, input_size=(64, 64), layout="v8")
    assert intrusion.batcher is crowd.batcher and cache.stats().resident_sessions == 1


class Recording(AnalyticsModel):
    """Records the priority its inference would run at."""

    key = AiModel.MOTION

    def __init__(self, model: AiModel, seen: list[tuple[AiModel, Priority | None]]) -> None:
        super().__init__()
        self.model, self.seen = model, seen

    def analyze(self, clip: NormalizedClip, *, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        self.seen.append((self.model, current_priority()))
        return []


async def test_the_worker_runs_each_model_at_its_jobs_priority(plant) -> None:  # noqa: F811
    bus, blobs, refs = plant
    seen: list[tuple[AiModel, Priority | None]] = []
    models = {m: Recording(m, seen) for m in (AiModel.FIRE_SMOKE, AiModel.MOTION)}
    worker = Worker(
        seen=MemoryCache(), bus=bus, blobs=blobs, models=models, inference=InferenceSettings(threads_per_model=2)
    )
    from vms.analytics.jobs import publish_jobs

    await publish_jobs(bus, jobs(refs[0], [AiModel.FIRE_SMOKE, AiModel.MOTION]))
    await run_until(worker, lambda: len(seen) == 2)
    assert sorted(seen) == [(AiModel.FIRE_SMOKE, Priority.CRITICAL), (AiModel.MOTION, Priority.STANDARD)]
    assert all(pool._max_workers == 2 for pool in worker._pools.values())
