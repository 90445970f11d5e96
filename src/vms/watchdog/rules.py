"""The watchdog's rules: observations in, findings out — pure functions, no bus, no database.

Each rule looks at one kind of observation and returns a `Finding` per condition that is wrong now,
named by a dedupe key that stays the same for as long as the condition lasts (`service:…`,
`latency:…`, `throughput:…`, `lag:…`, `camera:…`, `retention`, `storage:…`). The service layer turns
findings into incidents (vms.watchdog.service): a key seen again updates its incident, a key no
longer found resolves it — but only where the rule could judge this time (`Assessment.judges`): a
camera list that could not be read resolves no camera incident.

>>> found = service_findings(instances, now=now, stale_after_s=90, forget_after_s=3600)
>>> [f.key for f in found.findings]
['service:worker:worker-fire_smoke:host-a:4711']
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from vms.kernel.ai_models import MODEL_SPECS, AiModel
from vms.kernel.priority import Priority
from vms.kernel.topics import VIDEO_JOBS
from vms.stats.sla import SlaSnapshot
from vms.watchdog.models import IncidentType, Severity

# A role process that stops beating: how bad that is depends on what stops with it.
ROLE_SEVERITY: dict[str, Severity] = {
    "worker": Severity.CRITICAL,  # AI jobs pile up; fire and intrusion go unseen
    "ingest": Severity.CRITICAL,  # recording stops
    "events": Severity.CRITICAL,  # detections no longer reach operators
    "api": Severity.HIGH,
    "retention": Severity.MEDIUM,
    "tickets": Severity.MEDIUM,
    "watchdog": Severity.MEDIUM,
}
PRIORITY_SEVERITY: dict[str, Severity] = {
    Priority.CRITICAL.value: Severity.CRITICAL,
    Priority.HIGH.value: Severity.HIGH,
    Priority.MEDIUM.value: Severity.MEDIUM,
    Priority.STANDARD.value: Severity.LOW,
}
CRITICAL_JOBS_TOPIC = VIDEO_JOBS[Priority.CRITICAL]
WORKER_GROUP_PREFIX = "worker-"  # analytics.worker names a group worker-<model>+<model>…


@dataclass(frozen=True, slots=True)
class Finding:
    """One condition that is wrong now."""

    key: str
    incident_type: IncidentType
    severity: Severity
    actual: float
    threshold: float
    summary: str
    source: str
    tenant_id: uuid.UUID | None = None
    camera_id: uuid.UUID | None = None
    ai_model: str | None = None


@dataclass
class Assessment:
    """What the rules found, and what they could judge: unresolved incidents of a judged family or
    key without a finding are resolved, with the note given for their key (a restart seen)."""

    findings: list[Finding] = field(default_factory=list)
    families: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    notes: dict[str, str] = field(default_factory=dict)

    def judges(self, key: str) -> bool:
        """Whether the rules looked at this key's condition this time."""
        return key in self.keys or key.split(":", 1)[0] in self.families

    def add(self, other: Assessment) -> Assessment:
        """This assessment with another's findings and judgements added."""
        self.findings += other.findings
        self.families |= other.families
        self.keys |= other.keys
        self.notes.update(other.notes)
        return self


# --- role processes (heartbeats) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceSeen:
    """A role in one process, as its heartbeats describe it."""

    role: str
    detail: str
    process: str  # host:pid
    started_at: datetime  # when it started beating (or was first heard)
    last_at: datetime  # its newest heartbeat

    @property
    def key(self) -> str:
        """The dedupe key of this process's failure."""
        return f"service:{self.role}:{self.detail}:{self.process}"

    @property
    def host(self) -> str:
        """The host part of `process`."""
        return self.process.rsplit(":", 1)[0]


