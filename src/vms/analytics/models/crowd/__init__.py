"""Crowd detection: more people in a zone than allowed, for longer than allowed.

The count in a frame is the number of people the shared person detector finds standing in the
zone (foot point inside). Detectors undercount dense groups, where people hide each other, so a
density estimate backs it up: a per-camera MOG2 background model (fed every frame, across
segments) gives the moving foreground inside the zone, and

    estimate = foreground area / (typical person box area × silhouette fill)

where the typical box area is the median of this frame's detected boxes (their size already
reflects the camera's perspective) or `person_area` when there are none, and a silhouette fills
about half its box. The count is the larger of the two; the estimate is trusted only once the
background model has seen `warmup_frames` frames. Static crowds blend into the background and
are then counted by the detector alone: the fallback only ever raises the count.

The alarm state is per camera and spans segments; a dip under the threshold shorter than
`dip_tolerance_s` (a missed detection) does not restart the duration: a Detection (object class "crowd", the zone's
bounding box, attributes {"count", "detected", "estimated"}) is emitted once per segment at the
first frame where the count has exceeded `max_people` for `min_duration_s`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from vms.analytics.detect.persons import PersonDetector, PersonDetectorOptions, Tiles
from vms.analytics.detect.zones import Polygon, PolygonOrWhole, zone_of
from vms.analytics.plugin import AnalyticsModel, Detection, ModelConfig, continues, register
from vms.kernel.ai_models import AiModel
from vms.media.normalize import NormalizedClip

_WORK_SIZE = (160, 120)  # foreground is measured at this size: areas, not edges, matter here


class CrowdConfig(ModelConfig, PersonDetectorOptions):
    """Settings of crowd detection."""

    type: Literal["crowd"] = "crowd"
    confidence_threshold: float = Field(0.4, ge=0.0, le=1.0, description="People scored below this are ignored.")
    zone: PolygonOrWhole = Field(
        default_factory=list,
        max_length=64,
        description="Watched polygon (x, y in frame fractions 0..1). Empty means the whole frame.",
    )
    max_people: int = Field(10, ge=0, le=10_000, description="More people than this in the zone is a crowd.")
    min_duration_s: float = Field(
        3.0, ge=0.0, le=3600.0, description="How long the count must stay above max_people before reporting."
    )
    dip_tolerance_s: float = Field(
        1.0,
        ge=0.0,
        le=60.0,
        description="A count back at or under max_people for up to this long does not restart the duration "
        "(detectors miss people in single frames).",
    )
    detect_every: int = Field(5, ge=1, le=60, description="Count people on every k-th frame.")
    # A count is only as good as the detector's recall on small, far people: on vtest, tiles=3 finds
    # 0.89 of the annotated people against 0.54 whole-frame (docs/analytics.md). The ~8× detector
    # cost is paid on every `detect_every`-th frame only.
    tiles: Tiles = Field(
        3,
        description="Also run the person detector on n×n overlapping magnified tiles of each counted frame "
        "(1: whole frame only; 2: +4 tiles; 3: +9 tiles); more finds more far people at more CPU.",
    )
    density_fallback: bool = Field(
        True, description="Raise the count from the moving-foreground area when detections look too few."
    )
    person_area: float = Field(
        0.01, gt=0.0, le=1.0, description="Typical person box as a share of the frame, when none is detected."
    )
    silhouette_fill: float = Field(
        0.5, gt=0.05, le=1.0, description="Share of a person's box their moving silhouette covers."
    )
    warmup_frames: int = Field(
        15, ge=0, le=1000, description="Frames the background model needs before the density estimate is used."
    )
    gap_reset_s: float = Field(
        30.0, ge=1.0, le=3600.0, description="A gap between segments longer than this restarts the camera's state."
    )


@dataclass
class _CameraState:
    background: cv2.BackgroundSubtractorMOG2
    frames_seen: int = 0
    over_since: datetime | None = None
    under_since: datetime | None = None
    last_time: datetime | None = None


@register
class Crowd(AnalyticsModel[CrowdConfig]):
    """Too many people in a zone for too long."""

    key = AiModel.CROWD
    config_type = CrowdConfig

    def __init__(self, config: CrowdConfig | None = None) -> None:
        super().__init__(config)
        self.detector = self.config.build_detector(min_score=self.config.confidence_threshold)
        self._cameras: dict[uuid.UUID, _CameraState] = {}
        self._mask = self._zone_mask(self.config.zone)

    @staticmethod
    def _zone_mask(zone: Polygon) -> np.ndarray:
        width, height = _WORK_SIZE
        if not zone:
            return np.full((height, width), 255, np.uint8)
        mask = np.zeros((height, width), np.uint8)
        points = np.round(np.asarray(zone, np.float32) * [width, height]).astype(np.int32)
        cv2.fillPoly(mask, [points], 255)
        return mask

    @property
    def backend(self) -> str:
        return self.detector.backend if isinstance(self.detector, PersonDetector) else "onnx"

    def _state(self, camera_id: uuid.UUID, first: datetime) -> _CameraState:
        state = self._cameras.get(camera_id)
        if state is None or not continues(state.last_time, first, gap_reset_s=self.config.gap_reset_s):
            subtractor = cv2.createBackgroundSubtractorMOG2(history=300, varThreshold=16, detectShadows=True)
            state = _CameraState(subtractor)
            self._cameras[camera_id] = state
        return state

    def analyze(self, clip: NormalizedClip, *, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        if len(clip) == 0:
            return []
        with self.camera_lock(camera_id):  # one camera's state is updated by one thread at a time
            return self._analyze(clip, camera_id, segment_sequence)

    def _analyze(self, clip: NormalizedClip, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        cfg = self.config
        state = self._state(camera_id, clip.timestamps[0])
        steps = set(range(0, len(clip), cfg.detect_every))
        ordered = sorted(steps)
        found = dict(zip(ordered, self.detector.detect(clip.frames[ordered]), strict=True))
        frame_pixels = _WORK_SIZE[0] * _WORK_SIZE[1]
        out: list[Detection] = []
        for index in range(len(clip)):
            small = cv2.resize(clip.frames[index], _WORK_SIZE, interpolation=cv2.INTER_AREA)
            foreground = state.background.apply(small)
            state.frames_seen += 1
            if index not in steps:
                continue
            at = clip.timestamps[index]
            zones = [cfg.zone] if cfg.zone else []
            people = [b for b in found[index] if b.label == "person" and zone_of(b.foot, zones) is not None]
            detected = len(people)
            estimated = 0.0
            if cfg.density_fallback and state.frames_seen > cfg.warmup_frames:
                # 255 = foreground; MOG2 marks shadows 127, which are not people.
                moving = np.count_nonzero((foreground == 255) & (self._mask > 0)) / frame_pixels
                typical = float(np.median([b.w * b.h for b in people])) if people else cfg.person_area
                estimated = moving / (typical * cfg.silhouette_fill)
            count = max(detected, int(estimated))
            if count <= cfg.max_people:
                state.under_since = state.under_since or at
                if (at - state.under_since).total_seconds() > cfg.dip_tolerance_s:
                    state.over_since = None
                continue
            state.under_since = None
            state.over_since = state.over_since or at
            if (at - state.over_since).total_seconds() >= cfg.min_duration_s and not out:
                out.append(self._detection(count, detected, estimated, camera_id, segment_sequence, at))
        state.last_time = clip.timestamps[-1]
        return out

    def _detection(
        self, count: int, detected: int, estimated: float, camera_id: uuid.UUID, sequence: int, at: datetime
    ) -> Detection:
        zone = np.asarray(self.config.zone or [(0.0, 0.0), (1.0, 1.0)], np.float32)
        x1, y1 = (float(v) for v in zone.min(axis=0))
        x2, y2 = (float(v) for v in zone.max(axis=0))
        return Detection(
            model=self.key,
            camera_id=camera_id,
            segment_sequence=sequence,
            frame_time=at,
            box=(x1, y1, x2 - x1, y2 - y1),
            object_class="crowd",
            score=min(1.0, count / max(1, self.config.max_people + 1)),
            attributes={"count": count, "detected": detected, "estimated": round(float(estimated), 2)},
        )
