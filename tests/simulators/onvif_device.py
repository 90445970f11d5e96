"""An ONVIF device on loopback: SOAP 1.2 with WS-Security UsernameToken digest, as real cameras speak it.

The subset the ONVIF adapter uses: device service (clock, information, GetServices and the older
GetCapabilities), media ver10 (Profile S) and media2 (Profile T, H.265), PTZ with presets,
PullPoint events, Profile G recording search/recordings/replay, and Profile A access points. It
checks the UsernameToken the way cameras do — digest of nonce + created + password, `Created`
within ±5 minutes of the device's own (possibly skewed) clock, no nonce used twice — and refuses
with a `ter:NotAuthorized` fault (HTTP 400, as the spec says) or a bare 401 (as many cameras do).
It never imports the adapter's SOAP code, so a mistake there cannot hide behind the same mistake here.

>>> async with OnvifDeviceSimulator(password="pw", clock_offset_s=7200) as sim:
...     async with OnvifAdapter(sim.address, DeviceCredentials("admin", "pw")) as camera:
...         await (await camera.ptz()).absolute_move(PtzVector(0.5, 0, 0.2))
...     assert sim.ptz_position == (0.5, 0.0, 0.2)

Run one by hand: `python -m tests.simulators.onvif_device --port 8899`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import itertools
import re
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Literal, Self
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import defusedxml
import defusedxml.ElementTree as SafeXml
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vms.cameras.devices.base import DeviceAddress

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST_TYPE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
AXIS_EVENT = "http://www.axis.com/2009/event"
NS = {
    "s": SOAP,
    "wsse": WSSE,
    "wsu": WSU,
    "wsa": "http://www.w3.org/2005/08/addressing",
    "wsnt": "http://docs.oasis-open.org/wsn/b-2",
    "tt": "http://www.onvif.org/ver10/schema",
    "ter": "http://www.onvif.org/ver10/error",
    "tns1": "http://www.onvif.org/ver10/topics",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tr2": "http://www.onvif.org/ver20/media/wsdl",
    "tptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "tev": "http://www.onvif.org/ver10/events/wsdl",
    "tse": "http://www.onvif.org/ver10/search/wsdl",
    "trc": "http://www.onvif.org/ver10/recording/wsdl",
    "trp": "http://www.onvif.org/ver10/replay/wsdl",
    "tac": "http://www.onvif.org/ver10/accesscontrol/wsdl",
    "axis": AXIS_EVENT,
}
SERVICE_PATHS = {  # prefix → path of its service on this device
    "tds": "/onvif/device_service",
    "trt": "/onvif/media_service",
    "tr2": "/onvif/media2_service",
    "tptz": "/onvif/ptz_service",
    "tev": "/onvif/event_service",
    "tse": "/onvif/search_service",
    "trc": "/onvif/recording_service",
    "trp": "/onvif/replay_service",
    "tac": "/onvif/accesscontrol_service",
}
SUBSCRIPTION_PATH = "/onvif/subscription"
# ONVIF Core access class PRE_AUTH: answered without credentials.
PRE_AUTH = frozenset({"GetSystemDateAndTime", "GetServices", "GetCapabilities", "GetWsdlUrl", "GetEndpointReference"})
CLOCK_TOLERANCE = timedelta(minutes=5)
SEARCH_BATCH = 2  # recordings per GetRecordingSearchResults answer, so clients must follow the search state
ACCESS_POINT_PAGE = 2


@dataclass
class SimProfile:
    """A media profile: one encoder configuration and the RTSP URL it streams on."""

    token: str
    name: str
    rtsp_url: str
    width: int = 1920
    height: int = 1080
    encoding: Literal["H264", "H265", "JPEG"] = "H264"
    fps: int = 25
    bitrate_kbps: int = 4096
    ptz: bool = True


@dataclass
class SimRecording:
    """A recording on the device's SD card."""

    token: str
    source_name: str
    earliest: datetime
    latest: datetime
    replay_url: str
    source_id: str = "vs0"


@dataclass
class SimAccessPoint:
    """A Profile A access point (a door reader)."""

    token: str
    name: str
    entity: str
    description: str = ""


@dataclass
class SimEvent:
    """A queued notification."""

    topic: str
    time: datetime
    source: dict[str, str]
    data: dict[str, str]
    property_operation: str = "Changed"


@dataclass
class SimSubscription:
    """A PullPoint: its queue and its termination time on the device clock."""

    id: str
    terminates: datetime
    queue: list[SimEvent] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class SoapFault(Exception):
    """Answer with a SOAP 1.2 fault."""

    def __init__(self, subcodes: Sequence[str], reason: str, *, sender: bool = True) -> None:
        super().__init__(reason)
        self.subcodes, self.reason, self.sender = list(subcodes), reason, sender


