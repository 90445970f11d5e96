"""Hikvision ISAPI adapter: who the camera is, which streams it offers, and PTZ — HTTP digest and XML.

ISAPI (Hikvision's "ISAPI Core Protocol" / "IP Media Device ISAPI" documents) is a REST-style API
under `/ISAPI/...`. Answers are XML in the namespace http://www.hikvision.com/ver20/XMLSchema
(ver10 on older firmware, none at all on some OEM builds, so we match local names only). Refusals
come back as a `ResponseStatus` document — usually with HTTP 400/403/404 — whose `subStatusCode`
says why (notSupport, invalidOperation, lowPrivilege, badParameters …).

Streaming channel ids encode the video input and the stream: 101 is input 1's main stream, 102 its
sub stream, 103 its third stream, 201 input 2's main stream. The RTSP path is
`/Streaming/Channels/<id>` on the RTSP port the device lists in `/ISAPI/Security/adminAccesses`.

PTZ positions are in tenths: degrees for azimuth/elevation, magnification for zoom (10 = 1×). We map
the normalised `PtzVector` space linearly:

    pan  -1..1 ↔ azimuth      0..3600  (pan 0 is azimuth 180°; the scale wraps, so pan 1 = pan -1)
    tilt -1..1 ↔ elevation  900..-900  (ISAPI elevation counts downward from the horizon, as on
                                        Hikvision domes where 90° looks straight down; normalised
                                        tilt counts upward, as in ONVIF)
    zoom  0..1 ↔ absoluteZoom  min..max of the channel's AbsoluteZoomPositionSpace (10..320 if absent)
"""

from __future__ import annotations

import math
from typing import Literal
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeXml
import httpx
from defusedxml import DefusedXmlException

from vms.cameras.devices.base import (
    DeviceInfo,
    PtzControl,
    PtzPreset,
    PtzStatus,
    PtzVector,
    StreamProfile,
    register,
)
from vms.cameras.devices.http import HttpDeviceAdapter, excerpt, request
from vms.cameras.devices.numbers import clamp, to_int
from vms.kernel.errors import (
    Conflict,
    DeviceCredentialsRefused,
    DeviceProblem,
    DeviceProtocolError,
    DeviceUnsupported,
    ValidationFailed,
)

XMLNS = "http://www.hikvision.com/ver20/XMLSchema"
DEFAULT_RTSP_PORT = 554
MAX_PRESET_ID = 255  # the ISAPI preset id range is 1..255 on most models (maxPresetNum can lower it)
DEFAULT_ZOOM_RANGE = (10, 320)  # 1×..32×, used when the capabilities do not say
# Presets that trigger functions when called on Hikvision domes (33 auto-flip, 34 back to origin,
# 35–38 patrols, 39/40 day/night, 41–44 patterns, 45 one-touch patrol, 92–105 scans, reboot, OSD
# menu …). A position stored there would be shadowed by the function, so a new preset never picks one.
SPECIAL_PRESETS = frozenset(range(33, 47)) | frozenset(range(92, 106))
# Statuses whose body can be a ResponseStatus worth reading; 401 stays with http.request (credentials).
_ANSWERED = (200, 400, 403, 404, 405, 500, 501, 503)
_OK_STATUS_CODES = {"0", "1"}  # statusCode 1 "OK"; some firmware answers 0
_XML_HEADERS = {"content-type": "application/xml; charset=UTF-8"}


# ---------------------------------------------------------------------------------------------
# Parsing: pure functions over answer text, so they are tested on sample answers directly.


def local_name(tag: str) -> str:
    """`{namespace}name` → `name`: ISAPI firmware differs in namespace, never in local names."""
    return tag.rpartition("}")[2]


def child(element: Element, name: str) -> Element | None:
    """The first direct child with this local name."""
    return next((c for c in element if local_name(c.tag) == name), None)


def children(element: Element, name: str) -> list[Element]:
    """Every direct child with this local name."""
    return [c for c in element if local_name(c.tag) == name]


def text(element: Element, *path: str) -> str | None:
    """The stripped text at a path of local names below `element`, or None when absent or empty."""
    node: Element | None = element
    for name in path:
        node = child(node, name) if node is not None else None
    value = (node.text or "").strip() if node is not None else ""
    return value or None


def descendant(element: Element, name: str) -> Element | None:
    """The first element anywhere below with this local name (capability documents nest freely)."""
    return next((e for e in element.iter() if local_name(e.tag) == name and e is not element), None)


