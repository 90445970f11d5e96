"""HLS from our own recorded segments: VOD playlists for a time range, a live sliding window, and a
master playlist with the main and sub stream as variants (ABR), plus the MPEG-TS remux that delivers
each segment.

Why MPEG-TS and not the stored fMP4 as it is: the segmenter writes every segment as a standalone
fMP4 with its own `moov` and a decode timeline that restarts at zero (see media/segmenter.py). Played
as HLS fMP4, every segment would need its own `#EXT-X-MAP` *and* an `#EXT-X-DISCONTINUITY` (its
timestamps restart), which hls.js handles by tearing down and re-initialising its source buffer at
every segment (a visible stall every 5 s) and Safari dislikes too. Remuxing to MPEG-TS on the fly is a
stream copy (no decode, about a millisecond per segment) in which we rewrite the timestamps to the
segment's wall-clock start: consecutive segments then follow each other exactly, main and sub variants
share one timeline (so players can switch between them), and a real gap is a forward jump that we
mark with `#EXT-X-DISCONTINUITY`. ffmpeg, hls.js, Safari and VLC all play H.264 (and ffmpeg/VLC also
H.265) from TS. MJPEG cannot be carried in HLS at all; such cameras are refused with a clear message
(their recordings still export to MP4).

Timestamps are `UTC seconds × 90 kHz`, which the TS muxer keeps modulo 2^33 (the 33-bit PTS wraps
every 26.5 h); players unwrap it as they do for any broadcast stream. `#EXT-X-PROGRAM-DATE-TIME`
gives each run of segments its wall-clock time so players seek by date and multi-camera playback
aligns by wall clock.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, BinaryIO, Protocol

import av
from av.error import FFmpegError

from vms.kernel.clock import as_utc
from vms.kernel.errors import CorruptVideo, ValidationFailed
from vms.ports import BlobStore

HLS_CODECS = frozenset({"h264", "hevc"})
TS_CLOCK = 90_000
# TS packetisation (188-byte packets, PES headers, PAT/PMT, PCR) adds a few percent to the stored
# bitrate; BANDWIDTH must not understate the peak or players pick a variant they cannot sustain.
TS_OVERHEAD = 1.08
_NAME = re.compile(r"^(main|sub)-(\d{1,20})\.ts$")


class SegmentLike(Protocol):
    """What a playlist needs of a segment (the media domain's Segment rows fit)."""

    @property
    def stream(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def ended_at(self) -> datetime: ...
    @property
    def codec(self) -> str: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def frames(self) -> int: ...
    @property
    def sequence(self) -> int: ...
    @property
    def bitrate_kbps(self) -> float: ...
    @property
    def blob_key(self) -> str: ...


# --- names of segments in URLs ------------------------------------------------------------------------


def segment_name(stream: str, started_at: datetime) -> str:
    """The URL name of a segment: its stream and UTC start in microseconds (stable, cacheable, no row id)."""
    return f"{stream}-{_micros(started_at)}.ts"


def parse_segment_name(name: str) -> tuple[str, datetime]:
    """(stream, start) from a segment's URL name; ValidationFailed when it is not one of ours."""
    match = _NAME.match(name)
    if not match:
        raise ValidationFailed(f"'{name}' is not a segment name (expected main-<µs>.ts or sub-<µs>.ts).")
    micros = int(match.group(2))
    try:
        at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    except OverflowError as exc:
        raise ValidationFailed(f"'{name}' names a time out of range.") from exc
    return match.group(1), at


def _micros(at: datetime) -> int:
    delta = as_utc(at) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# --- media playlists ----------------------------------------------------------------------------------


def ensure_playable(segments: Sequence[SegmentLike]) -> None:
    """Refuse codecs HLS cannot carry, naming the way out."""
    bad = sorted({s.codec for s in segments} - HLS_CODECS)
    if bad:
        raise ValidationFailed(
            f"This camera records {', '.join(bad)}, which HLS cannot carry; export the time range as MP4 instead."
        )


def is_break(before: SegmentLike, after: SegmentLike, *, tolerance_s: float) -> bool:
    """Whether a player must be told of a discontinuity between two segments: a gap, or new codec parameters."""
    gap = (as_utc(after.started_at) - as_utc(before.ended_at)).total_seconds()
    changed = (before.codec, before.width, before.height) != (after.codec, after.width, after.height)
    return gap > tolerance_s or gap < -tolerance_s or changed


def media_playlist(
    segments: Sequence[SegmentLike],
    *,
    uri: Callable[[SegmentLike], str],
    vod: bool,
    tolerance_s: float = 1.0,
    media_sequence: int = 0,
    discontinuity_sequence: int = 0,
    start_offset_s: float | None = None,
    hold_back_targets: float | None = None,
) -> str:
    """An HLS media playlist over `segments` (oldest first).

    VOD playlists end with `#EXT-X-ENDLIST`; live ones do not, and players reload them. Every run of
    contiguous segments starts with `#EXT-X-PROGRAM-DATE-TIME`, and every gap or change of codec
    parameters is an `#EXT-X-DISCONTINUITY`. `start_offset_s` makes players begin there (seek).
    `hold_back_targets` (live) tells players how far behind the live edge to play, in target durations:
    as `#EXT-X-SERVER-CONTROL:HOLD-BACK` (hls.js keeps that distance) and as a negative
    `#EXT-X-START` (where Safari, ExoPlayer and ffmpeg begin).
    """
    # Times read once: ORM attribute access and UTC conversion dominate for a day of segments.
    starts = [as_utc(s.started_at) for s in segments]
    ends = [as_utc(s.ended_at) for s in segments]
    durations = [max(0.001, (e - b).total_seconds()) for b, e in zip(starts, ends, strict=True)]
    target = target_duration(durations)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target}",
        f"#EXT-X-MEDIA-SEQUENCE:{media_sequence}",
    ]
    if discontinuity_sequence:
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}")
    if vod:
        lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
    lines.append("#EXT-X-INDEPENDENT-SEGMENTS")  # every segment starts on a keyframe (segmenter's rule)
    if start_offset_s is not None:
        lines.append(f"#EXT-X-START:TIME-OFFSET={start_offset_s:.3f},PRECISE=YES")
    elif hold_back_targets is not None and not vod:
        hold_back = hold_back_targets * target
        lines.append(f"#EXT-X-SERVER-CONTROL:HOLD-BACK={hold_back:.3f}")
        lines.append(f"#EXT-X-START:TIME-OFFSET=-{hold_back:.3f}")
    previous: tuple[datetime, str, int, int] | None = None  # (end, codec, width, height) of the segment before
    for seg, begin, end, duration in zip(segments, starts, ends, durations, strict=True):
        shape = (seg.codec, seg.width, seg.height)
        if previous is not None:
            gap = (begin - previous[0]).total_seconds()
            if gap > tolerance_s or gap < -tolerance_s or previous[1:] != shape:
                lines.append("#EXT-X-DISCONTINUITY")
                previous = None
        if previous is None:
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_iso(begin)}")
        lines.append(f"#EXTINF:{duration:.3f},")
        lines.append(uri(seg))
        previous = (end, *shape)
    if vod:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def target_duration(durations: Sequence[float]) -> int:
    """`#EXT-X-TARGETDURATION`: the longest segment rounded to the nearest second (at least 1).

    RFC 8216 §4.3.3.1 asks only that every EXTINF *rounded to the nearest integer* stays within it.
    Rounding up instead would turn a 1.04 s segment (a camera's timestamps jitter) into a 2 s target,
    and players hold back three targets from the live edge: 6 s instead of 3 s of latency.
    """
    return max(1, math.floor(max(durations, default=1.0) + 0.5))


