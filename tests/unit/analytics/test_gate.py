"""The device gate serves CRITICAL inference before queued batch work, then the rest in arrival order."""

from __future__ import annotations

import threading
import time

from vms.analytics.gate import InferenceGate, current_priority, inference_priority
from vms.kernel.priority import Priority


def wait_for(condition, limit_s: float = 10.0) -> None:
    """Poll until `condition()` (a guard against hangs, not a timing assertion)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.001)


def queue_waiter(gate: InferenceGate, priority: Priority, name: str, order: list[str]) -> threading.Thread:
    """Start a thread that waits for a slot, and return once it is queued (so arrival order is known)."""
    queued = gate.waiting()
    thread = threading.Thread(target=lambda: _take(gate, priority, name, order))
    thread.start()
    wait_for(lambda: gate.waiting() == queued + 1)
    return thread


def _take(gate: InferenceGate, priority: Priority, name: str, order: list[str]) -> None:
    with gate.slot(priority):
        order.append(name)


def test_critical_arriving_behind_queued_batches_is_served_next() -> None:
    gate = InferenceGate(slots=1, name="cpu")
    order: list[str] = []
    running = gate.slot(Priority.STANDARD)  # a batch is running: it is never pre-empted
    running.__enter__()
    threads = [
        queue_waiter(gate, Priority.STANDARD, "batch-1", order),
        queue_waiter(gate, Priority.STANDARD, "batch-2", order),
        queue_waiter(gate, Priority.HIGH, "high", order),
        queue_waiter(gate, Priority.CRITICAL, "critical", order),
    ]
    assert order == []  # nobody overtook the running batch
    running.__exit__(None, None, None)
    for thread in threads:
        thread.join(10)
    assert order == ["critical", "high", "batch-1", "batch-2"]
    assert gate.waited["CRITICAL"] == 1 and gate.served["STANDARD"] == 3


def test_free_slots_are_taken_without_waiting_and_two_slots_run_together() -> None:
    gate = InferenceGate(slots=2, name="cuda")
    both_inside = threading.Barrier(2, timeout=10)

    def work() -> None:
        with gate.slot(Priority.STANDARD):
            both_inside.wait()  # would time out (BrokenBarrierError) if the gate let only one in

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not both_inside.broken and gate.served["STANDARD"] == 2 and sum(gate.waited.values()) == 0


def test_priority_context_is_per_thread_and_restored() -> None:
    seen: list[Priority | None] = []
    with inference_priority(Priority.CRITICAL):
        other = threading.Thread(target=lambda: seen.append(current_priority()))
        other.start()
        other.join()
        seen.append(current_priority())
    seen.append(current_priority())
    assert seen == [None, Priority.CRITICAL, None]