def parse_isapi(body: str, *, expect: str | tuple[str, ...], what: str, where: str = "The camera") -> Element:
    """The root of an ISAPI answer, checked to be `expect`; a ResponseStatus there becomes its error.

    >>> parse_isapi('<DeviceInfo xmlns="http://www.hikvision.com/ver20/XMLSchema"/>', expect="DeviceInfo", what="x").tag
    '{http://www.hikvision.com/ver20/XMLSchema}DeviceInfo'
    """
    expected = (expect,) if isinstance(expect, str) else expect
    try:
        root = SafeXml.fromstring(body.strip().encode())
    except (ParseError, DefusedXmlException, ValueError):
        raise DeviceProtocolError(f"{where} answered {what} with something that is not XML: {excerpt(body)}") from None
    name = local_name(root.tag)
    if name == "ResponseStatus" and "ResponseStatus" not in expected:
        raise status_error(root, what=what, where=where)
    if name not in expected:
        raise DeviceProtocolError(
            f"{where} answered {what} with <{name}> where <{expected[0]}> was expected; is it a Hikvision ISAPI device?"
        )
    return root


def status_error(status: Element, *, what: str, where: str = "The camera") -> DeviceProblem:
    """The error a ResponseStatus stands for: notSupport → unsupported, lowPrivilege → rights, else protocol."""
    sub = text(status, "subStatusCode") or "unknown"
    said = excerpt(text(status, "statusString") or "", 60)
    if sub == "notSupport":
        return DeviceUnsupported(f"{where} does not support {what} (ISAPI {said}: notSupport).")
    if sub == "lowPrivilege":
        return DeviceCredentialsRefused(f"{where} refused {what}: the account lacks the rights (ISAPI lowPrivilege).")
    return DeviceProtocolError(f"{where} refused {what} (ISAPI {said}: {sub}).")


def check_ok(status: Element, *, what: str, where: str = "The camera") -> None:
    """Raise unless a ResponseStatus says OK (the answer to every PUT and DELETE)."""
    if text(status, "statusCode") not in _OK_STATUS_CODES:
        raise status_error(status, what=what, where=where)


def device_info_from(root: Element) -> DeviceInfo:
    """DeviceInfo from a `<DeviceInfo>` document."""
    return DeviceInfo(
        manufacturer="Hikvision",
        model=text(root, "model"),
        firmware=text(root, "firmwareVersion"),
        serial=text(root, "serialNumber"),
        hardware_id=text(root, "hardwareVersion"),
    )


def rtsp_port_from(root: Element) -> int | None:
    """The RTSP port in an `<AdminAccessProtocolList>`, when listed."""
    for protocol in children(root, "AdminAccessProtocol"):
        if (text(protocol, "protocol") or "").upper() == "RTSP" and text(protocol, "enabled") != "false":
            port = to_int(text(protocol, "portNo"))
            if port is not None and 0 < port < 65536:
                return port
    return None


def stream_profiles_from(root: Element, *, host: str, rtsp_port: int) -> list[StreamProfile]:
    """Profiles from a `<StreamingChannelList>`: enabled channels, ordered by input then stream (main first)."""
    rtsp_host = f"[{host}]" if ":" in host else host
    found: list[tuple[int, StreamProfile]] = []
    for channel in children(root, "StreamingChannel"):
        channel_id = to_int(text(channel, "id"))
        if channel_id is None or text(channel, "enabled") == "false":
            continue
        video = child(channel, "Video")
        if video is None:
            video = Element("Video")  # a channel without a Video block: everything below reads as unknown
        if text(video, "enabled") == "false":
            continue
        stream = channel_id % 100
        role: Literal["main", "sub", "other"] = "main" if stream == 1 else "sub" if stream == 2 else "other"
        label = {1: "main stream", 2: "sub stream"}.get(stream, f"stream {stream}")
        cbr = (text(video, "videoQualityControlType") or "").upper() == "CBR"
        fps_hundredths = to_int(text(video, "maxFrameRate"))  # maxFrameRate is in 1/100 fps
        profile = StreamProfile(
            token=str(channel_id),
            name=f"{text(channel, 'channelName') or f'Camera {channel_id // 100:02d}'} {label}",
            rtsp_url=f"rtsp://{rtsp_host}:{rtsp_port}/Streaming/Channels/{channel_id}",
            role=role,
            codec=codec_name(text(video, "videoCodecType")),
            width=to_int(text(video, "videoResolutionWidth")),
            height=to_int(text(video, "videoResolutionHeight")),
            fps=fps_hundredths / 100 if fps_hundredths else None,
            bitrate_kbps=to_int(text(video, "constantBitRate" if cbr else "vbrUpperCap")) or None,
        )
        found.append((channel_id, profile))
    return [profile for _, profile in sorted(found, key=lambda pair: pair[0])]