def default_profiles(rtsp_base: str = "rtsp://127.0.0.1:58554") -> list[SimProfile]:
    """Main 1920x1080 and sub 640x360, both H.264, on the camera simulator's cam1 and cam2."""
    return [
        SimProfile("profile_main", "mainStream", f"{rtsp_base}/cam1"),
        SimProfile("profile_sub", "subStream", f"{rtsp_base}/cam2", width=640, height=360, fps=15, bitrate_kbps=512),
    ]


Handler = Callable[[Element, Element | None], Awaitable[str]]


class OnvifDeviceSimulator:
    """A loopback ONVIF device; its state (PTZ head, presets, subscriptions, calls) is open for assertions."""

    def __init__(
        self,
        *,
        username: str = "admin",
        password: str = "admin",
        profiles: Sequence[SimProfile] | None = None,
        rtsp_base: str = "rtsp://127.0.0.1:58554",
        media1: bool = True,
        media2: bool = True,
        ptz: bool = True,
        events: bool = True,
        recordings: Sequence[SimRecording] | None = None,
        recording_search: bool = True,
        access_points: Sequence[SimAccessPoint] | None = None,
        get_services: bool = True,
        clock_offset_s: float = 0.0,
        auth_failure_status: Literal[400, 401] = 400,
        xaddr_host: str | None = None,
        xaddr_port: int | None = None,
        uri_credentials: bool = False,
        subscription_style: Literal["path", "reference"] = "path",
        manufacturer: str = "VMS Simulated",
        model: str = "SIM-ONVIF-1",
        firmware: str = "1.0.0",
        serial: str = "SIM0001",
        port: int = 0,
    ) -> None:
        self.username, self.password = username, password
        self.profiles = list(profiles) if profiles is not None else default_profiles(rtsp_base)
        self.media1, self.media2, self.ptz, self.events = media1, media2, ptz, events
        self.recordings = list(recordings) if recordings is not None else None
        self.recording_search = recording_search
        self.access_points = list(access_points) if access_points is not None else None
        self.get_services = get_services
        self.clock_offset = timedelta(seconds=clock_offset_s)
        self.auth_failure_status = auth_failure_status
        self.xaddr_host, self.xaddr_port = xaddr_host, xaddr_port
        self.uri_credentials = uri_credentials  # embed user:password in stream URIs, as some firmware does
        self.subscription_style = subscription_style  # "reference": Axis-style, id in ReferenceParameters
        self.info = {
            "Manufacturer": manufacturer,
            "Model": model,
            "FirmwareVersion": firmware,
            "SerialNumber": serial,
            "HardwareId": "sim-hw-1",
        }
        self.ptz_position: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.ptz_velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.ptz_moving = False
        self.ptz_timeout_s: float | None = None
        self.presets: dict[str, tuple[str, tuple[float, float, float]]] = {}
        self.subscriptions: dict[str, SimSubscription] = {}
        self.calls: list[str] = []  # operations answered, in order (after authentication)
        self.auth_failures: list[str] = []  # why each refused request was refused
        self._nonces: dict[bytes, datetime] = {}
        self._searches: dict[str, list[SimRecording]] = {}
        self._subscribed = asyncio.Event()
        self._ids = itertools.count(1)
        self._port = port  # 0: an ephemeral port, so tests run in parallel
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._handlers = self._operations()

    # -- what tests use --------------------------------------------------------------------------

    @property
    def address(self) -> DeviceAddress:
        """Where the simulator listens."""
        return DeviceAddress("127.0.0.1", self._port)

    @property
    def device_url(self) -> str:
        """The device service URL (what WS-Discovery would hand out)."""
        return f"http://127.0.0.1:{self._port}{SERVICE_PATHS['tds']}"

    def now(self) -> datetime:
        """The device clock (UTC, skewed by `clock_offset_s`)."""
        return datetime.now(UTC) + self.clock_offset

    def emit_event(
        self,
        topic: str,
        data: Mapping[str, str],
        *,
        source: Mapping[str, str] | None = None,
        property_operation: str = "Changed",
    ) -> int:
        """Queue a notification (`tns1:RuleEngine/CellMotionDetector/Motion`) on every live PullPoint; how many."""
        source = dict(source or {"VideoSourceConfigurationToken": "vsc0"})
        event = SimEvent(topic, self.now(), source, dict(data), property_operation)
        for subscription in self.subscriptions.values():
            subscription.queue.append(event)
            subscription.arrived.set()
        return len(self.subscriptions)

    async def wait_for_subscription(self, timeout_s: float = 5.0) -> SimSubscription:
        """The first live PullPoint, once a client has created one."""
        async with asyncio.timeout(timeout_s):
            await self._subscribed.wait()
        return next(iter(self.subscriptions.values()))

    # -- server ----------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST"])])
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and without
        # it uvicorn's two writes per response meet delayed ACKs (40 ms a call on loopback).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", self._port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, lifespan="off", access_log=False, timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        async with asyncio.timeout(10):
            while not self._server.started:  # uvicorn offers no started event
                if self._task.done():
                    await self._task
                await asyncio.sleep(0.01)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for subscription in self.subscriptions.values():
            subscription.arrived.set()  # release long polls so shutdown is quick
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.gather(self._task, return_exceptions=True)

    async def _handle(self, request: Request) -> Response:
        if request.method != "POST":
            return Response("<html><body>ONVIF: POST SOAP here</body></html>", status_code=405, media_type="text/html")
        try:
            root = SafeXml.fromstring(await request.body(), forbid_dtd=True)
        except (ParseError, defusedxml.DefusedXmlException):
            return self._fault(SoapFault(["ter:WellFormed"], "The request is not well-formed XML."))
        header, body = root.find("s:Header", NS), root.find("s:Body", NS)
        operation = next(iter(body), None) if body is not None else None
        if root.tag != f"{{{SOAP}}}Envelope" or operation is None:
            return self._fault(SoapFault(["ter:InvalidArgs"], "Not a SOAP 1.2 envelope with a body."))
        namespace, _, name = operation.tag[1:].partition("}")
        handler = self._handlers.get((namespace, name))
        if handler is None or not self._served_here(request.url.path, namespace, name):
            return self._fault(SoapFault(["ter:ActionNotSupported"], f"{name} is not supported here.", sender=False))
        if name not in PRE_AUTH and (refusal := self._refusal(header)) is not None:
            self.auth_failures.append(refusal)
            if self.auth_failure_status == 401:
                return Response("<html><body>401 Unauthorized</body></html>", status_code=401, media_type="text/html")
            return self._fault(SoapFault(["ter:NotAuthorized"], "Sender not authorized."))
        self.calls.append(name)
        try:
            answer = await handler(operation, header)
        except SoapFault as fault:
            return self._fault(fault)
        return _soap(200, answer)

    def _served_here(self, path: str, namespace: str, name: str) -> bool:
        prefix = next((prefix for prefix, uri in NS.items() if uri == namespace), "")
        if name in ("PullMessages", "Renew", "Unsubscribe"):
            return path.startswith(SUBSCRIPTION_PATH)
        return SERVICE_PATHS.get(prefix) == path

    def _refusal(self, header: Element | None) -> str | None:
        """Why the UsernameToken does not authenticate (None when it does)."""
        token = header.find("wsse:Security/wsse:UsernameToken", NS) if header is not None else None
        if token is None:
            return "no UsernameToken"
        password = token.find("wsse:Password", NS)
        username = token.findtext("wsse:Username", "", NS).strip()
        created_text = token.findtext("wsu:Created", "", NS).strip()
        if password is None or password.get("Type") != DIGEST_TYPE:
            return "not a PasswordDigest"
        try:
            nonce = base64.b64decode(token.findtext("wsse:Nonce", "", NS).strip(), validate=True)
            created = datetime.fromisoformat(created_text)
        except (binascii.Error, ValueError):
            return "unreadable nonce or created"
        if created.tzinfo is None or not nonce:
            return "created without a time zone, or empty nonce"
        if abs(created - self.now()) > CLOCK_TOLERANCE:
            return f"created {created_text} is off the device clock {self.now():%Y-%m-%dT%H:%M:%SZ}"
        expected = base64.b64encode(hashlib.sha1(nonce + created_text.encode() + self.password.encode()).digest())
        if username != self.username or not hmac.compare_digest(expected, (password.text or "").strip().encode()):
            return "wrong username or password"
        if nonce in self._nonces:
            return "nonce replayed"
        self._nonces = {n: t for n, t in self._nonces.items() if self.now() - t < 2 * CLOCK_TOLERANCE}
        self._nonces[nonce] = self.now()
        return None

    def _fault(self, fault: SoapFault) -> Response:
        subcode = ""
        for code in reversed(fault.subcodes):
            subcode = f"<s:Subcode><s:Value>{code}</s:Value>{subcode}</s:Subcode>"
        body = (
            f"<s:Fault><s:Code><s:Value>{'s:Sender' if fault.sender else 's:Receiver'}</s:Value>{subcode}</s:Code>"
            f'<s:Reason><s:Text xml:lang="en">{escape(fault.reason)}</s:Text></s:Reason></s:Fault>'
        )
        return _soap(400 if fault.sender else 500, body)

    def _xaddr(self, prefix_or_path: str) -> str:
        path = SERVICE_PATHS.get(prefix_or_path, prefix_or_path)
        return f"http://{self.xaddr_host or '127.0.0.1'}:{self.xaddr_port or self._port}{path}"

    def _operations(self) -> dict[tuple[str, str], Handler]:
        """The operations this device's configuration offers, by (namespace, name)."""
        ops: dict[str, dict[str, Handler]] = {
            "tds": {
                "GetSystemDateAndTime": self._get_system_date_and_time,
                "GetDeviceInformation": self._get_device_information,
                "GetCapabilities": self._get_capabilities,
            }
        }
        if self.get_services:
            ops["tds"]["GetServices"] = self._get_services
        if self.media1:
            ops["trt"] = {"GetProfiles": self._media1_profiles, "GetStreamUri": self._media1_stream_uri}
        if self.media2:
            ops["tr2"] = {"GetProfiles": self._media2_profiles, "GetStreamUri": self._media2_stream_uri}
        if self.ptz:
            ops["tptz"] = {
                "ContinuousMove": self._continuous_move,
                "Stop": self._stop,
                "AbsoluteMove": self._absolute_move,
                "RelativeMove": self._relative_move,
                "GetStatus": self._get_status,
                "GetPresets": self._get_presets,
                "SetPreset": self._set_preset,
                "GotoPreset": self._goto_preset,
                "RemovePreset": self._remove_preset,
            }
        if self.events:
            ops["tev"] = {"CreatePullPointSubscription": self._create_pull_point, "PullMessages": self._pull_messages}
            ops["wsnt"] = {"Renew": self._renew, "Unsubscribe": self._unsubscribe}
        if self.recordings is not None:
            ops["trc"] = {"GetRecordings": self._get_recordings}
            ops["trp"] = {"GetReplayUri": self._get_replay_uri}
            if self.recording_search:
                ops["tse"] = {
                    "FindRecordings": self._find_recordings,
                    "GetRecordingSearchResults": self._get_recording_search_results,
                    "EndSearch": self._end_search,
                }
        if self.access_points is not None:
            ops["tac"] = {"GetAccessPointInfoList": self._get_access_points}
        return {(NS[prefix], name): handler for prefix, named in ops.items() for name, handler in named.items()}

    def _services(self) -> list[str]:
        return sorted(
            {prefix for (namespace, _) in self._handlers for prefix in NS if NS[prefix] == namespace} - {"wsnt"}
        )

    # -- device service --------------------------------------------------------------------------

    async def _get_system_date_and_time(self, request: Element, header: Element | None) -> str:
        now = self.now()
        stamp = (
            f"<tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute><tt:Second>{now.second}"
            f"</tt:Second></tt:Time><tt:Date><tt:Year>{now.year}</tt:Year><tt:Month>{now.month}</tt:Month>"
            f"<tt:Day>{now.day}</tt:Day></tt:Date>"
        )
        return (
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>"
            "<tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
            f"<tt:UTCDateTime>{stamp}</tt:UTCDateTime><tt:LocalDateTime>{stamp}</tt:LocalDateTime>"
            "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )

    async def _get_device_information(self, request: Element, header: Element | None) -> str:
        fields = "".join(f"<tds:{key}>{escape(value)}</tds:{key}>" for key, value in self.info.items())
        return f"<tds:GetDeviceInformationResponse>{fields}</tds:GetDeviceInformationResponse>"

    async def _get_services(self, request: Element, header: Element | None) -> str:
        services = "".join(
            f"<tds:Service><tds:Namespace>{NS[prefix]}</tds:Namespace><tds:XAddr>{self._xaddr(prefix)}</tds:XAddr>"
            "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
            for prefix in self._services()
        )
        return f"<tds:GetServicesResponse>{services}</tds:GetServicesResponse>"

    async def _get_capabilities(self, request: Element, header: Element | None) -> str:
        services = self._services()

        def capability(prefix: str, tag: str, extra: str = "") -> str:
            return (
                f"<tt:{tag}><tt:XAddr>{self._xaddr(prefix)}</tt:XAddr>{extra}</tt:{tag}>" if prefix in services else ""
            )

        extension = capability("trc", "Recording") + capability("tse", "Search") + capability("trp", "Replay")
        return (
            "<tds:GetCapabilitiesResponse><tds:Capabilities>"
            + capability("tds", "Device")
            + capability("tev", "Events", "<tt:WSPullPointSupport>true</tt:WSPullPointSupport>")
            + capability("trt", "Media")
            + capability("tptz", "PTZ")
            + (f"<tt:Extension>{extension}</tt:Extension>" if extension else "")
            + "</tds:Capabilities></tds:GetCapabilitiesResponse>"
        )

    # -- media -----------------------------------------------------------------------------------

    def _profile(self, request: Element) -> SimProfile:
        token = (request.findtext("{*}ProfileToken") or "").strip()
        for profile in self.profiles:
            if profile.token == token:
                return profile
        raise SoapFault(["ter:InvalidArgVal", "ter:NoProfile"], f"No profile {token!r}.")

    def _uri(self, url: str) -> str:
        if self.uri_credentials:
            scheme, _, rest = url.partition("://")
            url = f"{scheme}://{self.username}:{self.password}@{rest}"
        return escape(url)

    def _encoder(self, profile: SimProfile) -> str:
        return (
            f"<tt:Name>{profile.name}Encoder</tt:Name><tt:UseCount>1</tt:UseCount>"
            f"<tt:Encoding>{profile.encoding}</tt:Encoding><tt:Resolution><tt:Width>{profile.width}</tt:Width>"
            f"<tt:Height>{profile.height}</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality>"
            f"<tt:RateControl><tt:FrameRateLimit>{profile.fps}</tt:FrameRateLimit><tt:EncodingInterval>1"
            f"</tt:EncodingInterval><tt:BitrateLimit>{profile.bitrate_kbps}</tt:BitrateLimit></tt:RateControl>"
        )

    async def _media1_profiles(self, request: Element, header: Element | None) -> str:
        profiles = ""
        for p in self.profiles:
            # Media ver10 has no H.265: such profiles show without a video encoder there (Profile T needs media2).
            encoder = (
                f'<tt:VideoEncoderConfiguration token="vec_{p.token}">{self._encoder(p)}</tt:VideoEncoderConfiguration>'
                if p.encoding != "H265"
                else ""
            )
            ptz = (
                '<tt:PTZConfiguration token="ptz0"><tt:Name>PTZ</tt:Name><tt:NodeToken>node0</tt:NodeToken>'
                "</tt:PTZConfiguration>"
                if p.ptz and self.ptz
                else ""
            )
            profiles += (
                f'<trt:Profiles token="{p.token}" fixed="true"><tt:Name>{escape(p.name)}</tt:Name>'
                f'<tt:VideoSourceConfiguration token="vsc0"><tt:Name>VideoSource</tt:Name><tt:SourceToken>vs0'
                f'</tt:SourceToken><tt:Bounds x="0" y="0" width="{p.width}" height="{p.height}"/>'
                f"</tt:VideoSourceConfiguration>{encoder}{ptz}</trt:Profiles>"
            )
        return f"<trt:GetProfilesResponse>{profiles}</trt:GetProfilesResponse>"

    async def _media1_stream_uri(self, request: Element, header: Element | None) -> str:
        profile = self._profile(request)
        if request.findtext("{*}StreamSetup/{*}Transport/{*}Protocol") != "RTSP":
            raise SoapFault(["ter:InvalidArgVal", "ter:InvalidStreamSetup"], "Only RTSP streaming is offered.")
        return (
            f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{self._uri(profile.rtsp_url)}</tt:Uri>"
            "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false"
            "</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>"
        )

    async def _media2_profiles(self, request: Element, header: Element | None) -> str:
        profiles = "".join(
            f'<tr2:Profiles token="{p.token}" fixed="true"><tr2:Name>{escape(p.name)}</tr2:Name><tr2:Configurations>'
            f'<tr2:VideoSource token="vsc0"><tt:Name>VideoSource</tt:Name><tt:SourceToken>vs0</tt:SourceToken>'
            f'</tr2:VideoSource><tr2:VideoEncoder token="vec_{p.token}" GovLength="{2 * p.fps}">{self._encoder(p)}'
            "</tr2:VideoEncoder>"
            + (
                '<tr2:PTZ token="ptz0"><tt:Name>PTZ</tt:Name><tt:NodeToken>node0</tt:NodeToken></tr2:PTZ>'
                * p.ptz
                * self.ptz
            )
            + "</tr2:Configurations></tr2:Profiles>"
            for p in self.profiles
        )
        return f"<tr2:GetProfilesResponse>{profiles}</tr2:GetProfilesResponse>"

    async def _media2_stream_uri(self, request: Element, header: Element | None) -> str:
        profile = self._profile(request)
        if (request.findtext("{*}Protocol") or "").strip() != "RTSP":
            raise SoapFault(["ter:InvalidArgVal", "ter:InvalidStreamSetup"], "Only RTSP streaming is offered.")
        return f"<tr2:GetStreamUriResponse><tr2:Uri>{self._uri(profile.rtsp_url)}</tr2:Uri></tr2:GetStreamUriResponse>"

    # -- PTZ -------------------------------------------------------------------------------------

    def _ptz_profile(self, request: Element) -> SimProfile:
        profile = self._profile(request)
        if not profile.ptz:
            raise SoapFault(["ter:InvalidArgVal", "ter:NoPTZProfile"], f"Profile {profile.token!r} has no PTZ.")
        return profile

    async def _continuous_move(self, request: Element, header: Element | None) -> str:
        self._ptz_profile(request)
        self.ptz_velocity = _vector(request.find("{*}Velocity"), default=(0.0, 0.0, 0.0))
        self.ptz_timeout_s = parse_duration(request.findtext("{*}Timeout"))
        self.ptz_moving = any(self.ptz_velocity)
        return "<tptz:ContinuousMoveResponse/>"

    async def _stop(self, request: Element, header: Element | None) -> str:
        self._ptz_profile(request)
        self.ptz_moving, self.ptz_velocity = False, (0.0, 0.0, 0.0)
        return "<tptz:StopResponse/>"

    async def _absolute_move(self, request: Element, header: Element | None) -> str:
        self._ptz_profile(request)
        self.ptz_position = _clamp(_vector(request.find("{*}Position"), default=self.ptz_position))
        return "<tptz:AbsoluteMoveResponse/>"

    async def _relative_move(self, request: Element, header: Element | None) -> str:
        self._ptz_profile(request)
        moved = _vector(request.find("{*}Translation"), default=(0.0, 0.0, 0.0))
        self.ptz_position = _clamp(tuple(a + b for a, b in zip(self.ptz_position, moved, strict=True)))  # type: ignore[arg-type]
        return "<tptz:RelativeMoveResponse/>"

    async def _get_status(self, request: Element, header: Element | None) -> str:
        self._ptz_profile(request)
        pan, tilt, zoom = self.ptz_position
        state = "MOVING" if self.ptz_moving else "IDLE"
        return (
            "<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position>"
            f'<tt:PanTilt x="{pan}" y="{tilt}"/><tt:Zoom x="{zoom}"/></tt:Position>'
            f"<tt:MoveStatus><tt:PanTilt>{state}</tt:PanTilt><tt:Zoom>{state}</tt:Zoom></tt:MoveStatus>"
            f"<tt:UtcTime>{self.now():%Y-%m-%dT%H:%M:%SZ}</tt:UtcTime></tptz:PTZStatus></tptz:GetStatusResponse>"
        )

    async def _get_presets(self, request: Element, header: Element | None) -> str:
        self._ptz_profile(request)
        presets = "".join(
            f'<tptz:Preset token="{escape(token)}"><tt:Name>{escape(name)}</tt:Name><tt:PTZPosition>'
            f'<tt:PanTilt x="{pan}" y="{tilt}"/><tt:Zoom x="{zoom}"/></tt:PTZPosition></tptz:Preset>'
            for token, (name, (pan, tilt, zoom)) in self.presets.items()
        )
        return f"<tptz:GetPresetsResponse>{presets}</tptz:GetPresetsResponse>"

    async def _set_preset(self, request: Element, header: Element | None) -> str:
        self._ptz_profile(request)
        name = (request.findtext("{*}PresetName") or "").strip()
        token = (request.findtext("{*}PresetToken") or "").strip()
        if token and token not in self.presets:
            raise SoapFault(["ter:InvalidArgVal", "ter:NoToken"], f"No preset {token!r}.")
        if any(existing == name for key, (existing, _) in self.presets.items() if key != token):
            raise SoapFault(["ter:InvalidArgVal", "ter:PresetExist"], f"A preset is already named {name!r}.")
        token = token or f"preset_{next(self._ids)}"
        self.presets[token] = (name or token, self.ptz_position)
        return f"<tptz:SetPresetResponse><tptz:PresetToken>{escape(token)}</tptz:PresetToken></tptz:SetPresetResponse>"

    def _preset(self, request: Element) -> str:
        token = (request.findtext("{*}PresetToken") or "").strip()
        if token not in self.presets:
            raise SoapFault(["ter:InvalidArgVal", "ter:NoToken"], f"No preset {token!r}.")
        return token

    async def _goto_preset(self, request: Element, header: Element | None) -> str:
        self._ptz_profile(request)
        self.ptz_position = self.presets[self._preset(request)][1]
        return "<tptz:GotoPresetResponse/>"

    async def _remove_preset(self, request: Element, header: Element | None) -> str:
        self._ptz_profile(request)
        del self.presets[self._preset(request)]
        return "<tptz:RemovePresetResponse/>"

    # -- events ----------------------------------------------------------------------------------

    async def _create_pull_point(self, request: Element, header: Element | None) -> str:
        lifetime = parse_duration(request.findtext("{*}InitialTerminationTime")) or 60.0
        subscription = SimSubscription(f"sub{next(self._ids)}", self.now() + timedelta(seconds=lifetime))
        self.subscriptions[subscription.id] = subscription
        self._subscribed.set()
        if self.subscription_style == "reference":
            reference = (
                f"<wsa:Address>{self._xaddr(SUBSCRIPTION_PATH)}</wsa:Address><wsa:ReferenceParameters>"
                f"<axis:SubscriptionId>{subscription.id}</axis:SubscriptionId></wsa:ReferenceParameters>"
            )
        else:
            reference = f"<wsa:Address>{self._xaddr(f'{SUBSCRIPTION_PATH}/{subscription.id}')}</wsa:Address>"
        return (
            f"<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>{reference}"
            f"</tev:SubscriptionReference><wsnt:CurrentTime>{_stamp(self.now())}</wsnt:CurrentTime>"
            f"<wsnt:TerminationTime>{_stamp(subscription.terminates)}</wsnt:TerminationTime>"
            "</tev:CreatePullPointSubscriptionResponse>"
        )

    def _subscription(self, header: Element | None) -> SimSubscription:
        if self.subscription_style == "reference":
            found = header.findtext("axis:SubscriptionId", "", NS).strip() if header is not None else ""
        else:
            to = header.findtext("wsa:To", "", NS) if header is not None else ""
            found = to.rstrip("/").rpartition("/")[2]
        subscription = self.subscriptions.get(found)
        if subscription is None or subscription.terminates < self.now():
            self.subscriptions.pop(found, None)
            raise SoapFault(["wsrf-rw:ResourceUnknownFault"], f"No subscription {found!r}.")
        return subscription

    async def _pull_messages(self, request: Element, header: Element | None) -> str:
        subscription = self._subscription(header)
        wait = min(parse_duration(request.findtext("{*}Timeout")) or 1.0, 30.0)
        limit = int(request.findtext("{*}MessageLimit") or "100")
        if not subscription.queue:
            subscription.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(subscription.arrived.wait(), wait)
        events, subscription.queue[:] = subscription.queue[:limit], subscription.queue[limit:]
        messages = "".join(_notification(event) for event in events)
        return (
            f"<tev:PullMessagesResponse><tev:CurrentTime>{_stamp(self.now())}</tev:CurrentTime>"
            f"<tev:TerminationTime>{_stamp(subscription.terminates)}</tev:TerminationTime>{messages}"
            "</tev:PullMessagesResponse>"
        )

    async def _renew(self, request: Element, header: Element | None) -> str:
        subscription = self._subscription(header)
        subscription.terminates = self.now() + timedelta(
            seconds=parse_duration(request.findtext("{*}TerminationTime")) or 60
        )
        return (
            f"<wsnt:RenewResponse><wsnt:TerminationTime>{_stamp(subscription.terminates)}</wsnt:TerminationTime>"
            f"<wsnt:CurrentTime>{_stamp(self.now())}</wsnt:CurrentTime></wsnt:RenewResponse>"
        )

    async def _unsubscribe(self, request: Element, header: Element | None) -> str:
        subscription = self._subscription(header)
        del self.subscriptions[subscription.id]
        subscription.arrived.set()
        return "<wsnt:UnsubscribeResponse/>"

    # -- Profile G -------------------------------------------------------------------------------

    async def _find_recordings(self, request: Element, header: Element | None) -> str:
        token = f"search{next(self._ids)}"
        self._searches[token] = list(self.recordings or [])
        return f"<tse:FindRecordingsResponse><tse:SearchToken>{token}</tse:SearchToken></tse:FindRecordingsResponse>"

    async def _get_recording_search_results(self, request: Element, header: Element | None) -> str:
        token = (request.findtext("{*}SearchToken") or "").strip()
        if token not in self._searches:
            raise SoapFault(["ter:InvalidArgVal", "ter:InvalidToken"], f"No search {token!r}.")
        pending = self._searches[token]
        batch_size = min(int(request.findtext("{*}MaxResults") or SEARCH_BATCH), SEARCH_BATCH)
        batch, pending[:] = pending[:batch_size], pending[batch_size:]
        results = "".join(
            f"<tt:RecordingInformation><tt:RecordingToken>{escape(r.token)}</tt:RecordingToken><tt:Source>"
            f"<tt:SourceId>{escape(r.source_id)}</tt:SourceId><tt:Name>{escape(r.source_name)}</tt:Name>"
            "<tt:Location>SD card</tt:Location><tt:Description/><tt:Address/></tt:Source>"
            f"<tt:EarliestRecording>{_stamp(r.earliest)}</tt:EarliestRecording>"
            f"<tt:LatestRecording>{_stamp(r.latest)}</tt:LatestRecording><tt:Content>SD recording</tt:Content>"
            "<tt:RecordingStatus>Stopped</tt:RecordingStatus></tt:RecordingInformation>"
            for r in batch
        )
        state = "Searching" if pending else "Completed"
        return (
            "<tse:GetRecordingSearchResultsResponse><tse:ResultList>"
            f"<tt:SearchState>{state}</tt:SearchState>{results}</tse:ResultList></tse:GetRecordingSearchResultsResponse>"
        )

    async def _end_search(self, request: Element, header: Element | None) -> str:
        self._searches.pop((request.findtext("{*}SearchToken") or "").strip(), None)
        return f"<tse:EndSearchResponse><tse:Endpoint>{_stamp(self.now())}</tse:Endpoint></tse:EndSearchResponse>"

    async def _get_recordings(self, request: Element, header: Element | None) -> str:
        items = "".join(
            f"<trc:RecordingItem><tt:RecordingToken>{escape(r.token)}</tt:RecordingToken><tt:Configuration>"
            f"<tt:Source><tt:SourceId>{escape(r.source_id)}</tt:SourceId><tt:Name>{escape(r.source_name)}</tt:Name>"
            "<tt:Location/><tt:Description/><tt:Address/></tt:Source><tt:Content/>"
            "<tt:MaximumRetentionTime>PT0S</tt:MaximumRetentionTime></tt:Configuration></trc:RecordingItem>"
            for r in self.recordings or []
        )
        return f"<trc:GetRecordingsResponse>{items}</trc:GetRecordingsResponse>"

    async def _get_replay_uri(self, request: Element, header: Element | None) -> str:
        token = (request.findtext("{*}RecordingToken") or "").strip()
        recording = next((r for r in self.recordings or [] if r.token == token), None)
        if recording is None:
            raise SoapFault(["ter:InvalidArgVal", "ter:NoRecording"], f"No recording {token!r}.")
        return (
            f"<trp:GetReplayUriResponse><trp:Uri>{self._uri(recording.replay_url)}</trp:Uri></trp:GetReplayUriResponse>"
        )

    # -- Profile A -------------------------------------------------------------------------------

    async def _get_access_points(self, request: Element, header: Element | None) -> str:
        points = self.access_points or []
        start = int((request.findtext("{*}StartReference") or "0").strip() or "0")
        size = min(int(request.findtext("{*}Limit") or ACCESS_POINT_PAGE), ACCESS_POINT_PAGE)
        page = points[start : start + size]
        following = (
            f"<tac:NextStartReference>{start + size}</tac:NextStartReference>" if start + size < len(points) else ""
        )
        infos = "".join(
            f'<tac:AccessPointInfo token="{escape(p.token)}"><tac:Name>{escape(p.name)}</tac:Name>'
            f"<tac:Description>{escape(p.description)}</tac:Description><tac:Entity>{escape(p.entity)}</tac:Entity>"
            '<tac:Capabilities DisableAccessPoint="true"/></tac:AccessPointInfo>'
            for p in page
        )
        return f"<tac:GetAccessPointInfoListResponse>{following}{infos}</tac:GetAccessPointInfoListResponse>"


def _soap(status: int, body: str) -> Response:
    declarations = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NS.items())
    envelope = f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope {declarations}><s:Body>{body}</s:Body></s:Envelope>'
    return Response(envelope, status_code=status, media_type="application/soap+xml; charset=utf-8")


