"""Clip retention: delete event clips and snapshots once nobody needs them, keep evidence longer.

The policy, per camera through the configuration service (system → customer → site → camera):
- an event still being worked (NEW, ACKNOWLEDGED) keeps its clip, however old — an operator has
  not decided about it yet;
- an event tagged `evidence` keeps it until the tag is removed (a legal hold, set by operators);
- an event escalated to a ticket, or tagged `critical`, keeps it `retention.evidence_days` (365)
  after it occurred;
- every other event (resolved, false positive) keeps it `retention.event_days` (90).

The event row stays: its clip and snapshot keys are cleared and `clip_error` says when and why the
clip went, so the API shows no clip URL and a reason instead. Like recording retention, rows are
committed before blobs are deleted: a crash in between leaves blobs nothing points at, which
`sweep_orphan_clips` removes, never a row pointing at a missing file.

The pass does not stamp `updated_at`: that would push months-old events to every live console.

>>> report = await apply_clip_retention(uow=uow, blobs=blobs, now=utcnow(),
...                                     policy_for_camera=clip_policy(uow=uow, config_cache=cache))
>>> report.deleted, report.kept_open, report.kept_evidence
(1204, 3, 17)
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select

from vms.config.cache import ConfigCache
from vms.config.service import placed_camera_config
from vms.events.models import Event, EventStatus
from vms.kernel.clock import as_utc
from vms.ports import BlobStore
from vms.uow import UnitOfWork

log = structlog.get_logger(__name__)
BATCH = 500
CLIP_RETENTION_KEYS = ("retention.event_days", "retention.evidence_days")
OPEN = frozenset({EventStatus.NEW.value, EventStatus.ACKNOWLEDGED.value})
EVIDENCE_TAG = "evidence"  # kept until removed
LONGER_TAGS = frozenset({"critical"})  # kept evidence_days
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
CLIP_KEY = re.compile(rf"^(?P<tenant>{_UUID})/clips/(?P<event>{_UUID})\.(mp4|jpg)$")  # events.clips.clip_key


@dataclass(frozen=True, slots=True)
class ClipRetentionPolicy:
    """A camera's effective clip retention."""

    event_days: int
    evidence_days: int


PolicyForCamera = Callable[[uuid.UUID, uuid.UUID], Awaitable[ClipRetentionPolicy]]  # (tenant_id, camera_id)


@dataclass(slots=True)
class ClipRetentionReport:
    """What one pass did."""

    deleted: int = 0  # events whose clip and snapshot were deleted
    kept_open: int = 0  # past retention, kept because the event is still being worked
    kept_evidence: int = 0  # past event_days, kept as evidence (tag or ticket)
    orphans_swept: int = 0
    deleted_keys: list[str] = field(default_factory=list)


def clip_expiry(
    *, status: str, tags: list[str], escalated: bool, occurred_at: datetime, policy: ClipRetentionPolicy
) -> datetime | None:
    """When an event's clip may go; None while it must stay (open event, evidence hold)."""
    if status in OPEN or EVIDENCE_TAG in tags:
        return None
    return as_utc(occurred_at) + timedelta(days=kept_days(tags=tags, escalated=escalated, policy=policy)[0])


def kept_days(*, tags: list[str], escalated: bool, policy: ClipRetentionPolicy) -> tuple[int, str]:
    """How many days a closed event's clip is kept, and the parameter that says so."""
    if escalated or LONGER_TAGS & set(tags):
        return policy.evidence_days, "retention.evidence_days"
    return policy.event_days, "retention.event_days"


def clip_policy(*, uow: UnitOfWork, config_cache: ConfigCache) -> PolicyForCamera:
    """Policies from the configuration service, resolved once per camera per pass."""
    found: dict[uuid.UUID, ClipRetentionPolicy] = {}

    async def policy(tenant_id: uuid.UUID, camera_id: uuid.UUID) -> ClipRetentionPolicy:
        if camera_id not in found:
            values = await placed_camera_config(
                uow=uow,
                config_cache=config_cache,
                tenant_id=tenant_id,
                camera_id=camera_id,
                keys=CLIP_RETENTION_KEYS,
            )
            found[camera_id] = ClipRetentionPolicy(
                event_days=int(values["retention.event_days"].value),
                evidence_days=int(values["retention.evidence_days"].value),
            )
        return found[camera_id]

    return policy