def codec_name(value: str | None) -> str | None:
    """Vendor codec spelling → h264 / hevc / mjpeg (others lower-cased as given)."""
    if not value:
        return None
    squashed = value.upper().replace(".", "").replace("+", "").replace(" ", "").replace("-", "")
    return {"H264": "h264", "H265": "hevc", "HEVC": "hevc", "MJPEG": "mjpeg", "MJPG": "mjpeg"}.get(
        squashed, value.lower()
    )


def ptz_position_from(root: Element, *, zoom_range: tuple[int, int]) -> PtzVector | None:
    """The normalised position in a `<PTZStatus>` (its AbsoluteHigh), or None when it has none."""
    high = descendant(root, "AbsoluteHigh")
    if high is None:
        return None
    azimuth, elevation = to_int(text(high, "azimuth")), to_int(text(high, "elevation"))
    zoom = to_int(text(high, "absoluteZoom"))
    if azimuth is None or elevation is None or zoom is None:
        return None
    low, high_zoom = zoom_range
    return PtzVector(
        pan=round(azimuth / 1800 - 1, 4),
        tilt=round(-elevation / 900, 4),
        zoom=round((zoom - low) / (high_zoom - low), 4) if high_zoom > low else 0.0,
    )


def presets_from(root: Element) -> list[PtzPreset]:
    """The stored presets in a `<PTZPresetList>` (firmware that lists all slots marks empty ones disabled)."""
    found: list[tuple[int, PtzPreset]] = []
    for preset in children(root, "PTZPreset"):
        preset_id = to_int(text(preset, "id"))
        if preset_id is None or text(preset, "enabled") == "false":
            continue
        found.append((preset_id, PtzPreset(str(preset_id), text(preset, "presetName") or f"Preset {preset_id}")))
    return [preset for _, preset in sorted(found, key=lambda pair: pair[0])]


def channel_of(stream: str) -> int:
    """The video input of a stream token: "101" → 1, "1201" → 12, and a bare "2" → 2."""
    if not stream.isdigit() or int(stream) == 0:
        raise ValidationFailed(f"A Hikvision channel is a number such as 1 or 101, not {stream[:20]!r}.")
    number = int(stream)
    return number // 100 if number >= 100 else number


# ---------------------------------------------------------------------------------------------
# The adapter.


