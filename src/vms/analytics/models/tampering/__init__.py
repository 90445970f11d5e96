"""Camera tampering: covered or dark, defocused, repositioned, sprayed or obstructed.

Per camera a reference of the normal scene is learnt from the first frames (their median) and
then follows the scene slowly while it looks normal. Each frame is compared with it at low
resolution:

- covered: the picture is nearly black or nearly uniform (a hand, a cap, a cloth on the lens);
- blurred: the overall sharpness (variance of the Laplacian) fell well below the reference's;
- obstructed: a large part of the grid of cells that had detail lost it (spray paint, a sticker,
  something hung in front), while the rest of the picture is still sharp;
- repositioned: the picture is lit and sharp but its structure no longer matches the reference
  (normalised correlation of the downscaled edges and image).

A kind must hold for `min_duration_s` before it is reported, so people walking past the lens do
not fire; one detection per kind per clip, box = whole frame.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from vms.analytics.plugin import AnalyticsModel, Detection, ModelConfig, register
from vms.kernel.ai_models import AiModel
from vms.media.normalize import NormalizedClip

Kind = Literal["covered", "blurred", "repositioned", "obstructed"]
KINDS: tuple[Kind, ...] = ("covered", "blurred", "repositioned", "obstructed")

_WORK = (160, 120)  # analysis size (w, h): tampering is a whole-picture property
_GRID = (8, 6)  # cells (columns, rows) for the partial-obstruction test


class TamperingConfig(ModelConfig):
    """Settings of camera tampering detection."""

    type: Literal["tampering"] = "tampering"
    reference_frames: int = Field(
        15, ge=1, le=900, description="Normal frames whose median becomes the first reference."
    )
    reference_rate: float = Field(
        0.01, ge=0.0, le=0.5, description="Weight of each normal frame in the slowly following reference."
    )
    dark_luma: float = Field(
        25.0, ge=0.0, le=255.0, description="Mean brightness (0..255) below which the lens is covered."
    )
    flat_std: float = Field(
        8.0, ge=0.0, le=128.0, description="Brightness standard deviation below which the picture is uniform (covered)."
    )
    blur_ratio: float = Field(
        0.3, ge=0.01, le=1.0, description="Sharpness below this fraction of the reference's counts as defocus."
    )
    lost_detail_ratio: float = Field(
        0.25, ge=0.01, le=1.0, description="A cell whose detail falls below this fraction of its reference lost detail."
    )
    obstructed_share: float = Field(
        0.4, ge=0.05, le=1.0, description="Share of the detailed cells that must lose detail for an obstruction."
    )
    mismatch_correlation: float = Field(
        0.6, ge=-1.0, le=1.0, description="Scene correlation with the reference below which the camera moved."
    )
    min_duration_s: float = Field(
        1.0, ge=0.0, le=60.0, description="How long a tampering must persist before it is reported."
    )
    relearn_after_s: float = Field(
        600.0, ge=10.0, le=86400.0, description="After this long tampered the current scene becomes the reference."
    )


@dataclass
class _Reference:
    gray: np.ndarray  # float32 work-size image
    sharpness: float
    cells: np.ndarray  # per-cell detail (mean |Laplacian|)


@dataclass
class _CameraState:
    learning: list[np.ndarray] = field(default_factory=list)
    reference: _Reference | None = None
    runs: dict[str, int] = field(default_factory=dict)  # consecutive frames per kind
    tampered_since: datetime | None = None
    last_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Features:
    gray: np.ndarray
    mean: float
    std: float
    sharpness: float
    cells: np.ndarray


@register
class CameraTampering(AnalyticsModel[TamperingConfig]):
    """Covered, defocused, repositioned or obstructed cameras."""

    key = AiModel.TAMPERING
    config_type = TamperingConfig

    def __init__(self, config: TamperingConfig | None = None) -> None:
        super().__init__(config)
        self._cameras: dict[uuid.UUID, _CameraState] = {}

    def analyze(self, clip: NormalizedClip, *, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        """At most one detection per tampering kind in `clip`, judged against this camera's reference."""
        with self.camera_lock(camera_id):  # one camera's state is updated by one thread at a time
            return self._analyze(clip, camera_id, segment_sequence)

    def _analyze(self, clip: NormalizedClip, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        cfg = self.config
        state = self._cameras.setdefault(camera_id, _CameraState())
        fps = clip.spec.fps if clip.spec.fps > 0 else 15.0
        needed = max(1, round(cfg.min_duration_s * fps))
        found: dict[str, tuple[datetime, float, dict[str, float]]] = {}
        for frame, stamp in zip(clip.frames, clip.timestamps, strict=False):
            if state.last_time is not None and stamp <= state.last_time:
                continue  # overlapping segments: this frame was judged already
            state.last_time = stamp
            feats = _features(frame)
            kind, score, measures = self._judge(state, feats)
            for k in KINDS:
                state.runs[k] = state.runs.get(k, 0) + 1 if k == kind else 0
            if kind is not None and state.runs[kind] >= needed and kind not in found:
                found[kind] = (stamp, score, measures)
            if kind is None:
                state.tampered_since = None
                self._follow(state, feats)
            else:
                state.tampered_since = state.tampered_since or stamp
                if (stamp - state.tampered_since).total_seconds() > cfg.relearn_after_s:
                    # Tampered for so long that this is the scene now (an authorised move).
                    state.reference, state.learning, state.tampered_since = None, [], None
        return [
            Detection(
                model=self.key,
                camera_id=camera_id,
                segment_sequence=segment_sequence,
                frame_time=stamp,
                box=(0.0, 0.0, 1.0, 1.0),
                object_class=kind,
                score=score,
                attributes=measures,
            )
            for kind, (stamp, score, measures) in found.items()
            if score >= cfg.confidence_threshold
        ]

    def _judge(self, state: _CameraState, f: _Features) -> tuple[Kind | None, float, dict[str, float]]:
        cfg = self.config
        if f.mean < cfg.dark_luma or f.std < cfg.flat_std:
            dark = 1.0 - min(f.mean / max(cfg.dark_luma, 1.0), f.std / max(cfg.flat_std, 1.0))
            return "covered", 0.6 + 0.4 * max(0.0, dark), {"meanLuma": round(f.mean, 2), "lumaStd": round(f.std, 2)}
        ref = state.reference
        if ref is None:
            return None, 0.0, {}
        sharp_ratio = f.sharpness / max(ref.sharpness, 1e-6)
        detailed = ref.cells > max(1.0, 0.2 * float(np.median(ref.cells)))
        lost = (f.cells < cfg.lost_detail_ratio * ref.cells) & detailed
        lost_share = float(lost.sum()) / max(1, int(detailed.sum()))
        # Cells that kept most of their detail: none after a defocus, the uncovered part after an obstruction.
        intact_share = float(((f.cells >= 0.6 * ref.cells) & detailed).sum()) / max(1, int(detailed.sum()))
        measures = {
            "sharpnessRatio": round(sharp_ratio, 3),
            "lostDetailShare": round(lost_share, 3),
            "intactShare": round(intact_share, 3),
        }
        obstructed_score = 0.6 + 0.4 * min(1.0, (lost_share - cfg.obstructed_share) / 0.3)
        if lost_share >= cfg.obstructed_share and intact_share >= 0.1:
            return "obstructed", obstructed_score, measures
        if sharp_ratio < cfg.blur_ratio:
            return "blurred", 0.6 + 0.4 * (1.0 - sharp_ratio / cfg.blur_ratio), measures
        if lost_share >= cfg.obstructed_share:
            return "obstructed", obstructed_score, measures
        corr = _scene_correlation(f.gray, ref.gray)
        measures["sceneCorrelation"] = round(corr, 3)
        if corr < cfg.mismatch_correlation:
            return "repositioned", 0.6 + 0.4 * min(1.0, (cfg.mismatch_correlation - corr) / 0.3), measures
        return None, 0.0, measures

    def _follow(self, state: _CameraState, f: _Features) -> None:
        cfg = self.config
        if state.reference is None:
            state.learning.append(f.gray)
            if len(state.learning) >= cfg.reference_frames:
                state.reference = _reference(np.median(np.stack(state.learning), axis=0).astype(np.float32))
                state.learning = []
            return
        if cfg.reference_rate > 0:
            gray = state.reference.gray
            cv2.accumulateWeighted(f.gray, gray, cfg.reference_rate)
            state.reference = _reference(gray)


def _features(frame: np.ndarray) -> _Features:
    small = cv2.resize(frame, _WORK, interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    ref = _reference(gray)
    return _Features(gray, float(gray.mean()), float(gray.std()), ref.sharpness, ref.cells)


def _reference(gray: np.ndarray) -> _Reference:
    lap = cv2.Laplacian(gray, cv2.CV_32F, ksize=3)
    cols, rows = _GRID
    h, w = gray.shape
    cells = np.abs(lap[: h - h % rows, : w - w % cols]).reshape(rows, h // rows, cols, w // cols).mean(axis=(1, 3))
    return _Reference(gray, float(lap.var()), cells)


def _scene_correlation(gray: np.ndarray, ref: np.ndarray) -> float:
    """Normalised correlation of the coarse image and of its edges: 1 for the same view."""
    scores = []
    for a, b in ((gray, ref), (_edges(gray), _edges(ref))):
        a = cv2.resize(a, (80, 60), interpolation=cv2.INTER_AREA)
        b = cv2.resize(b, (80, 60), interpolation=cv2.INTER_AREA)
        a = a - a.mean()
        b = b - b.mean()
        denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
        scores.append(float((a * b).sum()) / denom if denom > 1e-6 else 0.0)
    return float(np.mean(scores))


def _edges(gray: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.GaussianBlur(cv2.magnitude(gx, gy), (5, 5), 0)
