"""The bus contract (DESIGN.md §4), run against the embedded SQLite log and real Apache Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import engine_url
from vms.adapters.bus.embedded import EmbeddedBus
from vms.adapters.bus.kafka import KafkaBus
from vms.adapters.cache.memory import MemoryCache
from vms.kernel.errors import NotFound
from vms.kernel.topics import DEAD_LETTER
from vms.messaging import RetryPolicy, run_consumer
from vms.offsets import OffsetTracker
from vms.ports import Bus, BusMessage


@pytest.fixture(params=["embedded", "kafka"])
async def bus(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Bus]:
    """A bus of each kind; topics are unique per test, so Kafka needs no cleanup between tests."""
    adapter: Bus
    if request.param == "embedded":
        adapter = EmbeddedBus(tmp_path / "bus.db", heartbeat_s=0.2, session_timeout_s=2)
    else:
        adapter = KafkaBus(engine_url("VMS_TEST_KAFKA_BOOTSTRAP"))
    yield adapter
    await adapter.close()


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def take(
    bus: Bus, topics: list[str], group: str, n: int, *, commit: bool = True, wait_s: float = 20
) -> list[BusMessage]:
    """Consume n messages as one group member, then leave the group."""
    got: list[BusMessage] = []

    async def run() -> None:
        async with contextlib.aclosing(bus.consume(topics, group=group)) as stream:
            async for message in stream:
                got.append(message)
                if commit:
                    await message.commit()
                if len(got) >= n:
                    return

    await asyncio.wait_for(run(), wait_s)
    return got


async def first_matching(bus: Bus, topic: str, wanted, wait_s: float = 20) -> list[BusMessage]:
    """The first message of `topic` that `wanted` accepts (the dead-letter topic is shared on Kafka)."""

    async def run() -> list[BusMessage]:
        async with contextlib.aclosing(bus.consume([topic], group=unique("inspect"))) as stream:
            async for message in stream:
                if wanted(message):
                    return [message]
        return []

    return await asyncio.wait_for(run(), wait_s)


async def test_a_published_message_arrives_with_key_value_and_headers(bus: Bus):
    topic = unique("jobs")
    await bus.ensure_topics({topic: 3})
    await bus.publish(topic, key="cam-1", value=b"\x00payload\xff", headers={"tenant": "t-1", "priority": "HIGH"})
    [message] = await take(bus, [topic], unique("g"), 1)
    assert (message.topic, message.key, message.value) == (topic, "cam-1", b"\x00payload\xff")
    assert message.headers["tenant"] == "t-1"
    assert message.headers["priority"] == "HIGH"
    assert len(message.message_id) == 32


async def test_one_key_keeps_one_partition_and_its_order(bus: Bus):
    topic = unique("jobs")
    await bus.ensure_topics({topic: 4})
    for i in range(30):
        await bus.publish(topic, key=f"cam-{i % 3}", value=str(i).encode())
    messages = await take(bus, [topic], unique("g"), 30)
    by_key: dict[str, list[int]] = defaultdict(list)
    partitions: dict[str, set[int]] = defaultdict(set)
    for m in messages:
        by_key[m.key].append(int(m.value))
        partitions[m.key].add(m.partition)
    assert all(len(p) == 1 for p in partitions.values())
    assert by_key == {f"cam-{k}": [i for i in range(30) if i % 3 == k] for k in range(3)}


async def test_every_group_receives_every_message(bus: Bus):
    topic = unique("detections")
    await bus.ensure_topics({topic: 2})
    for i in range(6):
        await bus.publish(topic, key=f"cam-{i}", value=str(i).encode())
    first = await take(bus, [topic], unique("events"), 6)
    second = await take(bus, [topic], unique("watchdog"), 6)
    assert sorted(m.value for m in first) == sorted(m.value for m in second) == [str(i).encode() for i in range(6)]


async def test_a_group_resumes_after_its_last_commit(bus: Bus):
    topic, group = unique("jobs"), unique("worker")
    await bus.ensure_topics({topic: 1})
    for i in range(10):
        await bus.publish(topic, key="cam", value=str(i).encode())
    done = await take(bus, [topic], group, 4)
    rest = await take(bus, [topic], group, 6)
    assert [m.value for m in done] == [b"0", b"1", b"2", b"3"]
    assert [m.value for m in rest] == [str(i).encode() for i in range(4, 10)]
    assert await bus.lag(group, [topic]) == {topic: 0}


async def test_uncommitted_messages_are_delivered_again(bus: Bus):
    topic, group = unique("jobs"), unique("worker")
    await bus.ensure_topics({topic: 1})
    for i in range(3):
        await bus.publish(topic, key="cam", value=str(i).encode())
    crashed = await take(bus, [topic], group, 3, commit=False)
    again = await take(bus, [topic], group, 3)
    assert [m.value for m in crashed] == [m.value for m in again] == [b"0", b"1", b"2"]
    assert [m.message_id for m in crashed] == [m.message_id for m in again]


async def test_a_message_still_running_when_later_ones_finished_is_delivered_again_after_a_crash(bus: Bus):
    """A consumer working on several messages of one partition at once commits through the
    OffsetTracker: a later message finishing first must not commit past the earlier one."""
    topic, group = unique("jobs"), unique("worker")
    await bus.ensure_topics({topic: 1})
    for i in range(3):
        await bus.publish(topic, key="cam", value=str(i).encode())
    tracker = OffsetTracker()

    async def work_then_crash() -> list[BusMessage]:
        got: list[BusMessage] = []
        async with contextlib.aclosing(tracker.track(bus.consume([topic], group=group))) as stream:
            async for message in stream:
                got.append(message)
                if len(got) == 3:
                    await got[2].commit()  # the later messages finish first …
                    await got[1].commit()
                    return got  # … and the consumer dies while the first still runs
        return got

    crashed = await asyncio.wait_for(work_then_crash(), 20)
    assert [m.value for m in crashed] == [b"0", b"1", b"2"]
    assert await bus.lag(group, [topic]) == {topic: 3}
    again = await take(bus, [topic], group, 3)  # the group's next member
    assert [m.value for m in again] == [b"0", b"1", b"2"]
    assert [m.message_id for m in again] == [m.message_id for m in crashed]  # so dedupe skips finished ones
    assert await bus.lag(group, [topic]) == {topic: 0}


async def test_lag_counts_what_the_group_has_not_committed(bus: Bus):
    topic, group = unique("jobs"), unique("worker")
    await bus.ensure_topics({topic: 2})
    for i in range(10):
        await bus.publish(topic, key=f"cam-{i}", value=b"x")
    assert await bus.lag(group, [topic]) == {topic: 10}
    await take(bus, [topic], group, 4)
    assert await bus.lag(group, [topic]) == {topic: 6}


async def test_members_of_one_group_share_the_partitions(bus: Bus):
    topic, group = unique("jobs"), unique("worker")
    await bus.ensure_topics({topic: 4})
    received: dict[str, list[BusMessage]] = {"a": [], "b": []}
    total = 40

    async def member(name: str) -> None:
        async with contextlib.aclosing(bus.consume([topic], group=group)) as stream:
            async for message in stream:
                received[name].append(message)
                await message.commit()

    tasks = [asyncio.create_task(member("a")), asyncio.create_task(member("b"))]
    await asyncio.sleep(6 if isinstance(bus, KafkaBus) else 0.8)  # both joined and rebalanced
    for i in range(total):
        await bus.publish(topic, key=f"cam-{i}", value=str(i).encode())
    for _ in range(200):
        if len(received["a"]) + len(received["b"]) >= total:
            break
        await asyncio.sleep(0.1)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    a = {m.value for m in received["a"]}
    b = {m.value for m in received["b"]}
    assert a | b == {str(i).encode() for i in range(total)}
    assert a and b, "both members got partitions"
    assert not a & b, "no message went to both members"
    assert not {m.partition for m in received["a"]} & {m.partition for m in received["b"]}


async def test_a_poison_message_is_dead_lettered_and_the_rest_flow_on(bus: Bus):
    topic, group = unique("detections"), unique("events")
    await bus.ensure_topics({topic: 1, DEAD_LETTER: 1})
    handled: list[bytes] = []

    async def handler(message: BusMessage) -> None:
        if message.value == b"poison":
            raise ValueError("cannot parse")
        handled.append(message.value)

    for value in (b"ok-1", b"poison", b"ok-2"):
        await bus.publish(topic, key="cam", value=value)
    consumer = asyncio.create_task(
        run_consumer(
            bus,
            [topic],
            group=group,
            handler=handler,
            seen=MemoryCache(),
            retry=RetryPolicy(max_attempts=2, backoff_s=0.01),
        )
    )
    try:
        for _ in range(200):
            if len(handled) == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
    assert handled == [b"ok-1", b"ok-2"]
    dead = await first_matching(bus, DEAD_LETTER, lambda m: m.headers.get("dead-letter-group") == group)
    assert [m.value for m in dead] == [b"poison"]
    assert dead[0].headers["dead-letter-topic"] == topic
    assert "cannot parse" in dead[0].headers["dead-letter-error"]
    assert await bus.lag(group, [topic]) == {topic: 0}


async def test_an_already_handled_message_is_not_handled_twice(bus: Bus):
    topic, group = unique("detections"), unique("events")
    await bus.ensure_topics({topic: 1, DEAD_LETTER: 1})
    await bus.publish(topic, key="cam", value=b"once")
    [first] = await take(bus, [topic], group, 1, commit=False)
    seen = MemoryCache()
    calls: list[bytes] = []

    async def handler(message: BusMessage) -> None:
        calls.append(message.value)

    from vms.messaging import handle_one

    for _ in range(2):  # the same delivery twice, as after a crash between handling and commit
        await handle_one(first, bus=bus, group=group, handler=handler, seen=seen, retry=RetryPolicy(), dedupe_ttl_s=60)
    assert calls == [b"once"]


async def test_embedded_log_survives_a_restart(tmp_path: Path):
    path = tmp_path / "bus.db"
    first = EmbeddedBus(path)
    await first.ensure_topics({"jobs": 2})
    await first.publish("jobs", key="cam", value=b"durable")
    await first.close()
    second = EmbeddedBus(path)
    try:
        [message] = await take(second, ["jobs"], "g", 1)
        assert message.value == b"durable"
    finally:
        await second.close()


async def test_embedded_log_is_shared_between_processes(tmp_path: Path):
    path = tmp_path / "bus.db"
    bus = EmbeddedBus(path)
    await bus.ensure_topics({"jobs": 2})
    script = (
        "import asyncio, sys; from pathlib import Path; from vms.adapters.bus.embedded import EmbeddedBus\n"
        "async def main():\n"
        "    bus = EmbeddedBus(Path(sys.argv[1]))\n"
        "    for i in range(5): await bus.publish('jobs', key=f'cam-{i}', value=str(i).encode())\n"
        "    await bus.close()\n"
        "asyncio.run(main())\n"
    )
    try:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script, str(path))
        assert await proc.wait() == 0
        messages = await take(bus, ["jobs"], "g", 5)
        assert sorted(m.value for m in messages) == [str(i).encode() for i in range(5)]
    finally:
        await bus.close()


async def test_publishing_to_an_unknown_topic_is_refused(tmp_path: Path):
    bus = EmbeddedBus(tmp_path / "bus.db")
    try:
        with pytest.raises(NotFound):
            await bus.publish("no-such-topic", key="k", value=b"v")
    finally:
        await bus.close()


async def test_members_of_one_group_may_subscribe_to_different_topics(bus: Bus):
    """A worker runs one consumer per priority topic in one group; each must get all of its topic."""
    high, low, group = unique("high"), unique("low"), unique("worker")
    await bus.ensure_topics({high: 6, low: 6})
    for i in range(12):
        await bus.publish(high, key=f"cam-{i}", value=b"h")
        await bus.publish(low, key=f"cam-{i}", value=b"l")
    got_high, got_low = await asyncio.gather(take(bus, [high], group, 12), take(bus, [low], group, 12))
    assert len(got_high) == len(got_low) == 12


async def test_publishing_to_an_unknown_topic_is_refused_on_kafka_too():
    """aiokafka answers "unknown topic" for an unreachable broker as well; the adapter tells them apart."""
    bus = KafkaBus(engine_url("VMS_TEST_KAFKA_BOOTSTRAP"))
    try:
        with pytest.raises(NotFound):
            await bus.publish(unique("no-such-topic"), key="k", value=b"v")
    finally:
        await bus.close()
