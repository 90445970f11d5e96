"""Hikvision ISAPI and Dahua HTTP API cameras on loopback: real HTTP digest auth, PTZ state, presets.

Each simulator speaks its vendor's dialect as the public API documents describe it (XML
ResponseStatus refusals for ISAPI, `key=value` lines and `Error` bodies for Dahua), so the
adapters are tested against the wire format rather than against mocks. Digest auth follows RFC 7616
with MD5 and qop=auth: nonces are the server's own, a replayed nonce count is refused, and a wrong
password gets a fresh 401 challenge.

>>> async with HikvisionSimulator("admin", "s3cret") as camera:
...     async with HikvisionAdapter(camera.address, DeviceCredentials("admin", "s3cret")) as device:
...         await (await device.ptz()).goto_preset("1")
...     assert camera.head.azimuth == camera.head.presets[1][1][0]
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import socket
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self
from urllib.parse import parse_qsl
from urllib.request import parse_http_list, parse_keqv_list
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeXml
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vms.cameras.devices.base import DeviceAddress

HIK_NS = "http://www.hikvision.com/ver20/XMLSchema"


class DigestGate:
    """Server side of HTTP digest auth (RFC 7616, MD5, qop=auth) for one account."""

    def __init__(self, username: str, password: str, realm: str) -> None:
        self.username, self.password, self.realm = username, password, realm
        self.opaque = secrets.token_hex(8)
        self._nonces: dict[str, set[int]] = {}  # issued nonce → nonce counts already used
        self.failures = 0

    def challenge(self) -> str:
        """A WWW-Authenticate value with a fresh nonce."""
        nonce = secrets.token_hex(16)
        self._nonces[nonce] = set()
        if len(self._nonces) > 1000:  # forget the oldest, as a device with little memory would
            del self._nonces[next(iter(self._nonces))]
        return f'Digest realm="{self.realm}", qop="auth", nonce="{nonce}", opaque="{self.opaque}", algorithm=MD5'

    def admits(self, authorization: str | None, *, method: str, uri: str) -> bool:
        """Whether an Authorization header proves the password for this request."""
        if not authorization or not authorization.lower().startswith("digest "):
            return False
        fields = parse_keqv_list(parse_http_list(authorization[7:]))
        needed = ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce")
        if any(name not in fields for name in needed):
            return False
        nonce, nc = fields["nonce"], fields["nc"]
        if (
            fields["username"] != self.username
            or fields["realm"] != self.realm
            or fields["uri"] != uri
            or fields["qop"] != "auth"
            or fields.get("algorithm", "MD5").upper() != "MD5"
            or nonce not in self._nonces
        ):
            return False
        try:
            count = int(nc, 16)
        except ValueError:
            return False
        if count in self._nonces[nonce]:
            return False  # a replayed request
        ha1 = _md5(f"{self.username}:{self.realm}:{self.password}")
        ha2 = _md5(f"{method}:{uri}")
        expected = _md5(f"{ha1}:{nonce}:{nc}:{fields['cnonce']}:auth:{ha2}")
        if not hmac.compare_digest(expected, fields["response"]):
            self.failures += 1
            return False
        self._nonces[nonce].add(count)
        return True


def _md5(value: str) -> str:
    return hashlib.md5(value.encode()).hexdigest()  # MD5 is what this digest auth specifies


@dataclass
class Canned:
    """A fixed answer that replaces the simulator's own for matching requests (garbage, refusals)."""

    status: int
    body: str
    content_type: str = "text/html"


