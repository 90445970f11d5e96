"""A minimal RTSP/1.0 client (OPTIONS, DESCRIBE) and the generic RTSP camera adapter built on it.

Ingest and stream probing open streams through PyAV; discovery only needs to ask a device "do you
speak RTSP, whose server are you, which codec is on this path" — a few hundred bytes each way, for
hundreds of hosts. A demuxer per host would cost a thread and milliseconds of CPU; this costs one
socket. Reads are bounded (header and body caps) and parsing is strict, because the scanner points
this client at whatever listens on a port:

>>> answer = await rtsp_describe("rtsp://10.0.0.7:554/stream1", credentials=creds, timeout_s=2)
>>> answer.status, answer.server, answer.video_codec
(200, 'GStreamer RTSP server', 'H264')

Failures are `DeviceProblem`s naming host:port only: refused or silent → DeviceUnreachable, an
answer that is not RTSP → DeviceProtocolError, credentials refused → DeviceCredentialsRefused.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

from vms.cameras.devices.base import (
    DEFAULT_TIMEOUT_S,
    CameraAdapter,
    DeviceAddress,
    DeviceCredentials,
    DeviceInfo,
    StreamProfile,
    register,
)
from vms.cameras.devices.http import excerpt
from vms.cameras.urls import check_stream_url, split_credentials
from vms.kernel.errors import (
    DeviceCredentialsRefused,
    DeviceProtocolError,
    DeviceUnreachable,
    ValidationFailed,
)

RTSP_PORT = 554
MAX_HEADER_BYTES = 16 * 1024  # a status line and headers; cameras send well under 1 KiB
MAX_HEADER_LINES = 100
MAX_BODY_BYTES = 64 * 1024  # an SDP is a few hundred bytes; far more is not a DESCRIBE answer
USER_AGENT = "vms-platform"

_STATUS_LINE = re.compile(r"^RTSP/1\.\d (\d{3})(?: (.*))?$")
_AUTH_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]+)')
_DIGEST_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}

# Server header substrings (lower-case) → the maker they reveal. A guess, shown as such to users;
# most cameras send no Server header at all on RTSP.
_SERVER_MAKERS: tuple[tuple[str, str], ...] = (
    ("hikvision", "Hikvision"),
    ("dahua", "Dahua"),
    ("axis", "Axis"),
    ("hanwha", "Hanwha Vision"),
    ("wisenet", "Hanwha Vision"),
    ("uniview", "Uniview"),
    ("vivotek", "Vivotek"),
    ("bosch", "Bosch"),
    ("reolink", "Reolink"),
    ("hipcam", "Hipcam"),
    ("go2rtc", "go2rtc"),
    ("gstreamer", "GStreamer"),
    ("mediamtx", "MediaMTX"),
    ("rtsp-simple-server", "MediaMTX"),
    ("wowza", "Wowza"),
    ("live555", "LIVE555"),
)
# RTP static payload types (RFC 3551) that cameras use without an rtpmap line.
_STATIC_PAYLOADS = {0: ("PCMU", 8000), 8: ("PCMA", 8000), 14: ("MPA", 90000), 26: ("JPEG", 90000)}
# SDP encoding names → the codec names StreamProfile and StreamInfo use.
_PROFILE_CODECS = {"H264": "h264", "H265": "hevc", "HEVC": "hevc", "JPEG": "mjpeg", "MJPEG": "mjpeg"}


@dataclass(frozen=True, slots=True)
class SdpMedia:
    """One `m=` section of an SDP: what kind of media, in which codec."""

    kind: str  # video, audio, application
    codec: str | None  # the upper-case RTP encoding name: H264, H265, JPEG, PCMA …
    payload_type: int | None = None
    clock_rate: int | None = None
    control: str | None = None
    width: int | None = None  # from a=framesize / a=x-dimensions, when the camera states it
    height: int | None = None
    fps: float | None = None


@dataclass(frozen=True, slots=True)
class RtspAnswer:
    """A parsed RTSP response: status, headers in order (names as sent), and the SDP of a DESCRIBE 200."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()
    sdp: str | None = None
    media: tuple[SdpMedia, ...] = ()

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive name), or None."""
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        """Every value of a header; cameras send WWW-Authenticate once per scheme."""
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    @property
    def server(self) -> str | None:
        """The Server header, which often names the RTSP stack or the maker."""
        return self.header("server")

    @property
    def public(self) -> tuple[str, ...]:
        """The methods an OPTIONS answer lists in its Public header."""
        value = self.header("public") or ""
        return tuple(method.strip().upper() for method in value.split(",") if method.strip())

    @property
    def codecs(self) -> tuple[str, ...]:
        """Codec names of every media section, in SDP order."""
        return tuple(media.codec for media in self.media if media.codec)

    @property
    def video_codec(self) -> str | None:
        """The first video section's codec (H264, H265, JPEG …), when the SDP has one."""
        return next((media.codec for media in self.media if media.kind == "video" and media.codec), None)


