"""The offset tracker commits a partition only through its contiguous prefix of finished messages,
so a message still running when the process dies is delivered again (at-least-once)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.fakes import ForgetfulCache
from vms.adapters.bus.embedded import EmbeddedBus
from vms.adapters.cache.memory import MemoryCache
from vms.kernel.errors import ServiceUnavailable
from vms.kernel.topics import DEAD_LETTER
from vms.messaging import RetryPolicy, run_consumer
from vms.offsets import OffsetTracker, PartitionOffsets
from vms.ports import BusMessage


class FakePartitionLog:
    """Bus commits as an adapter makes them: committing a message records the position after it."""

    def __init__(self) -> None:
        self.commits: list[tuple[str, int, int]] = []  # (topic, partition, next offset) in commit order
        self.fail_next = False

    def message(self, offset: int, *, topic: str = "jobs", partition: int = 0) -> BusMessage:
        async def commit() -> None:
            if self.fail_next:
                self.fail_next = False
                raise ConnectionError("broker away")
            self.commits.append((topic, partition, offset + 1))

        return BusMessage(
            topic=topic,
            partition=partition,
            offset=offset,
            key="cam",
            value=b"",
            headers={},
            timestamp=0.0,
            commit=commit,
        )

    def positions(self, topic: str = "jobs", partition: int = 0) -> list[int]:
        return [n for t, p, n in self.commits if (t, p) == (topic, partition)]


def deliver(tracker: OffsetTracker, log: FakePartitionLog, *offsets: int, partition: int = 0) -> list[BusMessage]:
    return [tracker.delivered(log.message(o, partition=partition)) for o in offsets]


async def test_in_order_finishes_commit_each_message():
    tracker, log = OffsetTracker(), FakePartitionLog()
    for message in deliver(tracker, log, 0, 1, 2):
        await message.commit()
    assert log.positions() == [1, 2, 3]


async def test_a_later_message_finishing_first_commits_nothing_until_the_earlier_one_finishes():
    tracker, log = OffsetTracker(), FakePartitionLog()
    first, second, third = deliver(tracker, log, 0, 1, 2)
    await third.commit()
    await second.commit()
    assert log.positions() == []  # offset 0 still runs: committing 2 or 3 would lose it in a crash
    assert tracker.partition("jobs", 0).waiting == 3  # type: ignore[union-attr]
    await first.commit()
    assert log.positions() == [3]  # one commit through the whole finished prefix
    assert tracker.partition("jobs", 0).waiting == 0  # type: ignore[union-attr]


async def test_the_prefix_stops_at_the_first_unfinished_message():
    tracker, log = OffsetTracker(), FakePartitionLog()
    messages = deliver(tracker, log, 0, 1, 2, 3)
    for i in (0, 1, 3):
        await messages[i].commit()
    assert log.positions() == [1, 2]  # through offset 1; 3 waits behind 2
    await messages[2].commit()
    assert log.positions() == [1, 2, 4]


async def test_offsets_the_bus_never_delivers_hold_nothing_up():
    """Retention, compaction and Kafka's transaction markers leave gaps in a partition's offsets."""
    tracker, log = OffsetTracker(), FakePartitionLog()
    first, second, third = deliver(tracker, log, 3, 7, 8)
    await third.commit()
    await first.commit()
    assert log.positions() == [4]
    await second.commit()
    assert log.positions() == [4, 9]


async def test_partitions_are_independent():
    tracker, log = OffsetTracker(), FakePartitionLog()
    [stuck] = deliver(tracker, log, 0, partition=0)
    [free] = deliver(tracker, log, 0, partition=1)
    await free.commit()
    assert log.positions(partition=1) == [1]
    assert log.positions(partition=0) == []
    await stuck.commit()
    assert log.positions(partition=0) == [1]


async def test_committing_twice_commits_once():
    tracker, log = OffsetTracker(), FakePartitionLog()
    first, second = deliver(tracker, log, 0, 1)
    await first.commit()
    await first.commit()
    await second.commit()
    await second.commit()
    assert log.positions() == [1, 2]


async def test_a_failed_commit_is_made_good_by_the_next_one():
    tracker, log = OffsetTracker(), FakePartitionLog()
    first, second = deliver(tracker, log, 0, 1)
    log.fail_next = True
    with pytest.raises(ConnectionError):
        await first.commit()
    assert log.positions() == []
    await second.commit()
    assert log.positions() == [2]


async def test_finishing_without_committing_then_flushing_commits_the_prefix_once():
    """How a consumer batches commits (run_consumer's commit_interval_s)."""
    tracker, log = OffsetTracker(), FakePartitionLog()
    a0, a1, a2 = deliver(tracker, log, 0, 1, 2, partition=0)
    [b0] = deliver(tracker, log, 5, partition=1)
    for message in (a0, a2, b0):
        tracker.finish(message)
    assert log.commits == []
    await tracker.flush()
    assert sorted(log.commits) == [("jobs", 0, 1), ("jobs", 1, 6)]
    await tracker.flush()  # nothing new: no second commit
    assert len(log.commits) == 2
    tracker.finish(a1)
    await tracker.flush()
    assert log.positions(partition=0) == [1, 3]


async def test_concurrent_commits_land_one_at_a_time_and_never_go_back():
    """A slow commit (a Kafka round trip) must not be overtaken by a shorter prefix landing after a longer one."""
    gate = asyncio.Event()
    landed: list[int] = []

    def message(offset: int) -> BusMessage:
        async def commit() -> None:
            if offset == 0:
                await gate.wait()  # the first commit is slow
            landed.append(offset + 1)

        return BusMessage(
            topic="jobs", partition=0, offset=offset, key="", value=b"", headers={}, timestamp=0.0, commit=commit
        )

    tracker = OffsetTracker()
    first, second, third = (tracker.delivered(message(o)) for o in range(3))
    slow = asyncio.create_task(first.commit())
    await asyncio.sleep(0)  # the first commit is now in flight
    later = [asyncio.create_task(second.commit()), asyncio.create_task(third.commit())]
    await asyncio.sleep(0.01)
    assert landed == []  # the later commits wait for the one in flight
    gate.set()
    await asyncio.gather(slow, *later)
    assert landed == sorted(landed)
    assert landed[0] == 1 and landed[-1] == 3


async def test_a_partition_delivered_again_from_an_earlier_offset_starts_afresh():
    """After a revoke and a new assignment the bus resumes from the committed offset; what was in
    flight before is delivered again, and only the new deliveries are committed through the tracker."""
    tracker, log = OffsetTracker(), FakePartitionLog()
    old = deliver(tracker, log, 0, 1, 2, 3)
    await old[0].commit()
    assert log.positions() == [1]
    again = deliver(tracker, log, 1, 2, 3)  # redelivered from the committed position
    for message in old[1:]:
        await message.commit()  # the first assignment's copies finishing late commit nothing
    assert log.positions() == [1]
    await again[1].commit()
    assert log.positions() == [1]  # offset 1's new delivery still runs
    await again[0].commit()
    await again[2].commit()
    assert log.positions() == [1, 3, 4]


async def test_a_rewind_below_what_was_committed_never_commits_backwards():
    tracker, log = OffsetTracker(), FakePartitionLog()
    for message in deliver(tracker, log, 0, 1, 2):
        await message.commit()
    assert log.positions() == [1, 2, 3]
    again = deliver(tracker, log, 0, 1, 2, 3)  # e.g. a consumer reset to the earliest offset
    for message in again[:3]:
        await message.commit()
    assert log.positions() == [1, 2, 3]  # offsets 0-2 again: already committed, not moved back
    await again[3].commit()
    assert log.positions() == [1, 2, 3, 4]


def test_partition_offsets_refuse_deliveries_out_of_order():
    offsets = PartitionOffsets()
    offsets.deliver(4, FakePartitionLog().message(4).commit)
    with pytest.raises(ValueError):
        offsets.deliver(4, FakePartitionLog().message(4).commit)


async def test_tracking_a_stream_closes_the_stream_when_closed():
    closed = asyncio.Event()
    log = FakePartitionLog()

    async def stream() -> AsyncGenerator[BusMessage, None]:
        try:
            for offset in range(100):
                yield log.message(offset)
        finally:
            closed.set()

    tracked = OffsetTracker().track(stream())
    first = await anext(tracked)
    await first.commit()
    await tracked.aclose()
    assert closed.is_set()  # the bus leaves the group at once, not when the generator is collected
    assert log.positions() == [1]


async def test_a_stall_is_counted_and_logged_each_time_the_waiting_offsets_grow_by_the_bound():
    tracker, log = OffsetTracker(warn_waiting=3), FakePartitionLog()
    with capture_logs() as logs:
        first, *later = deliver(tracker, log, *range(7))
        for message in later:
            await message.commit()
    assert tracker.waiting == 7  # six finished, all behind the first
    stalls = [e for e in logs if e["event"].startswith("partition commits stalled")]
    assert [(e["oldest"], e["waiting"]) for e in stalls] == [(0, 3), (0, 6)]
    await first.commit()
    assert tracker.waiting == 0 and log.positions() == [7]


# What `run_consumer` does with a message that did not finish: the commit rule end to end.
QUICK = RetryPolicy(max_attempts=2, backoff_s=0.01)


class DeadLettersLost:
    """The embedded bus, except that the next `failures` dead-letter publishes raise (the bus away)."""

    def __init__(self, bus: EmbeddedBus, *, failures: int) -> None:
        self.bus, self.failures = bus, failures

    async def publish(self, topic: str, *, key: str, value: bytes, headers: Mapping[str, str] | None = None) -> None:
        if topic == DEAD_LETTER and self.failures:
            self.failures -= 1
            raise ServiceUnavailable("The bus is unreachable.")
        await self.bus.publish(topic, key=key, value=value, headers=headers)

    def __getattr__(self, name: str) -> Any:  # consume, lag …
        return getattr(self.bus, name)


async def consume_until_committed(bus: Any, *, handler: Any, seen: MemoryCache, commit_interval_s: float) -> None:
    consumer = asyncio.create_task(
        run_consumer(
            bus, ["jobs"], group="g", handler=handler, seen=seen, retry=QUICK, commit_interval_s=commit_interval_s
        )
    )
    try:
        for _ in range(100):
            if await bus.lag("g", ["jobs"]) == {"jobs": 0}:
                return
            assert not consumer.done(), consumer  # it must not give up on the message
            await asyncio.sleep(0.05)
        raise AssertionError(f"not committed: lag {await bus.lag('g', ['jobs'])}")
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)


