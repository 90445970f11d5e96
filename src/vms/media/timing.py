"""The UTC time of each received video packet: the camera's RTCP sender-report clock when it sends one
we can trust, else our receive time.

RTCP sender reports give the camera's NTP time; without them we fall back to receive time, which
drifts by the network delay (tens of ms) but never jumps. FFmpeg's RTP demuxer turns the latest
sender report into a per-packet wall clock (`prft` side data: SR NTP time + the packet's RTP offset
from the SR), so no RTCP parsing happens here.

Times are anchored, not taken packet by packet: one (UTC, presentation time) pair, then each
packet's time is the anchor plus its presentation-time offset, so segments tile time exactly. The
anchor is reset when the clock source changes (the first SR arrives) and when the camera's clock steps
away from the anchored one (an NTP correction on the camera). Timestamp discontinuities never reach
here: the segmenter rebases them so presentation time runs on.

On the receive clock a live stream obeys causality: a frame is never received before it was
captured. Servers that burst their buffered video at connect (go2rtc sends ~1.7 s at once) would
otherwise put every later packet in the future by the burst; so the anchor moves back whenever a
packet would be placed after its own arrival, and creeps forward by `CREEP` (faster than any camera
crystal drifts) so a camera clock that runs slow is followed too. The estimate stays within the
smallest network delay seen. A file (the demo camera, tests) has no capture time: its first packet
is "now" and the rest follow by timestamps.

A camera whose clock is further than `max_skew_s` from ours is not trusted: a camera without NTP
drifts by minutes and would file its video at the wrong time; its skew is reported so an operator
can fix its NTP settings.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

MAX_CAMERA_SKEW_S = 10.0  # a trusted camera clock is within this of ours (NTP-synced hosts agree to ms)
CAMERA_STEP_S = 0.5  # the camera's clock moved this far from the anchored time: re-anchor
CREEP = 1e-4  # 100 ppm: receive-clock anchors drift forward this fast, so slow camera clocks are followed


class ClockSource(StrEnum):
    """Which clock dated a segment."""

    CAMERA = "camera"  # the camera's RTCP sender reports (NTP time at capture)
    RECEIVE = "receive"  # our NTP-synced clock when the packets arrived


def sender_report_time(packet: Any) -> datetime | None:
    """The packet's capture time on the camera's clock, from FFmpeg's `prft` side data (RTSP with RTCP SR)."""
    if not packet.has_sidedata("prft"):
        return None
    wallclock_us = struct.unpack_from("<q", bytes(packet.get_sidedata("prft")))[0]
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=wallclock_us)


@dataclass
class StreamClock:
    """Places packets in UTC for one connection.

    >>> clock = StreamClock()
    >>> at = clock.place(pts_s=0.04, received=utcnow(), camera=sender_report_time(packet))
    """

    max_skew_s: float = MAX_CAMERA_SKEW_S
    live: bool = True  # a network stream (causality applies), not a file
    source: ClockSource = ClockSource.RECEIVE
    skew_s: float | None = None  # camera clock minus receive time at the last sender-report packet
    _anchor: tuple[datetime, float] | None = None

    def place(self, *, pts_s: float, received: datetime, camera: datetime | None) -> datetime:
        """The UTC time of a packet with presentation time `pts_s` (seconds)."""
        if camera is not None:
            self.skew_s = (camera - received).total_seconds()
        trusted = camera is not None and abs(self.skew_s or 0.0) <= self.max_skew_s
        source = ClockSource.CAMERA if trusted else ClockSource.RECEIVE
        if self._anchor is None or source is not self.source:
            return self._reanchor(camera if trusted and camera else received, pts_s, source)
        at = self.at(pts_s)
        if trusted and camera is not None and abs((camera - at).total_seconds()) > CAMERA_STEP_S:
            return self._reanchor(camera, pts_s, source)
        if not trusted and self.live and at > received:  # placed after its arrival: the anchor is late
            return self._reanchor(received, pts_s, source)
        return at

    def at(self, pts_s: float) -> datetime:
        """The UTC time of presentation time `pts_s` on the current anchor (no update)."""
        assert self._anchor is not None, "place() a packet first"
        offset = pts_s - self._anchor[1]
        if self.live and self.source is ClockSource.RECEIVE:
            offset *= 1 + CREEP
        return self._anchor[0] + timedelta(seconds=offset)

    def _reanchor(self, at: datetime, pts_s: float, source: ClockSource) -> datetime:
        self._anchor = (at, pts_s)
        self.source = source
        return at