def start_offset(segments: Sequence[SegmentLike], at: datetime) -> float | None:
    """Seconds into a playlist of `segments` where wall-clock `at` is played (None: before or after all)."""
    at = as_utc(at)
    elapsed = 0.0
    for seg in segments:
        start, end = as_utc(seg.started_at), as_utc(seg.ended_at)
        if at < start:  # in a gap: begin at the next recorded moment
            return elapsed
        if at < end:
            return elapsed + (at - start).total_seconds()
        elapsed += max(0.001, (end - start).total_seconds())
    return None


@dataclass(frozen=True, slots=True)
class LiveWindow:
    """The segments of a live playlist and the media sequence of its first segment."""

    segments: list[SegmentLike]
    media_sequence: int


def live_window(segments: Sequence[SegmentLike], *, size: int, tolerance_s: float) -> LiveWindow:
    """The newest contiguous run of at most `size` segments (oldest first), numbered by the segmenter.

    A segment's media sequence is the segmenter's own `sequence`, which counts on across reconnects of
    one ingest process, so the same segment keeps its number on every reload. The window never spans a
    gap or a restart of the count (ingest restarted): a live playlist with a discontinuity inside would
    need the count of every discontinuity that already slid out of it (`#EXT-X-DISCONTINUITY-SEQUENCE`),
    which only a scan of the whole recording could give. A reconnect therefore shows as a forward jump
    of the wall-clock timestamps between two consecutively numbered segments — one timeline with a
    hole, which players skip (ffmpeg plays on, hls.js's gap controller jumps it).
    """
    ordered = sorted(segments, key=lambda s: as_utc(s.started_at))
    if not ordered:
        return LiveWindow([], 0)
    first = len(ordered) - 1
    while first > 0:
        before, after = ordered[first - 1], ordered[first]
        if after.sequence != before.sequence + 1 or is_break(before, after, tolerance_s=tolerance_s):
            break
        first -= 1
    window = ordered[first:][-size:]
    return LiveWindow(list(window), window[0].sequence)


