"""SLA figures over a recent window: percentiles, throughput, failures, merging processes, the ops API."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from tests import factories
from vms.adapters.bus.embedded import EmbeddedBus
from vms.adapters.cache.memory import MemoryCache
from vms.auth.permissions import Role
from vms.kernel.clock import utcnow
from vms.kernel.topics import HEARTBEATS, PARTITIONS
from vms.stats.board import Heartbeat, SlaBoard, publish_heartbeats
from vms.stats.metrics import Metrics
from vms.stats.sla import JOB_LATENCY_BUCKETS, SlaWindow, merge, quantile


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_percentiles_throughput_and_failures_of_one_model():
    clock = FakeClock()
    window = SlaWindow(clock=clock)
    clock.now += 300  # the process has run for the whole window
    for latency in [0.1] * 90 + [0.4] * 8 + [3.0] * 2:
        window.record(model="fire_smoke", priority="CRITICAL", ok=True, latency_s=latency)
    window.record(model="fire_smoke", priority="CRITICAL", ok=False)
    [sla] = window.snapshot(window_s=300).models
    assert (sla.model, sla.priority, sla.ok, sla.failed) == ("fire_smoke", "CRITICAL", 100, 1)
    assert sla.target_s == 0.5
    assert 0.05 < sla.p50_s <= 0.1  # within the 0.05-0.1 bucket, interpolated
    assert 0.3 < sla.p95_s <= 0.5
    assert 2.0 < sla.p99_s <= 5.0  # the two slow jobs
    assert sla.within_target == pytest.approx(0.98)
    assert sla.failure_ratio == pytest.approx(1 / 101)
    assert sla.segments_per_min == pytest.approx(100 / 5)


def test_the_window_forgets_old_jobs_and_a_young_process_rates_over_its_age():
    clock = FakeClock()
    window = SlaWindow(clock=clock)
    clock.now += 60
    for _ in range(30):
        window.record(model="motion", priority="STANDARD", ok=True, latency_s=1.5)
    [young] = window.snapshot(window_s=300).models
    assert young.segments_per_min == pytest.approx(30.0)  # 30 jobs in the minute it has existed, not in 5
    assert young.within_target == 1.0  # STANDARD's target is 2 s
    clock.now += 400
    assert window.snapshot(window_s=300).models == []
    window.record(model="motion", priority="STANDARD", ok=True, latency_s=0.2)
    [later] = window.snapshot(window_s=300).models
    assert later.ok == 1


def test_quantiles_of_bucketed_latencies():
    counts = [0] * (len(JOB_LATENCY_BUCKETS) + 1)
    assert quantile(0.5, counts) is None
    counts[JOB_LATENCY_BUCKETS.index(0.5)] = 10  # ten jobs between 0.3 and 0.5 s
    assert quantile(0.5, counts) == pytest.approx(0.4)
    counts[-1] = 10  # ten beyond the largest bound
    assert quantile(0.99, counts) == JOB_LATENCY_BUCKETS[-1]


def test_snapshots_of_several_workers_merge_by_adding_counts():
    one, two = SlaWindow(source="a"), SlaWindow(source="b")
    for _ in range(10):
        one.record(model="intrusion", priority="HIGH", ok=True, latency_s=0.1)
        two.record(model="intrusion", priority="HIGH", ok=True, latency_s=4.0)
    two.record(model="anpr", priority="STANDARD", ok=False)
    merged = merge([one.snapshot(), two.snapshot()])
    assert merged.sources == ["a", "b"]
    by_model = {m.model: m for m in merged.models}
    assert by_model["intrusion"].ok == 20
    assert by_model["intrusion"].within_target == 0.5  # HIGH: 2 s; half the jobs took 4 s
    assert by_model["intrusion"].p99_s > 2.0 > by_model["intrusion"].p50_s
    assert by_model["anpr"].failure_ratio == 1.0
    rates = [m.segments_per_min for w in (one, two) for m in w.snapshot().models if m.model == "intrusion"]
    assert by_model["intrusion"].segments_per_min == pytest.approx(sum(rates))


def test_metrics_feed_the_window_with_every_job_outcome():
    metrics = Metrics()
    metrics.observe_job(model="fall", priority="HIGH", ok=True, latency_s=0.25, detections=1)
    metrics.observe_job(model="fall", priority="HIGH", ok=False)
    [sla] = metrics.sla.snapshot().models
    assert (sla.ok, sla.failed) == (1, 1)
    assert metrics.registry.get_sample_value("vms_job_latency_seconds_count", {"model": "fall", "priority": "HIGH"})


@pytest.fixture
async def bus(tmp_path: Path):
    adapter = EmbeddedBus(tmp_path / "bus.db")
    await adapter.ensure_topics(PARTITIONS)
    yield adapter
    await adapter.close()


async def test_the_board_merges_live_workers_heartbeats_and_drops_silent_ones(bus):
    worker_metrics = Metrics()
    for _ in range(4):
        worker_metrics.observe_job(model="fire_smoke", priority="CRITICAL", ok=True, latency_s=0.2)
    board = SlaBoard(bus, Metrics(), cache=MemoryCache())
    board.process = "api-host:1"  # in a real deployment the board and the worker are different processes
    silent = Heartbeat(
        role="worker",
        process="gone:9",
        at=utcnow() - timedelta(minutes=5),
        sla=worker_metrics.sla.snapshot(),
    )
    await bus.publish(HEARTBEATS, key="gone:9", value=silent.model_dump_json().encode())
    await bus.publish(HEARTBEATS, key="junk", value=b"not a heartbeat")
    beating = asyncio.create_task(publish_heartbeats(bus, worker_metrics, role="worker", detail="worker-fire_smoke"))
    following = asyncio.create_task(board.run())
    try:
        for _ in range(100):
            if board.fresh():
                break
            await asyncio.sleep(0.05)
        snapshot = board.snapshot()
    finally:
        for task in (beating, following):
            task.cancel()
        await asyncio.gather(beating, following, return_exceptions=True)
    assert "gone:9" in board.latest  # heard, but too long ago to count
    [sla] = snapshot.models
    assert (sla.model, sla.ok) == ("fire_smoke", 4)  # the live worker only, not the silent one's copy
    assert any(source.startswith("worker ") for source in snapshot.sources)
    assert any(source.startswith("this process") for source in snapshot.sources)


async def test_ops_sla_is_for_provider_staff(client, container):
    container.metrics.observe_job(model="anpr", priority="STANDARD", ok=True, latency_s=1.2, detections=2)
    assert (await client.get("/api/v1/ops/sla")).status_code == 401
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    assert (await client.get("/api/v1/ops/sla", headers=admin.headers)).status_code == 403
    provider = await factories.account(client, container, tenant_id=None, role=Role.PROVIDER_ADMIN)
    r = await client.get("/api/v1/ops/sla", headers=provider.headers)
    assert r.status_code == 200, r.text
    [sla] = r.json()["models"]
    assert (sla["model"], sla["ok"], sla["target_s"]) == ("anpr", 1, 2.0)
    assert 1.0 < sla["p50_s"] <= 2.0
    assert r.json()["window_s"] == 300
