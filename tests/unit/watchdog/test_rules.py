"""The watchdog's rules, observation by observation, without a bus or a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from vms.stats.sla import JOB_LATENCY_BUCKETS, SlaSnapshot, summarise
from vms.watchdog.models import IncidentType, Severity
from vms.watchdog.rules import (
    CameraDown,
    ServiceSeen,
    StorageSeen,
    ThroughputBaselines,
    camera_findings,
    lag_findings,
    latency_findings,
    service_findings,
    storage_findings,
    throughput_by_model,
    waiting_jobs,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def seen(role: str, process: str, *, last: float, started: float = 3600, detail: str = "") -> ServiceSeen:
    return ServiceSeen(role=role, detail=detail, process=process, started_at=ago(started), last_at=ago(last))


def judge_services(*instances: ServiceSeen):
    return service_findings(instances, now=NOW, stale_after_s=90, forget_after_s=3600)


# --- services --------------------------------------------------------------------------------------


def test_a_process_that_missed_three_beats_is_a_service_failure_with_its_roles_severity():
    result = judge_services(
        seen("worker", "host-a:10", last=120, detail="worker-fire_smoke"),
        seen("retention", "host-a:11", last=95),
        seen("events", "host-a:12", last=20),
    )
    by_key = {f.key: f for f in result.findings}
    assert set(by_key) == {"service:worker:worker-fire_smoke:host-a:10", "service:retention::host-a:11"}
    worker = by_key["service:worker:worker-fire_smoke:host-a:10"]
    assert worker.incident_type is IncidentType.SERVICE_FAILURE
    assert worker.severity is Severity.CRITICAL
    assert (worker.actual, worker.threshold) == (120.0, 90)
    assert "worker (worker-fire_smoke)" in worker.summary and "host-a:10" in worker.summary
    assert by_key["service:retention::host-a:11"].severity is Severity.MEDIUM
    # the live one is judged too, so an incident it had is resolved
    assert result.judges("service:events::host-a:12")


def test_two_missed_beats_are_not_yet_a_failure():
    assert judge_services(seen("ingest", "h:1", last=89)).findings == []


def test_a_restart_by_the_supervisor_clears_the_failure_and_says_so():
    old = seen("worker", "host-a:10", last=200, detail="worker-motion")
    new = seen("worker", "host-a:33", last=5, started=100, detail="worker-motion")
    result = judge_services(old, new)
    assert result.findings == []
    assert result.judges(old.key)
    assert "restarted" in result.notes[old.key] and "host-a:33" in result.notes[old.key]


def test_a_pod_replaced_on_another_host_clears_the_failure_but_one_replacement_covers_one_process():
    gone_1 = seen("worker", "pod-1:1", last=300, detail="worker-anpr")
    gone_2 = seen("worker", "pod-2:1", last=250, detail="worker-anpr")
    fresh = seen("worker", "pod-9:1", last=3, started=200, detail="worker-anpr")
    result = judge_services(gone_1, gone_2, fresh)
    assert "replaced" in result.notes[gone_1.key]
    assert [f.key for f in result.findings] == [gone_2.key]


def test_a_process_of_another_role_or_one_started_before_the_silence_is_no_replacement():
    gone = seen("worker", "h:1", last=200, detail="worker-anpr")
    other_model = seen("worker", "h:2", last=1, started=100, detail="worker-fire_smoke")
    older_peer = seen("worker", "h:3", last=1, started=1000, detail="worker-anpr")  # ran beside it all along
    assert [f.key for f in judge_services(gone, other_model, older_peer).findings] == [gone.key]


def test_a_watchdog_that_just_started_gives_processes_it_heard_of_before_the_full_limit():
    before_restart = seen("worker", "box:1", last=600, detail="worker-anpr")
    early = service_findings([before_restart], now=NOW, stale_after_s=90, forget_after_s=3600, watching_since=ago(20))
    assert early.findings == [] and not early.judges(before_restart.key)
    late = service_findings([before_restart], now=NOW, stale_after_s=90, forget_after_s=3600, watching_since=ago(100))
    [finding] = late.findings
    assert finding.actual == 600.0  # the incident still says how long it has really been silent


def test_a_process_silent_past_the_forget_limit_is_no_longer_judged():
    long_gone = seen("api", "h:1", last=7200)
    result = judge_services(long_gone)
    assert result.findings == [] and not result.judges(long_gone.key)


# --- latency -----------------------------------------------------------------------------------------


def snapshot(*models) -> SlaSnapshot:
    return SlaSnapshot(at=NOW, window_s=300, sources=["worker h:1"], models=list(models))


def model(name: str, priority: str, latencies: list[float], *, covered_s: float = 300):
    counts = [0] * (len(JOB_LATENCY_BUCKETS) + 1)
    for latency in latencies:
        index = next((i for i, bound in enumerate(JOB_LATENCY_BUCKETS) if latency <= bound), len(JOB_LATENCY_BUCKETS))
        counts[index] += 1
    return summarise(name, priority, len(latencies), 0, counts, covered_s)


def test_a_critical_models_p99_over_500_ms_is_a_critical_latency_breach_in_milliseconds():
    sla = snapshot(model("fire_smoke", "CRITICAL", [0.1] * 90 + [0.9] * 10))
    [finding] = latency_findings(sla, min_jobs=20).findings
    assert finding.key == "latency:fire_smoke:CRITICAL"
    assert finding.incident_type is IncidentType.LATENCY_BREACH
    assert finding.severity is Severity.CRITICAL
    assert finding.threshold == 500.0 and finding.actual > 500.0
    assert finding.ai_model == "fire_smoke"


def test_a_standard_model_is_held_to_two_seconds_and_a_breach_is_low():
    fine = snapshot(model("motion", "STANDARD", [1.5] * 50))
    assert latency_findings(fine, min_jobs=20).findings == []
    slow = snapshot(model("motion", "STANDARD", [4.0] * 50))
    [finding] = latency_findings(slow, min_jobs=20).findings
    assert (finding.threshold, finding.severity) == (2000.0, Severity.LOW)


def test_too_few_jobs_are_not_judged_as_a_breach_and_no_snapshot_judges_nothing():
    sla = snapshot(model("fire_smoke", "CRITICAL", [3.0] * 5))
    result = latency_findings(sla, min_jobs=20)
    assert result.findings == [] and result.judges("latency:fire_smoke:CRITICAL")
    assert not latency_findings(None, min_jobs=20).judges("latency:fire_smoke:CRITICAL")


# --- throughput and lag ---------------------------------------------------------------------------------


def baselines() -> ThroughputBaselines:
    return ThroughputBaselines(alpha=0.2, warmup=5, drop_fraction=0.5, min_baseline=1.0)


def test_a_drop_below_half_the_learned_rate_while_jobs_wait_is_a_throughput_drop():
    learned = baselines()
    for _ in range(10):
        assert learned.judge({"intrusion": 20.0}, waiting={"intrusion": 0}).findings == []
    [finding] = learned.judge({"intrusion": 6.0}, waiting={"intrusion": 40}).findings
    assert finding.key == "throughput:intrusion"
    assert finding.incident_type is IncidentType.THROUGHPUT_DROP
    assert finding.actual == 6.0 and finding.threshold == pytest.approx(10.0)
    assert finding.ai_model == "intrusion"


def test_during_a_drop_the_baseline_holds_so_a_lasting_drop_stays_an_incident():
    learned = baselines()
    for _ in range(10):
        learned.judge({"intrusion": 20.0}, waiting={})
    for _ in range(50):
        assert learned.judge({"intrusion": 2.0}, waiting={"intrusion": 100}).findings
    assert learned.baselines["intrusion"].value == pytest.approx(20.0)


def test_less_work_is_no_drop_and_the_baseline_follows_it():
    learned = baselines()
    for _ in range(10):
        learned.judge({"intrusion": 20.0}, waiting={})
    for _ in range(30):
        assert learned.judge({"intrusion": 4.0}, waiting={"intrusion": 0}).findings == []
    assert learned.baselines["intrusion"].value < 5.0


def test_no_drop_is_reported_before_the_baseline_has_warmed_up():
    learned = baselines()
    learned.judge({"anpr": 20.0}, waiting={})
    assert learned.judge({"anpr": 0.0}, waiting={"anpr": 10}).findings == []


def test_a_model_no_worker_reports_any_more_counts_as_zero():
    learned = baselines()
    for _ in range(10):
        learned.judge({"anpr": 20.0}, waiting={})
    [finding] = learned.judge({}, waiting={"anpr": 7}).findings
    assert finding.actual == 0.0


def test_rates_and_waiting_jobs_are_per_model():
    sla = snapshot(model("fire_smoke", "CRITICAL", [0.1] * 60), model("fire_smoke", "HIGH", [0.1] * 30))
    assert throughput_by_model(sla) == {"fire_smoke": pytest.approx(18.0)}
    lag = {"worker-fire_smoke+intrusion": {"video-jobs-critical": 3, "video-jobs-high": 2}, "events": {"detections": 9}}
    assert waiting_jobs(lag) == {"fire_smoke": 5, "intrusion": 5}


def test_consumer_lag_over_the_bound_is_a_throughput_drop_high_on_critical_jobs():
    lag = {
        "worker-fire_smoke": {"video-jobs-critical": 5000, "video-jobs-standard": 10},
        "worker-motion+anpr": {"video-jobs-standard": 2000},
    }
    result = lag_findings(lag, max_messages=1000)
    by_key = {f.key: f for f in result.findings}
    assert set(by_key) == {"lag:worker-fire_smoke:video-jobs-critical", "lag:worker-motion+anpr:video-jobs-standard"}
    critical = by_key["lag:worker-fire_smoke:video-jobs-critical"]
    assert (critical.severity, critical.actual, critical.threshold, critical.ai_model) == (
        Severity.HIGH,
        5000.0,
        1000.0,
        "fire_smoke",
    )
    assert by_key["lag:worker-motion+anpr:video-jobs-standard"].severity is Severity.MEDIUM
    assert by_key["lag:worker-motion+anpr:video-jobs-standard"].ai_model is None
    assert result.judges("lag:worker-fire_smoke:video-jobs-standard")


# --- cameras and storage --------------------------------------------------------------------------------


def test_a_camera_down_past_the_grace_period_is_a_failure_of_that_camera_and_customer():
    tenant, cam, recent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cameras = [
        CameraDown(cam, tenant, "Gate", "auth_failed", ago(600), "401 Unauthorized"),
        CameraDown(recent, tenant, "Lobby", "offline", ago(30)),
    ]
    result = camera_findings(cameras, now=NOW, grace_s=120)
    [finding] = result.findings
    assert finding.key == f"camera:{cam}"
    assert (finding.tenant_id, finding.camera_id) == (tenant, cam)
    assert finding.incident_type is IncidentType.SERVICE_FAILURE and finding.severity is Severity.HIGH
    assert (finding.actual, finding.threshold) == (600.0, 120)
    assert "credentials" in finding.summary and "401" in finding.summary
    assert result.judges(f"camera:{recent}")
    assert not camera_findings(None, now=NOW, grace_s=120).judges(f"camera:{cam}")


def test_retention_not_run_within_twice_its_interval_is_a_service_failure():
    stale = StorageSeen(retention_finished_at=ago(3 * 3600), retention_error="disk I/O error", hours_until_full=None)
    [finding] = storage_findings(
        stale, now=NOW, watching_since=ago(10 * 3600), retention_interval_s=3600, disk_alert_hours=24
    ).findings
    assert (finding.key, finding.incident_type, finding.threshold) == ("retention", IncidentType.SERVICE_FAILURE, 7200)
    assert "disk I/O error" in finding.summary
    fresh = StorageSeen(retention_finished_at=ago(600), retention_error=None, hours_until_full=None)
    assert (
        storage_findings(
            fresh, now=NOW, watching_since=ago(10 * 3600), retention_interval_s=3600, disk_alert_hours=24
        ).findings
        == []
    )


def test_retention_that_never_ran_is_given_two_intervals_from_when_the_watchdog_started():
    never = StorageSeen(retention_finished_at=None, retention_error=None, hours_until_full=None)
    args = {"now": NOW, "retention_interval_s": 3600, "disk_alert_hours": 24}
    assert storage_findings(never, watching_since=ago(600), **args).findings == []
    [finding] = storage_findings(never, watching_since=ago(3 * 3600), **args).findings
    assert "never finished" in finding.summary


def test_a_disk_forecast_full_within_the_alert_window_is_resource_exhaustion():
    filling = StorageSeen(retention_finished_at=ago(60), retention_error=None, hours_until_full=3.0)
    [finding] = storage_findings(
        filling, now=NOW, watching_since=ago(60), retention_interval_s=3600, disk_alert_hours=24
    ).findings
    assert (finding.key, finding.severity, finding.actual, finding.threshold) == (
        "storage:disk_full",
        Severity.CRITICAL,
        3.0,
        24,
    )