def service_findings(
    instances: Iterable[ServiceSeen],
    *,
    now: datetime,
    stale_after_s: float,
    forget_after_s: float,
    watching_since: datetime | None = None,
) -> Assessment:
    """A role process silent for longer than `stale_after_s` → SERVICE_FAILURE, unless a process of
    the same role and detail started after its last beat (a supervisor's restart, a replaced pod):
    then its incident is resolved with that restart as the remediation. Processes silent longer than
    `forget_after_s` are no longer judged (their open incidents wait for an operator).

    Silence is counted from `watching_since` at the earliest: a watchdog that just started (the
    whole box restarted) gives the processes it heard of from before the full limit to reappear.
    """
    seen = list(instances)
    result = Assessment()
    since = watching_since or datetime.min.replace(tzinfo=now.tzinfo)

    def silent(s: ServiceSeen) -> float:
        return (now - max(s.last_at, since)).total_seconds()

    remembered = [s for s in seen if (now - s.last_at).total_seconds() <= forget_after_s]
    live = [s for s in remembered if (now - s.last_at).total_seconds() <= stale_after_s]
    dead = [s for s in remembered if silent(s) > stale_after_s]
    result.keys |= {s.key for s in live} | {s.key for s in dead}
    replacements = sorted(live, key=lambda s: s.started_at)
    taken: set[str] = set()
    for gone in sorted(dead, key=lambda s: s.last_at):
        successor = next(
            (
                s
                for s in replacements
                if (s.role, s.detail) == (gone.role, gone.detail)
                and s.started_at >= gone.last_at
                and s.key not in taken
            ),
            None,
        )
        if successor is not None:
            taken.add(successor.key)
            how = "restarted" if successor.host == gone.host else "replaced"
            result.notes[gone.key] = (
                f"The {gone.role} process was {how}: {successor.process} beating since "
                f"{successor.started_at:%Y-%m-%d %H:%M:%S} UTC."
            )
            continue
        silence = (now - gone.last_at).total_seconds()
        what = f"{gone.role} ({gone.detail})" if gone.detail else gone.role
        result.findings.append(
            Finding(
                key=gone.key,
                incident_type=IncidentType.SERVICE_FAILURE,
                severity=ROLE_SEVERITY.get(gone.role, Severity.MEDIUM),
                actual=round(silence, 1),
                threshold=stale_after_s,
                summary=f"The {what} process {gone.process} has sent no heartbeat for {silence:.0f} s "
                f"(at most {stale_after_s:.0f} s allowed).",
                source=f"{gone.role} {gone.process}",
            )
        )
    return result


# --- model SLAs -----------------------------------------------------------------------------------


def latency_findings(sla: SlaSnapshot | None, *, min_jobs: int) -> Assessment:
    """A model whose p99 job latency over the window exceeds its SLA target (CRITICAL 500 ms, others
    2 s; stats.sla) → LATENCY_BREACH, severity from the jobs' priority. Fewer than `min_jobs` timed
    jobs are too few to judge; no snapshot at all (no worker heard) judges nothing."""
    result = Assessment()
    if sla is None:
        return result
    result.families.add("latency")
    for m in sla.models:
        timed = sum(m.latency_counts)
        if timed < min_jobs or m.p99_s is None or m.p99_s <= m.target_s:
            continue  # within the SLA, or too few jobs to tell (which counts as no breach)
        result.findings.append(
            Finding(
                key=f"latency:{m.model}:{m.priority}",
                incident_type=IncidentType.LATENCY_BREACH,
                severity=PRIORITY_SEVERITY.get(m.priority, Severity.LOW),
                actual=round(m.p99_s * 1000, 1),
                threshold=round(m.target_s * 1000, 1),
                summary=f"{m.model} ({m.priority}) p99 job latency is {m.p99_s * 1000:.0f} ms over the last "
                f"{sla.window_s / 60:.0f} min, above its {m.target_s * 1000:.0f} ms SLA ({timed} jobs).",
                source="workers: " + ", ".join(sla.sources)[:190],
                ai_model=m.model,
            )
        )
    return result


def models_of_group(group: str) -> list[str]:
    """The models a worker consumer group hosts (`worker-fire_smoke+intrusion`); none for other groups."""
    if not group.startswith(WORKER_GROUP_PREFIX):
        return []
    return [m for m in group.removeprefix(WORKER_GROUP_PREFIX).split("+") if m]