@register
class HikvisionAdapter(HttpDeviceAdapter):
    """A Hikvision camera or NVR through ISAPI (digest auth)."""

    kind = "hikvision"
    title = "Hikvision ISAPI"
    default_port = 80

    async def isapi(
        self, method: str, path: str, *, what: str, expect: str | tuple[str, ...] | None = None, body: str | None = None
    ) -> Element:
        """Send one ISAPI request; the answer's root (checked to be `expect`, or an OK ResponseStatus)."""
        response = await request(
            self.http(),
            method,
            path,
            what=what,
            ok_statuses=_ANSWERED,
            content=body.encode() if body is not None else None,
            headers=_XML_HEADERS if body is not None else None,
        )
        if response.status_code != 200:
            raise self._refusal(response, what=what)
        root = parse_isapi(response.text, expect=expect or "ResponseStatus", what=what, where=self.where)
        if expect is None:
            check_ok(root, what=what, where=self.where)
        return root

    def _refusal(self, response: httpx.Response, *, what: str) -> DeviceProblem:
        try:
            root = SafeXml.fromstring(response.content)
        except (ParseError, DefusedXmlException, ValueError):
            root = None
        if root is not None and local_name(root.tag) == "ResponseStatus":
            return status_error(root, what=what, where=self.where)
        if response.status_code == 404:
            return DeviceUnsupported(f"{self.where} offers no {what} (HTTP 404).")
        if response.status_code == 403:
            return DeviceCredentialsRefused(f"{self.where} refused {what} to this account (HTTP 403).")
        return DeviceProtocolError(
            f"{self.where} answered HTTP {response.status_code} to {what}: {excerpt(response.text)}"
        )

    async def device_info(self) -> DeviceInfo:
        """Model, firmware and serial from /ISAPI/System/deviceInfo."""
        root = await self.isapi("GET", "/ISAPI/System/deviceInfo", what="reading device info", expect="DeviceInfo")
        return device_info_from(root)

    async def stream_profiles(self) -> list[StreamProfile]:
        """Every enabled streaming channel, main streams first, with RTSP URLs without credentials."""
        root = await self.isapi(
            "GET", "/ISAPI/Streaming/channels", what="listing streaming channels", expect="StreamingChannelList"
        )
        return stream_profiles_from(root, host=self.address.host, rtsp_port=await self._rtsp_port())

    async def _rtsp_port(self) -> int:
        # Older firmware lacks adminAccesses and operator accounts may not read it; 554 is the
        # factory default, and the probe that follows shows whether it is right.
        try:
            root = await self.isapi(
                "GET", "/ISAPI/Security/adminAccesses", what="reading the RTSP port", expect="AdminAccessProtocolList"
            )
        except (DeviceUnsupported, DeviceProtocolError, DeviceCredentialsRefused):
            return DEFAULT_RTSP_PORT
        return rtsp_port_from(root) or DEFAULT_RTSP_PORT

    async def ptz(self, profile: str | None = None) -> HikvisionPtz:
        """PTZ of a stream's video input (the first PTZ channel when None); DeviceUnsupported without PTZ."""
        channel = channel_of(profile) if profile is not None else await self._first_ptz_channel()
        caps = await self.isapi(
            "GET",
            f"/ISAPI/PTZCtrl/channels/{channel}/capabilities",
            what=f"reading the PTZ capabilities of channel {channel}",
            expect=("PTZChanelCap", "PTZChannelCap"),  # Hikvision spells it "Chanel"; accept the fix too
        )
        zoom_space = descendant(caps, "AbsoluteZoomPositionSpace")
        low = to_int(text(zoom_space, "ZRange", "Min")) if zoom_space is not None else None
        high = to_int(text(zoom_space, "ZRange", "Max")) if zoom_space is not None else None
        zoom_range = (max(low, 1), high) if low is not None and high is not None and high > low else DEFAULT_ZOOM_RANGE
        max_presets = to_int(text(caps, "maxPresetNum")) or MAX_PRESET_ID
        return HikvisionPtz(self, channel=channel, zoom_range=zoom_range, max_preset=min(max_presets, MAX_PRESET_ID))

    async def _first_ptz_channel(self) -> int:
        root = await self.isapi("GET", "/ISAPI/PTZCtrl/channels", what="listing PTZ channels", expect="PTZChannelList")
        for channel in children(root, "PTZChannel"):
            number = to_int(text(channel, "id"))
            if number is not None and text(channel, "enabled") != "false":
                return number
        raise DeviceUnsupported(f"{self.where} has no PTZ channel.")


