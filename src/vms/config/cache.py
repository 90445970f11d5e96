"""Configuration through the Cache port: what is cached, for how long, and what happens when the
cache is down.

Each node's own overrides are cached under its key (`config:system:overrides`,
`config:customer:{id}:overrides`, `config:site:{id}:overrides`, `config:camera:{id}:overrides`)
and a model's system-wide requirements under `config:model:{id}:requirements`. A camera's
effective config merges four small cached documents; caching the merged result instead would
make every customer or system edit invalidate thousands of camera keys.

The cache is an optimisation, never a dependency: when it raises ServiceUnavailable, reads go to
the database (a warning is logged, the user sees no error), a circuit breaker stops us waiting on
it for every read, and invalidations that could not be delivered are retried before the cache
is trusted again.

Keys of critical parameters that this process reads are tracked; `due()` lists those close to
expiry so the refresher (listener.py) reloads them before they expire and a hot-path read never
waits on the database.

>>> config_cache = ConfigCache(container.cache, ttl_s=300)
>>> await config_cache.put("config:system:overrides", {"at": time.time(), "overrides": {}})
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import structlog

from vms.config.nodes import NodeRef
from vms.kernel.ai_models import AiModel
from vms.kernel.circuit import CircuitBreaker
from vms.kernel.errors import ServiceUnavailable
from vms.ports import Cache

log = structlog.get_logger(__name__)
Reloadable = NodeRef | AiModel  # what a tracked key is rebuilt from


@dataclass(slots=True)
class _Hot:
    source: Reloadable
    loaded_at: float  # wall clock when the cached value was read from the database
    last_read: float


class ConfigCache:
    """The config domain's view of the Cache port; one per process (Container.config)."""

    def __init__(
        self,
        cache: Cache,
        *,
        ttl_s: float,
        refresh_at: float = 0.8,
        max_tracked: int = 200_000,
        warn_every_s: float = 30.0,
        breaker_reset_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cache = cache
        self.ttl_s = ttl_s
        self.refresh_at = refresh_at
        self.max_tracked = max_tracked
        self.warn_every_s = warn_every_s
        self.clock = clock
        self._breaker = CircuitBreaker("config cache", failure_threshold=3, reset_after_s=breaker_reset_s)
        self._hot: dict[str, _Hot] = {}
        self._pending_prefixes: set[str] = set()
        self._pending_keys: set[str] = set()
        self._last_warning = -float("inf")

    @property
    def refresh_interval_s(self) -> float:
        """How often the refresher looks for keys due (a tenth of the TTL, at most 30 s)."""
        return min(self.ttl_s / 10, 30.0)

    async def get(self, key: str) -> dict[str, Any] | None:
        """The cached document, or None on a miss, a corrupt entry or a cache that is down."""
        if (self._pending_prefixes or self._pending_keys) and not await self.retry_pending():
            return None  # an invalidation is still owed: cached values may be stale, read the database
        try:
            raw = await self._breaker.call(lambda: self.cache.get(key))
        except ServiceUnavailable as exc:
            self._warn("read", exc)
            return None
        if raw is None:
            return None
        try:
            doc = json.loads(raw)
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None

    async def put(self, key: str, doc: dict[str, Any]) -> None:
        """Cache a document for the TTL; a cache that is down is skipped with a warning."""
        value = json.dumps(doc, separators=(",", ":")).encode()
        try:
            await self._breaker.call(lambda: self.cache.set(key, value, ttl_s=self.ttl_s))
        except ServiceUnavailable as exc:
            self._warn("write", exc)

    async def invalidate(self, *, prefixes: Iterable[str] = (), keys: Iterable[str] = ()) -> int:
        """Drop keys and key prefixes; what cannot be dropped now is owed and retried. Returns keys dropped."""
        prefixes, keys = list(prefixes), list(keys)
        self._untrack(prefixes, keys)
        self._pending_prefixes.update(prefixes)
        self._pending_keys.update(keys)
        return await self._deliver()

    async def retry_pending(self) -> bool:
        """Deliver owed invalidations; True when none is left."""
        await self._deliver()
        return not (self._pending_prefixes or self._pending_keys)

    def track(self, key: str, source: Reloadable, loaded_at: float, *, read: bool = True) -> None:
        """Note a read of a critical key (or, read=False, its refresh), so it is refreshed before it
        expires for as long as it is read."""
        hot = self._hot.get(key)
        if hot is not None:
            hot.loaded_at = loaded_at
            if read:
                hot.last_read = self.clock()
        elif read and len(self._hot) < self.max_tracked:
            self._hot[key] = _Hot(source, loaded_at, self.clock())

    def due(self) -> list[tuple[str, Reloadable]]:
        """Tracked keys past `refresh_at` of their TTL and read within the last TTL; idle keys are forgotten."""
        now = self.clock()
        found = []
        for key, hot in list(self._hot.items()):
            if hot.last_read < now - self.ttl_s:
                del self._hot[key]
            elif hot.loaded_at + self.ttl_s * self.refresh_at <= now:
                found.append((key, hot.source))
        return found

    @property
    def tracked(self) -> int:
        """How many keys are kept warm."""
        return len(self._hot)

    async def _deliver(self) -> int:
        dropped = 0
        try:
            for prefix in sorted(self._pending_prefixes):
                dropped += await self._breaker.call(lambda p=prefix: self.cache.delete_prefix(p))  # type: ignore[misc]
                self._pending_prefixes.discard(prefix)
            if self._pending_keys:
                keys = sorted(self._pending_keys)
                await self._breaker.call(lambda: self.cache.delete(*keys))
                dropped += len(keys)
                self._pending_keys.clear()
        except ServiceUnavailable as exc:
            self._warn("invalidate", exc)
        return dropped

    def _untrack(self, prefixes: list[str], keys: list[str]) -> None:
        if not self._hot:
            return
        doomed = set(keys)
        if prefixes:
            doomed |= {key for key in self._hot if key.startswith(tuple(prefixes))}
        for key in doomed:
            self._hot.pop(key, None)

    def _warn(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning >= self.warn_every_s:  # once per window, not once per read
            self._last_warning = now
            log.warning("config cache unavailable; using the database", operation=operation, error=str(exc))