def manufacturer_from_server(server: str | None) -> str | None:
    """A maker guessed from an RTSP/HTTP Server header ("Hikvision-Webs" → "Hikvision"), or None."""
    if not server:
        return None
    lowered = server.lower()
    return next((maker for needle, maker in _SERVER_MAKERS if needle in lowered), None)


def parse_sdp(text: str) -> tuple[SdpMedia, ...]:
    """The media sections of an SDP (RFC 8866): kind, codec from rtpmap or a static payload type, size hints."""
    sections: list[dict[str, object]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            fields = line[2:].split()
            formats = [int(f) for f in fields[3:] if f.isdigit()] if len(fields) > 3 else []
            sections.append({"kind": fields[0].lower() if fields else "", "pt": formats[0] if formats else None})
        elif sections and line.startswith("a="):
            _media_attribute(sections[-1], line[2:])
    media = []
    for section in sections:
        pt = section.get("pt")
        codec, rate = section.get("codec"), section.get("rate")
        if codec is None and isinstance(pt, int) and pt in _STATIC_PAYLOADS:
            codec, rate = _STATIC_PAYLOADS[pt]
        media.append(
            SdpMedia(
                kind=str(section["kind"]),
                codec=codec if isinstance(codec, str) else None,
                payload_type=pt if isinstance(pt, int) else None,
                clock_rate=rate if isinstance(rate, int) else None,
                control=_str_or_none(section.get("control")),
                width=_int_or_none(section.get("width")),
                height=_int_or_none(section.get("height")),
                fps=_float_or_none(section.get("fps")),
            )
        )
    return tuple(media)


def _media_attribute(section: dict[str, object], attribute: str) -> None:
    name, _, value = attribute.partition(":")
    name = name.lower()
    if name == "rtpmap":
        pt_text, _, encoding = value.partition(" ")
        if pt_text.isdigit() and int(pt_text) == section.get("pt"):
            parts = encoding.strip().split("/")
            section["codec"] = parts[0].upper() or None
            if len(parts) > 1 and parts[1].isdigit():
                section["rate"] = int(parts[1])
    elif name == "control":
        section["control"] = value.strip()
    elif name in ("framesize", "x-dimensions"):
        size = re.search(r"(\d+)\s*[-,x]\s*(\d+)\s*$", value)
        if size:
            section["width"], section["height"] = int(size.group(1)), int(size.group(2))
    elif name == "framerate":
        with contextlib.suppress(ValueError):  # a camera's typo costs the hint, not the probe
            section["fps"] = float(value.strip())


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _float_or_none(value: object) -> float | None:
    return value if isinstance(value, float) else None


class RtspSession:
    """One RTSP connection to host:port; requests share it (CSeq counts up) and reopen it if the server closed it.

    >>> async with RtspSession("10.0.0.7", 554, timeout_s=2) as session:
    ...     options = await session.options()
    ...     describe = await session.describe("rtsp://10.0.0.7:554/", credentials=creds)
    """

    def __init__(self, host: str, port: int = RTSP_PORT, *, timeout_s: float) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._cseq = 0

    @property
    def where(self) -> str:
        """`The camera at host:port`, for messages."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"The camera at {host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """`rtsp://host:port/path` for this session's device."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"rtsp://{host}:{self.port}{path if path.startswith('/') else '/' + path}"

    async def options(self, path: str = "/") -> RtspAnswer:
        """OPTIONS: does the server speak RTSP, which methods does it offer, which Server is it."""
        return await self.request("OPTIONS", self.url(path))

    async def describe(
        self, url: str, *, credentials: DeviceCredentials | None = None, allow_basic: bool = True
    ) -> RtspAnswer:
        """DESCRIBE with the SDP parsed; answers a 401 challenge once with the credentials (Digest preferred).

        Without credentials a 401 comes back as the answer (the caller learns the stream needs them);
        with credentials a second 401 raises DeviceCredentialsRefused. `allow_basic=False` never sends
        Basic (the password in clear) — for scans, where any host in the range could ask for it.
        """
        headers = [("Accept", "application/sdp")]
        answer = await self.request("DESCRIBE", url, headers=headers)
        if answer.status != 401 or credentials is None:
            return answer
        authorization = _authorization(answer, "DESCRIBE", url, credentials, allow_basic=allow_basic)
        if authorization is None:
            raise DeviceCredentialsRefused(
                f"{self.where} asks for an RTSP authentication scheme that is not used here "
                f"({_schemes(answer)}); credentials were not sent."
            )
        answer = await self.request("DESCRIBE", url, headers=[*headers, ("Authorization", authorization)])
        if answer.status == 401:
            raise DeviceCredentialsRefused(f"{self.where} refused the credentials for RTSP DESCRIBE (RTSP 401).")
        return answer

    async def request(self, method: str, url: str, *, headers: Sequence[tuple[str, str]] = ()) -> RtspAnswer:
        """Send one request and read its answer within the session's timeout."""
        what = f"RTSP {method}"
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._exchange(method, url, headers, what)
        except TimeoutError:
            await self.aclose()
            raise DeviceUnreachable(f"{self.where} did not answer {what} in time.") from None
        except OSError as exc:  # refused, reset, unreachable network
            await self.aclose()
            raise DeviceUnreachable(f"{self.where} could not be reached for {what} ({type(exc).__name__}).") from None
        except BaseException:
            await self.aclose()
            raise

    async def _exchange(self, method: str, url: str, headers: Sequence[tuple[str, str]], what: str) -> RtspAnswer:
        if self._writer is None or self._writer.is_closing() or (self._reader is not None and self._reader.at_eof()):
            await self.aclose()
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port, limit=MAX_HEADER_BYTES)
        assert self._reader is not None and self._writer is not None
        self._cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self._cseq}", f"User-Agent: {USER_AGENT}"]
        lines += [f"{name}: {value}" for name, value in headers]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        await self._writer.drain()
        answer = await self._read_answer(self._reader, what)
        cseq = answer.header("cseq")
        if cseq is not None and cseq.strip() != str(self._cseq):
            raise DeviceProtocolError(f"{self.where} answered {what} out of order (CSeq {excerpt(cseq, 20)}).")
        if (answer.header("connection") or "").lower() == "close":
            await self.aclose()
        return answer

    async def _read_answer(self, reader: asyncio.StreamReader, what: str) -> RtspAnswer:
        status_line = await self._read_line(reader, what, first=True)
        match = _STATUS_LINE.match(status_line)
        if match is None:
            shown = "an HTTP answer" if status_line.startswith("HTTP/") else f"{excerpt(status_line, 40)!r}"
            raise DeviceProtocolError(f"{self.where} answered {what} with {shown}, not RTSP.")
        headers: list[tuple[str, str]] = []
        total = len(status_line)
        while line := await self._read_line(reader, what):
            total += len(line)
            if total > MAX_HEADER_BYTES or len(headers) >= MAX_HEADER_LINES:
                raise DeviceProtocolError(f"{self.where} sent oversized headers for {what}.")
            if line[0] in " \t" and headers:  # obsolete line folding: continue the previous header
                name, value = headers[-1]
                headers[-1] = (name, f"{value} {line.strip()}")
                continue
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise DeviceProtocolError(f"{self.where} sent a malformed RTSP header for {what}.")
            headers.append((name, value.strip()))
        answer = RtspAnswer(status=int(match.group(1)), reason=(match.group(2) or "").strip(), headers=tuple(headers))
        body = await self._read_body(reader, answer, what)
        if answer.status == 200 and body and _is_sdp(answer, body):
            sdp = body.decode("utf-8", errors="replace")
            return RtspAnswer(answer.status, answer.reason, answer.headers, sdp=sdp, media=parse_sdp(sdp))
        return answer

    async def _read_line(self, reader: asyncio.StreamReader, what: str, *, first: bool = False) -> str:
        try:
            raw = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if first and not exc.partial:
                raise DeviceProtocolError(f"{self.where} closed the connection without answering {what}.") from None
            raise DeviceProtocolError(f"{self.where} sent a truncated answer to {what}.") from None
        except asyncio.LimitOverrunError:
            raise DeviceProtocolError(f"{self.where} sent an oversized line for {what}; not RTSP.") from None
        return raw.decode("latin-1").rstrip("\r\n")

    async def _read_body(self, reader: asyncio.StreamReader, answer: RtspAnswer, what: str) -> bytes:
        length_text = answer.header("content-length")
        if length_text is None:
            return b""
        if not length_text.strip().isdigit():
            raise DeviceProtocolError(f"{self.where} sent an invalid Content-Length for {what}.")
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            raise DeviceProtocolError(f"{self.where} announced {length} bytes for {what}; that is not an RTSP answer.")
        try:
            return await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            raise DeviceProtocolError(f"{self.where} sent a truncated body for {what}.") from None

    async def aclose(self) -> None:
        """Close the connection (idempotent). Aborts rather than waits: a probe owes the device no goodbye."""
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.transport.abort()

    async def __aenter__(self) -> RtspSession:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _is_sdp(answer: RtspAnswer, body: bytes) -> bool:
    content_type = (answer.header("content-type") or "").lower()
    return "sdp" in content_type or body.lstrip().startswith(b"v=0")


