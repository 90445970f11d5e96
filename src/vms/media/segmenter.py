"""Stream copy into fMP4 segments, cut on keyframes (no re-encode: recording, playback, clips and
AI jobs all share these files).

A segment closes at the first keyframe once `target_s` has passed, so every segment starts with
a keyframe and decodes on its own. Its UTC times come from media.timing: the camera's RTCP sender
reports when it sends trustworthy ones, else the receive time of the stream's first packet, plus the
packets' presentation-time offsets, so segment times never drift apart from each other. A timestamp
jump (camera clock reset, backward or far-forward pts) is rebased: the packets after it continue the
timeline from the packet before, so the segment stays playable, time in the index never runs
backwards, and no frame is dropped waiting for a keyframe. A keyframe whose in-band
parameter sets differ from the segment's (resolution or profile changed on the camera) starts a new
segment with the new format (media.bitstream). Files are written under a temporary name and renamed
when complete, so a crash, a disconnect or a full disk never leaves a half-written segment that looks
finished.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.error import FFmpegError

from vms.kernel.clock import utcnow
from vms.media import bitstream
from vms.media.timing import ClockSource, StreamClock, sender_report_time

FMP4_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
MAX_JUMP_S = 10.0  # a dts step larger than this (or backwards) is a discontinuity
DEFAULT_FRAME_S = Fraction(1, 25)  # the step assumed across a discontinuity before two frames were seen


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """A closed segment on disk and what it holds."""

    path: Path
    sequence: int
    started_at: datetime
    ended_at: datetime
    frames: int
    bytes: int
    codec: str
    width: int
    height: int
    keyframe_interval_s: float | None
    clock: ClockSource = ClockSource.RECEIVE  # which clock dated started_at/ended_at (media.timing)

    @property
    def duration_s(self) -> float:
        """Covered time in seconds."""
        return (self.ended_at - self.started_at).total_seconds()

    @property
    def bitrate_kbps(self) -> float:
        """Average bitrate of the segment."""
        return self.bytes * 8 / 1000 / self.duration_s if self.duration_s > 0 else 0.0


class _Open:
    """The segment being written."""

    def __init__(
        self, path: Path, template: Any, fmt: _Format, sequence: int, started_at: datetime, first_pts: float
    ) -> None:
        self.final = path
        self.temp = path.with_name(path.name + ".part")
        self.container = av.open(str(self.temp), mode="w", format="mp4", options=FMP4_OPTIONS)
        self.stream = self.container.add_stream_from_template(template)
        if fmt.changed:  # the demuxer still describes the old format: give the muxer the new one
            ctx = self.stream.codec_context
            ctx.width, ctx.height, ctx.extradata = fmt.width, fmt.height, fmt.parameter_sets
        self.format = fmt
        self.sequence = sequence
        self.started_at = started_at
        self.first_pts = first_pts
        self.last_pts = first_pts  # the latest presentation time (B-frames arrive out of pts order)
        self.last_duration = 0.0
        self.frames = 0
        self.keyframes: list[float] = []


@dataclass(frozen=True, slots=True)
class _Format:
    """The stream's coded format as the latest keyframe's parameter sets describe it."""

    codec: str
    width: int
    height: int
    parameter_sets: bytes | None  # Annex B SPS/PPS (VPS), when the stream carries them in-band
    changed: bool = False  # differs from what the demuxer reported at connect

    def describe(self) -> str:
        """`h264 1920x1080`, for status and logs."""
        return f"{self.codec} {self.width}x{self.height}"


class Segmenter:
    """Cuts one stream into segments; `run` blocks, so the ingest supervisor gives it a thread.

    >>> seg = Segmenter(out_dir=Path("/data/cam1"), target_s=5)
    >>> seg.run("rtsp://127.0.0.1:8554/cam1", on_segment=index.add, stop=threading.Event())
    """

    def __init__(
        self,
        *,
        out_dir: Path,
        target_s: float = 5.0,
        prefix: str = "seg",
        clock: Callable[[], datetime] = utcnow,
        first_sequence: int = 0,
    ) -> None:
        self.out_dir = out_dir
        self.target_s = target_s
        self.prefix = prefix
        self.clock = clock
        self.next_sequence = first_sequence
        self.last_packet_at: datetime | None = None  # for stall detection by the supervisor
        self.timing = StreamClock()
        self.format: str | None = None  # `h264 1920x1080` once connected, updated on format changes
        self.format_changes: list[str] = []  # `h264 1920x1080 -> h264 1280x720`, in order
        self.discontinuities = 0  # timestamp jumps (backwards, or forwards past MAX_JUMP_S)
        self.damaged_keyframes = 0  # keyframes whose new parameter sets do not decode (ignored)
        self._last_end: tuple[datetime, ClockSource] | None = None

    def run(
        self,
        source: str,
        *,
        on_segment: Callable[[SegmentInfo], None],
        stop: threading.Event,
        options: dict[str, str] | None = None,
        open_timeout_s: float = 10,
        read_timeout_s: float = 10,
        realtime: bool = False,
    ) -> None:
        """Read `source` until it ends, fails or `stop` is set; every complete segment goes to `on_segment`.

        The segment in progress when the source fails is closed and reported if it holds at
        least one keyframe-started group of pictures; its end is the last packet received.
        `realtime` paces a file source at its own frame rate, so a looping file acts as a camera.
        """
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.timing.live = "://" in source and not source.startswith("file:")
        current: _Open | None = None
        options = dict(options or {})
        if self.timing.live:
            # Reads time out in FFmpeg's own socket layer (microseconds), not through PyAV's read
            # timeout: PyAV's interrupt callback takes the GIL each time FFmpeg polls it — many times
            # per packet — which cost more CPU than the whole remux with eight cameras (bench/ingest.py).
            options.setdefault("timeout", str(int(read_timeout_s * 1_000_000)))
        with av.open(source, options=options, timeout=(open_timeout_s, None)) as container:
            stream = container.streams.video[0]
            time_base = stream.time_base or Fraction(1, 90_000)
            ctx = stream.codec_context
            extradata = bytes(ctx.extradata or b"")
            fmt = _Format(ctx.name, ctx.width, ctx.height, bitstream.parameter_sets(ctx.name, extradata))
            self.format = fmt.describe()
            tb = float(time_base)  # float and integer ticks below: Fraction arithmetic per packet costs real CPU
            max_jump = int(MAX_JUMP_S / time_base)
            rebase = 0  # ticks added to the source's timestamps by the discontinuities so far
            last_dts: int | None = None
            step = int(DEFAULT_FRAME_S / time_base)  # ticks between the last two packets: one frame
            at = self.clock()  # the latest keyframe's UTC time
            try:
                for packet in container.demux(stream):
                    if stop.is_set():
                        break
                    if packet.size == 0 or packet.pts is None:
                        continue
                    now = self.clock()
                    self.last_packet_at = now
                    dts = packet.dts if packet.dts is not None else packet.pts
                    if last_dts is not None and not (0 <= dts + rebase - last_dts <= max_jump):
                        rebase = last_dts + step - dts  # continue one frame after the packet before the jump
                        self.discontinuities += 1
                    elif last_dts is not None and dts + rebase > last_dts:
                        step = dts + rebase - last_dts
                    if rebase:
                        packet.pts += rebase
                        if packet.dts is not None:
                            packet.dts += rebase
                    last_dts = dts + rebase
                    t = packet.pts * tb
                    if packet.is_keyframe or realtime:  # dating every frame costs CPU; segments start on keyframes
                        at = self.timing.place(pts_s=t, received=now, camera=sender_report_time(packet))
                    if realtime and (ahead := (at - self.clock()).total_seconds()) > 0:
                        stop.wait(ahead)  # returns early when asked to stop
                    if packet.is_keyframe:
                        fmt = self._format_of(fmt, packet)
                    if current is not None and (
                        fmt is not current.format or (packet.is_keyframe and t - current.first_pts >= self.target_s)
                    ):
                        closing, current = current, None
                        on_segment(self._close(closing))
                    if current is None:
                        if not packet.is_keyframe:
                            continue  # a segment must start on a keyframe to decode on its own
                        current = self._open(stream, fmt, at, t)
                    packet.stream = current.stream
                    current.container.mux(packet)
                    current.frames += 1
                    current.last_pts = max(current.last_pts, t)
                    current.last_duration = packet.duration * tb if packet.duration else 0.0
                    if packet.is_keyframe:
                        current.keyframes.append(t)
            finally:
                if current is not None:
                    if current.frames:
                        on_segment(self._close(current))
                    else:
                        self._discard(current)

    def _format_of(self, fmt: _Format, keyframe: Any) -> _Format:
        """`fmt`, or the new format when this keyframe's in-band parameter sets differ from it."""
        found = bitstream.parameter_sets(fmt.codec, bytes(memoryview(keyframe)[: bitstream.SCAN_BYTES]))
        if found is None or found == fmt.parameter_sets:
            return fmt
        if fmt.parameter_sets is None and not fmt.changed:
            return _Format(fmt.codec, fmt.width, fmt.height, found)  # first sight of in-band sets (no extradata)
        size = bitstream.picture_size(fmt.codec, found, bytes(keyframe))
        if size is None:  # damaged in transit: never let a broken header make a whole segment unreadable
            self.damaged_keyframes += 1
            return fmt
        new = _Format(fmt.codec, size[0], size[1], found, changed=True)
        if new.describe() != fmt.describe():
            self.format_changes.append(f"{fmt.describe()} -> {new.describe()}")
            self.format = new.describe()
        return new

    def _open(self, template: Any, fmt: _Format, started_at: datetime, first_pts: float) -> _Open:
        sequence = self.next_sequence
        self.next_sequence += 1
        name = f"{self.prefix}-{started_at:%Y%m%dT%H%M%S%f}-{sequence:08d}.mp4"
        return _Open(self.out_dir / name, template, fmt, sequence, started_at, first_pts)

    def _close(self, seg: _Open) -> SegmentInfo:
        # Dated now, on the clock's latest anchor: a burst at connect has been seen through by the end of
        # a segment. Never before the previous segment's end on the same clock (anchor moves are ms).
        started_at = self.timing.at(seg.first_pts)
        previous = self._last_end
        if previous is not None and previous[1] is self.timing.source and started_at < previous[0]:
            started_at = previous[0]
        try:
            seg.container.close()
            os.replace(seg.temp, seg.final)  # atomic: readers see a whole segment or none
        except (FFmpegError, OSError):
            self._discard(seg)  # a full disk mid-write: the partial file must not survive as a segment
            raise
        span = seg.last_pts - seg.first_pts + (seg.last_duration or 0.0)
        gaps = [b - a for a, b in zip(seg.keyframes, seg.keyframes[1:], strict=False)]
        ended_at = started_at + timedelta(seconds=max(span, 0.0))
        self._last_end = (ended_at, self.timing.source)
        return SegmentInfo(
            path=seg.final,
            sequence=seg.sequence,
            started_at=started_at,
            ended_at=ended_at,
            frames=seg.frames,
            bytes=seg.final.stat().st_size,
            codec=seg.format.codec,
            width=seg.format.width,
            height=seg.format.height,
            keyframe_interval_s=sum(gaps) / len(gaps) if gaps else None,
            clock=self.timing.source,
        )

    def _discard(self, seg: _Open) -> None:
        with contextlib.suppress(FFmpegError, OSError):
            seg.container.close()
        seg.temp.unlink(missing_ok=True)