def _notification(event: SimEvent) -> str:
    def items(values: dict[str, str]) -> str:
        return "".join(f'<tt:SimpleItem Name="{escape(k)}" Value="{escape(v)}"/>' for k, v in values.items())

    return (
        '<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
        f"{escape(event.topic)}</wsnt:Topic><wsnt:Message>"
        f'<tt:Message UtcTime="{_stamp(event.time)}" PropertyOperation="{event.property_operation}">'
        f"<tt:Source>{items(event.source)}</tt:Source><tt:Data>{items(event.data)}</tt:Data>"
        "</tt:Message></wsnt:Message></wsnt:NotificationMessage>"
    )


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _vector(element: Element | None, *, default: tuple[float, float, float]) -> tuple[float, float, float]:
    if element is None:
        return default
    pan_tilt, zoom = element.find("{*}PanTilt"), element.find("{*}Zoom")
    pan = float(pan_tilt.get("x", default[0])) if pan_tilt is not None else default[0]
    tilt = float(pan_tilt.get("y", default[1])) if pan_tilt is not None else default[1]
    return pan, tilt, float(zoom.get("x", default[2])) if zoom is not None else default[2]


def _clamp(position: tuple[float, float, float]) -> tuple[float, float, float]:
    pan, tilt, zoom = position
    return max(-1.0, min(1.0, pan)), max(-1.0, min(1.0, tilt)), max(0.0, min(1.0, zoom))


_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def parse_duration(value: str | None) -> float | None:
    """Seconds in an xs:duration such as PT1.5S or PT1M (None when absent or not a duration)."""
    match = _DURATION.match((value or "").strip())
    if not match or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (float(group or 0) for group in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


async def _serve(port: int, username: str, password: str, rtsp_base: str) -> None:
    recordings = [
        SimRecording(
            "rec0",
            "Camera 1",
            datetime.now(UTC) - timedelta(days=1),
            datetime.now(UTC),
            f"{rtsp_base}/cam1",
        )
    ]
    simulator = OnvifDeviceSimulator(
        username=username, password=password, rtsp_base=rtsp_base, recordings=recordings, port=port
    )
    async with simulator as sim:
        print(f"ONVIF device simulator on {sim.device_url} (user {username!r})", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    """`python -m tests.simulators.onvif_device --port 8899`: serve until interrupted."""
    parser = argparse.ArgumentParser(description="A simulated ONVIF device on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8899)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--rtsp-base", default="rtsp://127.0.0.1:58554", help="Where the RTSP camera simulator is.")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.username, args.password, args.rtsp_base))


if __name__ == "__main__":
    main()
