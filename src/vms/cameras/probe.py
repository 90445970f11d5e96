"""Stream probing: open a camera stream, sample about two seconds of it, and measure what it sends.

The camera service depends on the `Prober` protocol, not on PyAV, so API tests inject a fake that
returns fixed `StreamInfo`, and the ingest role can reuse `PyAvProber`. The protocol lives here,
beside its one real implementation, rather than in `vms.ports`: ports are the infrastructure
engines that have an embedded and a real-engine adapter with a shared contract suite; a probe is
camera logic with a single implementation (the process's own FFmpeg, through PyAV).

Every failure a user can cause becomes a `StreamProblem` (422) whose message names the stream
without its credentials; FFmpeg's own messages (which repeat the URL, password included) never
leave this module.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import av
import av.error
import structlog
from pydantic import BaseModel, ConfigDict, Field

from vms.cameras.urls import host_port, redact, with_credentials
from vms.kernel.errors import (
    NotAMediaStream,
    StreamCredentialsRefused,
    StreamProblem,
    StreamUnreachable,
    UnsupportedCodec,
)

log = structlog.get_logger(__name__)

Codec = Literal["h264", "hevc", "mjpeg"]
SUPPORTED_CODECS: tuple[str, ...] = ("h264", "hevc", "mjpeg")


class StreamInfo(BaseModel):
    """What one stream of a camera sends, as measured by a probe."""

    model_config = ConfigDict(frozen=True)

    codec: Codec = Field(description="Video codec: h264, hevc or mjpeg.")
    width: int = Field(ge=1, le=16384, description="Frame width in pixels.")
    height: int = Field(ge=1, le=16384, description="Frame height in pixels.")
    fps: float | None = Field(None, ge=0, description="Frames per second over the sample.")
    bitrate_kbps: int = Field(ge=0, description="Bitrate measured from packet sizes over the sample.")
    declared_bitrate_kbps: int | None = Field(
        None, ge=0, description="Bitrate the stream declares (SDP b=AS, container header), when it declares one."
    )
    gop_s: float | None = Field(
        None, ge=0, description="Keyframe interval in seconds; null when the sample held fewer than two keyframes."
    )

    @property
    def lines(self) -> int:
        """Resolution as the short side: 1080 for 1920x1080 and for a 1080x1920 corridor view."""
        return min(self.width, self.height)

    @property
    def usable_bitrate_kbps(self) -> int:
        """The larger of measured and declared bitrate.

        A VBR camera watching a still scene sends far less than it is configured for; judging it
        by two quiet seconds alone would refuse models it serves well once something moves.
        """
        return max(self.bitrate_kbps, self.declared_bitrate_kbps or 0)

    def describe(self) -> str:
        """`720p at 1800 kbps`, as used in compatibility messages."""
        return f"{self.lines}p at {self.usable_bitrate_kbps} kbps"


@dataclass(frozen=True, slots=True)
class StreamCredentials:
    """How to log in to a camera's streams. Secrets are hidden from repr so they never reach a log."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    client_cert_pem: str | None = field(default=None, repr=False)
    client_key_pem: str | None = field(default=None, repr=False)


class Prober(Protocol):
    """Measures a camera stream.

    >>> info = await prober.probe("rtsp://10.0.0.7/ch1", credentials=StreamCredentials("admin", "pa55"))
    >>> info.codec, info.height, info.bitrate_kbps
    ('h264', 1080, 3900)
    """

    async def probe(self, url: str, *, credentials: StreamCredentials | None = None) -> StreamInfo:
        """Open `url`, sample it and describe it; raise a StreamProblem when it cannot be used."""
        ...


