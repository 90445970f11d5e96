"""Fire & smoke detection: flame colour that flickers and persists; grey haze that lowers contrast and rises.

Everything runs at 160×120 (flames and plumes worth an alarm are tens of pixels at 640×480) over
a sliding window of the last `window_s` seconds, per camera, segment after segment.

**Flame.** A pixel is *flame-coloured* when it is bright, saturated and red-orange-yellow
(R ≥ `flame_min_red`, R > G > B, HSV saturation ≥ `flame_min_saturation`). Colour alone fires on
every orange coat and tail-light, so a flame pixel must also *flicker*: flames pulse at about
3–12 Hz, so their brightness keeps reversing direction. Over the window, the share of
frame-to-frame steps (each at least `flicker_amplitude` grey levels) that reverse the previous
step must reach `min_flicker_share` — a static orange object has none (noise is below the
amplitude), a lighting ramp is monotonic, a moving red shirt passes a pixel in a few frames. The
pixel must also be flame-coloured in `min_colour_share` of the window (a passing shirt is not).

**Smoke.** A running background (median of the first frames, then following the scene where it
is unchanged) is kept, gain-corrected per frame so lights dimming is not a change. Fine texture
(detail) is measured at 320×240: at the work size the detail a thin veil removes is averaged
away. A pixel is *smoke-like* when it is grey (saturation ≤ `smoke_max_saturation`, or well below
the scene's there) and either dense or thin smoke. *Dense*: brighter than the background by
`smoke_min_change` with its fine texture down by `smoke_min_contrast_drop` (haze veils detail; a
person walking in front adds it) — over a flat background brighter and grey is enough. *Thin*
(light smoke over light ground hardly brightens it): not darker, texture down by `smoke_min_veil`,
and the ground's detail pattern still seen through it (correlation ≥ `smoke_min_see_through`: a
veil keeps the pattern, fainter; a coat in front replaces it). *Faint* (thin smoke over weakly
patterned ground, where noise swamps the texture ratio): brighter by `smoke_min_faint_change`, the
ground's pattern seen (correlation ≥ `smoke_min_faint_see_through`) scaled down by a least-squares
transmission at least `smoke_min_faint_veil` below the whole view's (noise does not bias the fit;
sunlight scales the pattern up; fog lowers it everywhere alike), filling `smoke_min_faint_cover` of
its surroundings (a veil is a sheet, not specks). Where the picture clips at white,
detail is lost to exposure and counts for nothing. It must be smoke-like in `min_colour_share` of
the window and drift (brightness varies by `smoke_min_motion`); a change that holds still for a
window is a ghost or a new normal and joins the background.

**Regions.** Each mask is cleaned, grouped into connected regions and tracked by overlap. A flame
region over `min_area` is reported once it persisted `min_persist_s`; a smoke region needs
to be at least `smoke_min_area`, to have persisted `smoke_persist_s` and to have *spread and
risen* (its area grown by `smoke_min_growth` and its top risen by `smoke_min_rise` since first
seen): clothes and ghosts may be grey, but they do not billow upwards. Smoke-like area over
`max_area` is a global change (a light switched on), and so is a median loss of detail over the
whole view above `haze_max_veil` (fog, haze, focus: smoke veils a part of the view); both re-learn
the background. Each track is reported once, then every `repeat_s` while it lasts, with a
confidence built from how strongly it flickers (flame) or how persistently it is smoke-like
(smoke), and its growth. Regions whose centre is outside every zone (when zones are set) are ignored.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

import cv2
import numpy as np
from pydantic import Field

from vms.analytics.detect.zones import zone_of
from vms.analytics.plugin import AnalyticsModel, Detection, ModelConfig, register
from vms.kernel.ai_models import AiModel
from vms.media.normalize import NormalizedClip

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Polygon = Annotated[list[tuple[Share, Share]], Field(min_length=3, max_length=64)]
Box = tuple[float, float, float, float]  # x, y, width, height as fractions of the frame

_WORK = (160, 120)  # analysis size (w, h)
_FINE = (2 * _WORK[0], 2 * _WORK[1])  # where fine detail is measured
_LUMA = np.asarray([0.299, 0.587, 0.114], np.float32)
_TEXTURED = 1.5  # background fine texture (grey levels) below which ground counts as flat
_PATTERNED = 0.8  # background fine texture (grey levels) from which its pattern can still be fitted through a veil
_CLIPPED = 245.0  # a pixel this bright is at the sensor's ceiling, where detail is lost to exposure


class FireSmokeConfig(ModelConfig):
    """Settings of fire and smoke detection."""

    type: Literal["fire_smoke"] = "fire_smoke"
    detect_fire: bool = Field(True, description="Report flames.")
    detect_smoke: bool = Field(True, description="Report smoke.")
    zones: list[Polygon] = Field(
        default_factory=list,
        max_length=32,
        description="Polygons (x, y in frame fractions 0..1); only regions centred inside one are reported. "
        "Empty means the whole frame.",
    )
    window_s: float = Field(
        1.0, ge=0.3, le=10.0, description="Sliding window over which flicker and colour persistence are measured."
    )
    min_area: float = Field(
        0.0004, ge=0.0, le=1.0, description="Smallest flame region reported, as a share of the frame."
    )
    max_area: float = Field(
        0.5,
        ge=0.01,
        le=1.0,
        description="Smoke-like area above this share of the frame is a global change (lights), not smoke.",
    )
    flame_min_red: int = Field(150, ge=0, le=255, description="Least red level (0..255) of a flame pixel.")
    flame_min_saturation: float = Field(
        0.3, ge=0.0, le=1.0, description="Least HSV saturation of a flame pixel (white light is not flame)."
    )
    flicker_amplitude: float = Field(
        6.0, ge=1.0, le=100.0, description="Least frame-to-frame brightness step (0..255) counted as flicker."
    )
    min_flicker_share: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="Share of frame steps in the window that must reverse direction at a flame pixel "
        "(0.25 at 15 fps ≈ 2 Hz; flames flicker at 3–12 Hz, static objects not at all).",
    )
    min_colour_share: float = Field(
        0.5,
        ge=0.05,
        le=1.0,
        description="Share of the window a pixel must be flame-coloured (or smoke-like) to count "
        "(things passing by are not).",
    )
    smoke_max_saturation: float = Field(
        0.22, ge=0.0, le=1.0, description="Most HSV saturation of a smoke pixel (smoke is grey)."
    )
    smoke_min_change: float = Field(
        10.0, ge=1.0, le=255.0, description="Least brightness difference (0..255) from the background for smoke."
    )
    smoke_min_contrast_drop: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="Least relative drop of fine texture against the background for dense smoke (smoke veils "
        "texture; a person in front adds it).",
    )
    smoke_min_veil: float = Field(
        0.45,
        ge=0.0,
        le=1.0,
        description="Least relative drop of fine texture that makes a grey pixel smoke-like without any brightening "
        "(light smoke over light ground veils the detail but hardly changes the brightness).",
    )
    smoke_min_see_through: float = Field(
        0.4,
        ge=-1.0,
        le=1.0,
        description="Least correlation of the fine detail with the background's for thin smoke: a veil keeps "
        "the ground's pattern visible, fainter; a person or a coat in front replaces it.",
    )
    smoke_min_faint_veil: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="Least drop of the ground pattern's transmission (below the whole view's) that, with slight "
        "brightening, makes a grey pixel faint smoke (thin smoke over weakly patterned ground).",
    )
    smoke_min_faint_change: float = Field(
        2.0,
        ge=0.0,
        le=255.0,
        description="Least brightening (0..255) of a faint smoke pixel: a veil adds scattered light.",
    )
    smoke_min_faint_see_through: float = Field(
        0.5,
        ge=-1.0,
        le=1.0,
        description="Least correlation of the fine detail with the background's for faint smoke (the ground's "
        "pattern, fainter, is what is seen).",
    )
    smoke_min_faint_cover: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Least share of the 5×5 pixels round a faint smoke pixel that are faint smoke too (a veil is "
        "a sheet; noise, compression and ghosts leave scattered specks).",
    )
    haze_max_veil: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="Median loss of fine detail over the whole view above which the change is fog, haze or "
        "focus, not smoke (smoke veils a part of the view): the background is relearnt.",
    )
    smoke_min_motion: float = Field(
        2.0,
        ge=0.0,
        le=50.0,
        description="Least standard deviation of brightness (0..255) over the window at a smoke pixel: smoke "
        "drifts; a change that holds still is a ghost or a new normal and joins the background.",
    )
    smoke_min_growth: float = Field(
        0.5, ge=0.0, le=10.0, description="Relative area growth since first seen that counts as smoke spreading."
    )
    smoke_min_rise: float = Field(
        0.05, ge=0.0, le=1.0, description="Rise of a region's top since first seen (share of frame height)."
    )
    min_persist_s: float = Field(
        0.3, ge=0.0, le=60.0, description="How long a flame region must persist before it is reported."
    )
    smoke_min_area: float = Field(
        0.003,
        ge=0.0,
        le=1.0,
        description="Smallest smoke region reported, as a share of the frame (a plume worth an alarm is large; "
        "small grey changes are people's clothes).",
    )
    smoke_persist_s: float = Field(
        1.0,
        ge=0.0,
        le=60.0,
        description="How long a smoke region must persist before it is reported (smoke builds up; passers-by move on).",
    )
    repeat_s: float = Field(
        30.0, ge=1.0, le=3600.0, description="A region still there is reported again after this long."
    )
    background_frames: int = Field(
        30,
        ge=1,
        le=900,
        description="Frames whose median becomes the first background (long enough for passers-by to move on; "
        "smoke is looked for from then on).",
    )
    background_rate: float = Field(
        0.03, ge=0.0, le=0.5, description="Weight of each frame in the background where the scene is unchanged."
    )
    gap_reset_s: float = Field(
        30.0, ge=1.0, le=3600.0, description="A gap between segments longer than this restarts the analysis."
    )


@dataclass
class _Track:
    ident: int
    kind: str
    box: Box
    first_seen: float
    first_area: float
    first_top: float
    last_seen: float
    reported_at: float | None = None


@dataclass
class _Sample:
    time: float
    luma: np.ndarray  # float32 (h, w)
    flame: np.ndarray  # bool: flame-coloured
    smoke: np.ndarray  # bool: smoke-like


@dataclass
class _CameraState:
    window: deque[_Sample] = field(default_factory=deque)
    learning: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (work-size RGB, fine luma)
    background: np.ndarray | None = None  # float32 RGB, work size
    background_fine: np.ndarray | None = None  # float32 luma at twice the work size: the scene's fine detail
    changed: np.ndarray | None = None  # bool: the latest frame differs from the background
    view_veil: float = 0.0  # median loss of fine detail over the whole view in the latest frame
    tracks: list[_Track] = field(default_factory=list)
    next_id: int = 1
    last_time: datetime | None = None


_Found = tuple[Box, str, float, dict[str, Any], _Track]


@register
class FireSmoke(AnalyticsModel[FireSmokeConfig]):
    """Flames (flickering fire colour) and smoke (grey haze that veils the scene and spreads)."""

    key = AiModel.FIRE_SMOKE
    config_type = FireSmokeConfig

    def __init__(self, config: FireSmokeConfig | None = None) -> None:
        super().__init__(config)
        self._cameras: dict[uuid.UUID, _CameraState] = {}

    def analyze(self, clip: NormalizedClip, *, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        """Flame and smoke regions reported in `clip`, continuing this camera's window and background."""
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
            state = self._cameras[camera_id] = _CameraState()
        out: list[Detection] = []
        for frame, stamp in zip(clip.frames, clip.timestamps, strict=False):
            if state.last_time is not None and stamp <= state.last_time:
                continue  # segments overlap (requirements table): these frames were analysed already
            state.last_time = stamp
            for box, kind, score, attributes, track in self._step(state, frame, stamp.timestamp()):
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
                            track_id=f"{kind}-{track.ident}",
                            attributes=attributes,
                        )
                    )
        return out

    def _step(self, state: _CameraState, frame: np.ndarray, now: float) -> list[_Found]:
        cfg = self.config
        small = cv2.GaussianBlur(cv2.resize(frame, _WORK, interpolation=cv2.INTER_AREA), (3, 3), 0).astype(np.float32)
        fine = cv2.resize(frame, _FINE, interpolation=cv2.INTER_AREA).astype(np.float32) @ _LUMA
        luma = small @ _LUMA
        hi, lo = small.max(axis=2), small.min(axis=2)
        saturation = (hi - lo) / np.maximum(hi, 1.0)
        r, g, b = small[..., 0], small[..., 1], small[..., 2]
        flame = (r >= cfg.flame_min_red) & (r > g) & (g > b) & (saturation >= cfg.flame_min_saturation)
        smoke = self._smoke_like(state, small, fine, luma, saturation)
        state.window.append(_Sample(now, luma, flame, smoke))
        # The window holds the last `window_s` seconds at whatever rate frames come (at least 4 frames).
        while len(state.window) > 4 and now - state.window[0].time > cfg.window_s:
            state.window.popleft()
        if len(state.window) < 4:
            return []
        regions: list[tuple[str, np.ndarray, np.ndarray]] = []  # kind, mask, per-pixel strength
        if cfg.detect_fire:
            mask, strength = self._flames(state)
            regions.append(("fire", mask, strength))
        if cfg.detect_smoke and state.background is not None:
            lumas = np.stack([s.luma for s in state.window])
            dynamic = lumas.std(axis=0) >= cfg.smoke_min_motion
            self._absorb(state, small, fine, ~dynamic)
            share = np.mean([s.smoke for s in state.window], axis=0)
            persistent = (share >= cfg.min_colour_share) & dynamic
            # A global change: lights, or the whole view veiled (fog, haze, focus): relearn the background.
            if persistent.mean() > cfg.max_area or state.view_veil > cfg.haze_max_veil:
                state.background, state.learning = None, []
                state.tracks = [t for t in state.tracks if t.kind != "smoke"]
            else:
                regions.append(("smoke", persistent, share))
        return self._regions(state, regions, now)

    def _flames(self, state: _CameraState) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.config
        lumas = np.stack([s.luma for s in state.window])
        steps = np.diff(lumas, axis=0)
        signs = np.sign(steps) * (np.abs(steps) >= cfg.flicker_amplitude)
        reversals = (signs[1:] * signs[:-1] < 0).sum(axis=0)
        flicker = reversals / float(max(1, len(steps) - 1))
        colour = np.mean([s.flame for s in state.window], axis=0)
        mask = (colour >= cfg.min_colour_share) & (flicker >= cfg.min_flicker_share)
        return mask, flicker

    def _absorb(self, state: _CameraState, small: np.ndarray, fine: np.ndarray, static: np.ndarray) -> None:
        """Adopt the current view where it differs from the background yet has not moved for a window.

        That is a ghost (someone who stood there while the background was learnt has left) or a
        new normal (a parked car); smoke drifts, so it is never static for a whole window.
        """
        assert state.background is not None and state.background_fine is not None and state.changed is not None
        adopt = static & state.changed
        if adopt.any():
            state.background[adopt] = small[adopt]
            adopt_fine = _to_fine(adopt)
            state.background_fine[adopt_fine] = fine[adopt_fine]

    def _smoke_like(
        self, state: _CameraState, small: np.ndarray, fine: np.ndarray, luma: np.ndarray, saturation: np.ndarray
    ) -> np.ndarray:
        cfg = self.config
        if state.background is None:
            state.learning.append((small, fine))
            if len(state.learning) >= cfg.background_frames:
                state.background = np.median(np.stack([s for s, _ in state.learning]), axis=0).astype(np.float32)
                state.background_fine = np.median(np.stack([f for _, f in state.learning]), axis=0).astype(np.float32)
                state.learning = []
            state.changed = np.zeros(luma.shape, bool)
            return state.changed
        bg, bg_fine = state.background, state.background_fine
        assert bg_fine is not None
        gain = float(bg.mean()) / max(float(small.mean()), 1.0)  # lights dimming is not smoke
        if not 0.5 < gain < 2.0:
            gain = 1.0
        delta = luma * gain - bg @ _LUMA
        detail, bg_detail = _detail(fine * gain), _detail(bg_fine)
        texture, bg_texture = _texture(detail), _texture(bg_detail)
        # Smoke scatters light: the fine texture behind it fades (gain-corrected: texture scales with light).
        # Where the picture clips at white (lights up, glare) texture vanishes whatever the cause: no evidence.
        textured = (bg_texture >= _TEXTURED) & (small.max(axis=2) < _CLIPPED)
        drop = np.where(textured, 1.0 - texture / np.maximum(bg_texture, 1e-3), 0.0)
        veiled = drop >= cfg.smoke_min_contrast_drop
        state.view_veil = float(np.median(drop[textured])) if textured.any() else 0.0
        # Grey: low saturation, or (thin smoke over a coloured scene) much less saturated than the scene was.
        hi, lo = bg.max(axis=2), bg.min(axis=2)
        bg_saturation = (hi - lo) / np.maximum(hi, 1.0)
        grey = (saturation <= cfg.smoke_max_saturation) | (saturation <= 0.6 * bg_saturation)
        # Dense smoke: clearly brighter, and where the ground had detail, that detail is veiled.
        dense = (delta >= cfg.smoke_min_change) & (veiled | ~textured)
        # Light smoke over light ground hardly brightens it, but it veils the ground's detail deeply
        # while the pattern stays visible through it (a person or a grey coat in front replaces it).
        similarity, transmission = _veil(detail, bg_detail)
        see_through = similarity >= cfg.smoke_min_see_through
        thin = (drop >= cfg.smoke_min_veil) & see_through & (delta > -cfg.smoke_min_change)
        # Faint smoke (thin smoke over weakly patterned ground, where the texture ratio is lost in noise): the
        # pattern seen through it is the ground's, scaled down (transmission < 1, a least-squares fit that noise
        # does not bias), with light added (brighter). Sunlight scales it up; a coat replaces it; fog veils the
        # whole view alike, so only a veil clearly deeper than the view's counts.
        view_transmission = float(np.median(transmission[textured])) if textured.any() else 1.0
        patterned = (bg_texture >= _PATTERNED) & (small.max(axis=2) < _CLIPPED)
        faint = (
            patterned
            & (transmission <= min(1.0, view_transmission) - cfg.smoke_min_faint_veil)
            & (similarity >= cfg.smoke_min_faint_see_through)
            & (delta >= cfg.smoke_min_faint_change)
        )
        # A veil is a sheet: faint pixels count where they fill their surroundings, not as the scattered
        # specks that compression, noise and ghosts of people leave along edges.
        faint &= cv2.blur(faint.astype(np.float32), (5, 5)) >= cfg.smoke_min_faint_cover
        smoke: np.ndarray = grey & (dense | thin | faint)
        changed = (np.abs(delta) >= cfg.smoke_min_change) | veiled
        state.changed = changed
        if cfg.background_rate > 0:  # follow the scene where it has not changed
            follow = ~changed
            cv2.accumulateWeighted(small * gain, bg, cfg.background_rate, mask=follow.astype(np.uint8))
            cv2.accumulateWeighted(fine * gain, bg_fine, cfg.background_rate, mask=_to_fine(follow).astype(np.uint8))
        return smoke

    def _regions(
        self, state: _CameraState, regions: list[tuple[str, np.ndarray, np.ndarray]], now: float
    ) -> list[_Found]:
        cfg = self.config
        w, h = _WORK
        out: list[_Found] = []
        seen: set[int] = set()
        for kind, mask, strength in regions:
            cleaned = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
            cleaned = cv2.morphologyEx(cleaned, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
            count, labels, stats, centroids = cv2.connectedComponentsWithStats(cleaned, connectivity=8)
            for i in range(1, count):
                x, y, bw, bh, area = (int(v) for v in stats[i])
                share = area / float(w * h)
                if share < (cfg.min_area if kind == "fire" else cfg.smoke_min_area):
                    continue
                if share > cfg.max_area:
                    continue
                centre = (float(centroids[i][0]) / w, float(centroids[i][1]) / h)
                zone = zone_of(centre, [list(z) for z in cfg.zones])
                if zone is None:
                    continue
                box = (x / w, y / h, bw / w, bh / h)
                track = self._match(state, kind, box, share, now)
                seen.add(track.ident)
                track.box, track.last_seen = box, now
                if now - track.first_seen < (cfg.min_persist_s if kind == "fire" else cfg.smoke_persist_s):
                    continue
                growth = share / max(track.first_area, 1e-6) - 1.0
                rise = track.first_top - box[1]
                if kind == "smoke" and (growth < cfg.smoke_min_growth or rise < cfg.smoke_min_rise):
                    continue  # grey and veiled but not both spreading and rising: not (yet) smoke
                if track.reported_at is not None and now - track.reported_at < cfg.repeat_s:
                    continue
                track.reported_at = now
                mean_strength = float(strength[labels == i].mean())
                if kind == "fire":
                    base = min(1.0, mean_strength / max(2 * cfg.min_flicker_share, 1e-3))
                else:
                    base = min(1.0, mean_strength)
                score = min(1.0, 0.5 + 0.35 * base + 0.15 * min(1.0, max(0.0, growth)))
                attributes = {
                    "areaShare": round(share, 5),
                    "growth": round(growth, 3),
                    "riseShare": round(rise, 4),
                    "persistedSeconds": round(now - track.first_seen, 2),
                    ("flicker" if kind == "fire" else "persistence"): round(mean_strength, 3),
                    "zone": zone if cfg.zones else None,
                }
                out.append((box, kind, score, attributes, track))
        # Tracks not seen for half a window are over.
        state.tracks = [t for t in state.tracks if t.ident in seen or now - t.last_seen <= cfg.window_s / 2]
        return out

    def _match(self, state: _CameraState, kind: str, box: Box, share: float, now: float) -> _Track:
        for track in state.tracks:
            if track.kind == kind and _overlap(track.box, box):
                return track
        track = _Track(state.next_id, kind, box, now, share, box[1], now)
        state.next_id += 1
        state.tracks.append(track)
        return track


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _detail(fine: np.ndarray) -> np.ndarray:
    """Fine detail of a luma image at `_FINE` size: its difference from its blur.

    Measured at twice the work size: at the work size the detail a thin veil removes is already
    averaged away. Only fine detail counts: smoke veils it, while its own soft billows add none.
    """
    return fine - cv2.GaussianBlur(fine, (0, 0), 1.2)


def _texture(detail: np.ndarray) -> np.ndarray:
    """How much fine detail there is round each work-size pixel (mean absolute detail over 5×5 fine pixels)."""
    return cv2.resize(cv2.blur(np.abs(detail), (5, 5)), _WORK, interpolation=cv2.INTER_AREA)


def _veil(detail: np.ndarray, bg_detail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Similarity and transmission of the detail against the background's over 5×5 fine pixels, at work size.

    Similarity is their normalised correlation: near 1 where the same pattern is still seen, whatever
    its strength (through a veil); near 0 where something else is in front. Transmission is the
    least-squares factor the background's pattern is seen scaled by (detail ≈ t · background detail):
    below 1 behind a veil, about 1 where nothing changed, above 1 under brighter light. Unlike the
    texture ratio it is not raised by sensor noise, which does not correlate with the ground's pattern.
    """
    both = cv2.resize(cv2.blur(detail * bg_detail, (5, 5)), _WORK, interpolation=cv2.INTER_AREA)
    own = cv2.resize(cv2.blur(detail * detail, (5, 5)), _WORK, interpolation=cv2.INTER_AREA)
    ground = cv2.resize(cv2.blur(bg_detail * bg_detail, (5, 5)), _WORK, interpolation=cv2.INTER_AREA)
    similarity = both / np.sqrt(np.maximum(own * ground, 1e-6))
    return similarity, both / np.maximum(ground, 1e-3)


def _to_fine(mask: np.ndarray) -> np.ndarray:
    """A work-size mask at `_FINE` size."""
    return cv2.resize(mask.astype(np.uint8), _FINE, interpolation=cv2.INTER_NEAREST).astype(bool)
