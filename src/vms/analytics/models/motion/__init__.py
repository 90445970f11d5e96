"""Advanced motion detection: background subtraction that ignores lighting changes and foliage.

Per camera a MOG2 background model (shadows detected and dropped) is fed every frame in order,
segment after segment. A frame whose brightness jumps, or whose foreground suddenly covers most
of the picture, is a lighting change: the background is re-learnt and nothing is reported.
Blobs are merged, filtered by area and zones, and tracked; a track is reported only once it has
persisted for some frames *and* moved on (the mean of its latest positions is away from the mean
of its first ones, and that is most of its excursion), so leaves and flags swaying in place do
not fire. Overlapping segments are handled by skipping frames already seen.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

import cv2
import numpy as np
from pydantic import Field

from vms.analytics.plugin import AnalyticsModel, Detection, ModelConfig, register
from vms.kernel.ai_models import AiModel
from vms.media.normalize import NormalizedClip

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Polygon = Annotated[list[tuple[Share, Share]], Field(min_length=3, max_length=64)]
Box = tuple[float, float, float, float]  # x, y, width, height as fractions of the frame
_Blob = tuple[Box, tuple[float, float], float]  # box, centroid, area share

_WORK_WIDTH = 320  # background subtraction runs at this width; plenty for motion, 4× cheaper


class MotionConfig(ModelConfig):
    """Settings of advanced motion detection."""

    type: Literal["motion"] = "motion"
    min_area: float = Field(
        0.001, ge=0.0, le=1.0, description="Smallest moving region reported, as a share of the frame."
    )
    zones: list[Polygon] = Field(
        default_factory=list,
        max_length=32,
        description="Polygons (x, y in frame fractions 0..1); only motion centred inside one is reported. "
        "Empty means the whole frame.",
    )
    sensitivity: float = Field(
        16.0, ge=4.0, le=100.0, description="MOG2 variance threshold: lower finds fainter motion."
    )
    history_frames: int = Field(300, ge=10, le=5000, description="Frames the background model remembers.")
    illumination_jump: float = Field(
        0.12, ge=0.01, le=1.0, description="Relative change of mean brightness in one frame treated as lighting."
    )
    max_foreground_share: float = Field(
        0.45, ge=0.05, le=1.0, description="Foreground share of the frame above which a frame is a lighting change."
    )
    relearn_frames: int = Field(
        5, ge=0, le=300, description="Frames after a lighting change or a restart during which nothing is reported."
    )
    min_persistence_frames: int = Field(
        4, ge=1, le=300, description="Frames a region must persist before it is reported (foliage suppression)."
    )
    min_displacement: float = Field(
        0.025,
        ge=0.0,
        le=1.0,
        description="Distance a region must travel from where it appeared, as a share of the frame width, "
        "before it is reported (foliage oscillates in place).",
    )
    merge_distance: float = Field(
        0.02, ge=0.0, le=0.2, description="Blobs closer than this share of the frame width are merged."
    )
    max_regions: int = Field(5, ge=1, le=50, description="Most regions reported per frame (largest first).")
    gap_reset_s: float = Field(
        30.0, ge=1.0, le=3600.0, description="A gap between segments longer than this restarts the background."
    )


@dataclass
class _Track:
    ident: int
    centre: tuple[float, float]
    age: int = 1
    path: list[tuple[float, float]] = field(default_factory=list)
    confirmed: bool = False
    seen: bool = True
    missed: int = 0


_Region = tuple[Box, float, _Track]  # box, score, track


@dataclass
class _CameraState:
    subtractor: cv2.BackgroundSubtractorMOG2
    last_mean: float | None = None
    last_time: datetime | None = None
    quiet: int = 0
    tracks: list[_Track] = field(default_factory=list)
    next_id: int = 1


@register
class AdvancedMotion(AnalyticsModel[MotionConfig]):
    """Moving regions, without lighting changes or foliage."""

    key = AiModel.MOTION
    config_type = MotionConfig

    def __init__(self, config: MotionConfig | None = None) -> None:
        super().__init__(config)
        self._cameras: dict[uuid.UUID, _CameraState] = {}
        self._zones = [np.asarray(z, np.float32) for z in self.config.zones]

    def analyze(self, clip: NormalizedClip, *, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        """Moving regions per frame of `clip`, continuing this camera's background model."""
        with self.camera_lock(camera_id):  # one camera's state is updated by one thread at a time
            return self._analyze(clip, camera_id, segment_sequence)

    def _analyze(self, clip: NormalizedClip, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        cfg = self.config
        state = self._cameras.get(camera_id)
        if state is None or (
            clip.timestamps
            and state.last_time is not None
            and abs((clip.timestamps[0] - state.last_time).total_seconds()) > cfg.gap_reset_s
        ):
            state = self._cameras[camera_id] = self._new_state()
        out: list[Detection] = []
        for frame, stamp in zip(clip.frames, clip.timestamps, strict=False):
            if state.last_time is not None and stamp <= state.last_time:
                continue  # segments overlap (requirements table): these frames were analysed already
            for box, score, track in self._step(state, frame):
                if score >= cfg.confidence_threshold:
                    out.append(
                        Detection(
                            model=self.key,
                            camera_id=camera_id,
                            segment_sequence=segment_sequence,
                            frame_time=stamp,
                            box=box,
                            object_class="motion",
                            score=score,
                            track_id=f"motion-{track.ident}",
                            attributes={"areaShare": round(box[2] * box[3], 5), "persistedFrames": track.age},
                        )
                    )
            state.last_time = stamp
        return out

    def _new_state(self) -> _CameraState:
        cfg = self.config
        sub = cv2.createBackgroundSubtractorMOG2(history=cfg.history_frames, varThreshold=cfg.sensitivity)
        sub.setDetectShadows(True)
        return _CameraState(subtractor=sub, quiet=cfg.relearn_frames)

    def _step(self, state: _CameraState, frame: np.ndarray) -> list[_Region]:
        cfg = self.config
        h, w = frame.shape[:2]
        work_h = max(1, round(h * _WORK_WIDTH / w))
        small = cv2.resize(frame, (_WORK_WIDTH, work_h), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (3, 3), 0)
        mean = float(small.mean())
        lighting = state.last_mean is not None and abs(mean - state.last_mean) > cfg.illumination_jump * max(
            state.last_mean, 10.0
        )
        state.last_mean = mean
        if lighting:
            return self._relearn(state, small)
        mask = state.subtractor.apply(small)
        fg = (mask == 255).astype(np.uint8)  # 127 marks shadows
        if fg.mean() > cfg.max_foreground_share:
            return self._relearn(state, small)
        if state.quiet > 0:
            state.quiet -= 1
            state.tracks.clear()
            return []
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        merge = max(1, round(cfg.merge_distance * _WORK_WIDTH))
        if merge > 1:
            fg = cv2.dilate(fg, np.ones((merge, merge), np.uint8))
        count, _, stats, centroids = cv2.connectedComponentsWithStats(fg, connectivity=8)
        area_total = float(_WORK_WIDTH * work_h)
        blobs: list[_Blob] = []
        for i in range(1, count):
            x, y, bw, bh, area = (int(v) for v in stats[i])
            # Dilation grew the blob by about `merge` pixels all round; judge the area without it.
            core = max(0, bw - merge + 1) * max(0, bh - merge + 1)
            share = min(float(area), float(core)) / area_total
            if share < cfg.min_area:
                continue
            cx, cy = float(centroids[i][0]) / _WORK_WIDTH, float(centroids[i][1]) / work_h
            if self._zones and not any(cv2.pointPolygonTest(z, (cx, cy), False) >= 0 for z in self._zones):
                continue
            pad = (merge - 1) / 2
            box = (
                (x + pad) / _WORK_WIDTH,
                (y + pad) / work_h,
                max(1.0, bw - 2 * pad) / _WORK_WIDTH,
                max(1.0, bh - 2 * pad) / work_h,
            )
            blobs.append((box, (cx, cy), share))
        blobs.sort(key=lambda b: -b[2])
        return self._track(state, blobs, h / w)

    def _relearn(self, state: _CameraState, small: np.ndarray) -> list[_Region]:
        state.subtractor.apply(small, learningRate=1.0)
        state.quiet = self.config.relearn_frames
        state.tracks.clear()
        return []

    def _track(
        self,
        state: _CameraState,
        blobs: list[_Blob],
        aspect: float,
    ) -> list[_Region]:
        cfg = self.config
        for t in state.tracks:
            t.seen = False
        results: list[_Region] = []
        for box, (cx, cy), share in blobs:
            reach = max(0.05, 0.75 * max(box[2], box[3] * aspect))
            best: _Track | None = None
            best_d = reach
            for t in state.tracks:
                if t.seen:
                    continue
                d = float(np.hypot(cx - t.centre[0], (cy - t.centre[1]) * aspect))
                if d < best_d:
                    best, best_d = t, d
            if best is None:
                best = _Track(state.next_id, (cx, cy), path=[(cx, cy)])
                state.next_id += 1
                state.tracks.append(best)
            else:
                best.age += 1
                best.missed = 0
                best.centre = (cx, cy)
                best.seen = True
                best.path = [*best.path[-29:], (cx, cy)]
            k = cfg.min_persistence_frames
            if not best.confirmed and best.age >= k and _net_displacement(best.path, k, aspect) >= cfg.min_displacement:
                best.confirmed = True
            if best.confirmed and len(results) < cfg.max_regions:
                size = min(1.0, share / (10 * max(cfg.min_area, 1e-4)))
                persistence = min(1.0, best.age / (3 * cfg.min_persistence_frames))
                results.append((box, 0.5 + 0.25 * size + 0.25 * persistence, best))
        for t in state.tracks:
            t.missed += 0 if t.seen else 1
        # A blob may vanish for a frame or two (it stopped, or split); keep its track briefly.
        state.tracks = [t for t in state.tracks if t.missed <= 6]
        return results


def _net_displacement(path: list[tuple[float, float]], k: int, aspect: float) -> float:
    """How far a track has moved on, as a share of the frame width; 0 for one swaying in place.

    The distance between the means of its first and last `k` centroids (averaging cancels
    swaying), counted only when it is at least half the farthest excursion from the start: a
    branch oscillating around a rest position wanders as far but never moves on.
    """
    k = max(1, min(k, len(path) // 2))
    points = np.asarray(path)
    early = points[:k].mean(axis=0)
    late = points[-k:].mean(axis=0)
    scale = np.array([1.0, aspect])
    net = float(np.hypot(*((late - early) * scale)))
    farthest = float(np.hypot(*((points - early) * scale).T).max())
    return net if net >= 0.5 * farthest else 0.0
