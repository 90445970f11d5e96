"""Redis cache and rate limiter: shared by every process and role of a deployment."""

from __future__ import annotations

import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from vms.kernel.errors import ServiceUnavailable
from vms.ports import RateDecision


class RedisCache:
    """Cache port on Redis; errors become ServiceUnavailable so callers can fall back."""

    def __init__(self, client: Redis) -> None:
        self._redis = client

    @property
    def client(self) -> Redis:
        """The underlying connection pool, shared with the rate limiter."""
        return self._redis

    @classmethod
    def from_url(cls, url: str) -> RedisCache:
        """Connect lazily to the Redis at `url`."""
        return cls(Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2))

    async def get(self, key: str) -> bytes | None:
        """The value, or None when absent or expired."""
        try:
            value = await self._redis.get(key)
        except RedisError as exc:
            raise ServiceUnavailable(f"Cache unavailable: {exc}") from exc
        return value if value is None or isinstance(value, bytes) else value.encode()

    async def set(self, key: str, value: bytes, *, ttl_s: float | None = None) -> None:
        """Store a value, optionally expiring after `ttl_s` seconds."""
        try:
            await self._redis.set(key, value, px=int(ttl_s * 1000) if ttl_s else None)
        except RedisError as exc:
            raise ServiceUnavailable(f"Cache unavailable: {exc}") from exc

    async def delete(self, *keys: str) -> None:
        """Remove keys (missing keys are ignored)."""
        if not keys:
            return
        try:
            await self._redis.delete(*keys)
        except RedisError as exc:
            raise ServiceUnavailable(f"Cache unavailable: {exc}") from exc

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with `prefix` (SCAN, so Redis is never blocked)."""
        removed = 0
        try:
            batch: list[bytes] = []
            async for key in self._redis.scan_iter(match=_glob_escape(prefix) + "*", count=500):
                batch.append(key)
                if len(batch) >= 500:
                    removed += await self._redis.delete(*batch)
                    batch.clear()
            if batch:
                removed += await self._redis.delete(*batch)
        except RedisError as exc:
            raise ServiceUnavailable(f"Cache unavailable: {exc}") from exc
        return removed

    async def ping(self) -> None:
        """Raise if Redis cannot be reached."""
        try:
            await self._redis.ping()
        except RedisError as exc:
            raise ServiceUnavailable(f"Cache unavailable: {exc}") from exc

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


class RedisRateLimiter:
    """Fixed-window counters: one INCR and one EXPIRE per request, in one round trip."""

    def __init__(self, client: Redis) -> None:
        self._redis = client

    async def hit(self, key: str, *, limit: int, window_s: int) -> RateDecision:
        """Count one request and say whether it fits in the window's budget."""
        now = time.time()
        window = int(now // window_s)
        redis_key = f"ratelimit:{key}:{window}"
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(redis_key)
                pipe.expire(redis_key, window_s + 1, nx=True)
                count, _ = await pipe.execute()
        except RedisError:
            # Fail open: a cache outage must not take the whole API down with it.
            return RateDecision(True, limit, limit, window_s)
        reset = (window + 1) * window_s - now
        return RateDecision(int(count) <= limit, limit, max(0, limit - int(count)), reset)


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)
