"""SLA figures per model — job latency percentiles, throughput, failures — over a recent window
(requirements §9; issue 5 item 6), for the watchdog and provider staff.

Prometheus histograms are cumulative since the process started; the watchdog needs "how is model X
doing now". So every job outcome the worker reports (`Metrics.observe_job`) is also tallied here in
10-second slices kept for 15 minutes, and `snapshot()` sums the slices of the last `window_s`.
Latencies are counted in the same buckets as `vms_job_latency_seconds` rather than kept one by one:
memory stays fixed whatever the job rate, and snapshots of several processes merge exactly (sum the
counts), which individual percentiles would not. Percentiles are interpolated within a bucket the way
Prometheus' `histogram_quantile` does; the SLA targets are bucket bounds, so `within_target` is exact.

One process knows only its own jobs. Worker roles therefore publish their snapshot on the
`heartbeats` topic (roles/worker.py) and `SlaBoard` merges the fresh ones (stats/board.py).
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, Field

from vms.kernel.clock import utcnow

# Job latency spans the SLAs: CRITICAL < 500 ms, STANDARD within a few seconds (requirements §9).
JOB_LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
# Requirements §9: high-priority models (fire/smoke, abnormal behaviour: CRITICAL) < 500 ms, the rest < 2 s.
SLA_TARGET_S: dict[str, float] = {"CRITICAL": 0.5, "HIGH": 2.0, "MEDIUM": 2.0, "STANDARD": 2.0}
SLA_WINDOW_S = 300.0  # what heartbeats carry and the ops API shows: the last five minutes
SLICE_S = 10.0
KEEP_S = 900.0


class ModelSla(BaseModel):
    """One model at one priority over the window. `latency_counts` are per bucket of
    `JOB_LATENCY_BUCKETS` (not cumulative), the last one for jobs slower than the largest bound."""

    model: str = Field(description="Analytics model key.")
    priority: str = Field(description="Job priority (CRITICAL, HIGH, MEDIUM, STANDARD).")
    ok: int = Field(description="Jobs the model finished in the window.")
    failed: int = Field(description="Jobs the model could not finish (unusable video, the model raised).")
    latency_counts: list[int] = Field(description="Finished jobs per latency bucket (published → detections out).")
    target_s: float = Field(description="The SLA's response time for this priority.")
    p50_s: float | None = Field(description="Median job latency; null without finished jobs.")
    p95_s: float | None = Field(description="95th percentile job latency.")
    p99_s: float | None = Field(description="99th percentile job latency.")
    within_target: float | None = Field(description="Share of finished jobs within the target (0-1).")
    failure_ratio: float | None = Field(description="failed / (ok + failed); null without jobs.")
    segments_per_min: float = Field(description="Throughput: finished jobs per minute over the window.")


class SlaSnapshot(BaseModel):
    """Every model's SLA figures over the last `window_s` seconds, from the processes in `sources`."""

    at: datetime = Field(description="When the snapshot was taken (UTC).")
    window_s: float = Field(description="The window the figures cover, in seconds.")
    sources: list[str] = Field(description="The processes whose jobs are counted (this one, workers' heartbeats).")
    models: list[ModelSla] = Field(description="One entry per model and priority that saw jobs in the window.")


@dataclass
class _Tally:
    ok: int = 0
    failed: int = 0
    counts: list[int] = field(default_factory=lambda: [0] * (len(JOB_LATENCY_BUCKETS) + 1))

    def add(self, other: _Tally) -> None:
        self.ok += other.ok
        self.failed += other.failed
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]


