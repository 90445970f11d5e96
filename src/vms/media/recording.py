"""Recording modes: which segments are kept beyond the rolling buffer.

Segments are always cut and indexed — AI jobs, live HLS and event clips need them whatever the
mode. The mode (`recording.mode`, media.modes) only decides what is *kept*: a kept segment follows
`retention.days`; any other segment is deleted by retention once it is older than
`recording.buffer_minutes` (unless a hold protects it). One code path for every mode, and the buffer
gives the pre-roll for free: when motion or an event is seen, the video before it is still there.

Where each decision is recorded, and why:
- continuous, schedule and motion are known from the segment itself (its time, its pixels), so the
  decision goes on the segment row (`Segment.kept_by`, e.g. "schedule+motion"), made when the segment
  is indexed under the mode in force then. Changing the mode later never deletes what was recorded.
  Motion's pre-roll marks the already-indexed segments of [motion − pre_s, motion) after the fact;
  its post-roll marks segments that start before motion + post_s as they close.
- events are known only after the AI pipeline (seconds later) and have a life of their own (open,
  extended, closed), so they become event holds (`recording_holds`, reason `event`) of
  [event − pre_s, event end + post_s]: a hold covers time, including segments not cut yet, and
  released at the event's close it keeps the video for `retention.event_days` (event-type retention).
  `off` keeps nothing (live, AI jobs and event clips still work from the buffer).

>>> policy = RecordingPolicy(modes=parse_modes("schedule+motion"), schedule=office_hours)
>>> keep_reasons(policy, start=seg.started_at, end=seg.ended_at, motion_until=None)
'schedule'
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select

from vms.cameras.hierarchy import camera_sites
from vms.config.cache import ConfigCache
from vms.config.registry import PARAMETERS
from vms.config.resolve import Resolved
from vms.config.service import cameras_config, placed_camera_config
from vms.media import retention
from vms.media.models import HoldReason, RecordingHold, Segment
from vms.media.modes import ORDER, RecordingMode, parse_modes
from vms.media.motion import MotionDetector, MotionResult, MotionSettings
from vms.media.schedule import RecordingSchedule
from vms.uow import UnitOfWork

log = structlog.get_logger(__name__)
RECORDING_KEYS = (
    "recording.mode",
    "recording.pre_s",
    "recording.post_s",
    "recording.buffer_minutes",
    "recording.schedule",
    "recording.motion.sensitivity",
    "recording.motion.min_area",
    "recording.motion.fps",
)


@dataclass(frozen=True, slots=True)
class RecordingPolicy:
    """A camera's effective recording settings."""

    modes: frozenset[RecordingMode] = frozenset({RecordingMode.CONTINUOUS})
    pre_s: float = 10.0
    post_s: float = 10.0
    buffer_minutes: float = 15.0
    schedule: RecordingSchedule | None = None
    motion: MotionSettings = field(default_factory=MotionSettings)

    @classmethod
    def from_config(cls, values: Mapping[str, Resolved]) -> RecordingPolicy:
        """From a camera's resolved configuration values (`RECORDING_KEYS`)."""

        def value(key: str) -> object:
            return PARAMETERS[key].parse(values[key].value)

        schedule = value("recording.schedule")
        return cls(
            modes=parse_modes(str(values["recording.mode"].value)),
            pre_s=float(values["recording.pre_s"].value),
            post_s=float(values["recording.post_s"].value),
            buffer_minutes=float(values["recording.buffer_minutes"].value),
            schedule=schedule if isinstance(schedule, RecordingSchedule) else None,
            motion=MotionSettings(
                sensitivity=float(values["recording.motion.sensitivity"].value),
                min_area=float(values["recording.motion.min_area"].value),
                fps=float(values["recording.motion.fps"].value),
            ),
        )


async def recording_policy(
    *, uow: UnitOfWork, config_cache: ConfigCache, tenant_id: uuid.UUID, camera_id: uuid.UUID
) -> RecordingPolicy:
    """One camera's policy, resolved system → customer → site → camera."""
    values = await placed_camera_config(
        uow=uow,
        config_cache=config_cache,
        tenant_id=tenant_id,
        camera_id=camera_id,
        keys=RECORDING_KEYS,
    )
    return RecordingPolicy.from_config(values)


async def recording_policies(
    *, uow: UnitOfWork, config_cache: ConfigCache, tenant_id: uuid.UUID, camera_ids: list[uuid.UUID]
) -> dict[uuid.UUID, RecordingPolicy]:
    """Many cameras of one customer at once (shared layers read once)."""
    sites = await camera_sites(uow=uow, camera_ids=camera_ids)
    values = await cameras_config(
        uow=uow, config_cache=config_cache, tenant_id=tenant_id, cameras={c: sites.get(c) for c in camera_ids}
    )
    return {camera: RecordingPolicy.from_config(found) for camera, found in values.items()}