# --- master playlist (ABR) ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Variant:
    """One rendition of a camera in a master playlist."""

    stream: str
    uri: str
    bandwidth: int  # peak bits/s
    average_bandwidth: int
    width: int
    height: int
    frame_rate: float | None
    codecs: str | None


def variant(stream: str, segments: Sequence[SegmentLike], *, uri: str, codecs: str | None) -> Variant:
    """A variant described from the segment index: peak and average bitrate, resolution and frame rate."""
    rates = [s.bitrate_kbps for s in segments if s.bitrate_kbps > 0] or [1.0]
    newest = max(segments, key=lambda s: as_utc(s.started_at))
    seconds = (as_utc(newest.ended_at) - as_utc(newest.started_at)).total_seconds()
    return Variant(
        stream=stream,
        uri=uri,
        bandwidth=int(max(rates) * 1000 * TS_OVERHEAD),
        average_bandwidth=int(sum(rates) / len(rates) * 1000 * TS_OVERHEAD),
        width=newest.width,
        height=newest.height,
        frame_rate=round(newest.frames / seconds, 3) if seconds > 0 and newest.frames else None,
        codecs=codecs,
    )


def master_playlist(variants: Sequence[Variant]) -> str:
    """A master playlist listing the variants, highest bandwidth first (players start with the first)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for v in sorted(variants, key=lambda v: v.bandwidth, reverse=True):
        attrs = [f"BANDWIDTH={v.bandwidth}", f"AVERAGE-BANDWIDTH={v.average_bandwidth}"]
        if v.codecs:
            attrs.append(f'CODECS="{v.codecs}"')
        if v.width and v.height:
            attrs.append(f"RESOLUTION={v.width}x{v.height}")
        if v.frame_rate:
            attrs.append(f"FRAME-RATE={v.frame_rate:.3f}")
        attrs.append(f'NAME="{v.stream}"')
        lines += [f"#EXT-X-STREAM-INF:{','.join(attrs)}", v.uri]
    return "\n".join(lines) + "\n"


def codecs_from_extradata(codec: str, extradata: bytes | None) -> str | None:
    """The RFC 6381 CODECS string (avc1.PPCCLL, hvc1.…) from an MP4 stream's avcC/hvcC box, if readable."""
    if not extradata:
        return None
    if codec == "h264" and len(extradata) >= 4 and extradata[0] == 1:
        return f"avc1.{extradata[1]:02x}{extradata[2]:02x}{extradata[3]:02x}"
    if codec == "hevc" and len(extradata) >= 13 and extradata[0] == 1:
        space = "ABC"[(extradata[1] >> 6) - 1] if extradata[1] >> 6 else ""
        tier = "H" if extradata[1] & 0x20 else "L"
        profile = extradata[1] & 0x1F
        compat = int.from_bytes(extradata[2:6], "big")
        reversed_compat = int(f"{compat:032b}"[::-1], 2)
        constraints = list(extradata[6:12])
        while constraints and constraints[-1] == 0:
            constraints.pop()
        tail = "".join(f".{b:X}" for b in constraints)
        return f"hvc1.{space}{profile}.{reversed_compat:X}.{tier}{extradata[12]}{tail}"
    return None


class CodecStrings:
    """CODECS strings per camera stream, read once from a segment's header and remembered.

    A camera's codec profile changes only when someone reconfigures it, and then its resolution or
    codec usually changes too, which is part of the key; the memory is bounded.
    """

    def __init__(self, blobs: BlobStore, *, capacity: int = 10_000) -> None:
        self.blobs = blobs
        self.capacity = capacity
        self._known: dict[tuple[str, str, int, int], str | None] = {}

    async def of(self, seg: SegmentLike, *, camera_key: str) -> str | None:
        """The CODECS string of the stream `seg` belongs to."""
        key = (camera_key + "/" + seg.stream, seg.codec, seg.width, seg.height)
        if key in self._known:
            return self._known[key]
        try:
            source = await _source(self.blobs, seg.blob_key)
            with av.open(source, mode="r") as container:
                stream = container.streams.video[0]
                value = codecs_from_extradata(seg.codec, stream.codec_context.extradata)
        except (FFmpegError, IndexError, OSError):
            value = None  # CODECS is optional; a player then probes the first segment itself
        if len(self._known) >= self.capacity:
            self._known.clear()
        self._known[key] = value
        return value


