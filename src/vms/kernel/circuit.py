"""A small circuit breaker for outbound calls (notifications, ticketing, webhooks).

Closed: calls pass; `failure_threshold` consecutive failures open it. Open: calls fail fast with
`CircuitOpen` for `reset_after_s`, sparing a struggling dependency and our request latency.
Half-open: one trial call; success closes, failure opens again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TypeVar

from vms.kernel.errors import CircuitOpen

T = TypeVar("T")


class CircuitState(StrEnum):
    """Where the breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Guards one outbound dependency.

    >>> breaker = CircuitBreaker("servicenow", failure_threshold=5, reset_after_s=30)
    >>> ticket = await breaker.call(lambda: client.create_ticket(payload))
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> CircuitState:
        """Current state, moving from open to half-open once the reset time has passed."""
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at >= self.reset_after_s:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run `fn` unless the circuit is open; record its outcome."""
        state = self.state
        if state is CircuitState.OPEN or (state is CircuitState.HALF_OPEN and self._trial_running):
            raise CircuitOpen(f"Calls to {self.name} are paused after repeated failures; retry later.")
        self._trial_running = state is CircuitState.HALF_OPEN
        try:
            result = await fn()
        except Exception:
            self._record_failure()
            raise
        finally:
            self._trial_running = False
        self._failures = 0
        self._opened_at = None
        return result

    def _record_failure(self) -> None:
        self._failures += 1
        if self._opened_at is not None or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