def waiting_jobs(lag: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """Jobs waiting per model: the lag of every worker group hosting it, summed over the job topics."""
    waiting: dict[str, int] = {}
    for group, topics in lag.items():
        for model in models_of_group(group):
            waiting[model] = waiting.get(model, 0) + sum(topics.values())
    return waiting


def throughput_by_model(sla: SlaSnapshot | None) -> dict[str, float]:
    """Segments per minute per model, all priorities together."""
    rates: dict[str, float] = {}
    for m in sla.models if sla else ():
        rates[m.model] = rates.get(m.model, 0.0) + m.segments_per_min
    return rates


@dataclass
class Baseline:
    """A model's learned throughput: an exponentially weighted moving average of segments/min."""

    value: float
    samples: int = 1


class ThroughputBaselines:
    """Learned throughput per model, and the drops against it (anomaly detection, requirements §9).

    Each evaluation feeds every model's segments/min. A model more than `drop_fraction` below its
    baseline while its jobs are waiting (its workers' consumer lag > 0) has dropped: fewer jobs
    done although there is work. Without waiting jobs a lower rate is just less work (cameras
    removed, a quiet night) and the baseline follows it; during a drop the baseline is held, so a
    lasting drop does not become the new normal and resolve itself.

    >>> baselines = ThroughputBaselines(alpha=0.1, warmup=8, drop_fraction=0.5, min_baseline=1.0)
    >>> baselines.judge({"fire_smoke": 12.0}, waiting={"fire_smoke": 0}).findings
    []
    """

    def __init__(self, *, alpha: float, warmup: int, drop_fraction: float, min_baseline: float) -> None:
        self.alpha = alpha
        self.warmup = warmup
        self.drop_fraction = drop_fraction
        self.min_baseline = min_baseline
        self.baselines: dict[str, Baseline] = {}

    def judge(self, rates: Mapping[str, float], *, waiting: Mapping[str, int]) -> Assessment:
        """Compare each model's rate with its baseline, then learn from the rates that are no drop."""
        result = Assessment(families={"throughput"})
        for model in sorted(set(rates) | set(self.baselines)):
            rate = rates.get(model, 0.0)  # a model no worker reports did no jobs
            baseline = self.baselines.get(model)
            if baseline is None:
                self.baselines[model] = Baseline(rate)
                continue
            floor = (1 - self.drop_fraction) * baseline.value
            dropped = (
                baseline.samples >= self.warmup
                and baseline.value >= self.min_baseline
                and rate < floor
                and waiting.get(model, 0) > 0
            )
            if dropped:
                result.findings.append(
                    Finding(
                        key=f"throughput:{model}",
                        incident_type=IncidentType.THROUGHPUT_DROP,
                        severity=_model_severity(model),
                        actual=round(rate, 3),
                        threshold=round(floor, 3),
                        summary=f"{model} is doing {rate:.1f} segments/min against a usual {baseline.value:.1f} "
                        f"while {waiting.get(model, 0)} jobs wait.",
                        source=f"workers of {model}",
                        ai_model=model,
                    )
                )
                continue
            baseline.value += self.alpha * (rate - baseline.value)
            baseline.samples += 1
        return result


def _model_severity(model: str) -> Severity:
    try:
        return PRIORITY_SEVERITY[MODEL_SPECS[AiModel(model)].default_priority.value]
    except (ValueError, KeyError):
        return Severity.MEDIUM


def lag_findings(lag: Mapping[str, Mapping[str, int]], *, max_messages: int) -> Assessment:
    """A consumer group further behind than `max_messages` on a topic → THROUGHPUT_DROP (HIGH on the
    critical job topic, MEDIUM elsewhere). Lag comes from fresh heartbeats, so it is always judged."""
    result = Assessment(families={"lag"})
    for group, topics in sorted(lag.items()):
        models = models_of_group(group)
        for topic, behind in sorted(topics.items()):
            if behind <= max_messages:
                continue
            result.findings.append(
                Finding(
                    key=f"lag:{group}:{topic}",
                    incident_type=IncidentType.THROUGHPUT_DROP,
                    severity=Severity.HIGH if topic == CRITICAL_JOBS_TOPIC else Severity.MEDIUM,
                    actual=float(behind),
                    threshold=float(max_messages),
                    summary=f"Consumer group {group} is {behind} messages behind on {topic} "
                    f"(at most {max_messages} allowed).",
                    source=f"group {group}",
                    ai_model=models[0] if len(models) == 1 else None,
                )
            )
    return result


# --- cameras --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CameraDown:
    """A camera whose stream is not being received, and since when."""

    camera_id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    status: str  # offline | auth_failed
    since: datetime
    last_error: str | None = None


def camera_findings(cameras: Sequence[CameraDown] | None, *, now: datetime, grace_s: float) -> Assessment:
    """A camera offline or refusing its credentials for longer than `grace_s` → SERVICE_FAILURE of that
    camera and customer (HIGH: nothing is recorded). None (the list could not be read) judges nothing."""
    result = Assessment()
    if cameras is None:
        return result
    result.families.add("camera")
    for cam in cameras:
        down = (now - cam.since).total_seconds()
        if down <= grace_s:
            continue
        why = "refusing its credentials" if cam.status == "auth_failed" else "offline"
        result.findings.append(
            Finding(
                key=f"camera:{cam.camera_id}",
                incident_type=IncidentType.SERVICE_FAILURE,
                severity=Severity.HIGH,
                actual=round(down, 1),
                threshold=grace_s,
                summary=f"Camera {cam.name!r} has been {why} for {down / 60:.0f} min"
                + (f": {cam.last_error}" if cam.last_error else ".")[:300],
                source=f"camera {cam.camera_id}",
                tenant_id=cam.tenant_id,
                camera_id=cam.camera_id,
            )
        )
    return result


# --- storage --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StorageSeen:
    """Retention liveness and the disk forecast (media.integrity), as last checked."""

    retention_finished_at: datetime | None
    retention_error: str | None
    hours_until_full: float | None


def storage_findings(
    storage: StorageSeen | None,
    *,
    now: datetime,
    watching_since: datetime,
    retention_interval_s: float,
    disk_alert_hours: float,
) -> Assessment:
    """Retention that has not finished a run within twice its interval → SERVICE_FAILURE (a platform
    that never ran it is given that long from when the watchdog started); recording storage forecast
    full within `disk_alert_hours` → SERVICE_FAILURE (resource exhaustion; CRITICAL under 6 h)."""
    result = Assessment()
    if storage is None:
        return result
    result.families |= {"retention", "storage"}
    allowed = 2 * retention_interval_s
    since = storage.retention_finished_at or watching_since
    age = (now - since).total_seconds()
    if age > allowed:
        when = (
            "never finished a run" if storage.retention_finished_at is None else f"last finished {age / 3600:.1f} h ago"
        )
        error = f" Last error: {storage.retention_error}" if storage.retention_error else ""
        result.findings.append(
            Finding(
                key="retention",
                incident_type=IncidentType.SERVICE_FAILURE,
                severity=Severity.HIGH,
                actual=round(age, 1),
                threshold=allowed,
                summary=(f"Recording retention {when} (expected every {retention_interval_s / 3600:g} h).{error}")[
                    :500
                ],
                source="retention",
            )
        )
    hours = storage.hours_until_full
    if hours is not None and hours < disk_alert_hours:
        result.findings.append(
            Finding(
                key="storage:disk_full",
                incident_type=IncidentType.SERVICE_FAILURE,
                severity=Severity.CRITICAL if hours < 6 else Severity.HIGH,
                actual=round(hours, 2),
                threshold=disk_alert_hours,
                summary=f"Recording storage is forecast to be full in {hours:.1f} h at the current write rate.",
                source="storage",
            )
        )
    return result
