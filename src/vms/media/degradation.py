"""Runtime degradation: a camera stream that no longer meets an enabled model's requirements.

Compatibility is checked when a camera is added (cameras.compatibility), but cameras change: an
installer lowers the bitrate to save bandwidth, a firmware update resets the resolution, a busy
encoder drops frames. The ingest role measures every closed segment (resolution, bitrate, frame
rate) and compares the stream each enabled model runs on with that model's requirements
(`models.<key>.min_height`, `models.<key>.min_bitrate_kbps`, and the frame rate the models see,
`video.normalize.fps`). A shortfall becomes a warning naming the model and the gap — "fps 8 < 15
required by fallen" — kept in `camera_warnings` (API: media.warnings_api) and counted in the gauge
`vms_cameras_degraded{model,requirement}`; it is cleared when the stream recovers.

Judged on a window of recent segments, not one segment, so a warning neither flickers nor fires on a
blip: resolution on the latest segment (a resolution change is definite), frame rate on the median
(one stalled segment is not a slower camera), bitrate on the window's peak — a VBR camera watching a
still scene legitimately sends far less than its configured rate, and only a stream that never
reaches the requirement within the window has really been turned down.

>>> monitor = StreamMonitor()
>>> for info in segments: monitor.add(StreamSample.of(info))
>>> monitor.shortfalls({AiModel.FALLEN: ModelNeeds(min_height=480, min_bitrate_kbps=1000, min_fps=15)})
[Shortfall(model=<AiModel.FALLEN: 'fallen'>, requirement=<Requirement.FPS: 'fps'>, measured=8.0, required=15.0)]
"""

from __future__ import annotations

import statistics
import uuid
import weakref
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import select

from vms.kernel.ai_models import AiModel
from vms.media.models import CameraWarning
from vms.media.segmenter import SegmentInfo
from vms.uow import UnitOfWork

WINDOW = 6  # segments judged together (30 s of 5 s segments)
MIN_SAMPLES = 3  # no verdict before this many segments: a fresh connection is not yet representative
FPS_TOLERANCE = 0.05  # 14.3 fps for 15 is measurement noise (timestamps, a dropped frame), not a shortfall


class Requirement(StrEnum):
    """What a stream can fall short of."""

    RESOLUTION = "resolution"
    BITRATE = "bitrate"
    FPS = "fps"


@dataclass(frozen=True, slots=True)
class ModelNeeds:
    """What one model needs from the stream it runs on."""

    min_height: int  # short side of the frame, as compatibility judges it (1080 for 1920×1080)
    min_bitrate_kbps: float
    min_fps: float


@dataclass(frozen=True, slots=True)
class Shortfall:
    """One model's unmet requirement."""

    model: AiModel
    requirement: Requirement
    measured: float
    required: float

    @property
    def message(self) -> str:
        """`fps 8 < 15 required by fallen`."""
        m, r, who = self.measured, self.required, self.model.value
        if self.requirement is Requirement.RESOLUTION:
            return f"resolution {m:.0f}p < {r:.0f}p required by {who}"
        if self.requirement is Requirement.BITRATE:
            return f"bitrate {m:.0f} kbps < {r:.0f} kbps required by {who}"
        return f"fps {m:.3g} < {r:.3g} required by {who}"


@dataclass(frozen=True, slots=True)
class StreamSample:
    """What one closed segment says about its stream."""

    lines: int
    bitrate_kbps: float
    fps: float

    @classmethod
    def of(cls, info: SegmentInfo) -> StreamSample:
        """Measure a closed segment."""
        fps = info.frames / info.duration_s if info.duration_s > 0 else 0.0
        return cls(lines=min(info.width, info.height), bitrate_kbps=info.bitrate_kbps, fps=fps)


@dataclass
class StreamMonitor:
    """The recent segments of one camera stream, judged against model requirements."""

    window: int = WINDOW
    min_samples: int = MIN_SAMPLES
    samples: deque[StreamSample] = field(default_factory=deque)

    def add(self, sample: StreamSample) -> None:
        """Take one more segment's measurements (the oldest leaves the window)."""
        self.samples.append(sample)
        while len(self.samples) > self.window:
            self.samples.popleft()

    @property
    def ready(self) -> bool:
        """Whether there are enough segments for a verdict."""
        return len(self.samples) >= self.min_samples

    def shortfalls(self, needs: Mapping[AiModel, ModelNeeds]) -> list[Shortfall]:
        """Every unmet requirement of the given models (empty when not `ready`)."""
        if not self.ready:
            return []
        lines = self.samples[-1].lines
        peak = max(s.bitrate_kbps for s in self.samples)
        fps = statistics.median(s.fps for s in self.samples)
        found = []
        for model, need in needs.items():
            if lines < need.min_height:
                found.append(Shortfall(model, Requirement.RESOLUTION, lines, need.min_height))
            if peak < need.min_bitrate_kbps:
                found.append(Shortfall(model, Requirement.BITRATE, round(peak, 1), need.min_bitrate_kbps))
            if fps < need.min_fps * (1 - FPS_TOLERANCE):
                found.append(Shortfall(model, Requirement.FPS, round(fps, 2), need.min_fps))
        return found


