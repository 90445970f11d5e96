"""In-process cache and rate limiter: the single-box default. Per process, so a multi-process
deployment uses Redis instead (bootstrap picks it from settings)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from vms.ports import RateDecision


class MemoryCache:
    """A dict with expiry times; expired keys are dropped on read and by periodic sweeps."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._data: dict[str, tuple[bytes, float]] = {}

    async def get(self, key: str) -> bytes | None:
        """The value, or None when absent or expired."""
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires <= self._clock():
            self._data.pop(key, None)
            return None
        return value

    async def set(self, key: str, value: bytes, *, ttl_s: float | None = None) -> None:
        """Store a value, optionally expiring after `ttl_s` seconds."""
        if len(self._data) >= self._max_keys:
            self._sweep()
        self._data[key] = (value, self._clock() + ttl_s if ttl_s else math.inf)

    async def delete(self, *keys: str) -> None:
        """Remove keys (missing keys are ignored)."""
        for key in keys:
            self._data.pop(key, None)

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with `prefix`."""
        doomed = [k for k in self._data if k.startswith(prefix)]
        for key in doomed:
            del self._data[key]
        return len(doomed)

    async def ping(self) -> None:
        """Always reachable."""

    async def close(self) -> None:
        """Nothing to release."""

    def _sweep(self) -> None:
        now = self._clock()
        for key in [k for k, (_, exp) in self._data.items() if exp <= now]:
            del self._data[key]
        while len(self._data) >= self._max_keys:  # still full of live keys: drop the oldest inserted
            del self._data[next(iter(self._data))]


class MemoryRateLimiter:
    """Fixed-window counters in a dict."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[int, int]] = {}

    async def hit(self, key: str, *, limit: int, window_s: int) -> RateDecision:
        """Count one request and say whether it fits in the window's budget."""
        now = self._clock()
        window = int(now // window_s)
        current_window, count = self._windows.get(key, (window, 0))
        if current_window != window:
            count = 0
            if len(self._windows) > 100_000:  # old windows pile up under many distinct keys
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
        count += 1
        self._windows[key] = (window, count)
        reset = (window + 1) * window_s - now
        return RateDecision(count <= limit, limit, max(0, limit - count), reset)
