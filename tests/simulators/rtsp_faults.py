"""A camera that misbehaves on demand: an RTSP proxy in front of a real RTSP server (the camera simulator).

It passes RTSP over TCP through unchanged until a test asks for a fault:

- `cut()`: drop every open connection now (a camera rebooting, a cable pulled mid-segment);
- `mode = "stall"`: keep the connection open but forward nothing more (a hung camera or NAT);
- `mode = "corrupt"` / `"truncate"`: flip bytes inside RTP payloads / drop the second half of RTP
  packets (re-framed, so the TCP stream itself stays parseable, as a lossy network would leave it);
- `mode = "refuse"`: answer every request with `401 Unauthorized` (the camera's password changed);
- `rewind(seconds)`: from the next frame on, shift RTP timestamps back (or forward, negative) — a
  camera whose clock was reset without dropping the session;
- `route(alias, path)`: serve upstream `path` under `alias`; with `cut()`, a camera reconfigured to
  another codec or resolution (the reconnect finds the new stream);
- `sender_clock`: send RTCP sender reports on the stream's RTCP channel, once a second, mapping
  the latest RTP timestamp to that clock (a camera whose NTP time differs from ours).

It parses just enough of RTSP to do that: interleaved `$` frames and responses with Content-Length.

>>> async with FaultyCamera("127.0.0.1", 58554) as camera:
...     url = camera.url("cam1")
...     camera.mode = "stall"
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import struct
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal, Self

Mode = Literal["pass", "stall", "corrupt", "truncate", "refuse"]
NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)
_CSEQ = re.compile(rb"^CSeq:\s*(\d+)", re.IGNORECASE | re.MULTILINE)
_LENGTH = re.compile(rb"^Content-Length:\s*(\d+)", re.IGNORECASE | re.MULTILINE)
_INTERLEAVED = re.compile(rb"interleaved=(\d+)-(\d+)")


def ntp_timestamp(at: datetime) -> int:
    """64-bit NTP time (seconds since 1900 in the high word, binary fraction in the low word)."""
    seconds = at.timestamp() + NTP_EPOCH_OFFSET
    return int(seconds * (1 << 32)) & 0xFFFF_FFFF_FFFF_FFFF


def sender_report(*, ssrc: int, ntp: int, rtp_timestamp: int, packets: int, octets: int) -> bytes:
    """An RTCP SR (RFC 3550 §6.4.1) with no report blocks."""
    return struct.pack("!BBHIQIII", 0x80, 200, 6, ssrc, ntp, rtp_timestamp & 0xFFFF_FFFF, packets, octets)


class FaultyCamera:
    """A TCP proxy speaking RTSP to clients and to `upstream`, with faults switched at run time."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        sender_clock: Callable[[], datetime] | None = None,
        clock_rate: int = 90_000,
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.mode: Mode = "pass"
        self.sender_clock = sender_clock
        self.clock_rate = clock_rate
        self.routes: dict[str, str] = {}
        self._shift = 0  # RTP ticks added to every timestamp
        self._pending_shift = 0
        self.sessions = 0  # connections accepted
        self.refused = 0  # requests answered with 401
        self.reports_sent = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        await self._server.wait_closed()

    def url(self, path: str, *, userinfo: str = "") -> str:
        """The proxied URL of upstream `path`."""
        return f"rtsp://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}/{path}"

    def route(self, alias: str, path: str) -> None:
        """Requests for `alias` go to upstream `path` (new connections only)."""
        self.routes[alias] = path

    def rewind(self, seconds: float) -> None:
        """Timestamps jump back by `seconds` at the next frame boundary (forward when negative)."""
        self._pending_shift -= int(seconds * self.clock_rate)

    def cut(self) -> None:
        """Drop every open connection, as a camera that reboots does."""
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # the proxy closing ends its sessions quietly
            await self._session(client_r, client_w)

    async def _session(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.sessions += 1
        self._writers.add(client_w)
        if self.mode == "refuse":
            await self._refuse(client_r, client_w)
            return
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.transport.abort()
            return
        self._writers.add(server_w)
        up = asyncio.create_task(self._pipe_requests(client_r, server_w))
        down = asyncio.create_task(self._pipe_responses(server_r, client_w))
        try:
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (up, down):
                task.cancel()
            await asyncio.gather(up, down, return_exceptions=True)
            for writer in (client_w, server_w):
                writer.transport.abort()
                self._writers.discard(writer)

    async def _refuse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """401 to every request, with a digest challenge like a real camera's."""
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                cseq = _CSEQ.search(head)
                self.refused += 1
                writer.write(
                    b"RTSP/1.0 401 Unauthorized\r\nCSeq: " + (cseq.group(1) if cseq else b"0") + b"\r\n"
                    b'WWW-Authenticate: Digest realm="camera", nonce="' + f"{random.getrandbits(64):x}".encode() + b'"'
                    b"\r\n\r\n"
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.transport.abort()
            self._writers.discard(writer)

    async def _pipe_requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            for alias, path in self.routes.items():
                data = data.replace(f":{self.port}/{alias}".encode(), f":{self.port}/{path}".encode())
            writer.write(data)
            await writer.drain()

    async def _pipe_responses(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Frame by frame: RTSP responses pass, RTP frames get the fault of the moment, SRs are added."""
        rtp_channel: int | None = None
        rtcp_channel: int | None = None
        ssrc = packets = octets = 0
        last_report = 0.0
        frame_start = True
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                first = await reader.readexactly(1)
                if first == b"$":
                    header = await reader.readexactly(3)
                    channel, length = header[0], struct.unpack("!H", header[1:])[0]
                    payload = await reader.readexactly(length)
                    if self.mode == "stall":
                        continue  # swallowed: the client sees a silent, open connection
                    if channel == rtp_channel and length > 12:
                        ssrc = struct.unpack("!I", payload[8:12])[0]
                        packets, octets = packets + 1, octets + length - 12
                        if frame_start and self._pending_shift:  # never split one frame's packets
                            self._shift, self._pending_shift = self._shift + self._pending_shift, 0
                        frame_start = bool(payload[1] & 0x80)  # the marker bit ends a frame
                        if self._shift:
                            rtp_ts = (struct.unpack("!I", payload[4:8])[0] + self._shift) & 0xFFFF_FFFF
                            payload = payload[:4] + struct.pack("!I", rtp_ts) + payload[8:]
                        payload = self._damage(payload)
                    elif channel == rtcp_channel and self.sender_clock is not None and payload[1:2] == b"\xc8":
                        continue  # the upstream's own SRs would contradict ours
                    writer.write(b"$" + bytes([channel]) + struct.pack("!H", len(payload)) + payload)
                    now = time.monotonic()
                    if (
                        self.sender_clock is not None
                        and channel == rtp_channel
                        and rtcp_channel is not None
                        and now - last_report >= 1.0
                    ):
                        # The packet just forwarded was sent in real time: its RTP time is "now" on the camera.
                        rtp_ts = struct.unpack("!I", payload[4:8])[0]
                        report = sender_report(
                            ssrc=ssrc,
                            ntp=ntp_timestamp(self.sender_clock()),
                            rtp_timestamp=rtp_ts,
                            packets=packets,
                            octets=octets,
                        )
                        writer.write(b"$" + bytes([rtcp_channel]) + struct.pack("!H", len(report)) + report)
                        self.reports_sent += 1
                        last_report = now
                else:
                    head = first + await reader.readuntil(b"\r\n\r\n")
                    length_match = _LENGTH.search(head)
                    body = await reader.readexactly(int(length_match.group(1))) if length_match else b""
                    if (channels := _INTERLEAVED.search(head)) and rtp_channel is None:
                        rtp_channel, rtcp_channel = int(channels.group(1)), int(channels.group(2))
                    if self.mode == "stall":
                        continue
                    writer.write(head + body)
                await writer.drain()

    def _damage(self, payload: bytes) -> bytes:
        """The RTP packet as the current mode leaves it (header kept, so the stream stays in sync)."""
        if self.mode == "corrupt":
            body = bytearray(payload)
            for _ in range(8):
                at = random.randrange(14, len(body)) if len(body) > 14 else None
                if at is not None:
                    body[at] ^= 0xFF
            return bytes(body)
        if self.mode == "truncate" and len(payload) > 40:
            return payload[: len(payload) // 2]
        return payload


def utc_offset_clock(offset_s: float) -> Callable[[], datetime]:
    """A camera clock `offset_s` seconds off ours."""
    return lambda: datetime.fromtimestamp(time.time() + offset_s, UTC)
