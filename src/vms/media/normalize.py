"""The normaliser: decode a segment once into model-ready frames (requirements §6).

Output: RGB frames of a fixed size (640×480 by default), sampled at a fixed rate (15 fps by
default) by presentation timestamp, the aspect ratio kept by letterboxing (black bars) or by
cropping the centre, each frame stamped with its UTC capture time (segment start + pts offset).

Decoding is the dominant cost of the AI plane, so a worker decodes a segment once for all the
models it hosts; frames the sampler will drop are still decoded when the codec needs them as
references, but never converted or scaled.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np
from av.error import FFmpegError

from vms.kernel.errors import CorruptVideo, ValidationFailed

Fit = Literal["letterbox", "crop"]
SUPPORTED_CODECS = frozenset({"h264", "hevc", "mjpeg"})


@dataclass(frozen=True, slots=True)
class NormalizeSpec:
    """What the models want (system defaults; configurable per customer/camera)."""

    width: int = 640
    height: int = 480
    fps: float = 15.0
    fit: Fit = "letterbox"
    threads: int = 1  # per decode; workers parallelise across segments instead


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What the segment actually contained."""

    codec: str
    width: int
    height: int
    fps: float
    frames_decoded: int


@dataclass
class NormalizedClip:
    """Frames (N×H×W×3 uint8, RGB) with one UTC timestamp per frame."""

    frames: np.ndarray
    timestamps: list[datetime]
    source: SourceInfo
    spec: NormalizeSpec = field(default_factory=NormalizeSpec)

    def __len__(self) -> int:
        return len(self.timestamps)


def normalize(segment: Path | bytes, *, started_at: datetime, spec: NormalizeSpec = NormalizeSpec()) -> NormalizedClip:
    """Decode `segment` (a file or its bytes) into frames per `spec`.

    Raises CorruptVideo when nothing decodes, ValidationFailed for a codec we do not process.
    """
    source = io.BytesIO(segment) if isinstance(segment, bytes) else str(segment)
    try:
        with av.open(source, mode="r") as container:
            if not container.streams.video:
                raise ValidationFailed("The segment has no video stream.")
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            if codec not in SUPPORTED_CODECS:
                raise ValidationFailed(f"Codec {codec!r} is not supported (H.264, H.265, MJPEG are).")
            stream.thread_type = "AUTO" if spec.threads > 1 else "SLICE"
            stream.codec_context.thread_count = spec.threads
            return _sample(container, stream, codec, started_at, spec)
    except FFmpegError as exc:
        raise CorruptVideo(f"The segment cannot be decoded: {exc}") from exc


def _sample(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    codec: str,
    started_at: datetime,
    spec: NormalizeSpec,
) -> NormalizedClip:
    # Frames go straight into one preallocated array (sized from the stream's duration, grown
    # if that was short): stacking separate frames afterwards cost as much as scaling them.
    out = np.zeros((_expected_frames(container, stream, spec), spec.height, spec.width, 3), np.uint8)
    stamps: list[datetime] = []
    step = 1.0 / spec.fps
    next_sample = 0.0
    first_pts: float | None = None
    decoded = 0
    time_base = stream.time_base or Fraction(1, 90_000)
    try:
        for frame in container.decode(stream):
            decoded += 1
            if frame.pts is None:
                continue
            t = float(frame.pts * time_base)
            first_pts = t if first_pts is None else first_pts
            offset = t - first_pts
            # Keep the first frame at or after each sampling instant; never duplicate one.
            if offset + 1e-6 < next_sample:
                continue
            if len(stamps) == len(out):
                out = np.concatenate([out, np.zeros_like(out)])
            _fit_into(out[len(stamps)], frame, spec)
            stamps.append(started_at + timedelta(seconds=offset))
            next_sample += step * max(1, int((offset - next_sample) / step) + 1)
    except FFmpegError:
        if not stamps:
            raise
        # A truncated tail (camera cut mid-segment) still yields the frames before the damage.
    rate = float(stream.average_rate) if stream.average_rate else 0.0
    source = SourceInfo(codec, stream.codec_context.width, stream.codec_context.height, rate, decoded)
    return NormalizedClip(out[: len(stamps)], stamps, source, spec)


def _expected_frames(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, spec: NormalizeSpec
) -> int:
    if stream.duration and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration:
        seconds = container.duration / 1_000_000
    else:
        seconds = 10.0
    return max(1, math.ceil(seconds * spec.fps) + 1)


def _fit_into(target: np.ndarray, frame: av.VideoFrame, spec: NormalizeSpec) -> None:
    """Scale into `target` (zeroed) without distortion: letterbox (pad) or crop the centre."""
    src_w, src_h = frame.width, frame.height
    if spec.fit == "letterbox":
        scale = min(spec.width / src_w, spec.height / src_h)
        w, h = min(spec.width, max(1, round(src_w * scale))), min(spec.height, max(1, round(src_h * scale)))
    else:
        scale = max(spec.width / src_w, spec.height / src_h)
        w, h = max(spec.width, math.ceil(src_w * scale)), max(spec.height, math.ceil(src_h * scale))
    scaled = frame.reformat(width=w, height=h, format="rgb24").to_ndarray()
    if spec.fit == "crop":
        x, y = (w - spec.width) // 2, (h - spec.height) // 2
        target[:] = scaled[y : y + spec.height, x : x + spec.width]
    else:
        x, y = (spec.width - w) // 2, (spec.height - h) // 2
        target[y : y + h, x : x + w] = scaled
