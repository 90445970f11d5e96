"""Abnormal behaviour: loitering, running and erratic motion of tracked people.

People are detected on every k-th frame and tracked per camera (across segments); each track
keeps its recent foot points (where the person stands) with their times and box heights. Speeds
are measured in *body heights per second* — the box height is the person's own scale, so a near
and a far person walking alike measure alike, without calibrating the camera:

- **loitering**: a track stays inside a zone for more than `loiter_s` (the zone test uses the foot
  point; no zones means the whole frame);
- **running**: the track's displacement over the last `speed_window_s` exceeds `running_speed`
  body heights/s at `running_steps` detection steps in a row (walking measures 0.4–0.9 here,
  running 2 and more; one step alone could be an id switch of the tracker);
- **erratic**: the track's turning rate — the sum of its heading changes over `erratic_window_s`,
  in degrees per second, counted only while it moves — is far above what this camera usually
  sees. The baseline is learned per camera from the tracks it has seen (median and MAD of their
  turning rates, `baseline_samples` windows kept); until `baseline_min` windows are in, erratic
  motion is not judged. A track is erratic when its rate exceeds both median + `erratic_k` × MAD
  (scaled to a standard deviation) and `erratic_min_deg_s`.

The camera's state (tracker, histories, baseline) is kept per camera under the plugin's camera
lock. Each behaviour of a track is reported once per segment (object class "loitering",
"running" or "erratic", with the track id). The tracker switches ids when a person turns back or
crosses someone; so that this does not restart a dwell, a new track that starts right where a
track was just lost (within `dwell_carry_s`, `dwell_carry_heights`, a similar size) and looks
like the person whose dwell it was (colour histogram, `dwell_carry_similarity`) continues that
dwell. Measured accuracy: docs/analytics.md.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
from pydantic import Field

from vms.analytics.detect import Box
from vms.analytics.detect.persons import PersonDetectorOptions
from vms.analytics.detect.tracker import Tracker
from vms.analytics.detect.zones import Polygon, zone_of
from vms.analytics.plugin import AnalyticsModel, Detection, ModelConfig, continues, register
from vms.kernel.ai_models import AiModel
from vms.media.normalize import NormalizedClip

Behavior = Literal["loitering", "running", "erratic"]
BEHAVIORS: list[Behavior] = ["loitering", "running", "erratic"]
# A new track continues a lost one's dwell only if their box heights differ by less than this
# factor: a person does not change size much within a second, two people at one spot may.
_CARRY_SIZE_RATIO = 1.5


class AbnormalBehaviorConfig(ModelConfig, PersonDetectorOptions):
    """Settings of abnormal-behaviour detection."""

    type: Literal["abnormal_behavior"] = "abnormal_behavior"
    confidence_threshold: float = Field(0.4, ge=0.0, le=1.0, description="People scored below this are ignored.")
    behaviors: list[Behavior] = Field(
        default_factory=lambda: list(BEHAVIORS),
        min_length=1,
        max_length=3,
        description="Which behaviours to report.",
    )
    zones: list[Polygon] = Field(
        default_factory=list,
        max_length=32,
        description="Loitering zones (x, y in frame fractions 0..1). Empty means the whole frame.",
    )
    loiter_s: float = Field(60.0, ge=1.0, le=86_400.0, description="Dwell in a zone longer than this is loitering.")
    running_speed: float = Field(
        1.5, ge=0.2, le=20.0, description="Speed above this, in body heights per second, is running."
    )
    speed_window_s: float = Field(1.0, ge=0.2, le=10.0, description="Time over which a speed is measured.")
    running_steps: int = Field(
        2, ge=1, le=50, description="Detection steps in a row a track must be fast before it counts as running."
    )
    erratic_window_s: float = Field(3.0, ge=1.0, le=60.0, description="Time over which the turning rate is measured.")
    erratic_k: float = Field(
        4.0, ge=1.0, le=20.0, description="How many baseline deviations above the median turning rate is erratic."
    )
    erratic_min_deg_s: float = Field(
        200.0, ge=0.0, le=3600.0, description="Turning rates below this (degrees per second) are never erratic."
    )
    baseline_min: int = Field(
        30, ge=1, le=10_000, description="Turning-rate windows the camera must have seen before judging erratic motion."
    )
    baseline_samples: int = Field(
        500, ge=10, le=100_000, description="How many recent turning-rate windows the baseline keeps."
    )
    detect_every: int = Field(
        2, ge=1, le=30, description="Run the person detector on every k-th frame (runners need dense steps)."
    )
    track_lost_steps: int = Field(
        5, ge=1, le=100, description="Detection steps without a sighting after which a track ends."
    )
    gap_reset_s: float = Field(
        30.0, ge=1.0, le=3600.0, description="A gap between segments longer than this restarts the tracker."
    )
    dwell_carry_s: float = Field(
        1.0,
        ge=0.0,
        le=5.0,
        description="A new track that starts this soon after another was last seen (and near it) continues its "
        "dwell; 0 turns the carry-over off.",
    )
    dwell_carry_similarity: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="How alike (Bhattacharyya coefficient of colour histograms, 1 = same) a new track must look to "
        "the person whose dwell it would continue.",
    )
    dwell_carry_heights: float = Field(
        0.5,
        ge=0.0,
        le=2.0,
        description="How far, in body heights, a new track may start from where a lost one was last seen "
        "and still continue its dwell.",
    )


@dataclass
class _TrackState:
    points: deque[tuple[datetime, float, float, float]] = field(default_factory=lambda: deque(maxlen=400))
    in_zone_since: datetime | None = None
    look: np.ndarray | None = None  # colours of the person whose dwell this is (their first sighting)
    handed_on: bool = False  # its dwell went on to a new track (see _carry_dwell): at most once
    fast_steps: int = 0
    last_sample: datetime | None = None
    reported: dict[str, int] = field(default_factory=dict)  # behaviour → segment it was last reported in


@dataclass
class _CameraState:
    tracker: Tracker
    tracks: dict[str, _TrackState] = field(default_factory=dict)
    gone: dict[str, _TrackState] = field(default_factory=dict)  # ended tracks that may still hand on their dwell
    baseline: deque[float] = field(default_factory=deque)
    last_time: datetime | None = None


def turning_rate(points: list[tuple[float, float, float, float]], min_move: float = 0.1) -> float | None:
    """Degrees of heading change per second along (seconds, x, y, height) points, pixels; None if too short.

    Headings are taken between points at least `min_move` body heights apart, so a person standing
    still (box jitter) does not turn.
    """
    if len(points) < 3:
        return None
    headings: list[float] = []
    anchor = points[0]
    for point in points[1:]:
        dx, dy = point[1] - anchor[1], point[2] - anchor[2]
        if math.hypot(dx, dy) >= min_move * max(point[3], 1.0):
            headings.append(math.atan2(dy, dx))
            anchor = point
    if len(headings) < 2:
        return 0.0
    turns = [abs((b - a + math.pi) % (2 * math.pi) - math.pi) for a, b in itertools.pairwise(headings)]
    span = points[-1][0] - points[0][0]
    return math.degrees(sum(turns)) / span if span > 0 else None


def colours(frame: np.ndarray, box: Box) -> np.ndarray:
    """Normalised 4×4×4 RGB histogram of the middle of a person's box (the clothes, little background)."""
    height, width = frame.shape[:2]
    x0, x1 = int((box.x + box.w * 0.25) * width), math.ceil((box.x + box.w * 0.75) * width)
    y0, y1 = int((box.y + box.h * 0.15) * height), math.ceil((box.y + box.h * 0.85) * height)
    crop = frame[max(y0, 0) : min(y1, height), max(x0, 0) : min(x1, width), :3].reshape(-1, 3).astype(np.int64) // 64
    counts = np.bincount(crop[:, 0] * 16 + crop[:, 1] * 4 + crop[:, 2], minlength=64).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def similarity(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Bhattacharyya coefficient of two colour histograms: 1 for the same colours, 0 for none shared."""
    if a is None or b is None:
        return 0.0
    return float(np.sqrt(a * b).sum())


@register
class AbnormalBehavior(AnalyticsModel[AbnormalBehaviorConfig]):
    """Loitering, running and erratic motion."""

    key = AiModel.ABNORMAL_BEHAVIOR
    config_type = AbnormalBehaviorConfig

    def __init__(self, config: AbnormalBehaviorConfig | None = None) -> None:
        super().__init__(config)
        self.detector = self.config.build_detector(min_score=self.config.confidence_threshold)
        self._cameras: dict[uuid.UUID, _CameraState] = {}

    def _state(self, camera_id: uuid.UUID, first: datetime) -> _CameraState:
        state = self._cameras.get(camera_id)
        if state is None or not continues(state.last_time, first, gap_reset_s=self.config.gap_reset_s):
            tracker = Tracker.for_camera(camera_id, max_misses=self.config.track_lost_steps)
            # The baseline describes the camera's scene, not the tracks: it survives a tracker restart.
            baseline = state.baseline if state else deque(maxlen=self.config.baseline_samples)
            state = _CameraState(tracker, baseline=baseline)
            self._cameras[camera_id] = state
        return state

    def baseline(self, camera_id: uuid.UUID) -> tuple[int, float | None]:
        """How many turning-rate windows the camera's baseline holds, and the erratic threshold (None: learning)."""
        with self.camera_lock(camera_id):
            state = self._cameras.get(camera_id)
            if state is None:
                return 0, None
            return len(state.baseline), self._erratic_threshold(state)

    def analyze(self, clip: NormalizedClip, *, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        if len(clip) == 0:
            return []
        with self.camera_lock(camera_id):  # one camera's state is updated by one thread at a time
            return self._analyze(clip, camera_id, segment_sequence)

    def _analyze(self, clip: NormalizedClip, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        cfg = self.config
        state = self._state(camera_id, clip.timestamps[0])
        height, width = clip.frames.shape[1:3]
        steps = list(range(0, len(clip), cfg.detect_every))
        found = self.detector.detect(clip.frames[steps])
        out: list[Detection] = []
        for index, boxes in zip(steps, found, strict=True):
            at = clip.timestamps[index]
            seen = [(t.id, t.as_box()) for t in state.tracker.update([b for b in boxes if b.label == "person"])]
            new = [track_id for track_id, _ in seen if track_id not in state.tracks]
            for track_id, box in seen:
                ts = state.tracks.setdefault(track_id, _TrackState())
                ts.points.append((at, box.foot[0] * width, box.foot[1] * height, box.h * height))
                if ts.look is None:
                    ts.look = colours(clip.frames[index], box)
            self._carry_dwell(state, new, {track_id for track_id, _ in seen}, at)
            for track_id, box in seen:
                ts = state.tracks[track_id]
                for behavior, value in self._judge(state, ts, box, at):
                    if behavior in cfg.behaviors and ts.reported.get(behavior) != segment_sequence:
                        ts.reported[behavior] = segment_sequence
                        out.append(self._detection(behavior, value, box, track_id, camera_id, segment_sequence, at))
            live = {t.id for t in state.tracker.tracks}
            state.gone.update({k: v for k, v in state.tracks.items() if k not in live})
            state.tracks = {k: v for k, v in state.tracks.items() if k in live}
            # An ended track can hand on its dwell only for dwell_carry_s after it was last seen.
            state.gone = {
                k: v
                for k, v in state.gone.items()
                if not v.handed_on and (at - v.points[-1][0]).total_seconds() <= cfg.dwell_carry_s
            }
        state.last_time = clip.timestamps[-1]
        return out

    def _carry_dwell(self, state: _CameraState, new: list[str], matched: set[str], at: datetime) -> None:
        """Let new tracks continue the dwell of tracks lost just before, where they were lost.

        The tracker switches ids when a person turns back (the velocity points the other way) or
        crosses someone, and a dwell kept per track would restart each time. A new track that
        starts within `dwell_carry_s` of a track's last sighting, within `dwell_carry_heights` body
        heights of it, of a similar size and whose colours match those of the person the dwell
        began with (`dwell_carry_similarity`) is taken as the same person: it inherits the earlier
        zone entry and that first look. Comparing with the first look, not the lost track's last,
        keeps a dwell from passing to someone else when the tracker swapped two crossing people
        before losing them. The bounds are tight so that two people passing the same spot one after
        the other are not summed, and each lost track hands on its dwell once (nearest pair first).
        """
        cfg = self.config
        if not new or cfg.dwell_carry_s <= 0:
            return
        donors = [
            v
            for k, v in itertools.chain(state.tracks.items(), state.gone.items())
            if k not in matched and not v.handed_on and v.in_zone_since is not None and v.points
        ]
        pairs: list[tuple[float, int, int]] = []
        for ni, track_id in enumerate(new):
            _, x, y, h = state.tracks[track_id].points[-1]
            for di, donor in enumerate(donors):
                then, dx, dy, dh = donor.points[-1]
                gap = (at - then).total_seconds()
                if not 0 < gap <= cfg.dwell_carry_s or max(h, dh) > _CARRY_SIZE_RATIO * max(min(h, dh), 1.0):
                    continue
                distance = math.hypot(x - dx, y - dy) / max(h, dh, 1.0)
                if (
                    distance <= cfg.dwell_carry_heights
                    and similarity(state.tracks[track_id].look, donor.look) >= cfg.dwell_carry_similarity
                ):
                    pairs.append((distance, ni, di))
        taken: set[int] = set()
        for _, ni, di in sorted(pairs):
            heir = state.tracks[new[ni]]
            if ni in taken or donors[di].handed_on:
                continue
            taken.add(ni)
            donors[di].handed_on = True
            heir.in_zone_since = donors[di].in_zone_since
            heir.look = donors[di].look

    def _judge(self, state: _CameraState, ts: _TrackState, box: Box, at: datetime) -> list[tuple[str, float]]:
        """The behaviours this track shows now, each with its measure (seconds, body heights/s, degrees/s)."""
        cfg = self.config
        found: list[tuple[str, float]] = []
        if zone_of(box.foot, cfg.zones) is None:
            ts.in_zone_since = None
        else:
            ts.in_zone_since = ts.in_zone_since or at
            dwell = (at - ts.in_zone_since).total_seconds()
            if dwell > cfg.loiter_s:
                found.append(("loitering", dwell))
        speed = self._speed(ts, at)
        ts.fast_steps = ts.fast_steps + 1 if speed is not None and speed > cfg.running_speed else 0
        if speed is not None and ts.fast_steps >= cfg.running_steps:
            found.append(("running", speed))
        window = [p for p in ts.points if (at - p[0]).total_seconds() <= cfg.erratic_window_s]
        full = (at - ts.points[0][0]).total_seconds() >= cfg.erratic_window_s
        if full and (ts.last_sample is None or (at - ts.last_sample).total_seconds() >= cfg.erratic_window_s / 2):
            rate = turning_rate([((p[0] - window[0][0]).total_seconds(), p[1], p[2], p[3]) for p in window])
            if rate is not None:
                ts.last_sample = at
                threshold = self._erratic_threshold(state)
                if threshold is not None and rate > threshold:
                    found.append(("erratic", rate))
                else:  # only what looks normal teaches the baseline what normal is
                    state.baseline.append(rate)
        return found

    def _speed(self, ts: _TrackState, at: datetime) -> float | None:
        """Foot-point speed over the last speed window, in body heights per second."""
        older = [p for p in ts.points if (at - p[0]).total_seconds() >= self.config.speed_window_s]
        if not older:
            return None
        then, now = older[-1], ts.points[-1]
        seconds = (now[0] - then[0]).total_seconds()
        heights = float(np.median([p[3] for p in ts.points if p[0] >= then[0]]))
        return math.hypot(now[1] - then[1], now[2] - then[2]) / max(heights, 1.0) / seconds

    def _erratic_threshold(self, state: _CameraState) -> float | None:
        cfg = self.config
        if len(state.baseline) < cfg.baseline_min:
            return None
        rates = np.asarray(state.baseline)
        median = float(np.median(rates))
        mad = float(np.median(np.abs(rates - median))) * 1.4826
        return max(cfg.erratic_min_deg_s, median + cfg.erratic_k * mad)

    def _detection(
        self,
        behavior: str,
        value: float,
        box: Box,
        track_id: str,
        camera_id: uuid.UUID,
        sequence: int,
        at: datetime,
    ) -> Detection:
        measure = {"loitering": "dwellSeconds", "running": "heightsPerSecond", "erratic": "degreesPerSecond"}[behavior]
        zone = zone_of(box.foot, self.config.zones) if self.config.zones else None
        return Detection(
            model=self.key,
            camera_id=camera_id,
            segment_sequence=sequence,
            frame_time=at,
            box=box.xywh,
            object_class=behavior,
            score=box.score,
            track_id=track_id,
            attributes={measure: round(value, 2), "zone": zone},
        )