class SlaWindow:
    """Job outcomes of this process in time slices, summarised on demand.

    >>> window = SlaWindow()
    >>> window.record(model="fire_smoke", priority="CRITICAL", ok=True, latency_s=0.21)
    >>> window.snapshot(window_s=300).models[0].p99_s
    """

    def __init__(self, *, source: str = "this process", clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self._clock = clock
        self._started = clock()
        self._slices: deque[tuple[int, dict[tuple[str, str], _Tally]]] = deque()

    def record(self, *, model: str, priority: str, ok: bool, latency_s: float | None = None) -> None:
        """Count one model's outcome on one job (latency only for finished jobs)."""
        now = self._clock()
        index = int(now // SLICE_S)
        if not self._slices or self._slices[-1][0] != index:
            self._slices.append((index, {}))
            while self._slices and self._slices[0][0] < index - KEEP_S // SLICE_S:
                self._slices.popleft()
        tally = self._slices[-1][1].setdefault((model, priority), _Tally())
        if ok:
            tally.ok += 1
            if latency_s is not None:
                tally.counts[bisect.bisect_left(JOB_LATENCY_BUCKETS, max(0.0, latency_s))] += 1
        else:
            tally.failed += 1

    def snapshot(self, *, window_s: float = SLA_WINDOW_S) -> SlaSnapshot:
        """The figures of the last `window_s` seconds (at most 15 minutes)."""
        window_s = min(window_s, KEEP_S)
        now = self._clock()
        oldest = int((now - window_s) // SLICE_S) + 1  # whole slices only: a partial one would skew throughput
        totals: dict[tuple[str, str], _Tally] = {}
        for index, tallies in self._slices:
            if index >= oldest:
                for key, tally in tallies.items():
                    totals.setdefault(key, _Tally()).add(tally)
        # A process younger than the window has counted for less time: rate over what it saw.
        covered = max(SLICE_S, min(window_s, now - self._started))
        models = [summarise(m, p, t.ok, t.failed, t.counts, covered) for (m, p), t in sorted(totals.items())]
        return SlaSnapshot(at=utcnow(), window_s=window_s, sources=[self.source], models=models)


def summarise(model: str, priority: str, ok: int, failed: int, counts: list[int], covered_s: float) -> ModelSla:
    """A model's figures from its tallies; `covered_s` is the time they were counted over."""
    target = SLA_TARGET_S.get(priority, SLA_TARGET_S["STANDARD"])
    timed = sum(counts)
    within = sum(c for bound, c in zip(JOB_LATENCY_BUCKETS, counts, strict=False) if bound <= target)
    return ModelSla(
        model=model,
        priority=priority,
        ok=ok,
        failed=failed,
        latency_counts=list(counts),
        target_s=target,
        p50_s=quantile(0.50, counts),
        p95_s=quantile(0.95, counts),
        p99_s=quantile(0.99, counts),
        within_target=within / timed if timed else None,
        failure_ratio=failed / (ok + failed) if ok + failed else None,
        segments_per_min=round(ok * 60.0 / covered_s, 3),
    )


def quantile(q: float, counts: list[int]) -> float | None:
    """The q-quantile (0-1) of bucketed latencies, linear within the bucket like Prometheus'
    histogram_quantile; jobs beyond the largest bound answer that bound."""
    total = sum(counts)
    if not total:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(counts):
        if count and seen + count >= rank:
            if i == len(JOB_LATENCY_BUCKETS):
                return JOB_LATENCY_BUCKETS[-1]
            lower = JOB_LATENCY_BUCKETS[i - 1] if i else 0.0
            return round(lower + (JOB_LATENCY_BUCKETS[i] - lower) * (rank - seen) / count, 4)
        seen += count
    return JOB_LATENCY_BUCKETS[-1]


def merge(snapshots: Iterable[SlaSnapshot]) -> SlaSnapshot:
    """Several processes' snapshots as one: counts add up, so do throughputs (they did separate jobs)."""
    taken = list(snapshots)
    totals: dict[tuple[str, str], tuple[_Tally, float]] = {}
    for snapshot in taken:
        for m in snapshot.models:
            tally, rate = totals.get((m.model, m.priority), (_Tally(), 0.0))
            tally.add(_Tally(m.ok, m.failed, list(m.latency_counts)))
            totals[(m.model, m.priority)] = (tally, rate + m.segments_per_min)
    models = []
    for (model, priority), (tally, rate) in sorted(totals.items()):
        merged = summarise(model, priority, tally.ok, tally.failed, tally.counts, 60.0)
        models.append(merged.model_copy(update={"segments_per_min": round(rate, 3)}))
    return SlaSnapshot(
        at=utcnow(),
        window_s=max((s.window_s for s in taken), default=SLA_WINDOW_S),
        sources=[source for s in taken for source in s.sources],
        models=models,
    )
