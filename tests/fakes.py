"""Test doubles shared by several test modules: real adapters with one failure added."""

from __future__ import annotations

from vms.adapters.cache.memory import MemoryCache
from vms.kernel.errors import ServiceUnavailable


class ForgetfulCache(MemoryCache):
    """The in-process cache, except that the next `failures` writes raise, as a Redis blip would."""

    def __init__(self, *, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def set(self, key: str, value: bytes, *, ttl_s: float | None = None) -> None:
        if self.failures:
            self.failures -= 1
            raise ServiceUnavailable("The cache is unreachable.")
        await super().set(key, value, ttl_s=ttl_s)
