"""The retention role: apply recording and clip retention on a schedule (DESIGN.md §2; issue 4 item 6).

Every `interval_s` it deletes what the per-camera policy no longer keeps and, when the disk is
above the high watermark, the oldest unprotected video until it is below the low one. Orphaned
blobs are swept once a day. Each run is recorded, which is what the liveness alarm watches.
Event clips and snapshots follow their own policy (events.clip_retention) in the same pass.
"""

from __future__ import annotations

import asyncio

import structlog

from vms.bootstrap import Container
from vms.events import clip_retention
from vms.kernel.clock import utcnow
from vms.kernel.tenancy import TenantScope
from vms.media import retention
from vms.uow import Actor

log = structlog.get_logger(__name__)
ACTOR = Actor.system("retention")


class RetentionRole:
    """Runs retention periodically until cancelled."""

    def __init__(
        self,
        container: Container,
        *,
        interval_s: float = 3600.0,
        first_after_s: float = 60.0,
        watermark: tuple[float, float] = (0.90, 0.80),
        sweep_every: int = 24,
    ) -> None:
        self.container = container
        self.interval_s = interval_s
        self.first_after_s = first_after_s
        self.watermark = watermark
        self.sweep_every = sweep_every
        self.runs = 0
        self.last_clips: clip_retention.ClipRetentionReport | None = None

    async def run(self) -> None:
        """Run forever: first after a short delay (start-up is busy), then every interval."""
        await asyncio.sleep(self.first_after_s)
        while True:
            await self.run_once()
            await asyncio.sleep(self.interval_s)

    async def run_once(self) -> retention.RetentionReport | None:
        """One pass over all storage (recordings, then event clips); failures are logged and retried
        at the next interval, and one failing never stops the other."""
        self.runs += 1
        report = await self._recordings()
        await self._clips()
        return report

    async def _clips(self) -> None:
        try:
            async with self.container.unit_of_work(TenantScope.platform(), ACTOR) as uow:
                self.last_clips = await clip_retention.apply_clip_retention(
                    uow=uow,
                    blobs=self.container.blobs,
                    now=utcnow(),
                    policy_for_camera=clip_retention.clip_policy(uow=uow, config_cache=self.container.config),
                    sweep=self.runs % self.sweep_every == 0,
                )
        except Exception as exc:  # clips wait for the next interval; recordings were not held up
            log.error("clip retention failed; next try at the next interval", error=str(exc))

    async def _recordings(self) -> retention.RetentionReport | None:
        disk = retention.local_disk_usage(self.container.settings.storage.root)
        try:
            async with self.container.unit_of_work(TenantScope.platform(), ACTOR) as uow:
                return await retention.apply_retention(
                    uow=uow,
                    blobs=self.container.blobs,
                    now=utcnow(),
                    policy_for_camera=retention.config_policy(uow=uow, config_cache=self.container.config),
                    watermark=self.watermark if disk is not None else None,
                    disk_usage=disk or (lambda: (0, 1)),
                    sweep=self.runs % self.sweep_every == 0,
                    cloud=self.container.cloud_blobs,  # edge buffering: local copies the cloud holds go sooner
                )
        except Exception as exc:  # a failed run must not end the schedule; the run row records it
            log.error("retention run failed; next try at the next interval", error=str(exc))
            return None
