"""The platform's Prometheus metrics, defined in one place (requirements §9/§10, issue 5 item 6).

Each process builds one `Metrics` on its own `CollectorRegistry`, never prometheus_client's global
default registry: tests build several apps in one interpreter, and a metric registered twice in the
global registry raises. The container owns it (`container.metrics`), so the API middleware, the
worker and the scrape endpoint of one process share it.

Label values are bounded on purpose: HTTP requests are labelled with the matched route template
(`/api/v1/cameras/{camera_id}`), never the raw path, so ids cannot blow up the series count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from vms.ports import Bus
from vms.stats.sla import JOB_LATENCY_BUCKETS, SlaWindow

log = structlog.get_logger(__name__)
UNMATCHED = "unmatched"  # route label of a request no route matched
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class _LagWatch:
    bus: Bus
    group: str
    topics: tuple[str, ...]


class Metrics:
    """One process's metrics on its own registry.

    >>> metrics = Metrics()
    >>> metrics.observe_request(method="GET", route="/api/v1/cameras/{camera_id}", status=200, seconds=0.012)
    >>> metrics.observe_job(model="fire_smoke", priority="CRITICAL", ok=True, latency_s=0.21, detections=3)
    >>> body = await metrics.render()  # Prometheus text format, CONTENT_TYPE
    """

    CONTENT_TYPE = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "vms_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_request_seconds = Histogram(
            "vms_http_request_seconds",
            "HTTP request duration in seconds, by route template.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.job_latency_seconds = Histogram(
            "vms_job_latency_seconds",
            "Video job latency: published on the bus until its detections are out.",
            ["model", "priority"],
            buckets=JOB_LATENCY_BUCKETS,
            registry=r,
        )
        self.jobs = Counter(
            "vms_jobs", "Video jobs processed per model, by outcome (ok, failed).", ["model", "outcome"], registry=r
        )
        self.detections = Counter("vms_detections", "Detections published per model.", ["model"], registry=r)
        self.consumer_lag = Gauge(
            "vms_bus_consumer_lag",
            "Messages not yet committed by a consumer group, per topic (read at scrape time).",
            ["group", "topic"],
            registry=r,
        )
        self.offsets_waiting = Gauge(
            "vms_bus_offsets_waiting",
            "Offsets delivered to a worker and not yet committable, per group and topic: it grows while "
            "a job stays unfinished (the partition's commits wait behind it).",
            ["group", "topic"],
            registry=r,
        )
        self.incidents_open = Gauge(
            "vms_incidents_open",
            "Incidents not yet resolved, by type and severity (kept by the watchdog that holds the lease).",
            ["type", "severity"],
            registry=r,
        )
        self._lag_watches: list[_LagWatch] = []
        self.sla = SlaWindow()  # the same job outcomes over a recent window, for the watchdog (stats/sla.py)

    def observe_request(self, *, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered HTTP request and its duration."""
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_request_seconds.labels(method, route).observe(seconds)

    def observe_job(
        self, *, model: str, priority: str, ok: bool, latency_s: float | None = None, detections: int = 0
    ) -> None:
        """Count one model's outcome on one job; a successful job's latency goes into the SLA histogram."""
        self.jobs.labels(model, "ok" if ok else "failed").inc()
        self.sla.record(model=model, priority=priority, ok=ok, latency_s=latency_s)
        if ok:
            if latency_s is not None:
                self.job_latency_seconds.labels(model, priority).observe(max(0.0, latency_s))
            self.detections.labels(model).inc(detections)

    def watch_lag(self, bus: Bus, *, group: str, topics: Sequence[str]) -> None:
        """Report `group`'s consumer lag on `topics` at every scrape (the groups this process runs)."""
        self._lag_watches.append(_LagWatch(bus, group, tuple(topics)))

    async def refresh_lag(self) -> None:
        """Read the watched groups' lag from the bus into the gauge (Bus.lag is async; collectors are not)."""
        for watch in self._lag_watches:
            try:
                lags = await watch.bus.lag(watch.group, watch.topics)
            except Exception as exc:  # an unreachable bus must not cost the scrape its other metrics
                log.warning("consumer lag unreadable", group=watch.group, error=str(exc))
                continue
            for topic, lag in lags.items():
                self.consumer_lag.labels(watch.group, topic).set(lag)

    async def render(self) -> bytes:
        """The current metrics in the Prometheus text format, bus lag read just now."""
        await self.refresh_lag()
        return generate_latest(self.registry)
