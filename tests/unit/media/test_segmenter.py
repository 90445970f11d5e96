"""Stream copy into keyframe-aligned fMP4 segments with exact UTC bounds; nothing half-written."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest

from tests.media import make_clip
from vms.media.normalize import normalize
from vms.media.segmenter import Segmenter, SegmentInfo

T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return T0


def segment(source: Path, out: Path, target_s: float = 5.0) -> list[SegmentInfo]:
    got: list[SegmentInfo] = []
    Segmenter(out_dir=out, target_s=target_s, clock=fixed_clock).run(
        str(source), on_segment=got.append, stop=threading.Event()
    )
    return got


@pytest.mark.parametrize("codec", ["h264", "hevc", "mjpeg"])
def test_segments_are_cut_on_keyframes_without_reencoding(tmp_path: Path, codec: str):
    clip = make_clip(tmp_path / "cam.mp4", codec=codec, width=640, height=360, fps=25, seconds=12, gop_s=1)
    segments = segment(clip, tmp_path / "out")
    assert [s.sequence for s in segments] == [0, 1, 2]
    assert [round(s.duration_s, 2) for s in segments] == [5.0, 5.0, 2.0]
    assert sum(s.frames for s in segments) == 300
    assert all(s.codec == codec and (s.width, s.height) == (640, 360) for s in segments)
    for seg in segments:
        with av.open(str(seg.path)) as c:
            assert c.streams.video[0].codec_context.name == codec  # stream copy: same codec
            first = next(c.demux(c.streams.video[0]))
            assert first.is_keyframe
        assert len(normalize(seg.path, started_at=seg.started_at)) == round(seg.duration_s * 15)


def test_segment_times_follow_each_other_without_gaps(tmp_path: Path):
    clip = make_clip(tmp_path / "cam.mp4", width=320, height=240, fps=25, seconds=11, gop_s=1)
    segments = segment(clip, tmp_path / "out")
    assert segments[0].started_at == T0
    for before, after in itertools.pairwise(segments):
        assert after.started_at == before.ended_at
    assert segments[-1].ended_at == T0 + timedelta(seconds=11)


def test_segment_length_waits_for_the_next_keyframe(tmp_path: Path):
    clip = make_clip(tmp_path / "cam.mp4", width=320, height=240, fps=10, seconds=12, gop_s=2)
    segments = segment(clip, tmp_path / "out", target_s=3)
    assert [round(s.duration_s) for s in segments] == [4, 4, 4]  # keyframes only every 2 s
    assert all(s.keyframe_interval_s == pytest.approx(2.0) for s in segments if s.keyframe_interval_s)


def test_measured_bitrate_and_bytes_match_the_file(tmp_path: Path):
    clip = make_clip(tmp_path / "cam.mp4", width=640, height=360, fps=25, seconds=6)
    for seg in segment(clip, tmp_path / "out"):
        assert seg.bytes == seg.path.stat().st_size
        assert seg.bitrate_kbps > 0


def test_no_partial_files_are_left_behind(tmp_path: Path):
    clip = make_clip(tmp_path / "cam.mp4", width=320, height=240, fps=25, seconds=7)
    segment(clip, tmp_path / "out")
    assert not list((tmp_path / "out").glob("*.part"))


def test_a_stop_request_closes_the_open_segment_cleanly(tmp_path: Path):
    clip = make_clip(tmp_path / "cam.mp4", width=320, height=240, fps=25, seconds=12)
    stop = threading.Event()
    got: list[SegmentInfo] = []

    def on_segment(info: SegmentInfo) -> None:
        got.append(info)
        stop.set()

    Segmenter(out_dir=tmp_path / "out", clock=fixed_clock).run(str(clip), on_segment=on_segment, stop=stop)
    assert len(got) == 2  # the first full one, then the one open when stop was seen
    assert all(len(normalize(s.path, started_at=s.started_at)) > 0 for s in got)
    assert not list((tmp_path / "out").glob("*.part"))


def test_realtime_pacing_plays_a_file_at_its_own_speed(tmp_path: Path):
    import time

    clip = make_clip(tmp_path / "cam.mp4", width=160, height=120, fps=10, seconds=2)
    started = time.monotonic()
    got: list[SegmentInfo] = []
    Segmenter(out_dir=tmp_path / "out", target_s=1).run(
        str(clip), on_segment=got.append, stop=threading.Event(), realtime=True
    )
    assert 1.7 <= time.monotonic() - started <= 3.0
    assert len(got) == 2
