"""Tailgating: more people pass an entry line than one access lets through.

People are detected on every k-th frame and tracked per camera (across segments). A track
*enters* when its foot point (where the person stands) crosses the configured entry line in the
entry direction, between two sightings; each track enters at most once, so a person jittering on
the line is not counted twice. Entries are grouped into *access windows*:

- An access event opens a window of `access_window_s` for the number of people it admits. The
  hook is `Tailgating.grant_access(camera_id, at, persons=1)`: the integration that receives badge
  or door events (access control, requirements §7 "from an access event via integrations") calls
  it before the segment holding the entry is analysed; grants may also be listed in the config
  (`access_grants`, for a fixed door-release schedule or a test).
- An entry that no open window covers opens one itself, admitting `allowed_per_access` people:
  without any access integration the model still reports groups passing a door together.

When more people enter within one window than it admits, one Detection (object class
"tailgating", the box of the entering people's boxes, attributes {"entries", "allowed",
"trackIds", "windowStart", "accessEvent"}) is emitted at the entry that exceeded it; later
entries in the same window raise the count in a new report. Measured accuracy: docs/analytics.md.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vms.analytics.detect import Box
from vms.analytics.detect.persons import PersonDetectorOptions
from vms.analytics.detect.tracker import Tracker
from vms.analytics.plugin import AnalyticsModel, Detection, ModelConfig, continues, register
from vms.kernel.ai_models import AiModel
from vms.media.normalize import NormalizedClip

Point = tuple[float, float]


class AccessGrant(BaseModel):
    """One access event: a door released for some people at an instant."""

    model_config = ConfigDict(extra="forbid")

    at: datetime = Field(description="When access was granted (UTC, timezone-aware).")
    persons: int = Field(1, ge=0, le=100, description="How many people this access admits.")


class TailgatingConfig(ModelConfig, PersonDetectorOptions):
    """Settings of tailgating detection."""

    type: Literal["tailgating"] = "tailgating"
    confidence_threshold: float = Field(0.4, ge=0.0, le=1.0, description="People scored below this are ignored.")
    line: tuple[Point, Point] = Field(
        ((0.5, 0.0), (0.5, 1.0)),
        description="The entry line, from its first to its second point (x, y in frame fractions 0..1).",
    )
    entry_from: Literal["left", "right", "both"] = Field(
        "left",
        description="Side people come from when they enter, seen on screen looking from the line's first point "
        "to its second (a line drawn top to bottom: 'left' is the right-hand side of the picture). "
        "'both' counts crossings either way.",
    )
    access_window_s: float = Field(
        4.0, ge=0.1, le=600.0, description="How long one access lets people through, in seconds."
    )
    allowed_per_access: int = Field(
        1, ge=1, le=100, description="People one access admits when no access event says otherwise."
    )
    access_grants: list[AccessGrant] = Field(
        default_factory=list, max_length=1000, description="Known access events (integrations call grant_access)."
    )
    detect_every: int = Field(2, ge=1, le=30, description="Run the person detector on every k-th frame.")
    track_lost_steps: int = Field(
        6, ge=1, le=100, description="Detection steps without a sighting after which a track ends."
    )
    gap_reset_s: float = Field(
        30.0, ge=1.0, le=3600.0, description="A gap between segments longer than this restarts the camera's state."
    )


@dataclass
class _Window:
    start: datetime
    allowed: int
    access_event: bool
    entries: list[tuple[str, Box]] = field(default_factory=list)
    reported: int = 0


@dataclass
class _CameraState:
    tracker: Tracker
    last_foot: dict[str, tuple[float, float]] = field(default_factory=dict)
    entered: set[str] = field(default_factory=set)
    windows: list[_Window] = field(default_factory=list)
    last_time: datetime | None = None


def _side(point: Point, line: tuple[Point, Point]) -> float:
    """Signed side of `point` relative to the directed line (negative: on-screen left, image y grows down)."""
    (ax, ay), (bx, by) = line
    return (bx - ax) * (point[1] - ay) - (by - ay) * (point[0] - ax)


def crossed(before: Point, after: Point, line: tuple[Point, Point]) -> int:
    """+1 when the step from `before` to `after` crosses the line segment from its left to its right,
    −1 for right to left, 0 when it does not cross it."""
    s1, s2 = _side(before, line), _side(after, line)
    if s1 * s2 >= 0:  # same side, or on the line (the next step decides)
        return 0
    # The step's own line must separate the line's two end points, or the step passed beside it.
    step = (before, after)
    e1, e2 = _side(line[0], step), _side(line[1], step)
    if e1 * e2 > 0:
        return 0
    return 1 if s1 < 0 else -1


@register
class Tailgating(AnalyticsModel[TailgatingConfig]):
    """Several people through a door on one access."""

    key = AiModel.TAILGATING
    config_type = TailgatingConfig

    def __init__(self, config: TailgatingConfig | None = None) -> None:
        super().__init__(config)
        self.detector = self.config.build_detector(min_score=self.config.confidence_threshold)
        self._cameras: dict[uuid.UUID, _CameraState] = {}
        self._grants: dict[uuid.UUID, list[AccessGrant]] = {}

    def grant_access(self, camera_id: uuid.UUID, at: datetime, persons: int = 1) -> None:
        """Record an access event (badge, door release) at the door this camera watches.

        >>> model.grant_access(camera_id, datetime(2026, 3, 2, 12, 0, 5, tzinfo=UTC), persons=2)
        """
        with self.camera_lock(camera_id):
            self._grants.setdefault(camera_id, []).append(AccessGrant(at=at, persons=persons))

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
        self._open_grants(state, camera_id, clip.timestamps[-1])
        steps = list(range(0, len(clip), cfg.detect_every))
        found = self.detector.detect(clip.frames[steps])
        out: list[Detection] = []
        for index, boxes in zip(steps, found, strict=True):
            at = clip.timestamps[index]
            for track in state.tracker.update([b for b in boxes if b.label == "person"]):
                box = track.as_box()
                before = state.last_foot.get(track.id)
                state.last_foot[track.id] = box.foot
                if before is None or track.id in state.entered:
                    continue
                direction = crossed(before, box.foot, cfg.line)
                wanted = {"left": 1, "right": -1}.get(cfg.entry_from)
                if direction == 0 or (wanted is not None and direction != wanted):
                    continue
                state.entered.add(track.id)
                window = self._window_for(state, at)
                window.entries.append((track.id, box))
                if len(window.entries) > window.allowed:
                    window.reported = len(window.entries)
                    out.append(self._detection(window, camera_id, segment_sequence, at))
            live = {t.id for t in state.tracker.tracks}
            state.last_foot = {k: v for k, v in state.last_foot.items() if k in live}
            state.entered &= live
        horizon = timedelta(seconds=cfg.access_window_s)
        state.windows = [w for w in state.windows if w.start + horizon >= clip.timestamps[-1]]
        state.last_time = clip.timestamps[-1]
        return out

    def _open_grants(self, state: _CameraState, camera_id: uuid.UUID, until: datetime) -> None:
        """Turn access events up to the end of this clip into windows (config grants and grant_access calls)."""
        pending = self._grants.pop(camera_id, [])
        since = state.last_time
        grants = [g for g in self.config.access_grants if (since is None or g.at > since) and g.at <= until]
        for grant in sorted([*grants, *pending], key=lambda g: g.at):
            state.windows.append(_Window(start=grant.at, allowed=grant.persons, access_event=True))

    def _window_for(self, state: _CameraState, at: datetime) -> _Window:
        """The access window covering `at` (the latest opened), or a new one opened by this entry."""
        horizon = timedelta(seconds=self.config.access_window_s)
        covering = [w for w in state.windows if w.start <= at <= w.start + horizon]
        if covering:
            return max(covering, key=lambda w: w.start)
        window = _Window(start=at, allowed=self.config.allowed_per_access, access_event=False)
        state.windows.append(window)
        return window

    def _detection(self, window: _Window, camera_id: uuid.UUID, sequence: int, at: datetime) -> Detection:
        boxes = [b for _, b in window.entries]
        x1, y1 = min(b.x for b in boxes), min(b.y for b in boxes)
        x2, y2 = max(b.x + b.w for b in boxes), max(b.y + b.h for b in boxes)
        return Detection(
            model=self.key,
            camera_id=camera_id,
            segment_sequence=sequence,
            frame_time=at,
            box=(x1, y1, x2 - x1, y2 - y1),
            object_class="tailgating",
            score=min(b.score for b in boxes),
            track_id=window.entries[-1][0],
            attributes={
                "entries": len(window.entries),
                "allowed": window.allowed,
                "trackIds": [tid for tid, _ in window.entries],
                "windowStart": window.start.isoformat(),
                "accessEvent": window.access_event,
            },
        )
