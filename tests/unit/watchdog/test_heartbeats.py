"""What the watchdog keeps of the heartbeats: the newest beat per role and process, each process's
SLA figures once, the newest lag of each group; and its settings refuse a lease shorter than a pause."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncGenerator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from vms.adapters.bus.embedded import EmbeddedBus
from vms.kernel.topics import HEARTBEATS
from vms.ports import BusMessage
from vms.settings import WatchdogSettings
from vms.stats.board import Heartbeat, this_process
from vms.stats.sla import JOB_LATENCY_BUCKETS, SlaSnapshot, summarise
from vms.watchdog.heartbeats import HeartbeatTracker

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def beat(role: str, process: str, seconds: float, *, jobs: int = 0, lag=None) -> Heartbeat:
    at = T0 + timedelta(seconds=seconds)
    counts = [jobs] + [0] * len(JOB_LATENCY_BUCKETS)
    models = [summarise("motion", "STANDARD", jobs, 0, counts, 300)] if jobs else []
    return Heartbeat(
        role=role,
        process=process,
        at=at,
        started_at=T0,
        sla=SlaSnapshot(at=at, window_s=300, sources=[process], models=models),
        consumer_lag=lag or {},
    )


def test_the_newest_beat_of_each_role_and_process_is_kept_even_when_beats_arrive_out_of_order():
    tracker = HeartbeatTracker(stale_after_s=90)
    tracker.observe(beat("events", "box:1", 30))
    tracker.observe(beat("events", "box:1", 0))  # late delivery of an older beat
    tracker.observe(beat("ingest", "box:1", 10))
    seen = {(s.role, s.process): s for s in tracker.services()}
    assert seen[("events", "box:1")].last_at == T0 + timedelta(seconds=30)
    assert seen[("events", "box:1")].started_at == T0
    assert seen[("ingest", "box:1")].last_at == T0 + timedelta(seconds=10)


def test_a_process_with_several_roles_counts_its_jobs_once_and_silent_processes_not_at_all():
    tracker = HeartbeatTracker(stale_after_s=90)
    tracker.observe(beat("api", "box:1", 0, jobs=30))
    tracker.observe(beat("events", "box:1", 5, jobs=30))  # same process, same registry
    tracker.observe(beat("worker", "box:2", 5, jobs=12))
    tracker.observe(beat("worker", "gone:3", -200, jobs=500))
    [motion] = tracker.sla(T0 + timedelta(seconds=10)).models
    assert motion.ok == 42
    assert tracker.sla(T0 + timedelta(hours=1)) is None  # nobody live


def test_lag_is_the_newest_live_report_of_each_group():
    tracker = HeartbeatTracker(stale_after_s=90)
    tracker.observe(beat("worker", "a:1", 0, lag={"worker-motion": {"video-jobs-standard": 50}}))
    tracker.observe(beat("worker", "b:1", 20, lag={"worker-motion": {"video-jobs-standard": 7}}))
    assert tracker.lag(T0 + timedelta(seconds=30)) == {"worker-motion": {"video-jobs-standard": 7}}


def test_forgotten_processes_are_no_longer_tracked():
    tracker = HeartbeatTracker(stale_after_s=90)
    tracker.observe(beat("api", "old:1", 0))
    tracker.observe(beat("api", "new:1", 4000))
    tracker.forget(T0 + timedelta(seconds=3600))
    assert [s.process for s in tracker.services()] == ["new:1"]


def test_a_lease_no_longer_than_the_pause_between_evaluations_is_refused():
    with pytest.raises(ValidationError, match="LEASE_S must be longer"):
        WatchdogSettings(evaluate_every_s=60, lease_s=45)
    assert WatchdogSettings(evaluate_every_s=60, lease_s=120).lease_s == 120


class CommitCountingBus:
    """The embedded bus, counting the commits its consumers make."""

    def __init__(self, bus: EmbeddedBus) -> None:
        self.bus, self.commits = bus, 0

    async def consume(self, topics: Sequence[str], *, group: str) -> AsyncGenerator[BusMessage, None]:
        async with contextlib.aclosing(self.bus.consume(topics, group=group)) as stream:
            async for message in stream:
                yield dataclasses.replace(message, commit=self._counted(message))

    def _counted(self, message: BusMessage):
        async def commit() -> None:
            self.commits += 1
            await message.commit()

        return commit

    def __getattr__(self, name: str) -> Any:  # publish, lag …
        return getattr(self.bus, name)


async def test_following_the_beats_commits_in_batches(tmp_path: Path):
    bus = EmbeddedBus(tmp_path / "bus.db")
    await bus.ensure_topics({HEARTBEATS: 1})
    for n in range(20):
        await bus.publish(HEARTBEATS, key="p", value=beat("worker", f"host:{n}", n).model_dump_json().encode())
    counting = CommitCountingBus(bus)
    tracker = HeartbeatTracker(stale_after_s=90)
    follower = asyncio.create_task(tracker.run(counting))  # type: ignore[arg-type]
    try:
        for _ in range(200):
            if len(tracker.services()) == 20 or follower.done():
                break
            await asyncio.sleep(0.02)
        assert not follower.done(), follower
        assert len(tracker.services()) == 20
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
    assert counting.commits == 1  # one batch (on the way out), not one commit per beat
    assert await bus.lag(f"watchdog-{this_process()}", [HEARTBEATS]) == {HEARTBEATS: 0}  # yet all committed
    await bus.close()


async def test_beats_older_than_the_forget_limit_are_skipped_unread():
    tracker = HeartbeatTracker(stale_after_s=90, forget_after_s=3600)
    now = time.time()

    def message(process: str, published: float, value: bytes | None = None) -> BusMessage:
        body = beat("worker", process, 0).model_dump_json().encode() if value is None else value
        return BusMessage(topic=HEARTBEATS, partition=0, offset=0, key=process, value=body, timestamp=published)

    await tracker.handle(message("old", now - 7200, value=b"not even json"))  # skipped before parsing
    await tracker.handle(message("recent", now - 60))
    assert [s.process for s in tracker.services()] == ["recent"]
    keep_all = HeartbeatTracker(stale_after_s=90)  # no limit given: every beat counts
    await keep_all.handle(message("old", now - 7200))
    assert [s.process for s in keep_all.services()] == ["old"]