@dataclass(frozen=True, slots=True)
class WarningChanges:
    """What one sync did."""

    raised: list[CameraWarning]
    cleared: list[CameraWarning]


async def sync_warnings(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    camera_id: uuid.UUID,
    stream: str,
    shortfalls: Sequence[Shortfall],
    judged: Collection[AiModel],
    now: datetime,
) -> WarningChanges:
    """Make the camera's active warnings of the `judged` models match `shortfalls`: raise new ones,
    refresh the measurement of standing ones, clear those whose stream recovered (or whose model was
    switched off — pass it in `judged` with no shortfall). Warnings of other models are left alone."""
    rows = await uow.session.execute(
        select(CameraWarning).where(CameraWarning.camera_id == camera_id, CameraWarning.cleared_at.is_(None))
    )
    active = {(AiModel(w.model), w.requirement): w for w in rows.scalars()}
    raised = []
    for gap in shortfalls:
        standing = active.pop((gap.model, gap.requirement.value), None)
        if standing is not None:
            if standing.message != gap.message:
                standing.measured, standing.message, standing.updated_at = gap.measured, gap.message, now
                standing.stream = stream
            continue
        warning = CameraWarning(
            tenant_id=tenant_id,
            camera_id=camera_id,
            stream=stream,
            model=gap.model.value,
            requirement=gap.requirement.value,
            measured=gap.measured,
            required=gap.required,
            message=gap.message,
            raised_at=now,
            updated_at=now,
        )
        uow.add(warning)
        raised.append(warning)
    cleared = []
    for (model, _), warning in active.items():
        if model in judged:
            warning.cleared_at = warning.updated_at = now
            cleared.append(warning)
    await uow.flush()
    return WarningChanges(raised, cleared)


async def list_warnings(
    *, uow: UnitOfWork, camera_id: uuid.UUID | None, active_only: bool, model: AiModel | None, limit: int, offset: int
) -> tuple[list[CameraWarning], int]:
    """Warnings of the tenant (or one camera), newest first."""
    stmt = select(CameraWarning).order_by(CameraWarning.raised_at.desc(), CameraWarning.id)
    if camera_id is not None:
        stmt = stmt.where(CameraWarning.camera_id == camera_id)
    if active_only:
        stmt = stmt.where(CameraWarning.cleared_at.is_(None))
    if model is not None:
        stmt = stmt.where(CameraWarning.model == model.value)
    return await uow.page(stmt, limit=limit, offset=offset)


# --- the gauge ----------------------------------------------------------------------------------

_GAUGES: weakref.WeakKeyDictionary[CollectorRegistry, Gauge] = weakref.WeakKeyDictionary()


def degraded_gauge(registry: CollectorRegistry) -> Gauge:
    """`vms_cameras_degraded{model,requirement}` on a process's registry (made once per registry).

    Labels are bounded on purpose — 10 models × 3 requirements = 30 series — never a camera id:
    6,000 cameras × 10 models would be 60,000 series, most of them zero. Which cameras are degraded
    is what the API answers (GET /api/v1/camera-warnings).
    """
    gauge = _GAUGES.get(registry)
    if gauge is None:
        gauge = Gauge(
            "vms_cameras_degraded",
            "Cameras whose stream falls short of an enabled model's requirement (ingest measurements).",
            ["model", "requirement"],
            registry=registry,
        )
        for model in AiModel:
            for requirement in Requirement:
                gauge.labels(model.value, requirement.value).set(0)
        _GAUGES[registry] = gauge
    return gauge


def publish_counts(gauge: Gauge, degraded: Mapping[uuid.UUID, Collection[tuple[AiModel, Requirement]]]) -> None:
    """Set the gauge from each camera's current shortfalls (every series, zeros included)."""
    counts = {(m, r): 0 for m in AiModel for r in Requirement}
    for keys in degraded.values():
        for key in set(keys):
            counts[key] += 1
    for (model, requirement), count in counts.items():
        gauge.labels(model.value, requirement.value).set(count)
