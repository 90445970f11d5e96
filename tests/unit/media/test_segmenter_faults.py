"""The segmenter under bad input: format changes mid-stream, timestamps that jump back, truncated
sources and a disk that fills mid-write. Every segment it reports decodes whole; nothing around the
fault is lost."""

from __future__ import annotations

import errno
import itertools
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest

from vms.media import bitstream
from vms.media.segmenter import Segmenter, SegmentInfo
from vms.media.timing import ClockSource

T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


def receive_clock(step_s: float = 0.04) -> Callable[[], datetime]:
    """A receive clock that advances one 25 fps frame per reading (the segmenter reads it once per packet)."""
    ticks = itertools.count()
    return lambda: T0 + timedelta(seconds=next(ticks) * step_s)


def encode_ts(path: Path, *, size: str, codec: str = "libx264", seconds: int = 6) -> Path:
    """An MPEG-TS clip as a camera sends it: parameter sets in-band, a keyframe every second."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25", "-t", str(seconds),
         "-c:v", codec, "-preset", "ultrafast", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
         *(["-x265-params", "log-level=error"] if codec == "libx265" else []), "-f", "mpegts", str(path)],
        check=True,
    )  # fmt: skip
    return path


def joined(path: Path, *parts: Path) -> Path:
    """Byte-level concatenation: the second part's timestamps and parameter sets arrive mid-stream."""
    path.write_bytes(b"".join(p.read_bytes() for p in parts))
    return path


def run_segmenter(
    source: Path, out: Path, *, segmenter: Segmenter | None = None
) -> tuple[Segmenter, list[SegmentInfo]]:
    seg = segmenter or Segmenter(out_dir=out, target_s=5, clock=receive_clock())
    got: list[SegmentInfo] = []
    seg.run(str(source), on_segment=got.append, stop=threading.Event())
    return seg, got


def decoded(path: Path) -> tuple[int, set[tuple[int, int]]]:
    """Frames and picture sizes a decoder gets from the whole file (raises on a broken file)."""
    sizes: set[tuple[int, int]] = set()
    frames = 0
    with av.open(str(path)) as c:
        for frame in c.decode(c.streams.video[0]):
            frames += 1
            sizes.add((frame.width, frame.height))
    return frames, sizes


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("clips")
    return {
        "360p": encode_ts(work / "a.ts", size="640x360"),
        "240p": encode_ts(work / "b.ts", size="320x240"),
    }


def test_a_resolution_change_mid_stream_starts_a_segment_in_the_new_format(tmp_path: Path, clips: dict[str, Path]):
    source = joined(tmp_path / "change.ts", clips["360p"], clips["240p"])
    seg, segments = run_segmenter(source, tmp_path / "out")
    sizes = [(s.width, s.height) for s in segments]
    assert sizes == [(640, 360), (640, 360), (320, 240), (320, 240)]
    assert seg.format_changes == ["h264 640x360 -> h264 320x240"]
    assert seg.format == "h264 320x240"
    assert sum(s.frames for s in segments) == 300, "no frame lost at the change"
    for info in segments:
        frames, pictures = decoded(info.path)
        assert frames == info.frames
        assert pictures == {(info.width, info.height)}, "the index says what the file holds"
        with av.open(str(info.path)) as c:
            ctx = c.streams.video[0].codec_context
            assert (ctx.width, ctx.height) == (info.width, info.height), "the mp4 header matches the pictures"


@pytest.mark.parametrize("jump", ["backwards", "forwards"])
def test_a_timestamp_jump_is_rebased_so_time_runs_on_and_no_frame_is_lost(
    tmp_path: Path, clips: dict[str, Path], jump: str
):
    second = clips["360p"]
    if jump == "forwards":  # the camera's clock leapt an hour ahead mid-stream
        second = tmp_path / "later.ts"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(clips["360p"]), "-c", "copy", "-output_ts_offset", "3600",
             "-f", "mpegts", str(second)],
            check=True,
        )  # fmt: skip
    source = joined(tmp_path / "jump.ts", clips["360p"], second)  # pts restart (or leap) 6 s in
    seg, segments = run_segmenter(source, tmp_path / "out")
    assert seg.discontinuities == 1
    assert sum(s.frames for s in segments) == 300, "nothing dropped at the jump"
    assert [round(s.duration_s, 2) for s in segments] == [5.0, 5.0, 2.0], "12 s of video, 12 s of time"
    for before, after in itertools.pairwise(segments):
        assert after.started_at == before.ended_at, "time never runs backwards (or leaps) in the index"
    for info in segments:
        assert decoded(info.path)[0] == info.frames