@pytest.fixture
async def bus(tmp_path: Path):
    bus = EmbeddedBus(tmp_path / "bus.db")
    await bus.ensure_topics({"jobs": 1, DEAD_LETTER: 1})
    for n in range(3):
        await bus.publish("jobs", key="cam", value=str(n).encode())
    yield bus
    await bus.close()


@pytest.mark.parametrize("commit_interval_s", [0.0, 0.05])
async def test_a_message_handled_but_not_marked_seen_is_committed_and_so_are_later_ones(bus, commit_interval_s):
    handled: list[bytes] = []

    async def handler(message: BusMessage) -> None:
        handled.append(message.value)

    seen = ForgetfulCache(failures=1)
    await consume_until_committed(bus, handler=handler, seen=seen, commit_interval_s=commit_interval_s)
    assert seen.failures == 0
    assert handled == [b"0", b"1", b"2"]


@pytest.mark.parametrize("commit_interval_s", [0.0, 0.05])
async def test_a_message_neither_handled_nor_dead_lettered_is_tried_again_until_the_bus_returns(bus, commit_interval_s):
    flaky = DeadLettersLost(bus, failures=1)
    tries: list[bytes] = []

    async def handler(message: BusMessage) -> None:
        tries.append(message.value)
        if message.value == b"0" and len(tries) <= QUICK.max_attempts:  # fails its first round of tries
            raise ServiceUnavailable("The blob store is unreachable.")

    await consume_until_committed(flaky, handler=handler, seen=MemoryCache(), commit_interval_s=commit_interval_s)
    assert flaky.failures == 0
    assert tries == [b"0"] * (QUICK.max_attempts + 1) + [b"1", b"2"]  # tried again, done, then the rest