class _Simulator:
    """A loopback HTTP server with digest auth in front of `answer()`; records every request it admits."""

    realm = "camera"

    def __init__(self, username: str, password: str) -> None:
        self.gate = DigestGate(username, password, self.realm)
        self.requests: list[str] = []  # "METHOD /path?query", in order, once admitted
        self.canned: dict[str, Canned] = {}  # uri prefix → answer
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._port = 0

    @property
    def address(self) -> DeviceAddress:
        """Where the simulator listens."""
        return DeviceAddress("127.0.0.1", self._port)

    def answer_with(self, uri_prefix: str, status: int, body: str, content_type: str = "text/html") -> None:
        """Answer requests whose URI starts with `uri_prefix` with this instead (after auth)."""
        self.canned[uri_prefix] = Canned(status, body, content_type)

    async def answer(self, method: str, path: str, query: dict[str, str], body: bytes) -> Response:
        """The device's own answer to an authenticated request."""
        raise NotImplementedError

    async def _handle(self, request: Request) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        query_string = request.scope.get("query_string", b"")
        uri = raw_path.decode() + (f"?{query_string.decode()}" if query_string else "")
        if not self.gate.admits(request.headers.get("authorization"), method=request.method, uri=uri):
            return Response(
                "<html><body>401 Unauthorized</body></html>",
                status_code=401,
                media_type="text/html",
                headers={"WWW-Authenticate": self.gate.challenge()},
            )
        self.requests.append(f"{request.method} {uri}")
        for prefix, canned in self.canned.items():
            if uri.startswith(prefix):
                return Response(canned.body, status_code=canned.status, media_type=canned.content_type)
        return await self.answer(
            request.method, request.url.path, dict(parse_qsl(query_string.decode())), await request.body()
        )

    async def __aenter__(self) -> Self:
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "PUT", "POST", "DELETE"])])
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Send each answer at once, as camera web servers do; with Nagle on, the header and body writes
        # of an answer wait for the client's delayed ACK (40 ms on Linux loopback).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        async with asyncio.timeout(10):
            while not self._server.started:  # uvicorn offers no started event
                if self._task.done():
                    await self._task  # surfaces the start-up error
                await asyncio.sleep(0.01)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.gather(self._task, return_exceptions=True)


# ---------------------------------------------------------------------------------------------
# Hikvision ISAPI


@dataclass
class HikvisionHead:
    """ISAPI PTZ state in ISAPI units: tenths of degrees and of magnification, speeds -100..100."""

    azimuth: int = 0
    elevation: int = 0
    zoom: int = 10
    velocity: tuple[int, int, int] = (0, 0, 0)
    momentary_ms: int | None = None  # the duration of the last momentary move
    presets: dict[int, tuple[str, tuple[int, int, int]]] = field(default_factory=dict)  # id → (name, position)


@dataclass
class HikvisionStream:
    """One streaming channel: id 101 = input 1 main, 102 = sub, 103 = third."""

    id: int
    codec: str = "H.264"
    width: int = 1920
    height: int = 1080
    max_frame_rate: int = 2500  # 1/100 fps
    quality_control: str = "VBR"
    constant_bitrate: int = 4096
    vbr_upper_cap: int = 4096
    enabled: bool = True


def default_hikvision_streams(channels: int) -> list[HikvisionStream]:
    """Per input: an H.265 main stream (CBR), an H.264 sub stream (VBR) and an MJPEG third stream."""
    streams: list[HikvisionStream] = []
    for n in range(1, channels + 1):
        streams += [
            HikvisionStream(n * 100 + 1, "H.265", 2560, 1440, 2500, "CBR", 6144, 8192),
            HikvisionStream(n * 100 + 2, "H.264", 640, 360, 1500, "VBR", 1024, 512),
            HikvisionStream(n * 100 + 3, "MJPEG", 1280, 720, 1000, "VBR", 2048, 2048),
        ]
    return streams


