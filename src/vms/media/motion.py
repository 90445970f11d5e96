"""Cheap motion detection for the `motion` recording mode, on closed segments.

Recording needs to know *whether* something moved, not what: an NVR decides this on the sub stream
at a few frames per second. So a segment is decoded on one thread (the codec must decode every
frame, references need them), but only `fps` frames per second are scaled down to a small gray
image (160 px wide) — the scaling and the comparison are what would cost on a 1080p frame. Each
sampled frame is compared with a running-average background; pixels that differ by more than the
sensitivity's threshold, after an erosion that drops sensor-noise speckle, are "changed". A frame
moves when the changed share reaches `min_area`. A change over most of the frame (lights switched,
IR cut filter, auto-exposure) is not motion: the background is reset to the new scene instead.

The detector lives as long as its camera's ingest, so the background carries over from segment to
segment; a gap between segments (reconnect) starts it over. Its CPU time per segment is measured on
the decoding thread (`MotionResult.cpu_s`): `bench/` and docs/recording.md give the per-camera cost.

>>> detector = MotionDetector(MotionSettings(sensitivity=0.5, min_area=0.005, fps=5))
>>> result = detector.analyse("/data/seg.mp4", started_at=segment.started_at)
>>> result.motion, result.first_at, result.last_at
(True, datetime(2026, 11, 24, 12, 0, 3, 200000, tzinfo=UTC), datetime(2026, 11, 24, 12, 0, 4, 800000, tzinfo=UTC))
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

import av
import cv2
import numpy as np
from av.error import FFmpegError

ANALYSED_WIDTH = 160  # pixels: enough for a person at 20 m on a wide lens, cheap to compare
LIGHTING_CHANGE = 0.8  # a changed share above this is a lighting change, not motion
BACKGROUND_RATE = 0.1  # weight of each sampled frame in the running background (≈ 2 s memory at 5 fps)
RESET_AFTER_GAP = timedelta(seconds=10)  # segments further apart than this start a fresh background
_KERNEL = np.ones((3, 3), np.uint8)


@dataclass(frozen=True, slots=True)
class MotionSettings:
    """How the detector judges motion (the `recording.motion.*` parameters)."""

    sensitivity: float = 0.5  # 0–1; 1 sees the faintest brightness change
    min_area: float = 0.005  # share of the frame that must change
    fps: float = 5.0  # sampled frames per second

    @property
    def pixel_threshold(self) -> int:
        """Gray-level difference (0–255) that marks a pixel as changed: 50 at sensitivity 0, 6 at 1."""
        return round(6 + (1.0 - self.sensitivity) * 44)


@dataclass(frozen=True, slots=True)
class MotionResult:
    """What the detector saw in one segment."""

    frames_decoded: int
    frames_analysed: int
    motion_frames: int
    first_at: datetime | None  # UTC of the first and last frame that moved
    last_at: datetime | None
    peak_area: float  # the largest changed share of any analysed frame (lighting changes excluded)
    cpu_s: float  # CPU time of the analysis, decode included
    error: str | None = None  # the segment was damaged; the result covers the frames before the damage

    @property
    def motion(self) -> bool:
        """Whether anything moved."""
        return self.motion_frames > 0


class MotionDetector:
    """Motion in a camera's consecutive segments; not thread-safe (one segment at a time)."""

    def __init__(self, settings: MotionSettings) -> None:
        self.settings = settings
        self._background: np.ndarray | None = None
        self._last_end: datetime | None = None

    def analyse(self, source: str | BinaryIO, *, started_at: datetime) -> MotionResult:
        """Look at one segment (a path or an open file) that starts at `started_at` (UTC)."""
        clock = time.thread_time()  # the decoder runs on this thread (thread_count=1), so this is its whole cost
        if self._last_end is None or started_at - self._last_end > RESET_AFTER_GAP:
            self._background = None
        decoded = analysed = moving = 0
        first: datetime | None = None
        last: datetime | None = None
        peak = 0.0
        error: str | None = None
        at = started_at
        try:
            with av.open(source, mode="r") as container:
                stream = container.streams.video[0]
                stream.codec_context.thread_count = 1
                width, height = stream.codec_context.width, stream.codec_context.height
                small = (ANALYSED_WIDTH, max(2, round(ANALYSED_WIDTH * height / max(width, 1) / 2) * 2))
                origin: float | None = None
                next_sample = 0.0
                for frame in container.decode(stream):
                    decoded += 1
                    if frame.time is None:
                        continue
                    origin = frame.time if origin is None else origin
                    offset = frame.time - origin
                    at = started_at + timedelta(seconds=offset)
                    if offset + 1e-6 < next_sample:
                        continue
                    next_sample = offset + 1.0 / self.settings.fps
                    gray: np.ndarray = frame.reformat(width=small[0], height=small[1], format="gray").to_ndarray()
                    analysed += 1
                    area = self._changed_share(gray)
                    if area is None:
                        continue
                    peak = max(peak, area)
                    if area >= self.settings.min_area:
                        moving += 1
                        first = first or at
                        last = at
        except (FFmpegError, IndexError, OSError) as exc:  # IndexError: no video stream
            error = f"{type(exc).__name__}: {exc}"
        self._last_end = at
        return MotionResult(decoded, analysed, moving, first, last, peak, time.thread_time() - clock, error)

    def _changed_share(self, gray: np.ndarray) -> float | None:
        """The share of the frame that differs from the background; None for a first frame or a lighting change."""
        blurred: np.ndarray = cv2.GaussianBlur(gray, (5, 5), 0).astype(np.float32)
        if self._background is None:
            self._background = blurred
            return None
        diff = cv2.absdiff(blurred, self._background)
        changed = cv2.erode((diff > self.settings.pixel_threshold).astype(np.uint8), _KERNEL)
        share = float(changed.mean())
        if share > LIGHTING_CHANGE:
            self._background = blurred
            return None
        cv2.accumulateWeighted(blurred, self._background, BACKGROUND_RATE)
        return share
