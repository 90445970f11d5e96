"""Micro-batching of non-critical inference across jobs, cameras and models (issue 5 item 4).

A worker analyses several jobs at once (threads per model) and several models may share one set of
weights (intrusion and crowd on one operator YOLO file). Their frames are gathered into one
inference call of up to `max_batch` frames: one call amortises the per-call overhead on CPU and
fills the GPU. A partial batch waits at most `max_batch_wait_ms` after its oldest frame arrived
(the deadline), so a lone job is delayed by that much, never more; its leftovers past a full batch
run at once.

CRITICAL work bypasses the queue: it runs at once on the caller's thread (still in chunks of
`max_batch`, one call each), and through the device gate (gate.py) it goes before queued batches.
Work with no job behind it (offline evaluation, tests calling a model directly) runs directly too:
there is nothing to batch it with.

Users: operator ONNX detectors (`model_batcher`, one batcher per session) and the default person
detector (detect/persons.py: its OpenCV DNN graph, frames and tiles as items); `shared_batcher`
gives each model one batcher per process, sized by the session cache's settings.

`OrtBatchRunner` turns a batch into as few ONNX Runtime calls as the model allows: one call for a
dynamic batch axis, padded calls for a fixed batch size above 1, per-frame calls for a fixed batch
of 1 (or a model whose outputs do not keep the batch axis). Results are split back per frame, in
order, so callers cannot tell batched from unbatched results.

>>> batcher = model_batcher("/models/yolov8n.onnx")
>>> outputs = batcher.submit([tensor_a, tensor_b], priority=Priority.STANDARD)   # one [1, ...] per frame
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from vms.analytics.gate import RANK, inference_priority
from vms.analytics.sessions import GatedSession, ModelSource, SessionCache, SessionKey, default_cache
from vms.kernel.priority import Priority

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)
class _Request(Generic[T, R]):
    items: Sequence[T]
    priority: Priority
    arrived: float
    results: list[R | None]
    taken: int = 0  # items handed to a batch so far
    filled: int = 0  # results received so far
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class BatchStats:
    """What a batcher did: batches run and their sizes, CRITICAL calls that bypassed the queue."""

    batches: int = 0
    items: int = 0
    largest: int = 0
    full: int = 0  # batches flushed because max_batch items were waiting
    by_deadline: int = 0  # partial batches flushed by the deadline
    direct_calls: int = 0  # calls that bypassed the queue (CRITICAL, or no job)


class MicroBatcher(Generic[T, R]):
    """Gathers items from many threads into calls of `run` of at most `max_batch` items.

    `run` maps a list of items to one result per item, in order. `submit` blocks its caller until
    its own results are back.

    >>> batcher = MicroBatcher(lambda frames: [model(f) for f in frames], max_batch=8, max_wait_s=0.02, name="demo")
    >>> batcher.submit(frames, priority=Priority.STANDARD)
    """

    def __init__(
        self,
        run: Callable[[list[T]], list[R]],
        *,
        max_batch: int,
        max_wait_s: float,
        name: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.run = run
        self.max_batch = max(1, max_batch)
        self.max_wait_s = max(0.0, max_wait_s)
        self.name = name
        self.stats = BatchStats()
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: deque[_Request[T, R]] = deque()
        self._pending = 0  # queued items not yet in a batch
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, items: Sequence[T], *, priority: Priority | None) -> list[R]:
        """Results for `items`, in order; CRITICAL (or job-less) work runs at once on this thread."""
        if not items:
            return []
        if priority is None or priority == Priority.CRITICAL or self.max_batch == 1:
            return self._direct(items, priority)
        request: _Request[T, R] = _Request(items, priority, self._clock(), [None] * len(items))
        with self._cond:
            if self._closed:
                raise RuntimeError(f"batcher {self.name} is closed")
            self._queue.append(request)
            self._pending += len(items)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=f"batch-{self.name[-24:]}", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.results  # type: ignore[return-value]  # every slot was filled

    def close(self) -> None:
        """Run what is queued now and stop the batching thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _direct(self, items: Sequence[T], priority: Priority | None) -> list[R]:
        out: list[R] = []
        with inference_priority(priority):
            for start in range(0, len(items), self.max_batch):
                chunk = list(items[start : start + self.max_batch])
                results = self.run(chunk)
                _check_count(results, chunk)
                out.extend(results)
        with self._cond:
            self.stats.direct_calls += 1
        return out

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return  # closed and drained
                deadline = self._queue[0].arrived + self.max_wait_s
                while self._pending < self.max_batch and not self._closed:
                    left = deadline - self._clock()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                full = self._pending >= self.max_batch
                batch = self._take()
            self._run_batch(batch, full=full)

    def _take(self) -> list[tuple[_Request[T, R], int]]:
        """Up to `max_batch` (request, item index) pairs, oldest request first (lock held)."""
        batch: list[tuple[_Request[T, R], int]] = []
        while self._queue and len(batch) < self.max_batch:
            request = self._queue[0]
            count = min(self.max_batch - len(batch), len(request.items) - request.taken)
            batch.extend((request, request.taken + i) for i in range(count))
            request.taken += count
            if request.taken == len(request.items):
                self._queue.popleft()
        self._pending -= len(batch)
        return batch

    def _run_batch(self, batch: list[tuple[_Request[T, R], int]], *, full: bool) -> None:
        requests = list(dict.fromkeys(request for request, _ in batch))
        # The batch runs at the most urgent priority among its requests (HIGH before STANDARD at the gate).
        priority = min((r.priority for r in requests), key=RANK.__getitem__)
        items = [request.items[index] for request, index in batch]
        try:
            with inference_priority(priority):
                results = self.run(items)
            _check_count(results, items)
        except BaseException as exc:  # every caller in the batch learns why; the batcher carries on
            for request in requests:
                request.error = exc
                request.done.set()
            return
        with self._cond:
            stats = self.stats
            stats.batches += 1
            stats.items += len(items)
            stats.largest = max(stats.largest, len(items))
            stats.full += full
            stats.by_deadline += not full
        for (request, index), result in zip(batch, results, strict=True):
            request.results[index] = result
            request.filled += 1
            if request.filled == len(request.items):
                request.done.set()