def merge_reasons(kept_by: str | None, *reasons: str) -> str | None:
    """`kept_by` with `reasons` added, in canonical order ("continuous+schedule+motion")."""
    have = set(kept_by.split("+")) if kept_by else set()
    have.update(reasons)
    return "+".join(m.value for m in ORDER if m.value in have) or None


def keep_reasons(
    policy: RecordingPolicy, *, start: datetime, end: datetime, motion_until: datetime | None
) -> str | None:
    """Why a segment of [start, end) is kept, decided when it is indexed; None: buffer only."""
    reasons = []
    if RecordingMode.CONTINUOUS in policy.modes:
        reasons.append(RecordingMode.CONTINUOUS.value)
    if RecordingMode.SCHEDULE in policy.modes and policy.schedule and policy.schedule.active_during(start, end):
        reasons.append(RecordingMode.SCHEDULE.value)
    if RecordingMode.MOTION in policy.modes and motion_until is not None and start < motion_until:
        reasons.append(RecordingMode.MOTION.value)
    return merge_reasons(None, *reasons)


async def mark_kept(*, uow: UnitOfWork, camera_id: uuid.UUID, start: datetime, end: datetime, reason: str) -> int:
    """Add `reason` to every indexed segment (both streams) overlapping [start, end); how many changed."""
    rows = await uow.session.execute(
        select(Segment).where(Segment.camera_id == camera_id, Segment.started_at < end, Segment.ended_at > start)
    )
    changed = 0
    for segment in rows.scalars():
        merged = merge_reasons(segment.kept_by, reason)
        if merged != segment.kept_by:
            segment.kept_by = merged
            changed += 1
    await uow.flush()
    return changed


@dataclass
class CameraRecorder:
    """One camera's recording state in the ingest role: its policy and the motion it has seen.

    >>> recorder = CameraRecorder(policy)
    >>> kept_by = recorder.decide(info.started_at, info.ended_at)       # when a segment is indexed
    >>> window = recorder.saw(detector_result)                           # after motion analysis
    """

    policy: RecordingPolicy
    motion_until: datetime | None = None  # segments starting before this are kept for motion (post-roll)
    detector: MotionDetector | None = None

    def __post_init__(self) -> None:
        self.update(self.policy)

    @property
    def wants_motion(self) -> bool:
        """Whether segments must be analysed for motion."""
        return RecordingMode.MOTION in self.policy.modes

    def update(self, policy: RecordingPolicy) -> None:
        """Apply a changed policy (new motion settings start a fresh detector)."""
        if RecordingMode.MOTION not in policy.modes:
            self.detector = None
        elif self.detector is None or self.detector.settings != policy.motion:
            self.detector = MotionDetector(policy.motion)
        self.policy = policy

    def decide(self, start: datetime, end: datetime) -> str | None:
        """The keep decision for a segment being indexed."""
        return keep_reasons(self.policy, start=start, end=end, motion_until=self.motion_until)

    def saw(self, result: MotionResult) -> tuple[datetime, datetime] | None:
        """Record the motion of an analysed segment; the window to mark kept ([first − pre, last + post])."""
        if not result.motion or result.first_at is None or result.last_at is None:
            return None
        post = result.last_at + timedelta(seconds=self.policy.post_s)
        self.motion_until = max(self.motion_until or post, post)
        return result.first_at - timedelta(seconds=self.policy.pre_s), post


# --- events -----------------------------------------------------------------------------------


async def keep_for_event(
    *,
    uow: UnitOfWork,
    policy: RecordingPolicy,
    tenant_id: uuid.UUID,
    camera_id: uuid.UUID,
    event_id: str,
    occurred_at: datetime,
    ended_at: datetime | None,
    closed: bool,
    now: datetime,
) -> RecordingHold | None:
    """Keep [event − pre_s, event end + post_s] of a camera whose mode includes `events`, as an event hold.

    Idempotent per event (the hold's reference is the event id): an update extends the hold to the
    event's latest end, a close releases it (the video then stays `retention.event_days`). A camera
    whose mode lacks `events` gets no hold; one made before the mode changed still follows its event.
    """
    found = await uow.session.execute(
        select(RecordingHold).where(
            RecordingHold.camera_id == camera_id,
            RecordingHold.reason == HoldReason.EVENT.value,
            RecordingHold.reference_id == event_id,
        )
    )
    hold = found.scalars().first()
    end = (ended_at or occurred_at) + timedelta(seconds=policy.post_s)
    if hold is None:
        if RecordingMode.EVENTS not in policy.modes:
            return None
        hold = await retention.create_hold(
            uow=uow,
            tenant_id=tenant_id,
            camera_id=camera_id,
            start=occurred_at - timedelta(seconds=policy.pre_s),
            end=max(end, occurred_at + timedelta(seconds=1)),  # a hold must have a length
            reason=HoldReason.EVENT,
            reference_id=event_id,
        )
        log.info("recording.event_hold", camera_id=str(camera_id), event_id=event_id)
    elif end > hold.ends_at:
        hold.ends_at = end
        await uow.flush()
    if closed:
        await retention.release_hold(uow=uow, hold_id=hold.id, now=now)
    return hold