class HikvisionSimulator(_Simulator):
    """An ISAPI camera: deviceInfo, streaming channels, adminAccesses, PTZ on `ptz_channels`."""

    realm = "DS-2DE4425IW-DE"

    def __init__(
        self,
        username: str = "admin",
        password: str = "Hik12345",
        *,
        channels: int = 1,
        streams: list[HikvisionStream] | None = None,
        rtsp_port: int | None = 554,
        ptz_channels: tuple[int, ...] = (1,),
        zoom_range: tuple[int, int] = (10, 250),
        namespace: str | None = HIK_NS,
    ) -> None:
        super().__init__(username, password)
        self.streams = streams if streams is not None else default_hikvision_streams(channels)
        self.rtsp_port = rtsp_port  # None: firmware without /ISAPI/Security/adminAccesses
        self.ptz_channels = ptz_channels
        self.zoom_range = zoom_range
        self.namespace = namespace
        self.head = HikvisionHead(zoom=zoom_range[0])

    def _doc(self, root: str, inner: str, status: int = 200) -> Response:
        ns = f' xmlns="{self.namespace}"' if self.namespace else ""
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} version="2.0"{ns}>\n{inner}\n</{root}>\n'
        return Response(body, status_code=status, media_type="application/xml")

    def _status(self, uri: str, status: int = 200, code: int = 1, string: str = "OK", sub: str = "ok") -> Response:
        inner = (
            f"<requestURL>{escape(uri)}</requestURL><statusCode>{code}</statusCode>"
            f"<statusString>{string}</statusString><subStatusCode>{sub}</subStatusCode>"
        )
        return self._doc("ResponseStatus", inner, status)

    def _not_supported(self, uri: str, status: int = 403) -> Response:
        return self._status(uri, status, 4, "Invalid Operation", "notSupport")

    async def answer(self, method: str, path: str, query: dict[str, str], body: bytes) -> Response:
        """ISAPI resources by method and path."""
        if (method, path) == ("GET", "/ISAPI/System/deviceInfo"):
            return self._doc(
                "DeviceInfo",
                "<deviceName>Gate PTZ</deviceName><deviceID>88a1b2c3</deviceID><model>DS-2DE4425IW-DE</model>"
                "<serialNumber>DS-2DE4425IW-DE20230101AAWRJ12345678</serialNumber>"
                "<macAddress>bc:ad:28:00:00:01</macAddress><firmwareVersion>V5.7.3</firmwareVersion>"
                "<firmwareReleasedDate>build 220512</firmwareReleasedDate><hardwareVersion>0x0</hardwareVersion>"
                "<deviceType>IPDome</deviceType>",
            )
        if (method, path) == ("GET", "/ISAPI/Streaming/channels"):
            return self._doc("StreamingChannelList", "".join(self._streaming_channel(s) for s in self.streams))
        if (method, path) == ("GET", "/ISAPI/Security/adminAccesses"):
            if self.rtsp_port is None:
                return self._not_supported(path, 404)
            protocols = [("HTTP", self.address.port), ("HTTPS", 443), ("DEV_MANAGE", 8000), ("RTSP", self.rtsp_port)]
            return self._doc(
                "AdminAccessProtocolList",
                "".join(
                    f"<AdminAccessProtocol><id>{i}</id><enabled>true</enabled><protocol>{name}</protocol>"
                    f"<portNo>{port}</portNo></AdminAccessProtocol>"
                    for i, (name, port) in enumerate(protocols, 1)
                ),
            )
        if (method, path) == ("GET", "/ISAPI/PTZCtrl/channels"):
            return self._doc(
                "PTZChannelList",
                "".join(f"<PTZChannel><id>{n}</id><enabled>true</enabled></PTZChannel>" for n in self.ptz_channels),
            )
        if path.startswith("/ISAPI/PTZCtrl/channels/"):
            return self._ptz(method, path, body)
        return self._not_supported(path, 404)

    def _streaming_channel(self, s: HikvisionStream) -> str:
        return (
            f"<StreamingChannel><id>{s.id}</id><channelName>Camera {s.id // 100:02d}</channelName>"
            f"<enabled>{str(s.enabled).lower()}</enabled>"
            "<Transport><ControlProtocolList><ControlProtocol><streamingTransport>RTSP</streamingTransport>"
            "</ControlProtocol></ControlProtocolList></Transport>"
            f"<Video><enabled>true</enabled><videoInputChannelID>{s.id // 100}</videoInputChannelID>"
            f"<videoCodecType>{s.codec}</videoCodecType><videoScanType>progressive</videoScanType>"
            f"<videoResolutionWidth>{s.width}</videoResolutionWidth>"
            f"<videoResolutionHeight>{s.height}</videoResolutionHeight>"
            f"<videoQualityControlType>{s.quality_control}</videoQualityControlType>"
            f"<constantBitRate>{s.constant_bitrate}</constantBitRate><fixedQuality>60</fixedQuality>"
            f"<vbrUpperCap>{s.vbr_upper_cap}</vbrUpperCap><maxFrameRate>{s.max_frame_rate}</maxFrameRate>"
            "<GovLength>50</GovLength></Video></StreamingChannel>"
        )

    def _ptz(self, method: str, path: str, body: bytes) -> Response:
        parts = path.removeprefix("/ISAPI/PTZCtrl/channels/").split("/")
        if not parts[0].isdigit() or int(parts[0]) not in self.ptz_channels:
            return self._not_supported(path)
        resource = parts[1:]
        head = self.head
        if method == "GET" and resource == ["capabilities"]:
            low, high = self.zoom_range
            return self._doc(
                "PTZChanelCap",
                "<AbsolutePanTiltPositionSpace><XRange><Min>0</Min><Max>3600</Max></XRange>"
                "<YRange><Min>-900</Min><Max>900</Max></YRange></AbsolutePanTiltPositionSpace>"
                f"<AbsoluteZoomPositionSpace><ZRange><Min>{low}</Min><Max>{high}</Max></ZRange>"
                "</AbsoluteZoomPositionSpace><maxPresetNum>255</maxPresetNum>",
            )
        if method == "GET" and resource == ["status"]:
            return self._doc("PTZStatus", self._absolute_high(head.azimuth, head.elevation, head.zoom))
        if method == "GET" and resource == ["presets"]:
            return self._doc(
                "PTZPresetList",
                "".join(
                    f"<PTZPreset><enabled>true</enabled><id>{n}</id><presetName>{escape(name)}</presetName></PTZPreset>"
                    for n, (name, _) in sorted(head.presets.items())
                ),
            )
        if method == "PUT" and resource in (["continuous"], ["momentary"]):
            data = self._parse(body)
            if data is None:
                return self._status(path, 400, 5, "Invalid XML Format", "badXmlFormat")
            speeds = tuple(_int_at(data, axis) for axis in ("pan", "tilt", "zoom"))
            if any(v is None or not -100 <= v <= 100 for v in speeds):
                return self._status(path, 400, 6, "Invalid XML Content", "badParameters")
            head.velocity = (speeds[0] or 0, speeds[1] or 0, speeds[2] or 0)
            head.momentary_ms = _int_at(data, "Momentary", "duration") if resource == ["momentary"] else None
            return self._status(path)
        if method == "PUT" and resource == ["absolute"]:
            data = self._parse(body)
            target = _find(data, "AbsoluteHigh") if data is not None else None
            if target is None:
                return self._status(path, 400, 5, "Invalid XML Format", "badXmlFormat")
            azimuth, elevation, zoom = (_int_at(target, f) for f in ("azimuth", "elevation", "absoluteZoom"))
            low, top = self.zoom_range
            if (
                azimuth is None
                or elevation is None
                or zoom is None
                or not 0 <= azimuth <= 3600
                or not -900 <= elevation <= 900
                or not low <= zoom <= top
            ):
                return self._status(path, 400, 6, "Invalid XML Content", "badParameters")
            head.azimuth, head.elevation, head.zoom = azimuth % 3600, elevation, zoom
            return self._status(path)
        if len(resource) >= 2 and resource[0] == "presets":
            if not resource[1].isdigit() or not 1 <= int(resource[1]) <= 255:
                return self._status(path, 400, 6, "Invalid XML Content", "badParameters")
            preset_id = int(resource[1])
            if method == "PUT" and len(resource) == 2:
                data = self._parse(body)
                name = _text_at(data, "presetName") if data is not None else None
                if data is None or _int_at(data, "id") != preset_id or not name:
                    return self._status(path, 400, 6, "Invalid XML Content", "badParameters")
                head.presets[preset_id] = (name, (head.azimuth, head.elevation, head.zoom))
                return self._status(path)
            if method == "PUT" and resource[2:] == ["goto"]:
                if preset_id not in head.presets:  # assumption: firmware refuses an unset preset this way
                    return self._status(path, 400, 4, "Invalid Operation", "invalidOperation")
                head.azimuth, head.elevation, head.zoom = head.presets[preset_id][1]
                return self._status(path)
            if method == "DELETE" and len(resource) == 2:
                head.presets.pop(preset_id, None)
                return self._status(path)
        return self._not_supported(path, 404)

    @staticmethod
    def _absolute_high(azimuth: int, elevation: int, zoom: int) -> str:
        return (
            f"<AbsoluteHigh><elevation>{elevation}</elevation><azimuth>{azimuth}</azimuth>"
            f"<absoluteZoom>{zoom}</absoluteZoom></AbsoluteHigh>"
        )

    @staticmethod
    def _parse(body: bytes) -> Element | None:
        try:
            return SafeXml.fromstring(body)
        except (ParseError, ValueError):
            return None


