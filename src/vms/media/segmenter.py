"""Stream copy into fMP4 segments, cut on keyframes (no re-encode: recording, playback, clips and
AI jobs all share these files).

A segment closes at the first keyframe once `target_s` has passed, so every segment starts with
a keyframe and decodes on its own. Its UTC start is anchored to the receive time of the stream's
first packet plus the packets' presentation-time offsets, so segment times never drift apart
from each other; a timestamp jump (camera reboot, backward pts) re-anchors to the receive clock
and starts a new segment. Files are written under a temporary name and renamed when complete, so a
crash or disconnect never leaves a half-written segment that looks finished.
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

FMP4_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
MAX_JUMP_S = 10.0  # a pts step larger than this (or backwards) is a discontinuity


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

    def __init__(self, path: Path, template: Any, sequence: int, started_at: datetime, first_pts: float) -> None:
        self.final = path
        self.temp = path.with_name(path.name + ".part")
        self.container = av.open(str(self.temp), mode="w", format="mp4", options=FMP4_OPTIONS)
        self.stream = self.container.add_stream_from_template(template)
        self.sequence = sequence
        self.started_at = started_at
        self.first_pts = first_pts
        self.last_pts = first_pts  # the latest presentation time (B-frames arrive out of pts order)
        self.last_dts = first_pts  # decode order: continuity is judged on this
        self.last_duration = 0.0
        self.frames = 0
        self.keyframes: list[float] = []


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
        current: _Open | None = None
        anchor: tuple[datetime, float] | None = None  # (UTC of pts origin, pts origin in seconds)
        with av.open(source, options=options or {}, timeout=(open_timeout_s, read_timeout_s)) as container:
            stream = container.streams.video[0]
            time_base = stream.time_base or Fraction(1, 90_000)
            codec = stream.codec_context.name
            width, height = stream.codec_context.width, stream.codec_context.height
            try:
                for packet in container.demux(stream):
                    if stop.is_set():
                        break
                    if packet.size == 0 or packet.pts is None:
                        continue
                    now = self.clock()
                    self.last_packet_at = now
                    t = float(packet.pts * time_base)
                    d = float((packet.dts if packet.dts is not None else packet.pts) * time_base)
                    jumped = current is not None and not (0 <= d - current.last_dts <= MAX_JUMP_S)
                    if anchor is None or jumped:
                        anchor = (now, t)
                    at = anchor[0] + timedelta(seconds=t - anchor[1])
                    if realtime and (ahead := (at - self.clock()).total_seconds()) > 0:
                        stop.wait(ahead)  # returns early when asked to stop
                    if current is not None and (
                        jumped or (packet.is_keyframe and (at - current.started_at).total_seconds() >= self.target_s)
                    ):
                        on_segment(self._close(current, codec, width, height))
                        current = None
                    if current is None:
                        if not packet.is_keyframe:
                            continue  # a segment must start on a keyframe to decode on its own
                        current = self._open(stream, at, t)
                        current.last_dts = d
                    packet.stream = current.stream
                    current.container.mux(packet)
                    current.frames += 1
                    current.last_pts = max(current.last_pts, t)
                    current.last_dts = d
                    current.last_duration = float(packet.duration * time_base) if packet.duration else 0.0
                    if packet.is_keyframe:
                        current.keyframes.append(t)
            finally:
                if current is not None:
                    if current.frames:
                        on_segment(self._close(current, codec, width, height))
                    else:
                        self._discard(current)

    def _open(self, template: Any, started_at: datetime, first_pts: float) -> _Open:
        sequence = self.next_sequence
        self.next_sequence += 1
        name = f"{self.prefix}-{started_at:%Y%m%dT%H%M%S%f}-{sequence:08d}.mp4"
        return _Open(self.out_dir / name, template, sequence, started_at, first_pts)

    def _close(self, seg: _Open, codec: str, width: int, height: int) -> SegmentInfo:
        seg.container.close()
        os.replace(seg.temp, seg.final)  # atomic: readers see a whole segment or none
        span = seg.last_pts - seg.first_pts + (seg.last_duration or 0.0)
        gaps = [b - a for a, b in zip(seg.keyframes, seg.keyframes[1:], strict=False)]
        return SegmentInfo(
            path=seg.final,
            sequence=seg.sequence,
            started_at=seg.started_at,
            ended_at=seg.started_at + timedelta(seconds=max(span, 0.0)),
            frames=seg.frames,
            bytes=seg.final.stat().st_size,
            codec=codec,
            width=width,
            height=height,
            keyframe_interval_s=sum(gaps) / len(gaps) if gaps else None,
        )

    def _discard(self, seg: _Open) -> None:
        with contextlib.suppress(FFmpegError):
            seg.container.close()
        seg.temp.unlink(missing_ok=True)
