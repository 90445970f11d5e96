"""What the watchdog hears on `heartbeats`: every role process, its SLA figures and its groups' lag.

Every watchdog process follows the topic in a consumer group of its own (each must hear every beat
to take over when the evaluating one dies), keeping per role and process the first and newest beat.
A new group reads the topic's whole retention (days of beats) on each start, so following is kept
cheap: beats are idempotent (the newest per process wins), so there is no dedupe-cache write per
beat; commits go in batches; and a beat older than `forget_after_s` (one the next evaluation would
forget anyway) is skipped by its bus timestamp, without parsing it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from pydantic import ValidationError

from vms.kernel.topics import HEARTBEATS
from vms.messaging import run_consumer
from vms.ports import Bus, BusMessage
from vms.stats.board import Heartbeat, this_process
from vms.stats.sla import SlaSnapshot, merge
from vms.watchdog.rules import ServiceSeen

log = structlog.get_logger(__name__)
COMMIT_INTERVAL_S = 10.0  # a restart of the same group re-reads at most this much; a new group reads it all anyway


@dataclass
class _Heard:
    started_at: datetime
    newest: Heartbeat


class HeartbeatTracker:
    """The newest heartbeat of every role process, and what the fresh ones say together.

    >>> tracker = HeartbeatTracker(stale_after_s=90)
    >>> tracker.observe(beat)
    >>> tracker.services()[0].last_at
    """

    def __init__(self, *, stale_after_s: float, forget_after_s: float | None = None) -> None:
        self.stale_after = timedelta(seconds=stale_after_s)
        self.forget_after_s = forget_after_s  # beats older than this are skipped (None: none are)
        self._heard: dict[tuple[str, str, str], _Heard] = {}  # (role, detail, process)

    async def run(self, bus: Bus) -> None:
        """Follow the heartbeats until cancelled (no dedupe: the newest beat of a process wins anyway)."""
        group = f"watchdog-{this_process()}"
        await run_consumer(
            bus, [HEARTBEATS], group=group, handler=self.handle, seen=None, commit_interval_s=COMMIT_INTERVAL_S
        )

    async def handle(self, message: BusMessage) -> None:
        """One message from `heartbeats`; what is not a heartbeat, or too old to matter, is skipped."""
        if (
            self.forget_after_s is not None
            and message.timestamp
            and time.time() - message.timestamp > self.forget_after_s
        ):
            return
        try:
            beat = Heartbeat.model_validate_json(message.value)
        except ValidationError as exc:
            log.warning("heartbeat not understood; skipped", error=str(exc)[:200])
            return
        self.observe(beat)

    def observe(self, beat: Heartbeat) -> None:
        """Keep a beat if it is the newest of its role and process (beats may arrive out of order)."""
        key = (beat.role, beat.detail, beat.process)
        heard = self._heard.get(key)
        if heard is None:
            self._heard[key] = _Heard(started_at=beat.started_at or beat.at, newest=beat)
        elif beat.at >= heard.newest.at:
            heard.newest = beat

    def forget(self, before: datetime) -> None:
        """Stop tracking processes silent since before `before` (decommissioned long ago)."""
        for key in [k for k, h in self._heard.items() if h.newest.at < before]:
            del self._heard[key]

    def services(self) -> list[ServiceSeen]:
        """Every role process heard from, with its first and newest beat."""
        return [
            ServiceSeen(role=role, detail=detail, process=process, started_at=h.started_at, last_at=h.newest.at)
            for (role, detail, process), h in self._heard.items()
        ]

    def _fresh(self, now: datetime) -> list[Heartbeat]:
        """The newest beat of each process heard from within the stale limit, oldest first."""
        newest: dict[str, Heartbeat] = {}
        for heard in self._heard.values():
            beat = heard.newest
            if now - beat.at <= self.stale_after and (beat.process not in newest or beat.at > newest[beat.process].at):
                newest[beat.process] = beat
        return sorted(newest.values(), key=lambda b: b.at)

    def sla(self, now: datetime) -> SlaSnapshot | None:
        """Every live process's SLA figures merged (each process once: its roles share one registry);
        None before any live process was heard."""
        fresh = self._fresh(now)
        return merge(b.sla for b in fresh) if fresh else None

    def lag(self, now: datetime) -> dict[str, dict[str, int]]:
        """Consumer lag per group and topic, from the newest live report of each group."""
        lag: dict[str, dict[str, int]] = {}
        for beat in self._fresh(now):
            for group, topics in beat.consumer_lag.items():
                lag.setdefault(group, {}).update(topics)
        return lag