@dataclass(frozen=True, slots=True)
class PyAvProber:
    """The real prober: FFmpeg through PyAV, in a worker thread, with bounded waits."""

    open_timeout_s: float = 5.0
    read_timeout_s: float = 5.0
    sample_s: float = 2.0
    max_sample_s: float = 4.0  # sample longer (up to this) to see a second keyframe for the GOP

    async def probe(self, url: str, *, credentials: StreamCredentials | None = None) -> StreamInfo:
        """Measure `url` (see Prober); blocking FFmpeg calls run in a thread."""
        started = time.monotonic()
        # FFmpeg's own timeouts bound the thread; this bounds the caller even if one were ignored.
        limit = self.open_timeout_s + self.max_sample_s + 2 * self.read_timeout_s + 1
        try:
            info = await asyncio.wait_for(asyncio.to_thread(self._probe, url, credentials), timeout=limit)
        except TimeoutError:
            raise StreamUnreachable(f"{redact(url)} did not finish answering within {limit:g} s.") from None
        except StreamProblem as exc:
            log.info("stream probe failed", url=redact(url), problem=exc.title, took_s=_since(started))
            raise
        log.info(
            "stream probed",
            url=redact(url),
            codec=info.codec,
            width=info.width,
            height=info.height,
            fps=info.fps,
            bitrate_kbps=info.bitrate_kbps,
            took_s=_since(started),
        )
        return info

    def _probe(self, url: str, credentials: StreamCredentials | None) -> StreamInfo:
        scratch = tempfile.mkdtemp(prefix="vms-probe-")  # 0700: client certificate files live here briefly
        try:
            options = self._options(url, credentials, scratch)
            target = with_credentials(url, credentials.username, credentials.password) if credentials else url
            started = time.monotonic()
            try:
                container = av.open(target, options=options, timeout=(self.open_timeout_s, self.read_timeout_s))
            except av.FFmpegError as exc:
                # `from None`: FFmpeg's exception repeats the URL with its password.
                raise _problem(exc, url, elapsed=time.monotonic() - started, timeout_s=self.open_timeout_s) from None
            with container:
                return self._measure(container, url)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _options(self, url: str, credentials: StreamCredentials | None, scratch: str) -> dict[str, str]:
        scheme = urlsplit(url).scheme.lower()
        options: dict[str, str] = {}
        if scheme in ("rtsp", "rtsps"):
            # Interleaved TCP, as NVRs do: UDP loses packets behind NAT and stalls behind firewalls.
            options["rtsp_transport"] = "tcp"
        if scheme in ("rtsp", "rtsps", "http", "https"):
            options["timeout"] = str(int(self.read_timeout_s * 1_000_000))  # socket I/O timeout, microseconds
        if credentials and credentials.token and scheme in ("http", "https"):
            options["headers"] = f"Authorization: Bearer {credentials.token}\r\n"
        if credentials and credentials.client_cert_pem and credentials.client_key_pem:
            options["cert_file"] = _private_file(scratch, "client.crt", credentials.client_cert_pem)
            options["key_file"] = _private_file(scratch, "client.key", credentials.client_key_pem)
        return options

    def _measure(self, container: Any, url: str) -> StreamInfo:
        video = next((s for s in container.streams if s.type == "video"), None)
        if video is None:
            kinds = ", ".join(sorted({s.type for s in container.streams})) or "nothing"
            raise NotAMediaStream(f"{redact(url)} holds no video (found: {kinds}).")
        context = video.codec_context
        if context.name not in SUPPORTED_CODECS:
            raise UnsupportedCodec(
                f"{redact(url)} sends {context.name} video; the platform handles H.264, H.265/HEVC and MJPEG. "
                "Switch the camera's encoder to one of them.",
                codec=context.name,
            )
        sample = _Sample(started=time.monotonic())
        deadline = sample.started + self.max_sample_s + self.read_timeout_s
        try:
            for packet in container.demux(video):
                if packet.size == 0:  # the empty packet that flushes the demuxer at the end
                    continue
                sample.add(packet)
                if sample.frame is None and (sample.decoding or packet.is_keyframe):
                    sample.decode(packet)
                if sample.enough(self.sample_s, self.max_sample_s) or time.monotonic() > deadline:
                    break
        except av.FFmpegError as exc:
            if not sample.packets:
                raise _problem(exc, url, elapsed=_since(sample.started), timeout_s=self.read_timeout_s) from None
            # The stream broke off mid-sample: what arrived is still a fair measurement.
        if not sample.packets:
            raise StreamUnreachable(f"{redact(url)} opened but sent no video within {self.read_timeout_s:g} s.")
        if sample.frame is None:
            sample.flush(context)
        if sample.frame is None:
            raise NotAMediaStream(f"{redact(url)} sends {context.name} data that cannot be decoded (corrupt video).")
        width = context.width or sample.frame.width
        height = context.height or sample.frame.height
        declared = context.bit_rate or video.bit_rate or 0
        return StreamInfo(
            codec=context.name,
            width=width,
            height=height,
            fps=sample.fps(fallback=float(video.average_rate) if video.average_rate else None),
            bitrate_kbps=sample.bitrate_kbps(),
            declared_bitrate_kbps=round(declared / 1000) if declared else None,
            gop_s=sample.gop_s(),
        )


