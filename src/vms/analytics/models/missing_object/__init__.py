"""Missing object (a guarded object taken away) and abandoned object (a new object left behind).

Per camera a reference of the empty scene is learnt as the median of the first frames, then
follows slow lighting drift wherever the picture still matches it. Each frame is compared with it
at low resolution, after a global gain correction (lights dimming is not a change):

- *changed*: the pixel differs from the reference;
- *still*: the pixel matches an anchor frame taken up to a second ago (something there is not moving).

**Missing**: a configured reference region (box or polygon around the guarded object) counts as
empty when most of it is changed and still. People walking in front of the object make it
changed but not still, and when they have passed it matches the reference again, which restarts
the clock; so only a region that stays changed for `missing_after_s` — and is still and changed at
that moment — is reported. A person standing in front for that long would look the same, so
before reporting, the shared person detector checks the region is not covered by a person
(`person_check`).

**Abandoned**: pixels outside the reference regions that have been changed *and* still since
they first changed, for `abandoned_after_s`, are grouped into blobs; a blob over `min_area` that
is not a person standing still is an abandoned object. Each is reported once (while it stays);
a pixel that has been changed for `absorb_after_s` becomes part of the reference (the new normal).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

import cv2
import numpy as np
from pydantic import Field

from vms.analytics.detect.persons import PersonDetectorOptions
from vms.analytics.plugin import AnalyticsModel, Detection, ModelConfig, register
from vms.kernel.ai_models import AiModel
from vms.media.normalize import NormalizedClip

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Polygon = Annotated[list[tuple[Share, Share]], Field(min_length=3, max_length=64)]
Box = tuple[float, float, float, float]

_WORK = (160, 120)  # analysis size (w, h): objects of interest are tens of pixels at 640×480


class MissingObjectConfig(ModelConfig, PersonDetectorOptions):
    """Settings of missing and abandoned object detection."""

    type: Literal["missing_object"] = "missing_object"
    regions: list[Polygon] = Field(
        default_factory=list,
        max_length=32,
        description="Guarded objects: polygons (x, y in frame fractions) around each; a box is a 4-point polygon.",
    )
    missing_after_s: float = Field(
        10.0, ge=0.5, le=3600.0, description="How long a guarded object must be gone before it is reported missing."
    )
    abandoned: bool = Field(True, description="Also report new objects left in the scene (abandoned objects).")
    abandoned_after_s: float = Field(
        10.0, ge=0.5, le=3600.0, description="How long a new object must stay, unmoved, before it is abandoned."
    )
    min_area: float = Field(0.002, ge=0.0, le=1.0, description="Smallest abandoned object, as a share of the frame.")
    max_area: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="Largest abandoned object, as a share of the frame (bigger is a scene change).",
    )
    missing_share: float = Field(
        0.35,
        ge=0.05,
        le=1.0,
        description="Share of a region that must differ from its reference for it to be empty "
        "(regions are drawn with a margin round the object).",
    )
    change_threshold: float = Field(
        28.0, ge=1.0, le=255.0, description="Colour difference (0..255) from the reference that counts as changed."
    )
    still_threshold: float = Field(
        14.0, ge=1.0, le=255.0, description="Colour difference from a frame up to a second ago below which it is still."
    )
    reference_frames: int = Field(15, ge=1, le=900, description="Frames whose median becomes the first reference.")
    reference_rate: float = Field(
        0.02, ge=0.0, le=0.5, description="Weight of each frame in the reference where the scene is unchanged."
    )
    absorb_after_s: float = Field(
        600.0, ge=10.0, le=86400.0, description="After this long changed, a pixel becomes part of the reference."
    )
    person_check: bool = Field(
        True, description="Run the person detector before reporting, so a person standing still is neither."
    )
    gap_reset_s: float = Field(
        60.0, ge=1.0, le=86400.0, description="A gap between segments longer than this relearns the reference."
    )


@dataclass
class _Region:
    mask: np.ndarray  # bool, work size
    box: Box
    missing_since: float | None = None
    reported: bool = False


@dataclass
class _CameraState:
    learning: list[np.ndarray] = field(default_factory=list)
    reference: np.ndarray | None = None  # float32 work-size RGB
    anchor: np.ndarray | None = None
    anchor_time: float = 0.0
    changed_since: np.ndarray | None = None  # seconds since epoch a pixel became changed and still; nan if not
    regions: list[_Region] = field(default_factory=list)
    abandoned: list[Box] = field(default_factory=list)  # reported and still there
    last_time: datetime | None = None


@register
class MissingObject(AnalyticsModel[MissingObjectConfig]):
    """Guarded objects taken away and new objects left behind."""

    key = AiModel.MISSING_OBJECT
    config_type = MissingObjectConfig

    def __init__(self, config: MissingObjectConfig | None = None) -> None:
        super().__init__(config)
        self._cameras: dict[uuid.UUID, _CameraState] = {}
        self._detector: Any = None  # built on first need: most frames never need it

    def analyze(self, clip: NormalizedClip, *, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        """Objects reported missing or abandoned in `clip`, continuing this camera's reference."""
        with self.camera_lock(camera_id):  # one camera's state is updated by one thread at a time
            return self._analyze(clip, camera_id, segment_sequence)

    def _analyze(self, clip: NormalizedClip, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        cfg = self.config
        state = self._cameras.get(camera_id)
        if state is None or (
            clip.timestamps
            and state.last_time is not None
            and (clip.timestamps[0] - state.last_time).total_seconds() > cfg.gap_reset_s
        ):
            state = self._cameras[camera_id] = self._new_state()
        out: list[Detection] = []
        for frame, stamp in zip(clip.frames, clip.timestamps, strict=False):
            if state.last_time is not None and stamp <= state.last_time:
                continue  # overlapping segments: this frame was judged already
            state.last_time = stamp
            for box, kind, score, attributes in self._step(state, frame, stamp.timestamp()):
                if score >= cfg.confidence_threshold:
                    out.append(
                        Detection(
                            model=self.key,
                            camera_id=camera_id,
                            segment_sequence=segment_sequence,
                            frame_time=stamp,
                            box=box,
                            object_class=kind,
                            score=score,
                            attributes=attributes,
                        )
                    )
        return out

    def _new_state(self) -> _CameraState:
        w, h = _WORK
        regions = []
        for polygon in self.config.regions:
            mask = np.zeros((h, w), np.uint8)
            points = np.round(np.asarray(polygon, np.float32) * (w, h)).astype(np.int32)
            cv2.fillPoly(mask, [points], 1)
            xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
            regions.append(_Region(mask.astype(bool), (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))))
        return _CameraState(regions=regions)

    def _step(self, state: _CameraState, frame: np.ndarray, now: float) -> list[tuple[Box, str, float, dict[str, Any]]]:
        cfg = self.config
        small: np.ndarray = cv2.GaussianBlur(cv2.resize(frame, _WORK, interpolation=cv2.INTER_AREA), (3, 3), 0)
        small = small.astype(np.float32)
        if state.reference is None:
            state.learning.append(small)
            if len(state.learning) >= cfg.reference_frames:
                state.reference = np.median(np.stack(state.learning), axis=0).astype(np.float32)
                state.learning = []
                state.anchor, state.anchor_time = small, now
                state.changed_since = np.full(small.shape[:2], np.nan)
            return []
        ref = state.reference
        gain = float(ref.mean()) / max(float(small.mean()), 1.0)  # lighting drift is not a change
        if 0.5 < gain < 2.0:
            small = small * gain
        changed = np.abs(small - ref).max(axis=2) > cfg.change_threshold
        assert state.anchor is not None and state.changed_since is not None
        still = np.abs(small - state.anchor).max(axis=2) < cfg.still_threshold
        if now - state.anchor_time >= 1.0:
            state.anchor, state.anchor_time = small, now
        since = state.changed_since
        since[~changed] = np.nan  # matches the reference again: the clock restarts
        since[changed & still & np.isnan(since)] = now
        # The reference follows the scene where it is unchanged, and adopts what stayed changed for long.
        if cfg.reference_rate > 0:
            follow = (~changed).astype(np.float32)
            cv2.accumulateWeighted(small, ref, cfg.reference_rate, mask=follow.astype(np.uint8))
        absorbed = changed & ~np.isnan(since) & (now - np.nan_to_num(since, nan=now) >= cfg.absorb_after_s)
        if absorbed.any():
            ref[absorbed] = small[absorbed]
            since[absorbed] = np.nan
        found = self._missing(state, frame, now, changed, still)
        if cfg.abandoned:
            found += self._abandoned(state, frame, small, now, changed, still)
        return found

    def _missing(
        self, state: _CameraState, frame: np.ndarray, now: float, changed: np.ndarray, still: np.ndarray
    ) -> list[tuple[Box, str, float, dict[str, Any]]]:
        cfg = self.config
        out: list[tuple[Box, str, float, dict[str, Any]]] = []
        for index, region in enumerate(state.regions):
            changed_share = float(changed[region.mask].mean()) if region.mask.any() else 0.0
            still_share = float(still[region.mask].mean()) if region.mask.any() else 0.0
            if changed_share < cfg.missing_share:
                region.missing_since, region.reported = None, False  # the object is (back) in place
                continue
            if region.missing_since is None:
                if still_share < 0.8:
                    continue  # changed by something moving in front: not yet a candidate
                region.missing_since = now
            gone = now - region.missing_since
            if region.reported or gone < cfg.missing_after_s or still_share < 0.8:
                continue
            if self._person_over(frame, region.box):
                continue  # someone stands in front of it; they will move
            region.reported = True
            score = 0.6 + 0.4 * min(1.0, (changed_share - cfg.missing_share) / max(1e-6, 1.0 - cfg.missing_share))
            attributes = {"region": index, "goneSeconds": round(gone, 1), "changedShare": round(changed_share, 3)}
            out.append((region.box, "missing_object", score, attributes))
        return out

    def _abandoned(
        self,
        state: _CameraState,
        frame: np.ndarray,
        small: np.ndarray,
        now: float,
        changed: np.ndarray,
        still: np.ndarray,
    ) -> list[tuple[Box, str, float, dict[str, Any]]]:
        cfg = self.config
        assert state.changed_since is not None
        since = np.nan_to_num(state.changed_since, nan=now)
        static = (changed & still & (now - since >= cfg.abandoned_after_s)).astype(np.uint8)
        for region in state.regions:
            static[region.mask] = 0
        static = cv2.morphologyEx(static, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
        static = cv2.morphologyEx(static, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
        count, _, stats, _ = cv2.connectedComponentsWithStats(static, connectivity=8)
        w, h = _WORK
        blobs: list[tuple[Box, float]] = []
        for i in range(1, count):
            x, y, bw, bh, area = (int(v) for v in stats[i])
            share = area / float(w * h)
            if cfg.min_area <= share <= cfg.max_area:
                blobs.append(((x / w, y / h, bw / w, bh / h), share))
        # Forget reported objects that are gone (their pixels match the reference again).
        state.abandoned = [b for b in state.abandoned if changed[_pixels(b)].mean() >= 0.3]
        out: list[tuple[Box, str, float, dict[str, Any]]] = []
        assert state.reference is not None
        for box, share in blobs:
            if any(_overlap(box, seen) for seen in state.abandoned):
                continue  # the object already reported (or a part of it)
            if _is_ghost(small, state.reference, box):
                # Something that stood there while the reference was learnt has left: the reference
                # is wrong, not the scene. Adopt the current view there.
                rows, cols = _pixels(box)
                state.reference[rows, cols] = small[rows, cols]
                state.changed_since[rows, cols] = np.nan
                continue
            if self._person_over(frame, box):
                continue
            state.abandoned.append(box)
            score = 0.6 + 0.4 * min(1.0, share / max(10 * cfg.min_area, 1e-4))
            out.append((box, "abandoned_object", score, {"areaShare": round(share, 5)}))
        return out

    def _person_over(self, frame: np.ndarray, box: Box) -> bool:
        """Whether a detected person and `box` mostly coincide (a person standing still, not an object).

        Measured against the smaller of the two: a blob often takes in the person's shadow too.
        """
        if not self.config.person_check:
            return False
        if self._detector is None:
            self._detector = self.config.build_detector(min_score=0.5)
        (people,) = self._detector.detect(frame[None])
        for p in people:
            ix = max(0.0, min(box[0] + box[2], p.x + p.w) - max(box[0], p.x))
            iy = max(0.0, min(box[1] + box[3], p.y + p.h) - max(box[1], p.y))
            if ix * iy >= 0.5 * min(box[2] * box[3], p.w * p.h):
                return True
        return False


def _pixels(box: Box) -> tuple[slice, slice]:
    w, h = _WORK
    x0, y0 = int(box[0] * w), int(box[1] * h)
    return slice(y0, max(y0 + 1, round((box[1] + box[3]) * h))), slice(x0, max(x0 + 1, round((box[0] + box[2]) * w)))


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _is_ghost(small: np.ndarray, reference: np.ndarray, box: Box) -> bool:
    """Whether a changed blob is where something *left* rather than where something arrived.

    An object put down brings its outline: the current picture has stronger edges on the blob's
    border than the reference. A ghost is the reverse: the outline is in the reference only.
    """
    rows, cols = _pixels(box)
    pad = 2
    r = slice(max(0, rows.start - pad), rows.stop + pad)
    c = slice(max(0, cols.start - pad), cols.stop + pad)
    cur, ref = _edges(small[r, c]), _edges(reference[r, c])
    ring = np.ones(cur.shape, bool)
    ring[pad + 1 : -pad - 1, pad + 1 : -pad - 1] = False  # the blob's border band
    return float(cur[ring].mean()) < float(ref[ring].mean())


def _edges(image: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(image.astype(np.float32), cv2.COLOR_RGB2GRAY)
    return cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3))
