"""Intrusion detection: a person inside a guarded zone, while the zone is armed.

People are found by the shared person detector (`vms.analytics.detect.persons`, or operator ONNX
weights) on every k-th frame and followed by a per-camera tracker that lives across segments, so a
person keeps one track id from segment to segment. A person intrudes when their foot point (bottom
centre of the box: where they stand, not where their head overlaps the zone in perspective) has
been inside a zone for `min_dwell_frames` detection steps in a row while the schedule is armed.
Each intruding track is reported once per segment (the first qualifying frame), with its track
id, so the events role can follow it and apply its own persistence rules.

Far people are too small for the detector's 300×300 input, so it also runs on magnified n×n tiles
(`tiles`). With `tiles_where_needed` (the default) the tiles cover only the zones' bounding box
raised by a person's height, and run only where they can find someone: where the frame differs
from the clip's median or from a moment before, or where a tracked person was at the start of the
segment (`detect/regions.py`). On the annotated vtest frames that gives 3×3 tiles' recall for
about three quarters of their detector runs (figures in docs/analytics.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
from pydantic import Field

from vms.analytics.detect import Box
from vms.analytics.detect.persons import PersonDetector, PersonDetectorOptions, Tiles
from vms.analytics.detect.regions import detect_in_tiles, foreground, region_grid, region_of, worth_running
from vms.analytics.detect.tracker import Tracker
from vms.analytics.detect.zones import Polygon, Schedule, zone_of
from vms.analytics.plugin import AnalyticsModel, Detection, ModelConfig, continues, register
from vms.kernel.ai_models import AiModel
from vms.media.normalize import NormalizedClip


class IntrusionConfig(ModelConfig, PersonDetectorOptions):
    """Settings of intrusion detection."""

    type: Literal["intrusion"] = "intrusion"
    confidence_threshold: float = Field(0.4, ge=0.0, le=1.0, description="People scored below this are ignored.")
    zones: list[Polygon] = Field(
        default_factory=list,
        max_length=32,
        description="Guarded polygons (x, y in frame fractions 0..1). Empty means the whole frame.",
    )
    schedule: Schedule | None = Field(None, description="When the zones are armed; none means always.")
    min_dwell_frames: int = Field(
        2, ge=1, le=300, description="Detection steps in a row a person must stand inside a zone before it counts."
    )
    detect_every: int = Field(3, ge=1, le=30, description="Run the person detector on every k-th frame.")
    # On vtest, 2×2 tiles everywhere raise the share of annotated people found from 0.54 to 0.71;
    # 3×3 reach 0.89, and run only where needed they cost about 1.5× 2×2 everywhere (docs/analytics.md).
    tiles: Tiles = Field(
        3,
        description="Also run the person detector on n×n overlapping magnified tiles of each detection frame "
        "(1: whole frame only; 2: up to 4 tiles; 3: up to 9 tiles); more finds more far people at more CPU.",
    )
    tiles_where_needed: bool = Field(
        True,
        description="Lay the tiles over the zones' bounding box (raised by a person's height) instead of the "
        "whole frame, and run a tile only where something moves or a tracked person was; false runs every "
        "tile of the whole frame on every detection frame.",
    )
    track_lost_steps: int = Field(
        5, ge=1, le=100, description="Detection steps without a sighting after which a track ends."
    )
    gap_reset_s: float = Field(
        30.0, ge=1.0, le=3600.0, description="A gap between segments longer than this restarts the tracker."
    )


@dataclass
class _CameraState:
    tracker: Tracker
    dwell: dict[str, int] = field(default_factory=dict)
    last_time: datetime | None = None


@register
class Intrusion(AnalyticsModel[IntrusionConfig]):
    """People standing in guarded zones during armed hours."""

    key = AiModel.INTRUSION
    config_type = IntrusionConfig

    def __init__(self, config: IntrusionConfig | None = None) -> None:
        super().__init__(config)
        self.detector = self.config.build_detector(min_score=self.config.confidence_threshold)
        self._cameras: dict[uuid.UUID, _CameraState] = {}

    def _state(self, camera_id: uuid.UUID, first: datetime) -> _CameraState:
        state = self._cameras.get(camera_id)
        if state is None or not continues(state.last_time, first, gap_reset_s=self.config.gap_reset_s):
            state = _CameraState(Tracker.for_camera(camera_id, max_misses=self.config.track_lost_steps))
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
        steps = list(range(0, len(clip), cfg.detect_every))
        found = self.find_people(clip.frames, steps, known=[t.as_box() for t in state.tracker.tracks])
        reported: set[str] = set()
        out: list[Detection] = []
        for index, boxes in zip(steps, found, strict=True):
            at = clip.timestamps[index]
            tracks = state.tracker.update([b for b in boxes if b.label == "person"])
            armed = cfg.schedule is None or cfg.schedule.armed(at)
            live = {t.id for t in state.tracker.tracks}
            state.dwell = {k: v for k, v in state.dwell.items() if k in live}
            for track in tracks:
                box = track.as_box()
                zone = zone_of(box.foot, cfg.zones) if armed else None
                if zone is None:
                    state.dwell.pop(track.id, None)
                    continue
                state.dwell[track.id] = state.dwell.get(track.id, 0) + 1
                if state.dwell[track.id] >= cfg.min_dwell_frames and track.id not in reported:
                    reported.add(track.id)
                    out.append(
                        self._detection(box, track.id, zone, state.dwell[track.id], camera_id, segment_sequence, at)
                    )
        state.last_time = clip.timestamps[-1]
        return out

    def find_people(self, frames: np.ndarray, steps: Sequence[int], *, known: Sequence[Box] = ()) -> list[list[Box]]:
        """People in `frames[i]` for each i in `steps`, tiled as configured.

        `frames` is the whole clip (the tiles' foreground is measured against it); `known` are boxes
        where people were a moment ago (they may have stopped moving).
        """
        cfg = self.config
        if not cfg.tiles_where_needed or cfg.tiles == 1 or not isinstance(self.detector, PersonDetector):
            return self.detector.detect(frames[list(steps)])  # operator ONNX weights are not tiled
        tiles = region_grid(cfg.tiles, region_of(cfg.zones))
        chosen = [[t for t in tiles if worth_running(t, mask, known)] for mask in foreground(frames, steps)]
        return detect_in_tiles(self.detector, [frames[i] for i in steps], chosen)

    def _detection(
        self, box: Box, track_id: str, zone: int, dwell: int, camera_id: uuid.UUID, sequence: int, at: datetime
    ) -> Detection:
        return Detection(
            model=self.key,
            camera_id=camera_id,
            segment_sequence=sequence,
            frame_time=at,
            box=box.xywh,
            object_class="person",
            score=box.score,
            track_id=track_id,
            attributes={"zone": zone if self.config.zones else None, "dwellSteps": dwell},
        )
