"""A fleet of simulated cameras on loopback addresses, for the address scanner's tests and benchmark.

Each device gets its own address in 127.0.0.0/8 (all of it is loopback on Linux, no configuration
needed) and listens on an RTSP port and/or an HTTP port: unprivileged ones (10554, 10080) so tests
run as any user and in parallel. Profiles mix what real networks hold — ONVIF cameras open and
locked, a Hikvision that answers ISAPI with a digest 401, a Dahua that answers magicBox, bare RTSP
servers (go2rtc, GStreamer, LIVE555), a web server that is no camera, and a tarpit that accepts
and never answers — so every fingerprint path is exercised. Each device states what a scan should
report about it (kind, requires_auth, manufacturer).

>>> async with DeviceFleet("127.0.66.0/27", count=20) as fleet:
...     found = [d async for d in scan(parse_targets("127.0.66.0/27"), ports=fleet.ports)]
...     assert {d.host for d in found} == {d.host for d in fleet.cameras}

Pure asyncio with hand-written HTTP/RTSP: a hundred devices cost a few hundred idle sockets.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from vms.cameras.devices.base import DeviceCredentials

Profile = Literal[
    "onvif", "onvif_auth", "onvif_fault", "hikvision", "dahua", "rtsp", "rtsp_auth", "rtsp_basic", "web", "tarpit"
]
DEFAULT_MIX: tuple[Profile, ...] = (
    "onvif",
    "onvif_auth",
    "onvif_fault",
    "hikvision",
    "dahua",
    "rtsp",
    "rtsp_auth",
    "rtsp_basic",
    "web",
)
CAMERA_MIX: tuple[Profile, ...] = tuple(p for p in DEFAULT_MIX if p != "web")
FLEET_CREDENTIALS = DeviceCredentials("admin", "fleet-Secret-1")
MAX_HEAD_BYTES = 16 * 1024
_Serve = Callable[["FleetDevice", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
_AUTH_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]+)')


@dataclass(frozen=True)
class _Spec:
    kind: str | None  # what a scan should call it; None: not a camera
    requires_auth: bool
    manufacturer: str | None  # what a scan should report (from ONVIF, the vendor API, or the RTSP Server header)
    http: bool
    rtsp: bool
    rtsp_server: str | None = None
    rtsp_auth: Literal["none", "digest", "basic"] = "none"
    codec: str = "H264"


_SPECS: dict[Profile, _Spec] = {
    "onvif": _Spec("onvif", False, "Acme Vision", True, True, "GStreamer RTSP server"),
    "onvif_auth": _Spec("onvif", True, "Axis", True, True, "AXIS Media Server 1.0", "digest", "H265"),
    "onvif_fault": _Spec("onvif", True, None, True, True, "H264 RTSP Server"),
    "hikvision": _Spec("hikvision", True, "Hikvision", True, True, None, "digest", "H265"),
    "dahua": _Spec("dahua", False, "Dahua", True, True, "Rtsp Server/3.0", "digest"),
    "rtsp": _Spec("rtsp", False, "go2rtc", False, True, "go2rtc/1.9.14"),
    "rtsp_auth": _Spec("rtsp", True, "GStreamer", False, True, "GStreamer RTSP server", "digest", "JPEG"),
    "rtsp_basic": _Spec("rtsp", True, "LIVE555", False, True, "LIVE555 Streaming Media v2023.01.11", "basic"),
    "web": _Spec(None, False, None, True, False),
    "tarpit": _Spec(None, False, None, True, True),
}


@dataclass(frozen=True)
class FleetDevice:
    """One simulated device and what a correct scan reports about it."""

    host: str
    profile: Profile
    kind: str | None
    requires_auth: bool
    manufacturer: str | None
    model: str
    serial: str
    firmware: str
    rtsp_port: int | None
    http_port: int | None
    rtsp_server: str | None
    rtsp_auth: Literal["none", "digest", "basic"]
    codec: str  # the SDP encoding name: H264, H265, JPEG

    @property
    def is_camera(self) -> bool:
        """Whether a scan should report it."""
        return self.kind is not None

    @property
    def rtsp_url(self) -> str:
        """The stream URL (path `/stream1`; `/` serves the same stream)."""
        return f"rtsp://{self.host}:{self.rtsp_port}/stream1"


class DeviceFleet:
    """`count` devices on consecutive addresses of `network` (from host number `first`), profiles cycled."""

    def __init__(
        self,
        network: str,
        count: int,
        *,
        profiles: Sequence[Profile] = DEFAULT_MIX,
        rtsp_port: int = 10554,
        http_port: int = 10080,
        credentials: DeviceCredentials = FLEET_CREDENTIALS,
        first: int = 1,
    ) -> None:
        base = ipaddress.IPv4Network(network)
        if not base.is_loopback:
            raise ValueError("the fleet binds loopback addresses only (127.0.0.0/8)")
        if first + count >= base.num_addresses:
            raise ValueError(f"{count} devices from .{first} do not fit in {network}")
        self.rtsp_port, self.http_port, self.credentials = rtsp_port, http_port, credentials
        self.devices = [
            _device(str(base.network_address + first + i), profiles[i % len(profiles)], i, rtsp_port, http_port)
            for i in range(count)
        ]
        self.auth_log: list[tuple[str, str]] = []  # (host, scheme) of each Authorization a device received
        self.open_connections = 0
        self._servers: list[asyncio.Server] = []
        self._handlers: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._nonce = secrets.token_hex(8)

    @property
    def ports(self) -> tuple[int, int]:
        """The ports to scan: (RTSP, HTTP)."""
        return (self.rtsp_port, self.http_port)

    @property
    def cameras(self) -> list[FleetDevice]:
        """The devices a scan should report."""
        return [device for device in self.devices if device.is_camera]

    def device(self, host: str) -> FleetDevice:
        """The device at an address."""
        return next(device for device in self.devices if device.host == host)

    async def __aenter__(self) -> DeviceFleet:
        try:
            for device in self.devices:
                if device.rtsp_port is not None:
                    await self._listen(device, device.rtsp_port, self._serve_rtsp)
                if device.http_port is not None:
                    await self._listen(device, device.http_port, self._serve_http)
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop listening and drop every open connection."""
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        # Abort the connections rather than cancel their handlers: each handler then sees EOF and ends
        # normally (asyncio 3.11 logs a spurious error for a cancelled client_connected_cb task).
        for writer in list(self._handlers.values()):
            writer.transport.abort()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)

    async def _listen(self, device: FleetDevice, port: int, serve: _Serve) -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._handlers[task] = writer
            self.open_connections += 1
            try:
                if device.profile == "tarpit":
                    await reader.read()  # accept, then say nothing until the client gives up
                else:
                    await serve(device, reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                pass  # a probe that hangs up early is normal for a scanner's target
            finally:
                self.open_connections -= 1
                self._handlers.pop(task, None)
                writer.transport.abort()

        server = await asyncio.start_server(handle, device.host, port, limit=MAX_HEAD_BYTES, backlog=64)
        self._servers.append(server)

    # --- RTSP ---------------------------------------------------------------------------------

    async def _serve_rtsp(
        self, device: FleetDevice, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, headers = _parse_head(head)
            parts = request_line.split(" ")
            body_length = int(headers.get("content-length", "0") or 0)
            if body_length:
                await reader.readexactly(min(body_length, 65536))
            cseq = headers.get("cseq", "0")
            if len(parts) != 3 or parts[2] != "RTSP/1.0":  # e.g. an HTTP probe: answer as an RTSP server would
                writer.write(b"RTSP/1.0 400 Bad Request\r\nCSeq: 0\r\n\r\n")
                await writer.drain()
                return
            method, url = parts[0], parts[1]
            common = [("CSeq", cseq)] + ([("Server", device.rtsp_server)] if device.rtsp_server else [])
            if method == "OPTIONS":
                answer = _rtsp(200, "OK", [*common, ("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN")])
            elif method == "DESCRIBE":
                answer = self._describe(device, url, headers, common)
            else:
                answer = _rtsp(501, "Not Implemented", common)
            writer.write(answer)
            await writer.drain()

    def _describe(self, device: FleetDevice, url: str, headers: dict[str, str], common: list[tuple[str, str]]) -> bytes:
        authorization = headers.get("authorization")
        if authorization:
            self.auth_log.append((device.host, authorization.split(" ", 1)[0].lower()))
        if device.rtsp_auth != "none" and not self._authorized(device.rtsp_auth, authorization, "DESCRIBE"):
            challenges = [("WWW-Authenticate", f'Digest realm="{device.serial}", nonce="{self._nonce}"')]
            if device.rtsp_auth == "basic":
                challenges = [("WWW-Authenticate", f'Basic realm="{device.serial}"')]
            elif device.profile == "rtsp_auth":  # offers Basic too, as many cameras do; a good client picks Digest
                challenges.append(("WWW-Authenticate", f'Basic realm="{device.serial}"'))
            return _rtsp(401, "Unauthorized", [*common, *challenges])
        path = "/" + url.split("://", 1)[-1].partition("/")[2]
        if path not in ("/", "/stream1"):
            return _rtsp(404, "Not Found", common)
        sdp = _sdp(device).encode()
        return _rtsp(200, "OK", [*common, ("Content-Type", "application/sdp"), ("Content-Base", url)], sdp)

    # --- HTTP ---------------------------------------------------------------------------------

    async def _serve_http(
        self, device: FleetDevice, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, headers = _parse_head(head)
        parts = request_line.split(" ")
        body = await reader.readexactly(min(int(headers.get("content-length", "0") or 0), 65536))
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            writer.write(_http(400, "text/plain", b"bad request"))
        else:
            writer.write(self._route(device, parts[0], parts[1], headers, body))
        await writer.drain()

    def _route(self, device: FleetDevice, method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        authorization = headers.get("authorization")
        if authorization:
            self.auth_log.append((device.host, authorization.split(" ", 1)[0].lower()))
        if device.profile == "web":
            return _http(200, "text/html", b"<html><body>Router admin</body></html>")
        if target == "/onvif/device_service" and method == "POST" and device.kind == "onvif":
            if device.profile == "onvif_fault":
                return _http(400, "application/soap+xml", _NOT_AUTHORIZED_FAULT)
            if device.profile == "onvif_auth" and not self._authorized("digest", authorization, method):
                return _digest_challenge(device, self._nonce)
            if b"GetDeviceInformation" not in body:
                return _http(400, "application/soap+xml", _NOT_AUTHORIZED_FAULT)
            return _http(200, "application/soap+xml", _device_information(device))
        if target == "/ISAPI/System/deviceInfo" and method == "GET" and device.profile == "hikvision":
            if not self._authorized("digest", authorization, method):
                return _digest_challenge(device, self._nonce)
            return _http(200, "application/xml", _isapi_device_info(device))
        if target == "/cgi-bin/magicBox.cgi?action=getSystemInfo" and method == "GET" and device.profile == "dahua":
            text = f"deviceType={device.model}\r\nserialNumber={device.serial}\r\nhardwareVersion=1.00\r\n"
            return _http(200, "text/plain", text.encode())
        return _http(404, "text/html", b"<html><body>404 Not Found</body></html>")

    def _authorized(self, scheme: str, authorization: str | None, method: str) -> bool:
        """Whether an Authorization header carries the fleet's credentials in the expected scheme."""
        if not authorization:
            return False
        given_scheme, _, rest = authorization.partition(" ")
        if given_scheme.lower() != scheme:
            return False
        user, password = self.credentials.username, self.credentials.password
        if scheme == "basic":
            return rest.strip() == base64.b64encode(f"{user}:{password}".encode()).decode()
        params = {k.lower(): v[1:-1] if v.startswith('"') else v for k, v in _AUTH_PARAM.findall(rest)}
        if params.get("username") != user or params.get("nonce") != self._nonce:
            return False
        ha1 = _md5(f"{user}:{params.get('realm', '')}:{password}")
        ha2 = _md5(f"{method}:{params.get('uri', '')}")
        if params.get("qop") == "auth":
            expected = _md5(f"{ha1}:{self._nonce}:{params.get('nc')}:{params.get('cnonce')}:auth:{ha2}")
        else:
            expected = _md5(f"{ha1}:{self._nonce}:{ha2}")
        return secrets.compare_digest(expected, params.get("response", ""))


def _device(host: str, profile: Profile, index: int, rtsp_port: int, http_port: int) -> FleetDevice:
    spec = _SPECS[profile]
    models = {"hikvision": "DS-2CD2143G2-I", "dahua": "IPC-HFW2431S", "onvif": "AV-2000"}
    return FleetDevice(
        host=host,
        profile=profile,
        kind=spec.kind,
        requires_auth=spec.requires_auth,
        manufacturer=spec.manufacturer,
        model=models.get(profile, "SIM-1"),
        serial=f"SIM{index:05d}",
        firmware="V5.7.3 build 220112",
        rtsp_port=rtsp_port if spec.rtsp else None,
        http_port=http_port if spec.http else None,
        rtsp_server=spec.rtsp_server,
        rtsp_auth=spec.rtsp_auth,
        codec=spec.codec,
    )


def _parse_head(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


def _rtsp(status: int, reason: str, headers: Sequence[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [f"RTSP/1.0 {status} {reason}", *(f"{k}: {v}" for k, v in headers)]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _http(status: int, content_type: str, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> bytes:
    reasons = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
    lines = [
        f"HTTP/1.1 {status} {reasons.get(status, 'Status')}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _digest_challenge(device: FleetDevice, nonce: str) -> bytes:
    realm = f"IP Camera({device.serial})"
    challenge = f'Digest qop="auth", realm="{realm}", nonce="{nonce}", stale="FALSE"'
    return _http(401, "text/html", b"<html>401 Unauthorized</html>", [("WWW-Authenticate", challenge)])


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _sdp(device: FleetDevice) -> str:
    media = "m=video 0 RTP/AVP 26" if device.codec == "JPEG" else "m=video 0 RTP/AVP 96"
    rtpmap = "" if device.codec == "JPEG" else f"a=rtpmap:96 {device.codec}/90000\r\n"
    return (
        f"v=0\r\no=- 0 0 IN IP4 {device.host}\r\ns=Simulated camera\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
        f"{media}\r\n{rtpmap}a=framesize:96 1920-1080\r\na=framerate:25\r\na=control:trackID=0\r\n"
        "m=audio 0 RTP/AVP 8\r\na=control:trackID=1\r\n"
    )


def _device_information(device: FleetDevice) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><s:Body><tds:GetDeviceInformationResponse>'
        f"<tds:Manufacturer>{device.manufacturer}</tds:Manufacturer><tds:Model>{device.model}</tds:Model>"
        f"<tds:FirmwareVersion>{device.firmware}</tds:FirmwareVersion>"
        f"<tds:SerialNumber>{device.serial}</tds:SerialNumber><tds:HardwareId>HW-1</tds:HardwareId>"
        "</tds:GetDeviceInformationResponse></s:Body></s:Envelope>"
    ).encode()


def _isapi_device_info(device: FleetDevice) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<DeviceInfo version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
        f"<deviceName>Camera {device.serial}</deviceName><model>{device.model}</model>"
        f"<serialNumber>{device.serial}</serialNumber><firmwareVersion>{device.firmware}</firmwareVersion>"
        "</DeviceInfo>"
    ).encode()


_NOT_AUTHORIZED_FAULT = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    b'xmlns:ter="http://www.onvif.org/ver10/error"><s:Body><s:Fault>'
    b"<s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:NotAuthorized</s:Value></s:Subcode></s:Code>"
    b'<s:Reason><s:Text xml:lang="en">Sender not Authorized</s:Text></s:Reason>'
    b"</s:Fault></s:Body></s:Envelope>"
)
