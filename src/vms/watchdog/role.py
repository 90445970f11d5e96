"""The watchdog role (`vms role watchdog`, and inside `vms serve`): observe, judge, keep incidents.

Every `evaluate_every_s` it gathers what it observes — role processes and their SLA figures and
consumer lag from `heartbeats`, cameras that are down, retention liveness and the disk forecast —
runs the rules (vms.watchdog.rules) and reconciles the incidents (vms.watchdog.service). Several
watchdogs may run (one per `vms serve`, standbys in a cluster); all follow the heartbeats and learn
throughput baselines, but only the holder of the lease reads the database, writes incidents and
reports `vms_incidents_open`, so every condition is judged once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog

from vms.bootstrap import Container
from vms.cameras import service as cameras
from vms.kernel.clock import utcnow
from vms.kernel.tenancy import TenantScope
from vms.kernel.topics import PARTITIONS
from vms.media import integrity, retention
from vms.stats.board import HEARTBEAT_S
from vms.uow import Actor
from vms.watchdog import rules, service
from vms.watchdog.heartbeats import HeartbeatTracker
from vms.watchdog.lease import Lease

log = structlog.get_logger(__name__)
ACTOR = Actor.system("watchdog")
DOWN = ("offline", "auth_failed")
PAGE = 500

CameraSource = Callable[[datetime], Awaitable[list[rules.CameraDown]]]


class WatchdogRole:
    """Evaluates the rules periodically until cancelled."""

    def __init__(
        self, container: Container, *, camera_source: CameraSource | None = None, heartbeat_s: float = HEARTBEAT_S
    ) -> None:
        self.container = container
        self.settings = container.settings.watchdog
        s = self.settings
        self.stale_after_s = s.missed_beats * heartbeat_s  # how long a role may be silent
        self.tracker = HeartbeatTracker(stale_after_s=self.stale_after_s, forget_after_s=s.forget_service_after_s)
        self.baselines = rules.ThroughputBaselines(
            alpha=s.throughput_ewma_alpha,
            warmup=s.throughput_warmup_samples,
            drop_fraction=s.throughput_drop_fraction,
            min_baseline=s.throughput_min_baseline,
        )
        self.lease = Lease(container.sessions, lease_s=s.lease_s)
        self.camera_source = camera_source or self.cameras_down
        self.started_at = utcnow()
        self.leading = False
        self._storage: rules.StorageSeen | None = None
        self._storage_at: datetime | None = None
        self._first_down: dict[uuid.UUID, datetime] = {}

    async def run(self) -> None:
        """Follow the heartbeats and evaluate every `evaluate_every_s` until cancelled."""
        await self.container.bus.ensure_topics(PARTITIONS)
        loops = [
            asyncio.create_task(self._follow()),
            asyncio.create_task(self.container.outbox.run()),  # delivers the `incidents` announcements
        ]
        try:
            while True:
                await asyncio.sleep(self.settings.evaluate_every_s)
                try:
                    await self.evaluate()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database is down: try again next time, never stop watching
                    log.warning("watchdog evaluation failed; retrying", error=str(exc))
        finally:
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await self.lease.release()

    async def _follow(self) -> None:
        while True:
            try:
                await self.tracker.run(self.container.bus)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bus outage: start over once it is back
                log.warning("watchdog lost the heartbeats; following again", error=str(exc))
                await asyncio.sleep(5.0)

    async def evaluate(self, now: datetime | None = None) -> service.Reconciled | None:
        """One evaluation; returns what changed, or None when another watchdog holds the lease."""
        now = now or utcnow()
        s = self.settings
        self.tracker.forget(now - timedelta(seconds=s.forget_service_after_s))
        sla = self.tracker.sla(now)
        lag = self.tracker.lag(now)
        # Baselines learn in every watchdog, so a standby that takes over has them warm.
        throughput = self.baselines.judge(rules.throughput_by_model(sla), waiting=rules.waiting_jobs(lag))
        self.leading = await self.lease.hold()
        if not self.leading:
            self.container.metrics.incidents_open.clear()  # the leader reports them; sums stay right
            return None
        assessment = (
            rules.service_findings(
                self.tracker.services(),
                now=now,
                stale_after_s=self.stale_after_s,
                forget_after_s=s.forget_service_after_s,
                watching_since=self.started_at,
            )
            .add(rules.latency_findings(sla, min_jobs=s.latency_min_jobs))
            .add(throughput)
            .add(rules.lag_findings(lag, max_messages=s.lag_max_messages))
            .add(rules.camera_findings(await self._cameras(now), now=now, grace_s=s.camera_grace_s))
            .add(
                rules.storage_findings(
                    await self._storage_check(now),
                    now=now,
                    watching_since=self.started_at,
                    retention_interval_s=s.retention_interval_s,
                    disk_alert_hours=s.disk_full_alert_hours,
                )
            )
        )
        async with self.container.unit_of_work(TenantScope.platform(), ACTOR) as uow:
            changes = await service.reconcile(
                uow=uow, assessment=assessment, now=now, still_s=2 * s.evaluate_every_s + 5
            )
            counts = await service.open_counts(uow=uow)
            await uow.commit()
        for (kind, severity), count in counts.items():
            self.container.metrics.incidents_open.labels(kind, severity).set(count)
        for incident in changes.opened:
            log.warning(
                "incident opened", key=incident.dedupe_key, severity=incident.severity, summary=incident.summary
            )
        for incident in changes.resolved:
            log.info("incident resolved", key=incident.dedupe_key, resolution=incident.resolution)
        return changes

    async def _cameras(self, now: datetime) -> list[rules.CameraDown] | None:
        try:
            return await self.camera_source(now)
        except Exception as exc:  # judged next time; camera incidents stay as they are meanwhile
            log.warning("camera health unreadable", error=str(exc))
            return None

    async def cameras_down(self, now: datetime) -> list[rules.CameraDown]:
        """Every customer's cameras that are offline or refusing their credentials, and since when (one query).

        Since when: the camera's `status_changed_at`, or when this watchdog first saw it down.
        """
        async with self.container.unit_of_work(TenantScope.platform(), ACTOR) as uow:
            listed = await cameras.cameras_down(uow=uow, statuses=[cameras.status_of(s) for s in DOWN])
        found = [
            rules.CameraDown(
                cam.id,
                cam.tenant_id,
                cam.name,
                cam.status,
                cam.status_changed_at or self._first_down.setdefault(cam.id, now),
                cam.last_error,
            )
            for cam in listed
        ]
        down = {c.camera_id for c in found}
        self._first_down = {k: v for k, v in self._first_down.items() if k in down}
        return found

    async def _storage_check(self, now: datetime) -> rules.StorageSeen | None:
        """Retention liveness and the disk forecast, read every `storage_check_every_s` (the forecast
        sums hours of segments), the last reading in between."""
        due = (
            self._storage_at is None or (now - self._storage_at).total_seconds() >= self.settings.storage_check_every_s
        )
        if not due:
            return self._storage
        try:
            async with self.container.unit_of_work(TenantScope.platform(), ACTOR) as uow:
                interval = timedelta(seconds=self.settings.retention_interval_s)
                liveness = await integrity.retention_liveness(uow=uow, now=now, interval=interval)
                usage = retention.local_disk_usage(self.container.settings.storage.root)
                forecast = await integrity.disk_forecast(uow=uow, now=now, disk_usage=usage)
        except Exception as exc:  # the last reading stands until the next check
            log.warning("storage health unreadable", error=str(exc))
            return self._storage
        self._storage = rules.StorageSeen(
            retention_finished_at=liveness.last_finished_at,
            retention_error=liveness.last_error,
            hours_until_full=forecast.hours_until_full,
        )
        self._storage_at = now
        return self._storage
