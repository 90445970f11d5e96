"""What the watchdog keeps of the heartbeats: the newest beat per role and process, each process's
SLA figures once, the newest lag of each group; and its settings refuse a lease shorter than a pause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from vms.settings import WatchdogSettings
from vms.stats.board import Heartbeat
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
