"""Events: how many detections per second the events role turns into events, and how long a new
event takes from its detection to a live-push subscriber.

Three figures, one JSON line:
- `correlator_per_s`: the pure correlation logic (no bus, no database) — the ceiling;
- `role_per_s`: the events role end to end on the single-box engines (embedded bus, SQLite):
  consume, dedupe, correlate, store the events, link them across adjacent cameras (the cameras are
  real ones, `--per-floor` to a floor, so every opening searches its neighbours), announce them,
  commit — as a ratio of the ceiling; `trail_links` counts the earlier events a new one joined, and
  `links_vs_without` compares with the same run with linking off (`link_window_s=0`);
- `detection_to_push_ms`: p50/p99 from publishing the detection that opens an event to the
  event arriving at a live-push subscription (vms.events.feed, as the WebSocket/SSE streams use).

Goals (issue 7): ≥ 5,000 detections/s on one core; detection → push p99 < 250 ms.

    uv run python bench/events.py [--detections 5000] [--cameras 50] [--latency-samples 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import factories
from tests.conftest import make_settings

from vms import logs, migrations
from vms.bootstrap import build_container
from vms.cameras import hierarchy
from vms.cameras.models import NodeKind
from vms.cameras.schemas import NodeCreate
from vms.events.correlate import Correlator, Observation, Rules
from vms.events.feed import EventFeed, StreamFilter
from vms.events.role import EventsRole
from vms.kernel.ai_models import AiModel
from vms.kernel.tenancy import TenantScope
from vms.kernel.topics import DETECTIONS, PARTITIONS
from vms.uow import Actor

# Frame times start now: the role closes events by wall clock, and a fixed date long past would close
# every walker's event between two of its detections, measuring churn instead of correlation.
T0 = datetime.now(UTC)
RULES = Rules(min_hits=3, min_duration_s=0.2, close_after_s=30)


def detections(tenant: uuid.UUID, cameras: list[uuid.UUID], count: int) -> list[dict[str, object]]:
    """People walking across each camera at 5 detections/s, a new person every 100 detections."""
    docs: list[dict[str, object]] = []
    for i in range(count):
        camera = cameras[i % len(cameras)]
        step = i // len(cameras)
        docs.append(
            {
                "model": "intrusion",
                "cameraId": str(camera),
                "customerId": str(tenant),
                "segmentSequence": step // 25,
                "frameTime": (T0 + timedelta(seconds=step / 5)).isoformat(),
                "boundingBox": [0.1 + (step % 100) * 0.005, 0.4, 0.1, 0.2],
                "objectClass": "person",
                "score": 0.9,
                "trackingId": f"walker-{step // 100}",  # a new person every 20 s
                "attributes": {},
                "jobId": str(uuid.uuid4()),
                "priority": "HIGH",
            }
        )
    return docs


def correlator_rate(docs: list[dict[str, object]]) -> float:
    correlator = Correlator(default_rules=RULES)
    observations = [
        Observation(
            camera_id=uuid.UUID(str(d["cameraId"])),
            model=AiModel.INTRUSION,
            at=datetime.fromisoformat(str(d["frameTime"])),
            box=tuple(d["boundingBox"]),  # type: ignore[arg-type]
            object_class="person",
            score=0.9,
            track_id=str(d["trackingId"]),
        )
        for d in docs
    ]
    started = time.perf_counter()
    for observation in observations:
        correlator.observe(observation)
    return len(observations) / (time.perf_counter() - started)


async def cameras_on_floors(container, tenant: uuid.UUID, count: int, per_floor: int) -> list[uuid.UUID]:
    """`count` cameras, `per_floor` to a floor in two zones: each camera has `per_floor - 1` neighbours."""
    async with container.unit_of_work(TenantScope.of(tenant), Actor.system("bench")) as uow:

        async def node(kind: NodeKind, name: str, parent: uuid.UUID | None = None) -> uuid.UUID:
            return (await hierarchy.create_node(uow=uow, data=NodeCreate(kind=kind, name=name, parent_id=parent))).id

        building = await node(NodeKind.BUILDING, "Main", await node(NodeKind.SITE, "Bench"))
        zones = []
        for f in range((count + per_floor - 1) // per_floor):
            floor = await node(NodeKind.FLOOR, f"Floor {f}", building)
            zones += [await node(NodeKind.ZONE, "East", floor), await node(NodeKind.ZONE, "West", floor)]
        await uow.commit()
    per_zone = (per_floor + 1) // 2
    return [
        (await factories.camera(container, tenant_id=tenant, zone_id=zones[i // per_zone])).id for i in range(count)
    ]


async def role_rate(container, docs: list[dict[str, object]], rules: Rules = RULES) -> tuple[float, int, int]:
    for doc in docs:
        await container.bus.publish(DETECTIONS, key=str(doc["cameraId"]), value=json.dumps(doc).encode())
    role = EventsRole(container, correlator=Correlator(default_rules=rules))
    handled = 0
    original = role.handle

    async def counting(message):  # type: ignore[no-untyped-def]
        nonlocal handled
        await original(message)
        handled += 1

    role.handle = counting  # type: ignore[method-assign]
    started = time.perf_counter()
    task = asyncio.create_task(role.run())
    try:
        while handled < len(docs):
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return len(docs) / elapsed, role.stored, role.changes["linked"]


async def push_latency(container, tenant: uuid.UUID, samples: int) -> dict[str, float]:
    """Each sample: a fresh camera; its third detection opens the event (min_hits=3)."""
    role = EventsRole(container, correlator=Correlator(default_rules=RULES), expire_every_s=1.0)
    feed = EventFeed(container)
    task = asyncio.create_task(role.run())
    latencies: list[float] = []
    try:
        async with feed.subscribe(tenant, StreamFilter(), None) as subscription:
            for _ in range(samples):
                camera = uuid.uuid4()
                docs = detections(tenant, [camera], 3)
                for i, doc in enumerate(docs):
                    doc["frameTime"] = (datetime.now(UTC) + timedelta(seconds=i * 0.2)).isoformat()
                for doc in docs[:2]:
                    await container.bus.publish(DETECTIONS, key=str(camera), value=json.dumps(doc).encode())
                await asyncio.sleep(0.1)  # the first two are consumed (not yet an event)
                sent = time.perf_counter()
                await container.bus.publish(DETECTIONS, key=str(camera), value=json.dumps(docs[2]).encode())
                while True:
                    item = await subscription.next(within_s=5)
                    if item is None:
                        raise RuntimeError("no event reached the subscriber within 5 s")
                    if item.event.camera_id == camera:
                        latencies.append((time.perf_counter() - sent) * 1000)
                        break
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await feed.close()
    q = statistics.quantiles(latencies, n=100)
    return {"p50": round(q[49], 1), "p99": round(q[98], 1), "max": round(max(latencies), 1)}


async def fresh_container():  # type: ignore[no-untyped-def]
    """A container on its own embedded database and bus: a stopped role's consumer-group membership
    would otherwise hold the partitions until its session times out."""
    tmp = Path(tempfile.mkdtemp(prefix="vms-bench-events-"))
    settings = make_settings(tmp, f"sqlite+aiosqlite:///{tmp}/vms.db")
    await asyncio.to_thread(migrations.upgrade, settings.database.url)
    container = build_container(settings)
    await container.bus.ensure_topics(PARTITIONS)
    return container, (await factories.customer(container, camera_limit=10_000)).id


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--detections", type=int, default=5000)
    parser.add_argument("--cameras", type=int, default=50)
    parser.add_argument("--latency-samples", type=int, default=40)
    parser.add_argument("--per-floor", type=int, default=10, help="Cameras per floor (all adjacent to each other).")
    args = parser.parse_args()
    logs.configure(level="WARNING")

    rates = {}
    for linking in (False, True):  # the baseline without cross-camera links, then with them, alike otherwise
        container, tenant = await fresh_container()
        try:
            cameras = await cameras_on_floors(container, tenant, args.cameras, args.per_floor)
            docs = detections(tenant, cameras, args.detections)
            ceiling = correlator_rate(docs)
            rules = RULES if linking else replace(RULES, link_window_s=0)
            rates[linking], stored, links = await role_rate(container, docs, rules)
        finally:
            await container.close()
    rate = rates[True]
    container, tenant = await fresh_container()
    try:
        latency = await push_latency(container, tenant, args.latency_samples)
    finally:
        await container.close()
    print(
        json.dumps(
            {
                "bench": "events",
                "detections": args.detections,
                "cameras": args.cameras,
                "correlator_per_s": round(ceiling),
                "role_per_s": round(rate),
                "role_vs_correlator": round(rate / ceiling, 3),
                "event_writes": stored,
                "cameras_per_floor": args.per_floor,
                "trail_links": links,
                "role_without_links_per_s": round(rates[False]),
                "links_vs_without": round(rate / rates[False], 3),
                "detection_to_push_ms": latency,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