class HikvisionPtz(PtzControl):
    """One PTZ channel under /ISAPI/PTZCtrl/channels/<n>/ (units: see the module docstring)."""

    def __init__(self, device: HikvisionAdapter, *, channel: int, zoom_range: tuple[int, int], max_preset: int) -> None:
        self.device = device
        self.channel = channel
        self.zoom_range = zoom_range
        self.max_preset = max_preset
        self._base = f"/ISAPI/PTZCtrl/channels/{channel}"

    async def continuous_move(self, velocity: PtzVector, *, timeout_s: float | None = None) -> None:
        """PUT continuous (or momentary, which stops by itself, when `timeout_s` is given); speeds -100..100."""
        speeds = "".join(
            f"<{axis}>{round(clamp(value, -1, 1) * 100)}</{axis}>"
            for axis, value in (("pan", velocity.pan), ("tilt", velocity.tilt), ("zoom", velocity.zoom))
        )
        if timeout_s is None:
            await self._put("continuous", _ptz_data(speeds), what="a continuous PTZ move")
            return
        duration_ms = max(1, math.ceil(timeout_s * 1000))
        body = _ptz_data(f"{speeds}<Momentary><duration>{duration_ms}</duration></Momentary>")
        await self._put("momentary", body, what="a timed PTZ move")

    async def stop(self) -> None:
        """A continuous move at zero speed: ISAPI has no separate stop."""
        await self._put("continuous", _ptz_data("<pan>0</pan><tilt>0</tilt><zoom>0</zoom>"), what="stopping PTZ")

    async def absolute_move(self, position: PtzVector, *, speed: float | None = None) -> None:
        """PUT absolute with AbsoluteHigh; ISAPI takes no speed for it, so `speed` is not used."""
        low, high = self.zoom_range
        await self._absolute(
            azimuth=round((clamp(position.pan, -1, 1) + 1) * 1800) % 3600,
            elevation=round(-clamp(position.tilt, -1, 1) * 900),
            zoom=round(low + clamp(position.zoom, 0, 1) * (high - low)),
        )

    async def relative_move(self, translation: PtzVector, *, speed: float | None = None) -> None:
        """Read the position and go to position + translation, in ISAPI units (pan wraps, tilt/zoom clamp).

        ISAPI's own relative command moves in screen coordinates of the current view, whose angle
        depends on the zoom; the normalised translation is an angle, so we compute the target.
        """
        azimuth, elevation, zoom = await self._raw_position()
        low, high = self.zoom_range
        await self._absolute(
            azimuth=round(azimuth + clamp(translation.pan, -2, 2) * 1800) % 3600,
            elevation=round(clamp(elevation - clamp(translation.tilt, -2, 2) * 900, -900, 900)),
            zoom=round(clamp(zoom + clamp(translation.zoom, -1, 1) * (high - low), low, high)),
        )

    async def presets(self) -> list[PtzPreset]:
        """GET presets: the stored ones, by id."""
        root = await self.device.isapi(
            "GET", f"{self._base}/presets", what="listing PTZ presets", expect="PTZPresetList"
        )
        return presets_from(root)

    async def set_preset(self, name: str, *, token: str | None = None) -> PtzPreset:
        """Store the current position under `token`, or under the lowest free ordinary id."""
        name = name.strip()
        if not name:
            raise ValidationFailed("A preset needs a name.")
        if token is not None:
            preset_id = self._preset_id(token)
        else:
            taken = {int(p.token) for p in await self.presets()}
            free = (n for n in range(1, self.max_preset + 1) if n not in taken and n not in SPECIAL_PRESETS)
            preset_id = next(free, 0)
            if not preset_id:
                raise Conflict(f"All {self.max_preset} presets of PTZ channel {self.channel} are in use; remove one.")
        body = (
            f'<PTZPreset version="2.0" xmlns="{XMLNS}"><id>{preset_id}</id>'
            f"<presetName>{escape(name)}</presetName></PTZPreset>"
        )
        await self._put(f"presets/{preset_id}", body, what=f"storing preset {preset_id}")
        return PtzPreset(str(preset_id), name)

    async def goto_preset(self, token: str, *, speed: float | None = None) -> None:
        """PUT presets/<id>/goto (ISAPI takes no speed for it)."""
        preset_id = self._preset_id(token)
        await self._put(f"presets/{preset_id}/goto", None, what=f"going to preset {preset_id}")

    async def remove_preset(self, token: str) -> None:
        """DELETE presets/<id>, after checking it exists (the device would answer OK either way)."""
        preset_id = self._preset_id(token)
        if str(preset_id) not in {p.token for p in await self.presets()}:
            raise DeviceUnsupported(f"{self.device.where} has no preset {preset_id} on PTZ channel {self.channel}.")
        await self.device.isapi("DELETE", f"{self._base}/presets/{preset_id}", what=f"removing preset {preset_id}")

    async def status(self) -> PtzStatus:
        """GET status: the position (ISAPI does not say whether the head is moving)."""
        root = await self.device.isapi("GET", f"{self._base}/status", what="reading PTZ status", expect="PTZStatus")
        return PtzStatus(position=ptz_position_from(root, zoom_range=self.zoom_range))

    async def _raw_position(self) -> tuple[int, int, int]:
        root = await self.device.isapi("GET", f"{self._base}/status", what="reading PTZ status", expect="PTZStatus")
        high = descendant(root, "AbsoluteHigh")
        if high is not None:
            azimuth, elevation, zoom = (to_int(text(high, f)) for f in ("azimuth", "elevation", "absoluteZoom"))
            if azimuth is not None and elevation is not None and zoom is not None:
                return azimuth, elevation, zoom
        raise DeviceUnsupported(f"{self.device.where} does not report its PTZ position; it cannot move relatively.")

    async def _absolute(self, *, azimuth: int, elevation: int, zoom: int) -> None:
        body = _ptz_data(
            f"<AbsoluteHigh><elevation>{elevation}</elevation><azimuth>{azimuth}</azimuth>"
            f"<absoluteZoom>{zoom}</absoluteZoom></AbsoluteHigh>"
        )
        await self._put("absolute", body, what="an absolute PTZ move")

    async def _put(self, resource: str, body: str | None, *, what: str) -> None:
        await self.device.isapi("PUT", f"{self._base}/{resource}", what=what, body=body if body is not None else "")

    def _preset_id(self, token: str) -> int:
        if not token.isdigit() or not 1 <= int(token) <= self.max_preset:
            raise ValidationFailed(f"A Hikvision preset is a number from 1 to {self.max_preset}, not {token[:20]!r}.")
        return int(token)


def _ptz_data(inner: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><PTZData version="2.0" xmlns="{XMLNS}">{inner}</PTZData>'