def _find(element: Element, *path: str) -> Element | None:
    node: Element | None = element
    for name in path:
        node = next((c for c in node if c.tag.rpartition("}")[2] == name), None) if node is not None else None
    return node


def _text_at(element: Element, *path: str) -> str | None:
    node = _find(element, *path)
    return (node.text or "").strip() or None if node is not None else None


def _int_at(element: Element, *path: str) -> int | None:
    value = _text_at(element, *path)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Dahua HTTP API


@dataclass
class DahuaHead:
    """Dahua PTZ state: degrees (vertical counts down from the horizon) and a zoom multiple."""

    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 1.0
    moving: str | None = None  # the pan/tilt code running, e.g. "LeftUp"
    zooming: str | None = None  # ZoomTele / ZoomWide
    speeds: tuple[int, int] = (0, 0)  # arg1, arg2 of the running pan/tilt code
    zoom_speed: int = 0
    presets: dict[int, tuple[str, tuple[float, float, float]]] = field(default_factory=dict)


@dataclass
class DahuaStream:
    """One encoder stream: subtype 0 = MainFormat[0], subtype k = ExtraFormat[k-1]."""

    channel: int  # 1-based
    subtype: int
    compression: str = "H.264"
    width: int | None = 1920
    height: int | None = 1080
    resolution: str | None = None  # older firmware: "D1", "720P" … instead of Width/Height
    fps: float = 25
    bitrate: int = 4096
    enabled: bool = True


