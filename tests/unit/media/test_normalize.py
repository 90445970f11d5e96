"""The normaliser turns real encoded video into fixed-size RGB frames at a fixed rate with UTC stamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.media import make_clip
from vms.kernel.errors import CorruptVideo
from vms.media.normalize import NormalizeSpec, normalize

START = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("codec", "size", "fps"), [("h264", (1280, 720), 25), ("hevc", (960, 540), 25), ("mjpeg", (640, 480), 10)]
)
def test_each_supported_codec_decodes_to_640x480_rgb(tmp_path: Path, codec: str, size: tuple[int, int], fps: int):
    clip = make_clip(tmp_path / f"clip-{codec}.mp4", codec=codec, width=size[0], height=size[1], fps=fps, seconds=2)
    result = normalize(clip, started_at=START)
    assert result.frames.shape[1:] == (480, 640, 3)
    assert result.frames.dtype == np.uint8
    assert result.source.codec == codec
    assert (result.source.width, result.source.height) == size


def test_frames_are_sampled_at_15_fps_by_timestamp(tmp_path: Path):
    clip = make_clip(tmp_path / "c.mp4", fps=25, seconds=2, width=640, height=360)
    result = normalize(clip, started_at=START)
    assert result.source.frames_decoded == 50
    assert len(result) == 30  # 2 s at 15 fps
    gaps = [(b - a).total_seconds() for a, b in zip(result.timestamps, result.timestamps[1:], strict=False)]
    assert all(0.04 <= g <= 0.08 + 1e-9 for g in gaps), gaps
    assert result.timestamps[0] == START


def test_a_lower_source_rate_is_never_padded_with_duplicates(tmp_path: Path):
    clip = make_clip(tmp_path / "c.mp4", fps=10, seconds=2, width=640, height=480)
    result = normalize(clip, started_at=START)
    assert len(result) == 20
    assert result.timestamps[-1] == START + timedelta(seconds=1.9)


def test_letterbox_keeps_the_aspect_with_black_bars(tmp_path: Path):
    clip = make_clip(tmp_path / "wide.mp4", width=1280, height=720, seconds=0.5)
    frame = normalize(clip, started_at=START).frames[0]
    assert frame[:50].max() == 0 and frame[-50:].max() == 0  # 16:9 in 4:3 leaves 60 px bars
    assert frame[60:420].max() > 0


def test_crop_fills_the_frame(tmp_path: Path):
    clip = make_clip(tmp_path / "wide.mp4", width=1280, height=720, seconds=0.5)
    frame = normalize(clip, started_at=START, spec=NormalizeSpec(fit="crop")).frames[0]
    assert frame.shape == (480, 640, 3)
    assert frame[:10].max() > 0 and frame[-10:].max() > 0


def test_a_configured_size_and_rate_are_honoured(tmp_path: Path):
    clip = make_clip(tmp_path / "c.mp4", width=1280, height=720, fps=25, seconds=1)
    result = normalize(clip, started_at=START, spec=NormalizeSpec(width=320, height=240, fps=5))
    assert result.frames.shape == (5, 240, 320, 3)


def test_bytes_decode_like_files(tmp_path: Path):
    clip = make_clip(tmp_path / "c.mp4", seconds=1, width=640, height=360)
    assert len(normalize(clip.read_bytes(), started_at=START)) == len(normalize(clip, started_at=START))


def test_garbage_is_corrupt_video(tmp_path: Path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x01not a video at all" * 100)
    with pytest.raises(CorruptVideo):
        normalize(junk, started_at=START)


def test_a_truncated_segment_yields_the_frames_before_the_cut(tmp_path: Path):
    clip = make_clip(tmp_path / "c.ts", seconds=2, width=640, height=360, container="mpegts")
    data = clip.read_bytes()
    result = normalize(data[: len(data) // 2], started_at=START)
    assert 5 <= len(result) < 30