@dataclass
class _Sample:
    """Packets seen so far: their timing, sizes and keyframes, and the first decoded frame."""

    started: float
    packets: int = 0
    total_bytes: int = 0
    first_t: float | None = None
    last_t: float | None = None
    keyframes: list[float] = field(default_factory=list)
    decoding: bool = False
    frame: Any = None

    def add(self, packet: Any) -> None:
        """Count a packet; stream time from its timestamp, or arrival time when it has none (MJPEG over HTTP).

        Decode timestamps come first: they rise one frame at a time, while presentation timestamps
        jump around B-frames and would undercount the frames in the span.
        """
        t = self._seconds(packet.dts if packet.dts is not None else packet.pts, packet)
        self.packets += 1
        self.total_bytes += packet.size
        self.first_t = t if self.first_t is None else min(self.first_t, t)
        self.last_t = t if self.last_t is None else max(self.last_t, t)
        if packet.is_keyframe:  # keyframes by presentation time: that is where a viewer can start
            self.keyframes.append(self._seconds(packet.pts if packet.pts is not None else packet.dts, packet))

    def _seconds(self, stamp: int | None, packet: Any) -> float:
        if stamp is None or not packet.time_base:
            return _since(self.started)
        return float(stamp * packet.time_base)

    @property
    def span(self) -> float:
        """Seconds between the earliest and latest packet."""
        return 0.0 if self.first_t is None or self.last_t is None else self.last_t - self.first_t

    def enough(self, sample_s: float, max_sample_s: float) -> bool:
        """Sampled long enough; a little longer while waiting for a second keyframe."""
        return self.span >= max_sample_s or (self.span >= sample_s and len(self.keyframes) >= 2)

    def decode(self, packet: Any) -> None:
        """Decode from the first keyframe until one frame comes out, proving the video is readable."""
        self.decoding = True
        try:
            frames = packet.decode()
        except av.FFmpegError:  # a damaged packet; later ones may still decode
            return
        if frames:
            self.frame = frames[0]

    def flush(self, context: Any) -> None:
        """Drain frames the decoder still holds (it delays output when frames are reordered)."""
        if not self.decoding:
            return
        try:
            frames = context.decode(None)
        except av.FFmpegError:
            return
        if frames:
            self.frame = frames[0]

    def fps(self, *, fallback: float | None) -> float | None:
        """Frames per second over the sample, or the stream's declared rate for a one-packet sample."""
        if self.packets >= 2 and self.span > 0:
            return round((self.packets - 1) / self.span, 2)
        return round(fallback, 2) if fallback else None

    def bitrate_kbps(self) -> int:
        """Bits per second over the sample, counting one frame's time for the last packet."""
        rate = self.fps(fallback=None)
        duration = self.span + (1 / rate if rate else 0)
        return round(self.total_bytes * 8 / duration / 1000) if duration > 0 else 0

    def gop_s(self) -> float | None:
        """Mean interval between keyframes, in seconds."""
        keys = sorted(set(self.keyframes))
        if len(keys) < 2:
            return None
        return round((keys[-1] - keys[0]) / (len(keys) - 1), 3)


def _problem(exc: Exception, url: str, *, elapsed: float, timeout_s: float) -> StreamProblem:
    """Translate an FFmpeg error into what the user can do about it (never quoting FFmpeg's URL)."""
    where, peer = redact(url), host_port(url)
    scheme = urlsplit(url).scheme.lower()
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        code = 401 if isinstance(exc, av.error.HTTPUnauthorizedError) else 403
        return StreamCredentialsRefused(
            f"The camera at {peer} refused the credentials ({code}) for {where}; check the username and password "
            "(or token) in auth."
        )
    if isinstance(exc, av.error.HTTPNotFoundError):
        return StreamUnreachable(f"The camera at {peer} has no stream at {where} (404); check the path.")
    if isinstance(exc, av.error.ConnectionRefusedError):
        return StreamUnreachable(f"{peer} refused the connection (nothing listens there); {where} is unreachable.")
    if isinstance(exc, av.error.TimeoutError | av.error.ExitError) or elapsed >= timeout_s * 0.95:
        return StreamUnreachable(f"No answer from {peer} within {timeout_s:g} s; {where} is unreachable.")
    if isinstance(exc, av.error.InvalidDataError):
        if scheme in ("rtsp", "rtsps"):
            return StreamUnreachable(f"{peer} did not answer as an RTSP camera; {where} is unreachable.")
        return NotAMediaStream(f"{where} is not a media stream (its data is in no known video format).")
    if isinstance(exc, av.error.HTTPClientError | av.error.HTTPServerError | av.error.HTTPError):
        return StreamUnreachable(f"The camera at {peer} answered {where} with an HTTP error ({_reason(exc)}).")
    return StreamUnreachable(
        f"{where} could not be opened ({_reason(exc)}); check the host name, the network path and the port."
    )


def _reason(exc: Exception) -> str:
    # strerror is FFmpeg's message without the file name; str(exc) would repeat the URL.
    return str(getattr(exc, "strerror", None) or type(exc).__name__)


def _private_file(directory: str, name: str, content: str) -> str:
    path = os.path.join(directory, name)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)
    return path


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