def default_dahua_streams(channels: int) -> list[DahuaStream]:
    """Per channel: an H.265 main stream, an H.264 sub stream given by resolution name, a disabled third."""
    streams: list[DahuaStream] = []
    for n in range(1, channels + 1):
        streams += [
            DahuaStream(n, 0, "H.265", 2688, 1520, None, 25, 6144),
            DahuaStream(n, 1, "H.264H", None, None, "D1", 15, 512),
            DahuaStream(n, 2, "MJPG", 1280, 720, None, 10, 2048, enabled=False),
        ]
    return streams


PAN_TILT_CODES = {"Up", "Down", "Left", "Right", "LeftUp", "RightUp", "LeftDown", "RightDown"}


class DahuaSimulator(_Simulator):
    """A Dahua speed dome: magicBox, configManager (Encode, RTSP) and ptz.cgi."""

    realm = "Login to 6J0A1B2PAZ00001"

    def __init__(
        self,
        username: str = "admin",
        password: str = "Dahua123",
        *,
        channels: int = 1,
        streams: list[DahuaStream] | None = None,
        rtsp_port: int | None = 554,
        ptz_channels: tuple[int, ...] = (1,),
        zoom_max: float = 25.0,
    ) -> None:
        super().__init__(username, password)
        self.streams = streams if streams is not None else default_dahua_streams(channels)
        self.rtsp_port = rtsp_port  # None: the RTSP config cannot be read
        self.ptz_channels = ptz_channels
        self.zoom_max = zoom_max
        self.head = DahuaHead()

    @staticmethod
    def _lines(values: dict[str, object]) -> Response:
        return Response("".join(f"{k}={v}\r\n" for k, v in values.items()), media_type="text/plain")

    @staticmethod
    def _ok() -> Response:
        return Response("OK\r\n", media_type="text/plain")

    @staticmethod
    def _error(status: int = 400, reason: str = "Bad Request!") -> Response:
        return Response(f"Error\r\n{reason}\r\n", status_code=status, media_type="text/plain")

    async def answer(self, method: str, path: str, query: dict[str, str], body: bytes) -> Response:
        """CGIs by path and action."""
        action = query.get("action", "")
        if path == "/cgi-bin/magicBox.cgi" and action == "getSystemInfo":
            return self._lines(
                {
                    "deviceType": "SD49225XA-HNR",
                    "hardwareVersion": "1.00",
                    "processor": "S3LM",
                    "serialNumber": "6J0A1B2PAZ00001",
                    "updateSerial": "SD49225XA-HNR",
                }
            )
        if path == "/cgi-bin/magicBox.cgi" and action == "getSoftwareVersion":
            return self._lines({"version": "2.800.0000000.16.R,build:2022-03-11"})
        if path == "/cgi-bin/configManager.cgi" and action == "getConfig":
            if query.get("name") == "Encode":
                return self._lines(self._encode())
            if query.get("name") == "RTSP" and self.rtsp_port is not None:
                return self._lines(
                    {
                        "table.RTSP.Enable": "true",
                        "table.RTSP.Port": self.rtsp_port,
                        "table.RTSP.RTP.EndPort": 40000,
                        "table.RTSP.RTP.StartPort": 20000,
                    }
                )
            return self._error()
        if path == "/cgi-bin/ptz.cgi":
            return self._ptz(action, query)
        return Response("<html><body>404 File Not Found</body></html>", status_code=404, media_type="text/html")

    def _encode(self) -> dict[str, object]:
        values: dict[str, object] = {}
        for s in self.streams:
            prefix = f"table.Encode[{s.channel - 1}]." + (
                "MainFormat[0]." if s.subtype == 0 else f"ExtraFormat[{s.subtype - 1}]."
            )
            values[f"{prefix}AudioEnable"] = "false"
            values[f"{prefix}Video.BitRate"] = s.bitrate
            values[f"{prefix}Video.BitRateControl"] = "CBR"
            values[f"{prefix}Video.Compression"] = s.compression
            values[f"{prefix}Video.FPS"] = f"{s.fps:g}"
            values[f"{prefix}Video.GOP"] = 50
            if s.width and s.height:
                values[f"{prefix}Video.Height"] = s.height
                values[f"{prefix}Video.Width"] = s.width
            if s.resolution:
                values[f"{prefix}Video.resolution"] = s.resolution
            values[f"{prefix}VideoEnable"] = str(s.enabled).lower()
            if s.subtype == 0:  # the motion-recording variant, which is not a stream of its own
                values[f"table.Encode[{s.channel - 1}].MainFormat[1].Video.Compression"] = s.compression
        return values

    def _ptz(self, action: str, query: dict[str, str]) -> Response:
        channel = query.get("channel", "")
        if not channel.isdigit() or int(channel) not in self.ptz_channels:
            return self._error()
        head = self.head
        if action == "getCurrentProtocolCaps":
            return self._lines(
                {
                    "caps.Name": "DH-SD",
                    "caps.Pan": "true",
                    "caps.PanSpeedMax": 8,
                    "caps.PanSpeedMin": 1,
                    "caps.PresetMax": 255,
                    "caps.PresetMin": 1,
                    "caps.Tile": "true",
                    "caps.Zoom": "true",
                    "caps.ZoomMax": f"{self.zoom_max:g}",
                }
            )
        if action == "getStatus":
            return self._lines(
                {
                    "status.Action": "Idle",
                    "status.MoveStatus": "Moving" if head.moving else "Idle",
                    "status.Postion[0]": f"{head.pan:.2f}",
                    "status.Postion[1]": f"{head.tilt:.2f}",
                    "status.Postion[2]": f"{head.zoom:.2f}",
                    "status.PresetID": 0,
                    "status.ZoomStatus": "Zooming" if head.zooming else "Idle",
                }
            )
        if action == "getPresets":
            if not head.presets:
                return Response("", media_type="text/plain")
            values: dict[str, object] = {}
            for i, (index, (name, _)) in enumerate(sorted(head.presets.items())):
                values[f"presets[{i}].Index"] = index
                values[f"presets[{i}].Name"] = name
            return self._lines(values)
        if action == "setPreset":
            slot = _number(query.get("arg1"))
            if slot is None or int(slot) not in head.presets or not query.get("arg2"):
                return self._error()
            head.presets[int(slot)] = (query["arg2"], head.presets[int(slot)][1])
            return self._ok()
        if action in ("start", "stop"):
            return self._command(action, query.get("code", ""), query)
        return self._error()

    def _command(self, action: str, code: str, query: dict[str, str]) -> Response:
        head = self.head
        args = [_number(query.get(f"arg{i}", "0")) for i in (1, 2, 3)]
        if any(a is None for a in args):
            return self._error()
        arg1, arg2, arg3 = (a or 0.0 for a in args)
        if action == "stop":
            if code in PAN_TILT_CODES:
                head.moving, head.speeds = None, (0, 0)
            elif code in ("ZoomTele", "ZoomWide"):
                head.zooming, head.zoom_speed = None, 0
            else:
                return self._error()
            return self._ok()
        if code in PAN_TILT_CODES:
            if not all(0 <= a <= 8 for a in (arg1, arg2)) or max(arg1, arg2) < 1:
                return self._error()
            head.moving, head.speeds = code, (int(arg1), int(arg2))
            return self._ok()
        if code in ("ZoomTele", "ZoomWide"):
            if not 1 <= arg2 <= 8:
                return self._error()
            head.zooming, head.zoom_speed = code, int(arg2)
            return self._ok()
        if code == "PositionABS":
            if not (0 <= arg1 <= 360 and -90 <= arg2 <= 90 and 1 <= arg3 <= self.zoom_max):
                return self._error()
            head.pan, head.tilt, head.zoom = arg1 % 360, arg2, arg3
            return self._ok()
        if code in ("SetPreset", "GotoPreset", "ClearPreset"):
            index = int(arg2)
            if not 1 <= index <= 255:
                return self._error()
            if code == "SetPreset":
                name = head.presets.get(index, (f"Preset{index}", None))[0]
                head.presets[index] = (name, (head.pan, head.tilt, head.zoom))
            elif code == "GotoPreset" and index in head.presets:
                head.pan, head.tilt, head.zoom = head.presets[index][1]
            elif code == "ClearPreset":
                head.presets.pop(index, None)
            return self._ok()  # Dahua answers OK even for a preset that is not set
        return self._error()


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
