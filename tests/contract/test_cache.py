"""Cache and rate-limiter port contract: the in-process adapters and Redis pass the same suite.

Each Redis test works under its own random key prefix and removes only its keys, so tests can
share one Redis with each other and with anything else using it.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.conftest import engine_url
from vms.adapters.cache.memory import MemoryCache, MemoryRateLimiter
from vms.adapters.cache.redis import RedisCache, RedisRateLimiter
from vms.kernel.errors import ServiceUnavailable
from vms.ports import Cache, RateLimiter

pytestmark = pytest.mark.engines


@dataclass
class Adapters:
    """One kind's cache and rate limiter, and the key prefix this test owns."""

    cache: Cache
    limiter: RateLimiter
    prefix: str


@pytest.fixture(params=["memory", "redis"])
async def adapters(request: pytest.FixtureRequest) -> AsyncIterator[Adapters]:
    """The in-process pair, or the Redis pair sharing one connection pool."""
    prefix = f"vms-contract:{uuid.uuid4().hex}:"
    if request.param == "memory":
        yield Adapters(MemoryCache(), MemoryRateLimiter(), prefix)
        return
    cache = RedisCache.from_url(engine_url("VMS_TEST_REDIS_URL"))
    try:
        yield Adapters(cache, RedisRateLimiter(cache.client), prefix)
    finally:
        # The prefix is a hex uuid (no glob characters), so a plain match finds exactly our keys.
        for pattern in (f"{prefix}*", f"ratelimit:{prefix}*"):
            keys = [key async for key in cache.client.scan_iter(match=pattern)]
            if keys:
                await cache.client.delete(*keys)
        await cache.close()


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- cache --------------------------------------------------------------------------------------


async def test_set_then_get_returns_the_value(adapters):
    key = adapters.prefix + "config:camera:42"
    await adapters.cache.set(key, b"first")
    assert await adapters.cache.get(key) == b"first"


async def test_set_overwrites_the_previous_value(adapters):
    key = adapters.prefix + "k"
    await adapters.cache.set(key, b"old")
    await adapters.cache.set(key, b"new")
    assert await adapters.cache.get(key) == b"new"


async def test_missing_key_reads_none(adapters):
    assert await adapters.cache.get(adapters.prefix + "never-set") is None


async def test_value_expires_after_its_ttl(adapters):
    key = adapters.prefix + "short-lived"
    await adapters.cache.set(key, b"v", ttl_s=0.2)
    await adapters.cache.set(adapters.prefix + "lasting", b"w")
    assert await adapters.cache.get(key) == b"v"
    await asyncio.sleep(0.4)
    assert await adapters.cache.get(key) is None
    assert await adapters.cache.get(adapters.prefix + "lasting") == b"w"


async def test_overwrite_without_ttl_clears_the_old_expiry(adapters):
    key = adapters.prefix + "k"
    await adapters.cache.set(key, b"v", ttl_s=0.2)
    await adapters.cache.set(key, b"kept")
    await asyncio.sleep(0.4)
    assert await adapters.cache.get(key) == b"kept"


async def test_delete_removes_several_keys_and_ignores_missing_ones(adapters):
    p = adapters.prefix
    for name in ("a", "b", "c"):
        await adapters.cache.set(p + name, name.encode())
    await adapters.cache.delete(p + "a", p + "b", p + "missing")
    await adapters.cache.delete()  # nothing to delete is not an error
    assert await adapters.cache.get(p + "a") is None
    assert await adapters.cache.get(p + "b") is None
    assert await adapters.cache.get(p + "c") == b"c"


async def test_delete_prefix_removes_only_keys_starting_with_it(adapters):
    p = adapters.prefix
    await adapters.cache.set(p + "camera:1:a", b"1")
    await adapters.cache.set(p + "camera:1:b", b"2")
    await adapters.cache.set(p + "camera:10:a", b"3")
    await adapters.cache.set(p + "zone:camera:1:a", b"4")
    assert await adapters.cache.delete_prefix(p + "camera:1:") == 2
    assert await adapters.cache.get(p + "camera:1:a") is None
    assert await adapters.cache.get(p + "camera:1:b") is None
    assert await adapters.cache.get(p + "camera:10:a") == b"3"
    assert await adapters.cache.get(p + "zone:camera:1:a") == b"4"