def test_a_truncated_source_yields_only_whole_segments(tmp_path: Path, clips: dict[str, Path]):
    whole = clips["360p"].read_bytes()
    source = tmp_path / "cut.ts"
    source.write_bytes(whole[: len(whole) * 2 // 3 + 101])  # ends inside a TS packet, inside a frame
    _, segments = run_segmenter(source, tmp_path / "out")
    assert len(segments) == 1 and segments[0].duration_s == pytest.approx(4.0, abs=0.1)  # 4 of the 6 s survive
    for info in segments:
        frames, _ = decoded(info.path)
        assert frames == info.frames, "a damaged tail frame is never counted as recorded"
    assert not list((tmp_path / "out").glob("*.part"))


class FullDiskOnSegment(Segmenter):
    """Segment number `full_at` is written to /dev/full: every write fails with ENOSPC, as on a full disk."""

    full_at = 1

    def _open(self, template, fmt, started_at, first_pts):  # type: ignore[no-untyped-def]
        if self.next_sequence == self.full_at:
            name = f"{self.prefix}-{started_at:%Y%m%dT%H%M%S%f}-{self.next_sequence:08d}.mp4.part"
            (self.out_dir / name).symlink_to("/dev/full")
        return super()._open(template, fmt, started_at, first_pts)


def test_a_disk_that_fills_mid_segment_leaves_no_partial_segment(tmp_path: Path, clips: dict[str, Path]):
    out = tmp_path / "out"
    source = joined(tmp_path / "long.ts", clips["360p"], clips["240p"])
    segmenter = FullDiskOnSegment(out_dir=out, target_s=5, clock=receive_clock())
    got: list[SegmentInfo] = []
    with pytest.raises(OSError) as raised:
        segmenter.run(str(source), on_segment=got.append, stop=threading.Event())
    assert raised.value.errno == errno.ENOSPC
    assert [s.sequence for s in got] == [0], "the segment before the fault is kept"
    assert decoded(got[0].path)[0] == got[0].frames
    assert sorted(p.name for p in out.iterdir()) == [got[0].path.name], "no partial file, under any name"

    # Space is back: the same segmenter (as the supervisor reconnects) carries on with the next number.
    segmenter.full_at = -1
    _, more = run_segmenter(source, out, segmenter=segmenter)
    assert [s.sequence for s in more] == [2, 3, 4, 5]
    assert all(decoded(s.path)[0] == s.frames for s in more)


def test_files_are_dated_by_the_receive_clock():
    # Files carry no RTCP sender reports; the segment says which clock it used.
    assert SegmentInfo.__dataclass_fields__["clock"].default is ClockSource.RECEIVE


def test_parameter_sets_are_read_from_annexb_keyframes_only(clips: dict[str, Path], tmp_path: Path):
    with av.open(str(clips["360p"])) as c:
        key = next(p for p in c.demux(c.streams.video[0]) if p.is_keyframe)
        found = bitstream.parameter_sets("h264", bytes(key))
    assert found is not None and found.startswith(b"\x00\x00\x00\x01\x67")  # SPS first
    assert found.count(b"\x00\x00\x00\x01") == 2  # SPS and PPS, not the picture
    mp4 = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(clips["360p"]), "-c", "copy", str(mp4)], check=True)
    with av.open(str(mp4)) as c:
        key = next(p for p in c.demux(c.streams.video[0]) if p.is_keyframe)
        assert bitstream.parameter_sets("h264", bytes(key)) is None  # length-prefixed: left alone
    assert bitstream.parameter_sets("mjpeg", b"\x00\x00\x01\x67") is None