def _check_count(results: Sequence[object], items: Sequence[object]) -> None:
    if len(results) != len(items):
        raise RuntimeError(f"batch function returned {len(results)} results for {len(items)} items")


class OrtBatchRunner:
    """Runs single-frame input tensors ([1, ...] each) on a model's session in as few calls as it allows.

    Returns, per frame, the session's outputs with a batch axis of 1, exactly as a per-frame call would.
    """

    def __init__(self, cache: SessionCache, model: ModelSource, *, cuda: bool = True) -> None:
        self.cache = cache
        self.model = model
        self.cuda = cuda
        self.per_frame = False  # set when the model's outputs turn out not to keep the batch axis
        self.calls = 0  # session.run calls made

    def __call__(self, tensors: list[np.ndarray]) -> list[list[np.ndarray]]:
        with self.cache.lease(self.model, cuda=self.cuda) as session:
            batch_axis = session.get_inputs()[0].shape[0]
            fixed = batch_axis if isinstance(batch_axis, int) and batch_axis > 0 else None
            if self.per_frame or fixed == 1:
                return [self._run(session, tensor) for tensor in tensors]
            out: list[list[np.ndarray]] = []
            for group in _same_shape_runs(tensors):
                step = fixed or len(group)
                for start in range(0, len(group), step):
                    out.extend(self._batched(session, group[start : start + step], fixed))
            return out

    def _batched(self, session: GatedSession, tensors: list[np.ndarray], fixed: int | None) -> list[list[np.ndarray]]:
        count = len(tensors)
        stacked = np.concatenate(tensors, axis=0)
        if fixed is not None and count < fixed:  # a fixed batch size: pad with zeros, drop their outputs
            stacked = np.concatenate([stacked, np.zeros((fixed - count, *stacked.shape[1:]), stacked.dtype)])
        outputs = self._call(session, stacked)
        size = stacked.shape[0]
        if any(np.ndim(o) == 0 or np.shape(o)[0] != size for o in outputs):
            log.warning(
                "model outputs do not keep the batch axis; running it frame by frame",
                extra={"model": session.key.model},
            )
            self.per_frame = True
            return [self._run(session, tensor) for tensor in tensors]
        return [[np.asarray(o)[i : i + 1] for o in outputs] for i in range(count)]

    def _run(self, session: GatedSession, tensor: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(o) for o in self._call(session, tensor)]

    def _call(self, session: GatedSession, tensor: np.ndarray) -> list[np.ndarray]:
        self.calls += 1
        return list(session.run(None, {session.get_inputs()[0].name: tensor}))


def _same_shape_runs(tensors: list[np.ndarray]) -> list[list[np.ndarray]]:
    """Consecutive tensors of one shape (only those can be stacked into one call)."""
    runs: list[list[np.ndarray]] = []
    for tensor in tensors:
        if runs and runs[-1][0].shape == tensor.shape and runs[-1][0].dtype == tensor.dtype:
            runs[-1].append(tensor)
        else:
            runs.append([tensor])
    return runs


def model_batcher(
    model: ModelSource, *, cache: SessionCache | None = None, cuda: bool = True
) -> MicroBatcher[np.ndarray, list[np.ndarray]]:
    """The micro-batcher of `model`'s session, shared by every detector in the process that uses it."""
    cache = cache or default_cache()
    return shared_batcher(cache, cache.key(model, cuda=cuda), lambda: OrtBatchRunner(cache, model, cuda=cuda))


def shared_batcher(
    cache: SessionCache, key: SessionKey, build_run: Callable[[], Callable[[list[T]], list[R]]]
) -> MicroBatcher[T, R]:
    """The process's one micro-batcher for the model behind `key`, sized by the cache's settings
    (`max_batch`, `max_batch_wait_ms`); `build_run` makes its batch function on first use.

    >>> batcher = shared_batcher(cache, key, lambda: OrtBatchRunner(cache, path))
    """

    def build() -> MicroBatcher[T, R]:
        settings = cache.settings
        return MicroBatcher(
            build_run(), max_batch=settings.max_batch, max_wait_s=settings.max_batch_wait_ms / 1000, name=key.model
        )

    batcher: MicroBatcher[T, R] = cache.shared("batcher", key, build)
    return batcher
