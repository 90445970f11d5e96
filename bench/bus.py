"""Bus overhead: publish → consume latency and burst throughput, embedded log and Kafka, against
an in-process asyncio.Queue baseline measured in the same run.

    uv run python bench/bus.py [--messages 2000] [--rate 200]

Kafka is measured when VMS_TEST_KAFKA_BOOTSTRAP is set (scripts/services up). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from vms.adapters.bus.embedded import EmbeddedBus
from vms.adapters.bus.kafka import KafkaBus
from vms.ports import Bus


def summary(latencies_ms: list[float]) -> dict[str, float]:
    q = statistics.quantiles(latencies_ms, n=100)
    return {"p50_ms": round(q[49], 3), "p99_ms": round(q[98], 3)}


async def queue_baseline(messages: int, rate: float) -> dict[str, float]:
    queue: asyncio.Queue[float] = asyncio.Queue()
    latencies: list[float] = []

    async def consumer() -> None:
        for _ in range(messages):
            sent = await queue.get()
            latencies.append((time.perf_counter() - sent) * 1000)

    task = asyncio.create_task(consumer())
    for _ in range(messages):
        queue.put_nowait(time.perf_counter())
        await asyncio.sleep(1 / rate)
    await task
    return summary(latencies)


async def bus_latency(bus: Bus, messages: int, rate: float) -> dict[str, float]:
    """Paced publishing (like segments arriving), latency from send to receipt."""
    topic = f"bench-{uuid.uuid4().hex[:6]}"
    await bus.ensure_topics({topic: 4})
    latencies: list[float] = []
    ready = asyncio.Event()

    async def consumer() -> None:
        async with contextlib.aclosing(bus.consume([topic], group="bench")) as stream:
            ready.set()
            async for message in stream:
                latencies.append((time.time() - float(message.headers["sent"])) * 1000)
                await message.commit()
                if len(latencies) >= messages:
                    return

    task = asyncio.create_task(consumer())
    await ready.wait()
    await asyncio.sleep(3 if isinstance(bus, KafkaBus) else 0.3)  # group joined
    for i in range(messages):
        await bus.publish(topic, key=f"cam-{i % 50}", value=b"x" * 512, headers={"sent": repr(time.time())})
        await asyncio.sleep(1 / rate)
    await asyncio.wait_for(task, 60)
    return summary(latencies)


async def bus_burst(bus: Bus, messages: int) -> dict[str, float]:
    """Publish a burst, then drain it: messages per second each way."""
    topic = f"burst-{uuid.uuid4().hex[:6]}"
    await bus.ensure_topics({topic: 4})
    started = time.perf_counter()
    for i in range(messages):
        await bus.publish(topic, key=f"cam-{i % 50}", value=b"x" * 512)
    published = time.perf_counter() - started
    started = time.perf_counter()
    count = 0
    async with contextlib.aclosing(bus.consume([topic], group="drain")) as stream:
        async for message in stream:
            count += 1
            if count % 100 == 0 or count == messages:
                await message.commit()
            if count >= messages:
                break
    drained = time.perf_counter() - started
    return {"publish_per_s": round(messages / published), "consume_per_s": round(messages / drained)}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200, help="Paced publish rate for the latency run.")
    args = parser.parse_args()
    result: dict[str, object] = {"bench": "bus", "messages": args.messages, "rate_per_s": args.rate}
    result["queue_baseline"] = await queue_baseline(args.messages, args.rate)
    embedded = EmbeddedBus(Path(tempfile.mkdtemp(prefix="vms-bus-")) / "bus.db")
    try:
        result["embedded"] = {
            **await bus_latency(embedded, args.messages, args.rate),
            **await bus_burst(embedded, args.messages),
        }
    finally:
        await embedded.close()
    bootstrap = os.environ.get("VMS_TEST_KAFKA_BOOTSTRAP")
    if bootstrap:
        kafka = KafkaBus(bootstrap)
        try:
            result["kafka"] = {
                **await bus_latency(kafka, args.messages, args.rate),
                **await bus_burst(kafka, args.messages),
            }
        finally:
            await kafka.close()
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
