"""Event clips: the 20 seconds around each event (10 s before, 10 s after) as an MP4, plus a snapshot.

An operator triaging an alarm wants to see what happened, not scrub a timeline. The clip is cut
from the stored segments by stream copy (no re-encode: cheap, and the evidence is bit-for-bit the
camera's), starting at the keyframe at or before `occurred_at − pre_s`, once the post-roll has been
recorded and indexed. Clips live in the blob store under the customer's prefix
(`<tenant>/clips/<event>.mp4`, `.jpg` beside it) and are served through signed URLs (events/api.py).

Runs in the events role: every few seconds it takes events whose post-roll should exist by now and
have no clip yet. An event whose recordings never arrive gets `clip_error` (after `give_up_s`), so
it is not retried for ever; a clip cut before every segment arrived is still better than none.
Setting the clip stamps `updated_at`, so live consoles get the clip URL pushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import structlog
from sqlalchemy import select

from vms.bootstrap import Container
from vms.events import feed
from vms.events.models import Event
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.errors import VmsError
from vms.kernel.ids import TenantId
from vms.kernel.tenancy import TenantScope
from vms.media import service as media
from vms.streaming.export import cut_stored
from vms.streaming.hls import segment_source, thumbnail_jpeg
from vms.uow import Actor

log = structlog.get_logger(__name__)
ACTOR = Actor.system("clips")


@dataclass(frozen=True, slots=True)
class ClipPolicy:
    """How clips are cut."""

    pre_s: float = 10.0  # recording before the event
    post_s: float = 10.0  # recording after it
    settle_s: float = 7.0  # after the post-roll: a segment (5 s) must close and be indexed
    give_up_s: float = 180.0  # after the event: cut what exists, or record that nothing does
    stream: str = "main"  # evidence at full resolution
    batch: int = 20  # events per pass


def clip_key(event: Event) -> str:
    """Where an event's clip is stored (the snapshot sits beside it as .jpg)."""
    return f"{event.tenant_id}/clips/{event.id}.mp4"


def snapshot_key(event: Event) -> str:
    """Where an event's snapshot is stored."""
    return f"{event.tenant_id}/clips/{event.id}.jpg"


class ClipMaker:
    """Cuts the clips that are due, a batch per pass."""

    def __init__(self, container: Container, *, policy: ClipPolicy | None = None, every_s: float = 2.0) -> None:
        self.container = container
        self.policy = policy or ClipPolicy()
        self.every_s = every_s
        self.made = 0
        self.failed = 0

    async def run(self) -> None:
        """Make due clips until cancelled."""
        while True:
            try:
                await self.make_due()
            except Exception as exc:  # one bad pass must not end clip making
                log.error("making clips failed", error=str(exc))
            await asyncio.sleep(self.every_s)

    async def make_due(self, *, now: datetime | None = None) -> int:
        """One pass: cut the clips whose post-roll has been recorded; returns how many were settled."""
        now = now or utcnow()
        policy = self.policy
        ripe = now - timedelta(seconds=policy.post_s + policy.settle_s)
        async with self.container.unit_of_work(TenantScope.platform(), ACTOR) as uow:
            rows = await uow.session.execute(
                select(Event.id, Event.tenant_id)
                .where(Event.clip_key.is_(None), Event.clip_error.is_(None), Event.occurred_at <= ripe)
                .where(Event.occurred_at >= now - timedelta(days=1))  # older ones were before clips existed
                .order_by(Event.occurred_at)
                .limit(policy.batch)
            )
            due = [(event_id, tenant_id) for event_id, tenant_id in rows.all()]
        settled = 0
        for event_id, tenant_id in due:
            settled += await self._make(event_id, TenantId(tenant_id), now)
        return settled

    async def _make(self, event_id: uuid.UUID, tenant_id: TenantId, now: datetime) -> int:
        policy = self.policy
        scope = TenantScope.of(tenant_id)
        async with self.container.unit_of_work(scope, ACTOR) as uow:
            event = await uow.get(Event, event_id, what="Event")
            at = as_utc(event.occurred_at)
            start, end = at - timedelta(seconds=policy.pre_s), at + timedelta(seconds=policy.post_s)
            segments = await media.segments_between(
                uow=uow, camera_id=event.camera_id, start=start, end=end, stream=policy.stream
            )
            late = now >= at + timedelta(seconds=policy.give_up_s)
            complete = bool(segments) and as_utc(segments[-1].ended_at) >= end
            if not complete and not late:
                return 0  # the post-roll is still being recorded or indexed
            if not segments:
                event.clip_error = "No recording covers the event (camera offline or not recording)."
                event.updated_at = utcnow()
                await uow.commit()
                self.failed += 1
                feed.changed(tenant_id)
                return 1
            sources = [(s.blob_key, as_utc(s.started_at)) for s in segments]
            shown = next((i for i, s in enumerate(segments) if as_utc(s.ended_at) > at), len(segments) - 1)
            key_mp4, key_jpg = clip_key(event), snapshot_key(event)
        try:
            await self._cut(sources, start, end, key_mp4)
            snapshot = await self._snapshot(*sources[shown], at, key_jpg)
        except VmsError as exc:
            async with self.container.unit_of_work(scope, ACTOR) as uow:
                event = await uow.get(Event, event_id, what="Event")
                event.clip_error, event.updated_at = exc.detail[:400], utcnow()
                await uow.commit()
            self.failed += 1
            log.warning("clip failed", event_id=str(event_id), error=exc.detail)
            feed.changed(tenant_id)
            return 1
        async with self.container.unit_of_work(scope, ACTOR) as uow:
            event = await uow.get(Event, event_id, what="Event")
            event.clip_key, event.snapshot_key, event.updated_at = key_mp4, snapshot, utcnow()
            await uow.commit()
        self.made += 1
        feed.changed(tenant_id)
        return 1

    async def _cut(self, sources: list[tuple[str, datetime]], start: datetime, end: datetime, key: str) -> None:
        with tempfile.TemporaryDirectory(prefix="vms-clip-") as tmp:
            out = Path(tmp) / "clip.mp4"
            await cut_stored(self.container.blobs, sources, start=start, end=end, out_path=out)
            await self.container.blobs.put_file(key, out, move=True)

    async def _snapshot(self, segment_key: str, started_at: datetime, at: datetime, key: str) -> str | None:
        """The frame at the event's moment as a JPEG; a clip without a snapshot is still a clip."""
        with contextlib.suppress(VmsError):
            source = await segment_source(self.container.blobs, segment_key)
            jpeg = await asyncio.to_thread(thumbnail_jpeg, source, started_at=started_at, at=at, max_width=640)
            await self.container.blobs.put(key, jpeg)
            return key
        return None