def _challenges(answer: RtspAnswer) -> dict[str, dict[str, str]]:
    """WWW-Authenticate challenges by lower-case scheme: {"digest": {"realm": …, "nonce": …}}."""
    found: dict[str, dict[str, str]] = {}
    for value in answer.header_values("www-authenticate"):
        scheme, _, rest = value.strip().partition(" ")
        params = {key.lower(): val[1:-1] if val.startswith('"') else val for key, val in _AUTH_PARAM.findall(rest)}
        found.setdefault(scheme.lower(), params)
    return found


def _schemes(answer: RtspAnswer) -> str:
    return ", ".join(sorted(_challenges(answer))) or "none"


def _authorization(
    answer: RtspAnswer, method: str, uri: str, credentials: DeviceCredentials, *, allow_basic: bool
) -> str | None:
    """The Authorization header answering the strongest challenge we can use, or None."""
    challenges = _challenges(answer)
    digest = challenges.get("digest")
    if digest is not None and "nonce" in digest:
        authorization = _digest_authorization(digest, method, uri, credentials)
        if authorization is not None:
            return authorization
    if "basic" in challenges and allow_basic:
        token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode("ascii")
        return f"Basic {token}"
    return None


def _digest_authorization(
    challenge: dict[str, str], method: str, uri: str, credentials: DeviceCredentials
) -> str | None:
    """RFC 7616 digest response (MD5 or SHA-256, optionally -sess and qop=auth), as cameras implement it."""
    algorithm = challenge.get("algorithm", "MD5")
    session_variant = algorithm.upper().endswith("-SESS")
    hash_function = _DIGEST_HASHES.get(algorithm.upper().removesuffix("-SESS"))
    if hash_function is None:
        return None

    def h(text: str) -> str:
        return hash_function(text.encode("utf-8")).hexdigest()

    realm, nonce = challenge.get("realm", ""), challenge["nonce"]
    cnonce = secrets.token_hex(8)
    ha1 = h(f"{credentials.username}:{realm}:{credentials.password}")
    if session_variant:
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    qops = [q.strip() for q in challenge.get("qop", "").split(",")]
    fields = {"username": credentials.username, "realm": realm, "nonce": nonce, "uri": uri}
    if "auth" in qops:
        response = h(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}")
        extra = f", qop=auth, nc=00000001, cnonce={_quote(cnonce)}"
    else:
        response = h(f"{ha1}:{nonce}:{ha2}")
        extra = ""
    quoted = ", ".join(f"{key}={_quote(value)}" for key, value in fields.items())
    opaque = f", opaque={_quote(challenge['opaque'])}" if "opaque" in challenge else ""
    return f"Digest {quoted}, response={_quote(response)}, algorithm={algorithm}{opaque}{extra}"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _split_rtsp_url(url: str) -> tuple[str, str, int, str | None, str | None]:
    """(clean URL, host, port, username, password) of an rtsp:// URL, or ValidationFailed saying what is wrong."""
    try:
        checked = check_stream_url(url)
    except ValueError as exc:
        raise ValidationFailed(f"Invalid RTSP URL: {exc}.") from None
    if not checked.startswith("rtsp://"):
        raise ValidationFailed("Invalid RTSP URL: use rtsp:// (the probe client does not speak rtsps or http).")
    clean, username, password = split_credentials(checked)
    parts = urlsplit(clean)
    assert parts.hostname is not None  # check_stream_url insists on a host
    return clean, parts.hostname, parts.port or RTSP_PORT, username, password