async def apply_clip_retention(
    *,
    uow: UnitOfWork,
    blobs: BlobStore,
    now: datetime,
    policy_for_camera: PolicyForCamera,
    sweep: bool = False,
) -> ClipRetentionReport:
    """One pass over every clip `uow` can see (platform scope: all customers); owns its transactions.

    Only events older than their camera's `event_days` are read, so the pass costs what is due, not
    what is stored. With `sweep`, clip blobs no event points at are removed too.
    """
    report = ClipRetentionReport()
    with_media = (Event.clip_key.is_not(None)) | (Event.snapshot_key.is_not(None))
    cameras = (await uow.session.execute(select(Event.tenant_id, Event.camera_id).where(with_media).distinct())).all()
    for tenant_id, camera_id in cameras:
        policy = await policy_for_camera(tenant_id, camera_id)
        cutoff = now - timedelta(days=policy.event_days)
        after: tuple[datetime, uuid.UUID] | None = None
        while True:
            stmt = (
                select(Event)
                .where(Event.tenant_id == tenant_id, Event.camera_id == camera_id, Event.occurred_at <= cutoff)
                .where(with_media)
                .order_by(Event.occurred_at, Event.id)
                .limit(BATCH)
            )
            if after is not None:
                stmt = stmt.where(
                    (Event.occurred_at > after[0]) | ((Event.occurred_at == after[0]) & (Event.id > after[1]))
                )
            batch = list((await uow.session.execute(stmt)).scalars())
            if not batch:
                break
            after = (batch[-1].occurred_at, batch[-1].id)
            await _expire(uow, blobs, batch, policy, now, report)
    if sweep:
        report.orphans_swept = len(await sweep_orphan_clips(uow=uow, blobs=blobs, now=now))
    if report.deleted or report.orphans_swept:
        log.info("clip retention done", deleted=report.deleted, orphans_swept=report.orphans_swept)
    return report


async def _expire(
    uow: UnitOfWork,
    blobs: BlobStore,
    events: list[Event],
    policy: ClipRetentionPolicy,
    now: datetime,
    report: ClipRetentionReport,
) -> None:
    keys: list[str] = []
    for event in events:
        escalated = bool(event.attributes.get("ticketId"))
        expiry = clip_expiry(
            status=event.status, tags=event.tags, escalated=escalated, occurred_at=event.occurred_at, policy=policy
        )
        if expiry is None or expiry > now:
            report.kept_open += event.status in OPEN
            report.kept_evidence += event.status not in OPEN
            continue
        days, setting = kept_days(tags=event.tags, escalated=escalated, policy=policy)
        keys += [k for k in (event.clip_key, event.snapshot_key) if k]
        event.clip_key = event.snapshot_key = None
        event.clip_error = f"Clip deleted on {now:%Y-%m-%d} by retention: kept {days} days after the event ({setting})."
        report.deleted += 1
    await uow.commit()  # rows first: a crash now leaves orphan blobs for the sweep, not dangling rows
    if keys:
        await blobs.delete(*keys)
        report.deleted_keys += keys


async def sweep_orphan_clips(*, uow: UnitOfWork, blobs: BlobStore, now: datetime) -> list[str]:
    """Delete clip and snapshot blobs no event points at (a crash between commit and deletion, or a
    deleted event); blobs of events from the last day are left alone — their clip may be being cut."""
    prefix = f"{uow.tenant_id}/" if uow.tenant_id is not None else ""
    by_event: dict[uuid.UUID, list[str]] = {}
    for key in await blobs.list(prefix):
        match = CLIP_KEY.match(key)
        if match is not None:
            by_event.setdefault(uuid.UUID(match["event"]), []).append(key)
    orphans: list[str] = []
    ids = list(by_event)
    for i in range(0, len(ids), BATCH):
        chunk = ids[i : i + BATCH]
        rows = await uow.session.execute(
            select(Event.id, Event.occurred_at, Event.clip_key, Event.snapshot_key).where(Event.id.in_(chunk))
        )
        known = {row.id: row for row in rows}
        for event_id in chunk:
            row = known.get(event_id)
            if row is not None and as_utc(row.occurred_at) > now - timedelta(days=1):
                continue
            referenced = {row.clip_key, row.snapshot_key} if row is not None else set()
            orphans += [key for key in by_event[event_id] if key not in referenced]
    if orphans:
        await blobs.delete(*orphans)
    return orphans
