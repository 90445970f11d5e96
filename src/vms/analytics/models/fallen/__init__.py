"""Fallen person: a tracked person goes from upright to lying and stays down.

No pose model is usable here: the only registry package that ships pose weights (mediapipe
0.10.21) needs numpy < 2, and the platform runs numpy 2. The decision is made from box geometry
instead, on the shared person detector and tracker:

1. People are detected on every k-th frame and tracked per camera (across segments). While a
   track is upright (box height ≥ `upright_ratio` × width) its *upright box* is remembered: its
   height is the person's standing height, its top where their head was.
2. Person detectors are trained on upright people and do not see a lying one (measured: the
   SSDLite graph finds none of our rotated people in the whole frame). So when a track goes unseen,
   the model searches a square around its last foot point (`search_scale` × standing height),
   rotated by +90° and −90°: a lying person is upright in one of the two, and the crop magnifies
   them. A box found there is mapped back to the frame.
3. A box (from the ordinary pass or the rotated search) says *down* when it is lying —
   width ≥ `lying_ratio` × height — and its top has dropped by at least `min_drop` of the
   standing height below the upright box's top, and its length is a person's (0.5–1.8 × standing
   height) near where they stood.
4. A person down for `min_down_s` (sightings may pause for up to `lost_tolerance_s`) is reported
   once per segment while they stay down (object class "fallen", their lying box, the track id);
   an upright sighting again resets them.

Zones (frame-fraction polygons) limit where a fall counts; the foot point of the upright box is
tested. Measured accuracy: docs/analytics.md.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from vms.analytics.detect import Box, iou
from vms.analytics.detect.persons import PersonDetector, PersonDetectorOptions, Tiles
from vms.analytics.detect.tracker import Tracker
from vms.analytics.detect.zones import Polygon, zone_of
from vms.analytics.plugin import AnalyticsModel, Detection, ModelConfig, continues, register
from vms.kernel.ai_models import AiModel
from vms.media.normalize import NormalizedClip


class FallenConfig(ModelConfig, PersonDetectorOptions):
    """Settings of fallen-person detection."""

    type: Literal["fallen"] = "fallen"
    confidence_threshold: float = Field(0.4, ge=0.0, le=1.0, description="People scored below this are ignored.")
    zones: list[Polygon] = Field(
        default_factory=list,
        max_length=32,
        description="Polygons (x, y in frame fractions 0..1) where a fall counts. Empty means the whole frame.",
    )
    min_down_s: float = Field(
        2.0, ge=0.0, le=600.0, description="How long a person must stay down before it is reported."
    )
    lying_ratio: float = Field(
        1.2, ge=0.8, le=5.0, description="A box at least this many times wider than tall is a lying person."
    )
    upright_ratio: float = Field(
        1.3, ge=1.0, le=5.0, description="A box at least this many times taller than wide is a standing person."
    )
    min_drop: float = Field(
        0.35,
        ge=0.0,
        le=1.0,
        description="How far the top of the box must have dropped, as a share of the standing height.",
    )
    search_scale: float = Field(
        2.6,
        ge=1.5,
        le=5.0,
        description="Side of the square searched for a lying person around an unseen track, in standing heights.",
    )
    lost_tolerance_s: float = Field(
        1.5, ge=0.0, le=30.0, description="A lying person unseen for up to this long is still down."
    )
    detect_every: int = Field(3, ge=1, le=30, description="Run the person detector on every k-th frame.")
    # A fall is judged from the standing box: a person never detected upright cannot fall. 2×2 tiles
    # find the small standing people the whole frame misses (recall 0.62 → 0.88 on the scenes) for
    # ~1.2× the time: the rotated search, never tiled, is most of the cost (docs/analytics.md).
    tiles: Tiles = Field(
        2,
        description="Also run the person detector on n×n overlapping magnified tiles of each detection frame "
        "(1: whole frame only; 2: +4 tiles; 3: +9 tiles); more finds more far people at more CPU.",
    )
    track_lost_steps: int = Field(
        8, ge=1, le=100, description="Detection steps without a sighting after which a track ends."
    )
    gap_reset_s: float = Field(
        30.0, ge=1.0, le=3600.0, description="A gap between segments longer than this restarts the camera's state."
    )


@dataclass
class _Person:
    """What is known about one tracked person: how they stood and whether they are down."""

    upright: Box
    upright_at: datetime
    down_since: datetime | None = None
    down_box: Box | None = None
    last_down: datetime | None = None
    reported_segment: int | None = None


@dataclass
class _CameraState:
    tracker: Tracker
    people: dict[str, _Person] = field(default_factory=dict)
    last_time: datetime | None = None
    aspect: float = 0.75  # frame height / width: box widths and heights are fractions of different sides


def _rotated_to_roi(box: Box, clockwise: bool) -> Box:
    """Map a box found in a ±90° rotated square crop back to the crop (fractions of the crop)."""
    u0, v0, u1, v1 = box.x, box.y, box.x + box.w, box.y + box.h
    if clockwise:  # crop (x, y) → rotated (1 − y, x); so x = v, y = 1 − u
        x0, x1, y0, y1 = v0, v1, 1.0 - u1, 1.0 - u0
    else:  # crop (x, y) → rotated (y, 1 − x); so x = 1 − v, y = u
        x0, x1, y0, y1 = 1.0 - v1, 1.0 - v0, u0, u1
    return Box(x0, y0, x1 - x0, y1 - y0, box.score, box.label)


@register
class Fallen(AnalyticsModel[FallenConfig]):
    """A person who fell and stays down."""

    key = AiModel.FALLEN
    config_type = FallenConfig

    def __init__(self, config: FallenConfig | None = None) -> None:
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
        state.aspect = clip.frames.shape[1] / clip.frames.shape[2]
        steps = list(range(0, len(clip), cfg.detect_every))
        found = self.detector.detect(clip.frames[steps])
        out: list[Detection] = []
        for index, boxes in zip(steps, found, strict=True):
            at = clip.timestamps[index]
            seen = state.tracker.update([b for b in boxes if b.label == "person"])
            seen_ids = {t.id for t in seen}
            for track in seen:
                self._observe(state, track.id, track.as_box(), at)
            # Unseen tracks and people already down: look for them lying where they stood.
            searched = [
                tid
                for tid, person in state.people.items()
                if tid not in seen_ids and (person.down_since is not None or self._recent(state.tracker, tid))
            ]
            if searched:
                lying = self._search_lying(clip.frames[index], [state.people[tid] for tid in searched], state.aspect)
                for tid, box in zip(searched, lying, strict=True):
                    if box is not None:
                        self._observe(state, tid, box, at)
            reported: list[Box] = []
            for tid, person in list(state.people.items()):
                if person.down_since is None:
                    continue
                assert person.last_down is not None and person.down_box is not None
                if (at - person.last_down).total_seconds() > cfg.lost_tolerance_s:
                    person.down_since = person.down_box = person.last_down = None
                    continue
                down_for = (at - person.down_since).total_seconds()
                if down_for >= cfg.min_down_s and person.reported_segment != segment_sequence:
                    person.reported_segment = segment_sequence
                    # Two tracks of one person (an id switch while they fell) find the same lying body.
                    if any(iou(person.down_box.xywh, b.xywh) > 0.3 for b in reported):
                        continue
                    reported.append(person.down_box)
                    out.append(self._detection(tid, person, down_for, camera_id, segment_sequence, at))
            live = {t.id for t in state.tracker.tracks}
            state.people = {k: v for k, v in state.people.items() if k in live or v.down_since is not None}
        state.last_time = clip.timestamps[-1]
        return out

    @staticmethod
    def _recent(tracker: Tracker, track_id: str) -> bool:
        return any(t.id == track_id and t.confirmed for t in tracker.tracks)

    def _observe(self, state: _CameraState, track_id: str, box: Box, at: datetime) -> None:
        """Update one person from a box seen at `at`: remember them standing, or note them down."""
        cfg = self.config
        person = state.people.get(track_id)
        if box.h * state.aspect >= cfg.upright_ratio * box.w:
            if zone_of(box.foot, cfg.zones) is None:
                state.people.pop(track_id, None)
                return
            if person is None:
                state.people[track_id] = _Person(upright=box, upright_at=at)
            else:
                person.upright, person.upright_at = box, at
                person.down_since = person.down_box = person.last_down = None  # back on their feet
            return
        if person is None or not self._is_down(person.upright, box, state.aspect):
            return
        person.down_box, person.last_down = box, at
        person.down_since = person.down_since or at

    def _is_down(self, upright: Box, box: Box, aspect: float) -> bool:
        cfg = self.config
        # Widths and heights are fractions of different sides: compare them in pixels (aspect = H / W).
        if box.w < cfg.lying_ratio * box.h * aspect:
            return False
        length = box.w / (upright.h * aspect)
        dropped = (box.y - upright.y) / upright.h
        near = abs(box.y + box.h - (upright.y + upright.h)) <= 0.6 * upright.h
        return 0.5 <= length <= 1.8 and dropped >= cfg.min_drop and near

    def _search_lying(self, frame: np.ndarray, people: list[_Person], aspect: float) -> list[Box | None]:
        """For each person, the best lying box in a rotated square crop around where they stood."""
        height, width = frame.shape[:2]
        crops: list[np.ndarray] = []
        origins: list[tuple[int, int, int]] = []
        for person in people:
            stood = person.upright
            side = min(height, width, max(32, round(self.config.search_scale * stood.h * height)))
            foot_x, foot_y = stood.foot[0] * width, stood.foot[1] * height
            x0 = int(np.clip(foot_x - side / 2, 0, width - side))
            y0 = int(np.clip(foot_y - 0.3 * stood.h * height - side / 2, 0, height - side))
            crop = frame[y0 : y0 + side, x0 : x0 + side]
            crops += [cv2.rotate(crop, cv2.ROTATE_90_CLOCKWISE), cv2.rotate(crop, cv2.ROTATE_90_COUNTERCLOCKWISE)]
            origins.append((x0, y0, side))
        # The crops are already magnified around one person: tiling them again would only cost time.
        search = self.detector.detect_whole if isinstance(self.detector, PersonDetector) else self.detector.detect
        found = search(crops)
        out: list[Box | None] = []
        for i, person in enumerate(people):
            x0, y0, side = origins[i]
            best: Box | None = None
            for clockwise, boxes in ((True, found[2 * i]), (False, found[2 * i + 1])):
                for b in boxes:
                    r = _rotated_to_roi(b, clockwise)
                    frame_box = Box(
                        (x0 + r.x * side) / width,
                        (y0 + r.y * side) / height,
                        r.w * side / width,
                        r.h * side / height,
                        b.score,
                    )
                    if self._is_down(person.upright, frame_box, aspect) and (best is None or b.score > best.score):
                        best = frame_box
            out.append(best)
        return out

    def _detection(
        self, track_id: str, person: _Person, down_for: float, camera_id: uuid.UUID, sequence: int, at: datetime
    ) -> Detection:
        assert person.down_box is not None
        box = person.down_box
        return Detection(
            model=self.key,
            camera_id=camera_id,
            segment_sequence=sequence,
            frame_time=at,
            box=box.xywh,
            object_class="fallen",
            score=box.score,
            track_id=track_id,
            attributes={
                "downSeconds": round(down_for, 2),
                "standingBox": [round(v, 4) for v in person.upright.xywh],
                "zone": zone_of(person.upright.foot, self.config.zones) if self.config.zones else None,
            },
        )