@pytest.mark.parametrize(
    ("prefix", "doomed", "survivor"),
    [
        ("cam*", ["cam*:1", "cam*:2"], "camera:1"),  # unescaped, * would match anything
        ("cam[12]", ["cam[12]:x", "cam[12]"], "cam1:x"),  # unescaped, [12] would match "1"
        ("c?m", ["c?m:x"], "cam:x"),  # unescaped, ? would match "a"
        ("a\\b", ["a\\b:x"], "ab:x"),  # unescaped, \b would match "b"
    ],
    ids=["star", "brackets", "question", "backslash"],
)
async def test_delete_prefix_treats_glob_characters_literally(adapters, prefix, doomed, survivor):
    # Redis finds keys with glob patterns; a prefix holding * ? [ ] \ must still mean itself.
    p = adapters.prefix
    for key in [*doomed, survivor]:
        await adapters.cache.set(p + key, b"v")
    assert await adapters.cache.delete_prefix(p + prefix) == len(doomed)
    for key in doomed:
        assert await adapters.cache.get(p + key) is None, key
    assert await adapters.cache.get(p + survivor) == b"v"


async def test_delete_prefix_with_nothing_matching_returns_zero(adapters):
    await adapters.cache.set(adapters.prefix + "other", b"v")
    assert await adapters.cache.delete_prefix(adapters.prefix + "nothing-here:") == 0
    assert await adapters.cache.get(adapters.prefix + "other") == b"v"


async def test_ping_succeeds_when_reachable(adapters):
    await adapters.cache.ping()


async def test_binary_values_round_trip_byte_for_byte(adapters):
    value = bytes(range(256)) * 4 + b"\x00\xff\r\n" + "caméra ✓".encode()
    key = adapters.prefix + "binary"
    await adapters.cache.set(key, value)
    got = await adapters.cache.get(key)
    assert isinstance(got, bytes)
    assert got == value


async def test_empty_value_is_stored_not_treated_as_missing(adapters):
    key = adapters.prefix + "empty"
    await adapters.cache.set(key, b"")
    assert await adapters.cache.get(key) == b""


# --- rate limiter ---------------------------------------------------------------------------------

# A long window, so the first tests never straddle a window boundary.
HOUR = 3600


async def test_limit_hits_are_allowed_then_the_next_is_denied(adapters):
    key = adapters.prefix + "ip:10.0.0.7"
    decisions = [await adapters.limiter.hit(key, limit=3, window_s=HOUR) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]
    assert {d.limit for d in decisions} == {3}


async def test_reset_after_is_within_the_window(adapters):
    decision = await adapters.limiter.hit(adapters.prefix + "user:1", limit=10, window_s=HOUR)
    assert 0 < decision.reset_after_s <= HOUR
    short = await adapters.limiter.hit(adapters.prefix + "user:2", limit=10, window_s=5)
    assert 0 < short.reset_after_s <= 5


async def test_separate_keys_have_separate_budgets(adapters):
    first, second = adapters.prefix + "tenant:a", adapters.prefix + "tenant:b"
    await adapters.limiter.hit(first, limit=1, window_s=HOUR)
    assert not (await adapters.limiter.hit(first, limit=1, window_s=HOUR)).allowed
    other = await adapters.limiter.hit(second, limit=1, window_s=HOUR)
    assert other.allowed
    assert other.remaining == 0


async def test_a_new_window_restores_the_budget(adapters):
    key = adapters.prefix + "ip:10.0.0.8"
    # Start just after a second boundary so both hits land in the same 1-second window.
    await asyncio.sleep(1 - time.time() % 1 + 0.01)
    assert (await adapters.limiter.hit(key, limit=1, window_s=1)).allowed
    denied = await adapters.limiter.hit(key, limit=1, window_s=1)
    assert not denied.allowed
    await asyncio.sleep(denied.reset_after_s + 0.05)
    renewed = await adapters.limiter.hit(key, limit=1, window_s=1)
    assert renewed.allowed
    assert renewed.remaining == 0


# --- Redis down -----------------------------------------------------------------------------------


async def test_redis_cache_down_raises_service_unavailable():
    cache = RedisCache.from_url(f"redis://127.0.0.1:{_unused_port()}/0")
    try:
        with pytest.raises(ServiceUnavailable):
            await cache.get("any")
        with pytest.raises(ServiceUnavailable):
            await cache.set("any", b"v")
        with pytest.raises(ServiceUnavailable):
            await cache.delete_prefix("any")
        with pytest.raises(ServiceUnavailable):
            await cache.ping()
    finally:
        await cache.close()


async def test_redis_rate_limiter_down_fails_open():
    cache = RedisCache.from_url(f"redis://127.0.0.1:{_unused_port()}/0")
    try:
        decisions = [await RedisRateLimiter(cache.client).hit("ip:1", limit=1, window_s=60) for _ in range(3)]
    finally:
        await cache.close()
    assert all(d.allowed for d in decisions)
    assert all(d.limit == 1 for d in decisions)
