"""Kernel pieces with no I/O: the circuit breaker, the secret box and paging bounds."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from vms.kernel.circuit import CircuitBreaker, CircuitState
from vms.kernel.crypto import SecretBox
from vms.kernel.errors import CircuitOpen, ServiceUnavailable, VmsError
from vms.kernel.paging import PageParams


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Boom(Exception):
    """The dependency failed."""


async def _ok() -> str:
    return "ok"


async def _fail() -> str:
    raise Boom


async def _fail_n(breaker: CircuitBreaker, n: int) -> None:
    for _ in range(n):
        with pytest.raises(Boom):
            await breaker.call(_fail)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker("ticketing", failure_threshold=3, reset_after_s=30, clock=clock)


# --- circuit breaker ------------------------------------------------------------------------------


async def test_closed_breaker_passes_calls_and_results(breaker):
    assert breaker.state is CircuitState.CLOSED
    assert await breaker.call(_ok) == "ok"
    assert breaker.state is CircuitState.CLOSED


async def test_breaker_stays_closed_below_the_threshold(breaker):
    await _fail_n(breaker, 2)
    assert breaker.state is CircuitState.CLOSED
    assert await breaker.call(_ok) == "ok"


async def test_only_consecutive_failures_open_the_breaker(breaker):
    await _fail_n(breaker, 2)
    await breaker.call(_ok)  # a success clears the count
    await _fail_n(breaker, 2)
    assert breaker.state is CircuitState.CLOSED


async def test_breaker_opens_after_threshold_failures_and_fails_fast(breaker):
    await _fail_n(breaker, 3)
    assert breaker.state is CircuitState.OPEN

    called = False

    async def spy() -> str:
        nonlocal called
        called = True
        return "ok"

    with pytest.raises(CircuitOpen) as caught:
        await breaker.call(spy)
    assert called is False  # fast-fail: the dependency is spared
    assert isinstance(caught.value, ServiceUnavailable)
    assert "ticketing" in caught.value.detail


async def test_breaker_stays_open_until_the_reset_time(breaker, clock):
    await _fail_n(breaker, 3)
    clock.advance(29.9)
    assert breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpen):
        await breaker.call(_ok)


async def test_breaker_half_opens_after_reset_and_a_success_closes_it(breaker, clock):
    await _fail_n(breaker, 3)
    clock.advance(30)
    assert breaker.state is CircuitState.HALF_OPEN
    assert await breaker.call(_ok) == "ok"
    assert breaker.state is CircuitState.CLOSED
    # Closed for real: the failure count started over.
    await _fail_n(breaker, 2)
    assert breaker.state is CircuitState.CLOSED


async def test_failed_trial_in_half_open_reopens_for_a_full_reset_period(breaker, clock):
    await _fail_n(breaker, 3)
    clock.advance(30)
    await _fail_n(breaker, 1)
    assert breaker.state is CircuitState.OPEN
    clock.advance(29)
    with pytest.raises(CircuitOpen):
        await breaker.call(_ok)
    clock.advance(1)
    assert breaker.state is CircuitState.HALF_OPEN


async def test_half_open_allows_only_one_trial_call_at_a_time(breaker, clock):
    await _fail_n(breaker, 3)
    clock.advance(30)

    release = asyncio.Event()
    started = asyncio.Event()

    async def slow_trial() -> str:
        started.set()
        await release.wait()
        return "recovered"

    trial = asyncio.create_task(breaker.call(slow_trial))
    await started.wait()
    with pytest.raises(CircuitOpen):
        await breaker.call(_ok)
    release.set()
    assert await trial == "recovered"
    assert breaker.state is CircuitState.CLOSED
    assert await breaker.call(_ok) == "ok"


async def test_failed_trial_lets_the_next_trial_run_after_another_reset(breaker, clock):
    await _fail_n(breaker, 3)
    clock.advance(30)
    await _fail_n(breaker, 1)
    clock.advance(30)
    assert await breaker.call(_ok) == "ok"  # the failed trial did not leave a trial "running"
    assert breaker.state is CircuitState.CLOSED


# --- secret box -----------------------------------------------------------------------------------


def test_secret_box_round_trips():
    box = SecretBox("a long random key for tests")
    for plaintext in ("s3cret", "", "JBSWY3DPEHPK3PXP", "pässwörd ✓ " * 20):
        assert box.decrypt(box.encrypt(plaintext)) == plaintext


def test_secret_box_ciphertext_differs_each_time_and_hides_the_plaintext():
    box = SecretBox("a long random key for tests")
    first, second = box.encrypt("camera-password"), box.encrypt("camera-password")
    assert first != second
    assert "camera-password" not in first
    assert first.isascii()


def test_secret_box_with_another_key_cannot_decrypt():
    token = SecretBox("the key it was written with").encrypt("s3cret")
    with pytest.raises(VmsError, match="cannot be decrypted"):
        SecretBox("another key").decrypt(token)


def test_secret_box_refuses_an_edited_token():
    box = SecretBox("a long random key for tests")
    token = box.encrypt("s3cret")
    edited = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    with pytest.raises(VmsError):
        box.decrypt(edited)
    with pytest.raises(VmsError):
        box.decrypt("not a token at all")


# --- paging ---------------------------------------------------------------------------------------


def test_page_params_defaults():
    params = PageParams()
    assert (params.limit, params.offset) == (50, 0)


@pytest.mark.parametrize(("limit", "offset"), [(1, 0), (500, 0), (50, 10_000_000)])
def test_page_params_accept_the_bounds(limit, offset):
    params = PageParams(limit=limit, offset=offset)
    assert (params.limit, params.offset) == (limit, offset)


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (501, 0), (-1, 0), (50, -1), (50, 10_000_001)])
def test_page_params_refuse_out_of_bounds(limit, offset):
    with pytest.raises(ValidationError):
        PageParams(limit=limit, offset=offset)
