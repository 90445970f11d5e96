"""Camera-like test clips made on the spot: a still scene with sensor noise, optionally a bright object
crossing it during a given time, cut into real segments by the segmenter."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vms.media.segmenter import Segmenter, SegmentInfo


def still_scene(width: int, height: int) -> np.ndarray:
    """A fixed background: a green ramp over a darker floor."""
    base = np.zeros((height, width, 3), np.uint8)
    base[..., 1] = np.linspace(40, 200, width, dtype=np.uint8)[None, :]
    base[height // 2 :, :, 2] = 90
    return base


def make_scene(
    path: Path,
    *,
    seconds: float,
    fps: int = 15,
    width: int = 640,
    height: int = 360,
    moving: tuple[float, float] | None = None,
    noise: int = 6,
    gop_s: float = 1.0,
) -> Path:
    """Encode a still scene with ±`noise` sensor noise; a white box crosses it during `moving` (seconds)."""
    rng = np.random.default_rng(7)
    base = still_scene(width, height).astype(np.int16)
    size = height // 6
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.gop_size = max(1, int(fps * gop_s))
        stream.options = {"preset": "ultrafast"}
        for i in range(int(fps * seconds)):
            jitter = rng.integers(-noise, noise + 1, size=(height, width, 1), dtype=np.int16)
            frame = np.clip(base + jitter, 0, 255).astype(np.uint8)
            t = i / fps
            if moving is not None and moving[0] <= t < moving[1]:
                x = int((t - moving[0]) / (moving[1] - moving[0]) * (width - size))
                frame[height // 3 : height // 3 + size, x : x + size] = 250
            video = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video.pts = i
            for packet in stream.encode(video):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def cut(source: Path, out_dir: Path, *, start: datetime, target_s: float = 5.0) -> list[SegmentInfo]:
    """The clip as the ingest role would see it: keyframe-cut segments whose UTC starts at `start`."""
    clock: Callable[[], datetime] = lambda: start  # noqa: E731 - the segmenter anchors on its first packet
    found: list[SegmentInfo] = []
    Segmenter(out_dir=out_dir, target_s=target_s, clock=clock).run(
        str(source), on_segment=found.append, stop=threading.Event()
    )
    return found
