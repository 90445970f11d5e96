"""The ONVIF adapter: Profile S/T streams, PTZ, PullPoint events, Profile G recordings, Profile A basics.

This module holds the adapter with its device and media services and the SOAP plumbing every
ONVIF call goes through. PTZ control lives in `onvif_ptz`; events, recordings and access points
in `onvif_events`. The adapter's methods delegate there, and their types are re-exported here, so
callers only ever import `vms.cameras.devices.onvif`.

ONVIF is SOAP over HTTP. The device service (`/onvif/device_service` unless discovery said
otherwise) lists the other services' addresses (XAddrs); every call then goes to the service
that owns it. Three field failures shape this module:

- **Clock skew.** The WS-Security digest carries a `Created` time and cameras refuse tokens more
  than a few seconds (some: minutes) off their own clock, and camera clocks are often wrong by
  hours. We read the device clock once (GetSystemDateAndTime needs no auth) and sign on its time.
- **NAT.** Devices report XAddrs with the address they know themselves by (192.168.1.64:80),
  which is not where we reached them. Any service XAddr on another host is rewritten to the
  address we reached the device on, keeping its path: the services of one device live on it.
- **Old firmware.** GetServices is missing on pre-2.0 devices; GetCapabilities answers instead.

>>> async with OnvifAdapter(DeviceAddress("10.0.0.7"), DeviceCredentials("admin", "pw")) as camera:
...     profiles = await camera.stream_profiles()     # main first, RTSP URLs without credentials
...     events = await camera.pull_events(wait_s=2)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit, urlunsplit
from xml.etree.ElementTree import Element

import structlog

from vms.cameras.devices import onvif_events, soap
from vms.cameras.devices.base import (
    DEFAULT_TIMEOUT_S,
    DeviceAddress,
    DeviceCredentials,
    DeviceInfo,
    StreamProfile,
    register,
)
from vms.cameras.devices.http import HttpDeviceAdapter
from vms.cameras.devices.numbers import to_float, to_int
from vms.cameras.devices.onvif_events import (
    MAX_PAGES,
    SUBSCRIPTION_TERMINATION_S,
    OnvifAccessPoint,
    OnvifEvent,
    OnvifRecording,
    PullPointSubscription,
)
from vms.cameras.devices.onvif_ptz import OnvifPtz
from vms.cameras.devices.soap import attribute, el, find, find_all, local_name, text
from vms.cameras.urls import check_device_url, redact, split_credentials
from vms.kernel.errors import (
    DeviceCredentialsRefused,
    DeviceProtocolError,
    DeviceUnsupported,
    ValidationFailed,
)

__all__ = [
    "DEVICE_SERVICE_PATH",
    "MAX_PAGES",
    "SUBSCRIPTION_TERMINATION_S",
    "OnvifAccessPoint",
    "OnvifAdapter",
    "OnvifEvent",
    "OnvifPtz",
    "OnvifRecording",
    "PullPointSubscription",
]

log = structlog.get_logger(__name__)

DEVICE_SERVICE_PATH = "/onvif/device_service"

_SERVICE_TITLES = {
    soap.NS_MEDIA: "media (Profile S)",
    soap.NS_MEDIA2: "media2 (Profile T)",
    soap.NS_PTZ: "PTZ",
    soap.NS_EVENTS: "event",
    soap.NS_SEARCH: "recording search (Profile G)",
    soap.NS_RECORDING: "recording (Profile G)",
    soap.NS_REPLAY: "replay (Profile G)",
    soap.NS_ACCESS_CONTROL: "access control (Profile A)",
}
# GetCapabilities (pre-2.0 devices) names categories instead of namespaces.
_CAPABILITY_NAMESPACES = {
    "Device": soap.NS_DEVICE,
    "Media": soap.NS_MEDIA,
    "PTZ": soap.NS_PTZ,
    "Events": soap.NS_EVENTS,
    "Imaging": soap.NS_IMAGING,
    "Analytics": soap.NS_ANALYTICS,
    "DeviceIO": soap.NS_DEVICEIO,
    "Recording": soap.NS_RECORDING,
    "Search": soap.NS_SEARCH,
    "Replay": soap.NS_REPLAY,
}
_CODECS = {"H264": "h264", "H265": "hevc", "HEVC": "hevc", "JPEG": "mjpeg", "MJPEG": "mjpeg", "MPEG4": "mpeg4"}


@dataclass(frozen=True, slots=True)
class _MediaProfile:
    token: str
    name: str
    service: str  # soap.NS_MEDIA or soap.NS_MEDIA2: where GetStreamUri for it goes
    codec: str | None
    width: int | None
    height: int | None
    fps: float | None
    bitrate_kbps: int | None
    ptz_configuration: str | None


@register
class OnvifAdapter(HttpDeviceAdapter):
    """An ONVIF device: device service first, then the services it lists."""

    kind = "onvif"
    title = "ONVIF (Profile S/T/G/A)"
    default_port = 80

    def __init__(
        self,
        address: DeviceAddress,
        credentials: DeviceCredentials | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        device_path: str = DEVICE_SERVICE_PATH,
    ) -> None:
        super().__init__(address, credentials, timeout_s=timeout_s)
        self.device_path = device_path if device_path.startswith("/") else f"/{device_path}"
        self._clock_offset_s: float | None = None
        self._clock_lock = asyncio.Lock()
        self._services: dict[str, str] | None = None
        self._profiles: list[_MediaProfile] | None = None

    @classmethod
    def from_url(
        cls, url: str, credentials: DeviceCredentials | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> OnvifAdapter:
        """An adapter for a full device service URL (a WS-Discovery XAddr); 422 for an unusable URL."""
        try:
            parts = urlsplit(check_device_url(url))
        except ValueError as exc:
            raise ValidationFailed(f"The ONVIF device URL is not usable: {exc}.") from None
        scheme: Literal["http", "https"] = "https" if parts.scheme == "https" else "http"
        port = parts.port or (443 if scheme == "https" else 80)
        address = DeviceAddress(parts.hostname or "", port, scheme)
        return cls(address, credentials, timeout_s=timeout_s, device_path=parts.path or DEVICE_SERVICE_PATH)

    @property
    def device_url(self) -> str:
        """The device service URL."""
        return self.address.base_url + self.device_path

    @property
    def clock_offset_s(self) -> float | None:
        """Device clock minus ours, once read (None before the first authenticated call)."""
        return self._clock_offset_s

    # -- device service ------------------------------------------------------------------------

    async def device_info(self) -> DeviceInfo:
        """GetDeviceInformation."""
        answer = await self._call(
            self.device_url, soap.NS_DEVICE, "GetDeviceInformation", "<tds:GetDeviceInformation/>"
        )
        return DeviceInfo(
            manufacturer=text(answer, "Manufacturer"),
            model=text(answer, "Model"),
            firmware=text(answer, "FirmwareVersion"),
            serial=text(answer, "SerialNumber"),
            hardware_id=text(answer, "HardwareId"),
        )

    async def services(self) -> dict[str, str]:
        """Service namespace → reachable XAddr (GetServices, or GetCapabilities on pre-2.0 devices)."""
        if self._services is None:
            found: dict[str, str] = {}
            try:
                answer = await self._call(
                    self.device_url,
                    soap.NS_DEVICE,
                    "GetServices",
                    "<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>",
                )
                for service in find_all(answer, "Service"):
                    namespace, xaddr = text(service, "Namespace"), text(service, "XAddr")
                    if namespace and xaddr:
                        found[namespace] = xaddr
            except (DeviceUnsupported, DeviceProtocolError) as exc:
                log.info("onvif.get_services_failed", host=self.address.host, reason=str(exc))
            if not found:
                found = await self._capabilities()
            found.setdefault(soap.NS_DEVICE, self.device_url)
            self._services = {namespace: self._reachable(xaddr) for namespace, xaddr in found.items()}
        return dict(self._services)

    async def _capabilities(self) -> dict[str, str]:
        answer = await self._call(
            self.device_url,
            soap.NS_DEVICE,
            "GetCapabilities",
            "<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>",
        )
        found: dict[str, str] = {}
        for element in answer.iter():
            namespace = _CAPABILITY_NAMESPACES.get(local_name(element.tag))
            xaddr = text(element, "XAddr")
            if namespace and xaddr:
                found[namespace] = xaddr
        return found

    # -- media: Profile S (media ver10) and Profile T (media2) ---------------------------------------

    async def stream_profiles(self) -> list[StreamProfile]:
        """The video profiles with their RTSP URLs (no credentials); highest resolution is main, next is sub."""
        profiles = [profile for profile in await self._media_profiles() if profile.codec]
        # Devices list profiles in their own order; the largest picture is what operators mean by "main".
        top = sorted(profiles, key=lambda p: -((p.width or 0) * (p.height or 0)))[:2]
        ordered = top + [profile for profile in profiles if profile not in top]
        return [
            StreamProfile(
                token=profile.token,
                name=profile.name,
                rtsp_url=await self._stream_uri(profile),
                role="main" if index == 0 else "sub" if index == 1 else "other",
                codec=profile.codec,
                width=profile.width,
                height=profile.height,
                fps=profile.fps,
                bitrate_kbps=profile.bitrate_kbps,
            )
            for index, profile in enumerate(ordered)
        ]

    async def _media_profiles(self) -> list[_MediaProfile]:
        if self._profiles is None:
            services = await self.services()
            if soap.NS_MEDIA2 in services:
                answer = await self._call(
                    services[soap.NS_MEDIA2],
                    soap.NS_MEDIA2,
                    "GetProfiles",
                    "<tr2:GetProfiles><tr2:Type>All</tr2:Type></tr2:GetProfiles>",
                )
                self._profiles = [
                    _profile(
                        element, service=soap.NS_MEDIA2, encoder="Configurations/VideoEncoder", ptz="Configurations/PTZ"
                    )
                    for element in find_all(answer, "Profiles")
                ]
            elif soap.NS_MEDIA in services:
                answer = await self._call(services[soap.NS_MEDIA], soap.NS_MEDIA, "GetProfiles", "<trt:GetProfiles/>")
                self._profiles = [
                    _profile(
                        element, service=soap.NS_MEDIA, encoder="VideoEncoderConfiguration", ptz="PTZConfiguration"
                    )
                    for element in find_all(answer, "Profiles")
                ]
            else:
                raise DeviceUnsupported(f"{self.where} offers no media service (neither Profile S nor Profile T).")
        return self._profiles

    async def _stream_uri(self, profile: _MediaProfile) -> str:
        url = await self._service_url(profile.service)
        if profile.service == soap.NS_MEDIA2:
            body = el("tr2:GetStreamUri", el("tr2:Protocol", text="RTSP"), el("tr2:ProfileToken", text=profile.token))
            uri = text(await self._call(url, soap.NS_MEDIA2, "GetStreamUri", body), "Uri")
        else:
            setup = el("trt:StreamSetup", soap.RTSP_STREAM_SETUP)
            body = el("trt:GetStreamUri", setup, el("trt:ProfileToken", text=profile.token))
            uri = text(await self._call(url, soap.NS_MEDIA, "GetStreamUri", body), "MediaUri/Uri")
        return self._rtsp(uri, what=f"GetStreamUri for profile {profile.token!r}")

    # -- PTZ ---------------------------------------------------------------------------------------

    async def ptz(self, profile: str | None = None) -> OnvifPtz:
        """PTZ for a media profile (the first with a PTZ configuration when None)."""
        url = await self._service_url(soap.NS_PTZ)
        profiles = await self._media_profiles()
        if profile is None:
            chosen = next((p for p in profiles if p.ptz_configuration), None)
            if chosen is None:
                raise DeviceUnsupported(f"{self.where} has no media profile with a PTZ configuration.")
        else:
            chosen = next((p for p in profiles if p.token == profile), None)
            if chosen is None:
                raise DeviceUnsupported(f"{self.where} has no media profile {profile!r}.")
            if not chosen.ptz_configuration:
                raise DeviceUnsupported(f"{self.where}'s profile {profile!r} has no PTZ configuration.")
        return OnvifPtz(self, url, chosen.token)

    # -- events (PullPoint) ------------------------------------------------------------------------

    async def subscribe_events(self, *, termination_s: float = SUBSCRIPTION_TERMINATION_S) -> PullPointSubscription:
        """CreatePullPointSubscription; close the result (`aclose` or `async with`) to unsubscribe."""
        return await onvif_events.subscribe(self, termination_s=termination_s)

    async def pull_events(self, *, wait_s: float = 1.0, limit: int = 100) -> list[OnvifEvent]:
        """Subscribe, pull what arrives within `wait_s` (at most `limit` events), unsubscribe."""
        subscription = await self.subscribe_events()
        try:
            return await subscription.pull(wait_s=wait_s, limit=limit)
        finally:
            await subscription.aclose()

    # -- Profile G: recordings on the device -------------------------------------------------------

    async def recordings(self) -> list[OnvifRecording]:
        """The device's recordings: search service (with time spans), else the recording service."""
        return await onvif_events.recordings(self)

    async def replay_uri(self, recording_token: str) -> str:
        """GetReplayUri: an RTSP URL (no credentials) that plays a recording back."""
        return await onvif_events.replay_uri(self, recording_token)

    # -- Profile A basics --------------------------------------------------------------------------

    async def access_points(self) -> list[OnvifAccessPoint]:
        """GetAccessPointInfoList, all pages."""
        return await onvif_events.access_points(self)

    # -- plumbing ----------------------------------------------------------------------------------
    # onvif_ptz and onvif_events call these too: they are parts of this adapter, not its clients.
    # Requests carry WS-Security and, through `http()`, HTTP digest too: some firmware wants both.

    async def _call(
        self,
        url: str,
        namespace: str,
        operation: str,
        body: str,
        *,
        action: str | None = None,
        header: str = "",
        timeout_s: float | None = None,
    ) -> Element:
        offset = await self._clock_offset() if self.credentials is not None else 0.0
        return await soap.call(
            self.http(),
            url,
            body,
            operation=operation,
            namespace=namespace,
            credentials=self.credentials,
            clock_offset_s=offset,
            action=action,
            header=header,
            timeout_s=timeout_s,
        )

    async def _clock_offset(self) -> float:
        async with self._clock_lock:
            if self._clock_offset_s is None:
                self._clock_offset_s = await self._read_clock_offset()
            return self._clock_offset_s

    async def _read_clock_offset(self) -> float:
        """Device UTC minus ours, from the unauthenticated GetSystemDateAndTime; 0 when it will not say."""
        sent = time.time()
        try:
            answer = await soap.call(
                self.http(),
                self.device_url,
                "<tds:GetSystemDateAndTime/>",
                operation="GetSystemDateAndTime",
                namespace=soap.NS_DEVICE,
                credentials=None,
            )
        except (DeviceProtocolError, DeviceUnsupported, DeviceCredentialsRefused) as exc:
            # Some firmware wants auth even here; sign on our clock and let the real call tell.
            log.info("onvif.clock_unknown", host=self.address.host, reason=str(exc))
            return 0.0
        received = time.time()
        utc = find(answer, "SystemDateAndTime/UTCDateTime")
        try:
            device = datetime(
                int(text(utc, "Date/Year") or ""),
                int(text(utc, "Date/Month") or ""),
                int(text(utc, "Date/Day") or ""),
                int(text(utc, "Time/Hour") or ""),
                int(text(utc, "Time/Minute") or ""),
                int(text(utc, "Time/Second") or ""),
                tzinfo=UTC,
            )
        except (TypeError, ValueError):  # no UTC time (only local), or nonsense
            return 0.0
        offset = device.timestamp() - (sent + received) / 2
        if abs(offset) >= 5:
            log.info("onvif.clock_skew", host=self.address.host, offset_s=round(offset, 1))
        return offset

    async def _service_url(self, namespace: str) -> str:
        services = await self.services()
        if namespace not in services:
            raise DeviceUnsupported(f"{self.where} offers no {_SERVICE_TITLES.get(namespace, namespace)} service.")
        return services[namespace]

    def _reachable(self, xaddr: str) -> str:
        """The XAddr on the address we reached the device on, when it names another host (NAT); path kept."""
        parts = urlsplit(xaddr.strip())
        if parts.hostname and parts.hostname.lower() == self.address.host.lower():
            return xaddr.strip()
        base = urlsplit(self.address.base_url)
        return urlunsplit((base.scheme, base.netloc, parts.path or "/", parts.query, ""))

    def _rtsp(self, uri: str | None, *, what: str) -> str:
        """A stream URL from the device, without the credentials some firmware embeds in it."""
        if not uri or urlsplit(uri).scheme.lower() not in ("rtsp", "rtsps"):
            raise DeviceProtocolError(f"{self.where} answered {what} without an RTSP URL ({redact(uri or '')!r}).")
        try:
            return split_credentials(uri)[0]
        except ValueError:
            return redact(uri)


def _profile(element: Element, *, service: str, encoder: str, ptz: str) -> _MediaProfile:
    token = attribute(element, "token") or ""
    video = find(element, encoder)
    encoding = text(video, "Encoding")
    return _MediaProfile(
        token=token,
        name=text(element, "Name") or token,
        service=service,
        codec=_CODECS.get(encoding.upper(), encoding.lower()) if encoding else None,
        width=to_int(text(video, "Resolution/Width")),
        height=to_int(text(video, "Resolution/Height")),
        fps=to_float(text(video, "RateControl/FrameRateLimit")),
        bitrate_kbps=to_int(text(video, "RateControl/BitrateLimit")),
        ptz_configuration=attribute(find(element, ptz), "token"),
    )