# --- segment delivery ---------------------------------------------------------------------------------


async def _source(blobs: BlobStore, key: str) -> str | BinaryIO:
    """A path to read in place when the store has one (filesystem), else the bytes in memory (S3)."""
    path = await blobs.local_path(key)
    return str(path) if path is not None else io.BytesIO(await blobs.get(key))


async def segment_source(blobs: BlobStore, key: str) -> str | BinaryIO:
    """Where PyAV reads a stored segment from."""
    return await _source(blobs, key)


def remux_to_ts(source: str | BinaryIO, *, started_at: datetime) -> bytes:
    """Stream-copy one stored fMP4 segment into MPEG-TS with wall-clock timestamps (no decode, no re-encode).

    The first packet's decode time becomes `started_at` in the 90 kHz clock; every later packet keeps
    its distance from it. CorruptVideo when the stored file does not demux.
    """
    base = round(as_utc(started_at).timestamp() * TS_CLOCK)
    out_buffer = io.BytesIO()
    try:
        with av.open(source, mode="r") as src:
            ist = src.streams.video[0]
            time_base = ist.time_base or Fraction(1, TS_CLOCK)
            # mpegts_copyts: keep our timestamps as given (no muxer-side shift), so segments line up.
            with av.open(out_buffer, mode="w", format="mpegts", options={"mpegts_copyts": "1"}) as out:
                ost: Any = out.add_stream_from_template(ist)
                ost.time_base = Fraction(1, TS_CLOCK)
                origin: int | None = None
                last_dts: int | None = None
                for packet in src.demux(ist):
                    if packet.size == 0 or packet.pts is None:
                        continue
                    dts = packet.dts if packet.dts is not None else packet.pts
                    if origin is None:
                        origin = dts
                    new_dts = base + round((dts - origin) * time_base * TS_CLOCK)
                    if last_dts is not None and new_dts <= last_dts:
                        new_dts = last_dts + 1  # the muxer refuses non-increasing dts
                    new_pts = max(new_dts, base + round((packet.pts - origin) * time_base * TS_CLOCK))
                    packet.dts, packet.pts, last_dts = new_dts, new_pts, new_dts
                    packet.time_base = Fraction(1, TS_CLOCK)
                    packet.stream = ost
                    out.mux(packet)
    except (FFmpegError, IndexError) as exc:
        raise CorruptVideo("A stored segment cannot be read; it may be damaged.") from exc
    return out_buffer.getvalue()


def thumbnail_jpeg(source: str | BinaryIO, *, started_at: datetime, at: datetime, max_width: int = 320) -> bytes:
    """A JPEG of the frame shown at wall-clock `at` in one stored segment, at most `max_width` wide.

    Decodes from the segment's first keyframe up to `at` (at most one segment: a few hundred
    milliseconds for a sub stream) and encodes with PyAV's own MJPEG encoder (no Pillow needed).
    """
    offset = (as_utc(at) - as_utc(started_at)).total_seconds()
    chosen: Any = None
    try:
        with av.open(source, mode="r") as src:
            stream = src.streams.video[0]
            origin: float | None = None
            for frame in src.decode(stream):
                if frame.time is None:
                    continue
                origin = frame.time if origin is None else origin
                if chosen is not None and frame.time - origin > offset:
                    break
                chosen = frame
    except (FFmpegError, IndexError) as exc:
        raise CorruptVideo("A stored segment cannot be read; it may be damaged.") from exc
    if chosen is None:
        raise CorruptVideo("The stored segment holds no decodable frame.")
    width = min(max_width, chosen.width) // 2 * 2
    height = max(2, round(chosen.height * width / chosen.width) // 2 * 2)
    encoder: Any = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    image = chosen.reformat(width=width, height=height, format="yuvj420p")
    packets = list(encoder.encode(image)) + list(encoder.encode(None))
    return b"".join(bytes(p) for p in packets)


def _iso(at: datetime) -> str:
    return as_utc(at).isoformat(timespec="milliseconds").replace("+00:00", "Z")
