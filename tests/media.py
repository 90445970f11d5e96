"""Test video made on the spot with PyAV (libx264/libx265/mjpeg ship in its wheels): no downloads."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CODECS = {"h264": ("libx264", "yuv420p"), "hevc": ("libx265", "yuv420p"), "mjpeg": ("mjpeg", "yuvj420p")}


def moving_pattern(index: int, width: int, height: int) -> np.ndarray:
    """A frame with a bright square that moves one step per frame, over a gradient."""
    frame = np.zeros((height, width, 3), np.uint8)
    frame[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    size = max(8, height // 8)
    x = (index * 7) % max(1, width - size)
    frame[height // 3 : height // 3 + size, x : x + size] = 255
    return frame


def make_clip(
    path: Path,
    *,
    codec: str = "h264",
    width: int = 1280,
    height: int = 720,
    fps: int = 25,
    seconds: float = 2.0,
    gop_s: float = 1.0,
    container: str | None = None,
) -> Path:
    """Encode a clip of the moving pattern; keyframes every `gop_s` seconds."""
    encoder, pix_fmt = CODECS[codec]
    with av.open(str(path), mode="w", format=container) as out:
        stream = out.add_stream(encoder, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.time_base = Fraction(1, fps)
        if codec != "mjpeg":
            stream.gop_size = max(1, int(fps * gop_s))
            stream.options = {"preset": "ultrafast"} | ({"x265-params": "log-level=error"} if codec == "hevc" else {})
        for i in range(int(fps * seconds)):
            frame = av.VideoFrame.from_ndarray(moving_pattern(i, width, height), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
