"""Priority access to an inference device: CRITICAL inference is never queued behind batch work.

Each device (the GPU, or the CPU as a whole) has one `InferenceGate` with a few slots: an inference
call holds a slot while it runs. When the slots are taken, waiters are served by priority, then in
arrival order, so a CRITICAL request that arrives while STANDARD batches queue runs next. A call
that is already running is never pre-empted; batches are bounded (`max_batch`), so the longest a
CRITICAL request waits is one bounded batch per slot.

The priority of a call comes from the thread's context, set by the worker around each model run:

>>> with inference_priority(Priority.CRITICAL):
...     detector.detect(frames)          # every session.run inside goes through the gate as CRITICAL
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from vms.kernel.priority import Priority

RANK = {Priority.CRITICAL: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.STANDARD: 3}
# Work with no job behind it (offline evaluation, benches, tests calling a model directly).
UNSET_RANK = RANK[Priority.STANDARD]

_PRIORITY: ContextVar[Priority | None] = ContextVar("inference_priority", default=None)


@contextmanager
def inference_priority(priority: Priority | None) -> Iterator[None]:
    """Run the block's inference at `priority` (None: no job, run directly without batching)."""
    token = _PRIORITY.set(priority)
    try:
        yield
    finally:
        _PRIORITY.reset(token)


def current_priority() -> Priority | None:
    """The priority of the job this thread is analysing, if any."""
    return _PRIORITY.get()


class InferenceGate:
    """A priority semaphore: `slots` calls run at once; waiters go CRITICAL first, then oldest first.

    >>> gate = InferenceGate(slots=1, name="cuda:0")
    >>> with gate.slot(Priority.STANDARD):
    ...     session.run(None, feeds)
    """

    def __init__(self, *, slots: int, name: str) -> None:
        self.name = name
        self.slots = max(1, slots)
        self._free = self.slots
        self._cond = threading.Condition()
        self._waiters: list[tuple[int, int]] = []  # (rank, arrival) heap
        self._arrival = itertools.count()
        self.served: Counter[str] = Counter()  # calls run, by priority
        self.waited: Counter[str] = Counter()  # calls that found every slot taken, by priority

    def waiting(self) -> int:
        """Calls queued for a slot right now."""
        with self._cond:
            return len(self._waiters)

    @contextmanager
    def slot(self, priority: Priority | None) -> Iterator[None]:
        """Hold one slot for the block, queued by priority when all are taken."""
        rank = RANK[priority] if priority is not None else UNSET_RANK
        label = priority.value if priority is not None else "NONE"
        with self._cond:
            ticket = (rank, next(self._arrival))
            heapq.heappush(self._waiters, ticket)
            if self._free == 0 or self._waiters[0] != ticket:
                self.waited[label] += 1
            while self._free == 0 or self._waiters[0] != ticket:
                self._cond.wait()
            heapq.heappop(self._waiters)
            self._free -= 1
            self.served[label] += 1
            self._cond.notify_all()  # with slots left, the next waiter in line may go too
        try:
            yield
        finally:
            with self._cond:
                self._free += 1
                self._cond.notify_all()
