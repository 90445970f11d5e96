"""Multi-object tracking by IoU association and a constant-velocity Kalman filter per track.

Each step: every track predicts where its box is now; predictions and detections are paired
greedily by IoU, best pair first (with a few dozen people per frame greedy matches what the
Hungarian method finds almost always, and needs no SciPy), then what is left by centre distance
relative to the box height (far people jitter and move more than their width); matched tracks are corrected,
unmatched detections start tentative tracks, unmatched tracks count a miss. A track is confirmed
after `min_hits` matches and dropped after `max_misses` steps without one, so a person hidden for
a few frames keeps the same id when they reappear where the velocity says they should be.

Ids are stable strings (`"<prefix>-<n>"`); a tracker lives per camera, across segments.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field

import numpy as np

from vms.analytics.detect import Box, iou

# State: centre x, centre y, width, height and their velocities (per step), in frame fractions.
_F = np.eye(8)
_F[:4, 4:] = np.eye(4)
_H = np.eye(4, 8)


@dataclass
class Track:
    """One object followed over steps."""

    id: str
    label: str
    x: np.ndarray  # state (8,)
    p: np.ndarray  # covariance (8, 8)
    score: float
    hits: int = 1
    misses: int = 0
    age: int = 1
    confirmed: bool = False
    history: list[tuple[float, float, float, float]] = field(default_factory=list)

    @property
    def box(self) -> tuple[float, float, float, float]:
        cx, cy, w, h = (float(v) for v in self.x[:4])
        w, h = max(w, 1e-6), max(h, 1e-6)
        return (cx - w / 2, cy - h / 2, w, h)

    def as_box(self) -> Box:
        return Box(*self.box, score=self.score, label=self.label)


def _distance(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Centre distance in units of the taller box's height, infinite when the sizes differ by more than 2×."""
    ha, hb = max(a[3], 1e-6), max(b[3], 1e-6)
    if max(ha, hb) / min(ha, hb) > 2.0:
        return float("inf")
    dx = (a[0] + a[2] / 2) - (b[0] + b[2] / 2)
    dy = (a[1] + a[3] / 2) - (b[1] + b[3] / 2)
    return float((dx * dx + dy * dy) ** 0.5 / max(ha, hb))


def _measure(box: Box) -> np.ndarray:
    return np.array([box.x + box.w / 2, box.y + box.h / 2, box.w, box.h])


class Tracker:
    """IoU + Kalman tracker. `update` takes one step's detections and returns the confirmed tracks seen in it."""

    @classmethod
    def for_camera(cls, camera_id: uuid.UUID, *, max_misses: int) -> Tracker:
        """The tracker a person-based model keeps per camera: ids prefixed with the camera's, so
        they stay unique across cameras in events and the inbox."""
        return cls(min_hits=2, max_misses=max_misses, prefix=camera_id.hex[:8])

    def __init__(
        self,
        *,
        min_hits: int = 2,
        max_misses: int = 5,
        iou_threshold: float = 0.2,
        max_distance: float = 0.6,
        prefix: str = "t",
        process_noise: float = 1e-2,
        measurement_noise: float = 1e-1,
    ) -> None:
        self.min_hits = min_hits
        self.max_misses = max_misses
        self.iou_threshold = iou_threshold
        self.max_distance = max_distance
        self.prefix = prefix
        self.tracks: list[Track] = []
        self._ids = itertools.count(1)
        self._q = process_noise
        self._r = measurement_noise

    def _noise(self, box: tuple[float, float, float, float] | np.ndarray, factor: float) -> np.ndarray:
        # Noise scales with the object's size: a far person jitters by fewer fractions than a near one.
        size = max(float(box[2]), float(box[3]), 1e-3)
        return np.eye(4) * (factor * size) ** 2

    def _predict(self, track: Track) -> None:
        q = np.zeros((8, 8))
        q[:4, :4] = self._noise(track.x[:4], self._q)
        q[4:, 4:] = self._noise(track.x[:4], self._q)
        track.x = _F @ track.x
        track.p = _F @ track.p @ _F.T + q

    def _correct(self, track: Track, box: Box) -> None:
        z = _measure(box)
        r = self._noise(z, self._r)
        s = _H @ track.p @ _H.T + r
        k = track.p @ _H.T @ np.linalg.inv(s)
        track.x = track.x + k @ (z - _H @ track.x)
        track.p = (np.eye(8) - k @ _H) @ track.p
        track.score = box.score

    def _start(self, box: Box) -> Track:
        z = _measure(box)
        x = np.concatenate([z, np.zeros(4)])
        p = np.eye(8)
        p[:4, :4] = self._noise(z, self._r)
        p[4:, 4:] = self._noise(z, 1.0)  # unknown velocity
        return Track(id=f"{self.prefix}-{next(self._ids)}", label=box.label, x=x, p=p, score=box.score)

    def update(self, detections: list[Box]) -> list[Track]:
        """Advance one step with this step's detections; confirmed tracks matched in this step."""
        for track in self.tracks:
            self._predict(track)
            track.age += 1
        pairs = sorted(
            (
                (iou(track.box, det.xywh), ti, di)
                for ti, track in enumerate(self.tracks)
                for di, det in enumerate(detections)
                if track.label == det.label
            ),
            reverse=True,
        )
        used_t: set[int] = set()
        used_d: set[int] = set()
        for overlap, ti, di in pairs:
            if overlap < self.iou_threshold:
                break
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            track = self.tracks[ti]
            self._correct(track, detections[di])
            track.hits += 1
            track.misses = 0
            track.confirmed = track.confirmed or track.hits >= self.min_hits
        # Second pass for what IoU left: small, far people move more than their own width between
        # detection steps, and their boxes jitter; pair them by centre distance relative to their height.
        near = sorted(
            (
                (_distance(self.tracks[ti].box, det.xywh), ti, di)
                for ti in range(len(self.tracks))
                if ti not in used_t
                for di, det in enumerate(detections)
                if di not in used_d and self.tracks[ti].label == det.label
            ),
        )
        for distance, ti, di in near:
            if distance > self.max_distance:
                break
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            track = self.tracks[ti]
            self._correct(track, detections[di])
            track.hits += 1
            track.misses = 0
            track.confirmed = track.confirmed or track.hits >= self.min_hits
        for ti, track in enumerate(self.tracks):
            if ti not in used_t:
                track.misses += 1
                # Unseen people rarely keep walking at full speed in a straight line (they stop, turn,
                # are hidden because they stand behind something): damp the velocity while unseen.
                track.x[4:] *= 0.5
        self.tracks = [t for t in self.tracks if t.misses <= self.max_misses]
        for di, det in enumerate(detections):
            if di not in used_d:
                track = self._start(det)
                track.confirmed = self.min_hits <= 1
                self.tracks.append(track)
        seen = [t for t in self.tracks if t.misses == 0 and t.confirmed]
        for track in seen:
            track.history.append(track.box)
            del track.history[:-64]
        return seen