async def rtsp_options(host: str, port: int, *, path: str = "/", timeout_s: float) -> RtspAnswer:
    """Send OPTIONS to rtsp://host:port/path on a fresh connection and return the answer."""
    async with RtspSession(host, port, timeout_s=timeout_s) as session:
        return await session.options(path)


async def rtsp_describe(
    url: str, *, credentials: DeviceCredentials | None = None, timeout_s: float, allow_basic: bool = True
) -> RtspAnswer:
    """DESCRIBE an rtsp:// URL (user-info in it serves as credentials and is never sent in the request line)."""
    clean, host, port, username, password = _split_rtsp_url(url)
    if credentials is None and username is not None:
        credentials = DeviceCredentials(username, password or "")
    async with RtspSession(host, port, timeout_s=timeout_s) as session:
        return await session.describe(clean, credentials=credentials, allow_basic=allow_basic)


@register
class RtspAdapter(CameraAdapter):
    """A camera known only by its RTSP URL: identity from the Server header, one main stream from the SDP."""

    kind = "rtsp"
    title = "Generic RTSP"
    default_port = RTSP_PORT

    def __init__(
        self,
        address: DeviceAddress,
        credentials: DeviceCredentials | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        path: str = "/",
    ) -> None:
        super().__init__(address, credentials, timeout_s=timeout_s)
        self.session = RtspSession(address.host, address.port, timeout_s=timeout_s)
        self.url = self.session.url(path)

    @classmethod
    def from_url(
        cls, url: str, credentials: DeviceCredentials | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> RtspAdapter:
        """An adapter for a stream URL; user-info in the URL becomes the credentials when none are given."""
        clean, host, port, username, password = _split_rtsp_url(url)
        if credentials is None and username is not None:
            credentials = DeviceCredentials(username, password or "")
        parts = urlsplit(clean)
        path = parts.path or "/"
        return cls(
            DeviceAddress(host, port),
            credentials,
            timeout_s=timeout_s,
            path=f"{path}?{parts.query}" if parts.query else path,
        )

    async def device_info(self) -> DeviceInfo:
        """The maker as guessed from the Server header (OPTIONS, else DESCRIBE); RTSP says nothing more."""
        answer = await self.session.request("OPTIONS", self.url)
        server = answer.server
        if server is None:
            server = (await self.session.describe(self.url, credentials=self.credentials)).server
        return DeviceInfo(manufacturer=manufacturer_from_server(server))

    async def stream_profiles(self) -> list[StreamProfile]:
        """One main profile for the URL, codec and size as its SDP states them."""
        answer = await self.session.describe(self.url, credentials=self.credentials)
        where = self.session.where
        if answer.status == 401:
            raise DeviceCredentialsRefused(
                f"{where} asks for credentials for RTSP DESCRIBE; give its username and password."
            )
        if answer.status != 200:
            raise DeviceProtocolError(
                f"{where} answered RTSP {answer.status} {excerpt(answer.reason, 40)} to DESCRIBE; "
                "check the stream path."
            )
        video = next((media for media in answer.media if media.kind == "video"), None)
        if video is None:
            raise DeviceProtocolError(f"{where} describes no video stream at that path.")
        codec = _PROFILE_CODECS.get(video.codec or "", video.codec.lower() if video.codec else None)
        return [
            StreamProfile(
                token="main",
                name="Main stream",
                rtsp_url=self.url,
                role="main",
                codec=codec,
                width=video.width,
                height=video.height,
                fps=video.fps,
            )
        ]

    async def aclose(self) -> None:
        """Close the RTSP connection."""
        await self.session.aclose()
