"""Dahua HTTP API adapter: device info, encoder streams and PTZ through the CGI interface, digest auth.

The Dahua HTTP API ("HTTP API for IP Camera and Speed Dome") is a set of CGIs under `/cgi-bin/`
answering plain `key=value` lines, one per line:

    table.Encode[0].MainFormat[0].Video.Compression=H.264
    table.Encode[0].ExtraFormat[0].Video.Width=704

Commands answer `OK`; refusals answer `Error` followed by a reason (`Bad Request!`, `Invalid
Authority!`), with HTTP 400 or, on some firmware, 200. `Encode[n]` is video channel n+1;
`MainFormat[0]` is its main stream (`MainFormat[1]`/`[2]` are the motion/alarm recording variants of
the same stream, not streams of their own) and `ExtraFormat[k]` its sub stream k+1. The RTSP URL is
`rtsp://host:port/cam/realmonitor?channel=<n>&subtype=<0 main | 1 sub | 2 third>`.

PTZ goes through `ptz.cgi`. Continuous moves are direction codes (Up, LeftDown, ZoomTele …) with a
speed 1..8; a stop must name a code, and stopping any pan/tilt code stops pan and tilt. Positions are
degrees and a zoom multiple, mapped linearly to the normalised `PtzVector` space:

    pan  -1..1 ↔ horizontal angle 0..360°  (pan 0 is 180°; the scale wraps)
    tilt -1..1 ↔ vertical angle  90..-90°  (Dahua counts degrees below the horizon; normalised tilt counts up)
    zoom  0..1 ↔ zoom multiple    1..ZoomMax (caps.ZoomMax when the device reports it, else 128)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Literal

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
from vms.cameras.devices.numbers import clamp, to_float, to_int
from vms.kernel.errors import (
    Conflict,
    DeviceCredentialsRefused,
    DeviceProtocolError,
    DeviceUnsupported,
    ValidationFailed,
)

DEFAULT_RTSP_PORT = 554
DEFAULT_PRESET_RANGE = (1, 255)
DEFAULT_ZOOM_MAX = 128.0  # the documented upper bound of PositionABS arg3
MAX_SPEED = 8  # direction codes take speeds 1..8
_KEY = re.compile(r"^[A-Za-z0-9_.\[\]]+$")
_ENCODE_KEY = re.compile(r"^table\.Encode\[(\d+)\]\.(MainFormat|ExtraFormat)\[(\d+)\]\.(.+)$")
_PAN_TILT_CODES = ("Right", "RightUp", "Up", "LeftUp", "Left", "LeftDown", "Down", "RightDown")  # by 45° sector
# Resolution names of older firmware (Video.resolution=D1); newer firmware gives Width/Height or "WxH".
RESOLUTION_NAMES = {
    "QCIF": (176, 144),
    "CIF": (352, 288),
    "QVGA": (320, 240),
    "VGA": (640, 480),
    "D1": (704, 576),
    "960H": (960, 576),
    "720P": (1280, 720),
    "1_3M": (1280, 960),
    "1.3M": (1280, 960),
    "1080P": (1920, 1080),
    "3M": (2048, 1536),
    "4M": (2688, 1520),
    "5M": (2592, 1944),
    "4K": (3840, 2160),
}


# ---------------------------------------------------------------------------------------------
# Parsing: pure functions over answer text, so they are tested on sample answers directly.


def parse_kv(body: str, *, what: str, where: str = "The camera") -> dict[str, str]:
    """The `key=value` lines of a Dahua answer; an `Error` answer or non-key=value text raises.

    >>> parse_kv("deviceType=IPC-HDW4431C-A\\r\\nserialNumber=4L01234PAZ\\r\\n", what="x")
    {'deviceType': 'IPC-HDW4431C-A', 'serialNumber': '4L01234PAZ'}
    """
    check_not_error(body, what=what, where=where)
    values: dict[str, str] = {}
    for line in body.splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or not _KEY.fullmatch(key):
            raise DeviceProtocolError(
                f"{where} answered {what} with something that is not Dahua key=value text: {excerpt(body)}"
            )
        values[key] = value.strip()
    if not values:
        raise DeviceProtocolError(f"{where} answered {what} with an empty body.")
    return values


def check_not_error(body: str, *, what: str, where: str = "The camera") -> None:
    """Raise for an `Error` answer: `Invalid Authority` means the account lacks rights, the rest is a refusal."""
    lines = [line.strip() for line in body.strip().splitlines() if line.strip()]
    if not lines or lines[0].rstrip("!") != "Error":
        return
    reason = " ".join(lines[1:]) or "no reason given"
    if "authority" in reason.lower():
        raise DeviceCredentialsRefused(f"{where} refused {what}: the account lacks the rights ({excerpt(reason, 60)}).")
    raise DeviceProtocolError(f"{where} refused {what}: {excerpt(reason, 80)}")


def check_ok(body: str, *, what: str, where: str = "The camera") -> None:
    """Commands answer `OK`; anything else is a refusal or not the Dahua API."""
    check_not_error(body, what=what, where=where)
    if body.strip() != "OK":
        raise DeviceProtocolError(f"{where} answered {what} with {excerpt(body)} instead of OK.")


def device_info_from(system: dict[str, str], software: dict[str, str]) -> DeviceInfo:
    """DeviceInfo from getSystemInfo and getSoftwareVersion answers."""
    return DeviceInfo(
        manufacturer="Dahua",
        model=system.get("deviceType") or system.get("updateSerial") or None,
        firmware=software.get("version") or None,
        serial=system.get("serialNumber") or None,
        hardware_id=system.get("hardwareVersion") or None,
    )


def rtsp_port_from(config: dict[str, str]) -> int | None:
    """The port in a `getConfig&name=RTSP` answer (table.RTSP.Port), when enabled and valid."""
    if config.get("table.RTSP.Enable", "true").lower() == "false":
        return None
    try:
        port = int(config.get("table.RTSP.Port", ""))
    except ValueError:
        return None
    return port if 0 < port < 65536 else None


def stream_profiles_from(encode: dict[str, str], *, host: str, rtsp_port: int) -> list[StreamProfile]:
    """Profiles from a `getConfig&name=Encode` answer: per channel MainFormat[0] then each ExtraFormat."""
    streams: dict[tuple[int, int], dict[str, str]] = {}  # (channel index, subtype) → fields
    for key, value in encode.items():
        match = _ENCODE_KEY.match(key)
        if match is None:
            continue
        channel, kind, index, field = int(match[1]), match[2], int(match[3]), match[4]
        if kind == "MainFormat" and index != 0:
            continue  # motion/alarm recording variants of the main stream
        subtype = 0 if kind == "MainFormat" else index + 1
        streams.setdefault((channel, subtype), {})[field] = value
    rtsp_host = f"[{host}]" if ":" in host else host
    profiles: list[StreamProfile] = []
    for (channel, subtype), fields in sorted(streams.items()):
        if fields.get("VideoEnable", "true").lower() == "false":
            continue
        role: Literal["main", "sub", "other"] = "main" if subtype == 0 else "sub" if subtype == 1 else "other"
        width, height = _resolution(fields)
        profiles.append(
            StreamProfile(
                token=f"{channel + 1}/{subtype}",
                name=f"Channel {channel + 1} " + ("main stream" if subtype == 0 else f"sub stream {subtype}"),
                rtsp_url=f"rtsp://{rtsp_host}:{rtsp_port}/cam/realmonitor?channel={channel + 1}&subtype={subtype}",
                role=role,
                codec=codec_name(fields.get("Video.Compression")),
                width=width,
                height=height,
                fps=to_float(fields.get("Video.FPS")) or None,
                bitrate_kbps=to_int(fields.get("Video.BitRate")) or None,
            )
        )
    return profiles


def codec_name(value: str | None) -> str | None:
    """Dahua codec spelling (H.264, H.264H, H.264B, H.265, MJPG) → h264 / hevc / mjpeg."""
    if not value:
        return None
    squashed = value.upper().replace(".", "").replace("+", "")
    if squashed.startswith("H264"):
        return "h264"
    if squashed.startswith(("H265", "HEVC")):
        return "hevc"
    if squashed in ("MJPG", "MJPEG"):
        return "mjpeg"
    return value.lower()


def presets_from(answer: dict[str, str]) -> list[PtzPreset]:
    """Presets from a `getPresets` answer (`presets[i].Index`, `presets[i].Name`), by id."""
    by_slot: dict[str, dict[str, str]] = {}
    for key, value in answer.items():
        slot, _, field = key.partition("].")
        if slot.startswith("presets["):
            by_slot.setdefault(slot, {})[field] = value
    found = [(to_int(f.get("Index")), f.get("Name", "")) for f in by_slot.values()]
    return [PtzPreset(str(index), name or f"Preset {index}") for index, name in sorted((i, n) for i, n in found if i)]


def ptz_status_from(answer: dict[str, str], *, zoom_max: float) -> PtzStatus:
    """Position and motion from a `getStatus` answer (Dahua spells it `status.Postion`; accept both)."""
    position = [to_float(answer.get(f"status.Postion[{i}]", answer.get(f"status.Position[{i}]"))) for i in range(3)]
    pan, tilt, zoom = position
    vector = None
    if pan is not None and tilt is not None and zoom is not None:
        vector = PtzVector(
            pan=round(pan / 180 - 1, 4),
            tilt=round(-tilt / 90, 4),
            zoom=round(clamp((zoom - 1) / (zoom_max - 1), 0, 1), 4) if zoom_max > 1 else 0.0,
        )
    moving = any(answer.get(k, "Idle") not in ("Idle", "") for k in ("status.MoveStatus", "status.ZoomStatus"))
    return PtzStatus(position=vector, moving=moving)


def direction_code(pan: float, tilt: float) -> tuple[str, int, int] | None:
    """The nearest of the eight direction codes to a pan/tilt velocity, with vertical and horizontal speeds 1..8.

    >>> direction_code(0.5, 0.5)
    ('RightUp', 4, 4)
    """
    pan, tilt = clamp(pan, -1, 1), clamp(tilt, -1, 1)
    if math.hypot(pan, tilt) < 0.01:
        return None
    sector = round(math.degrees(math.atan2(tilt, pan)) / 45) % 8
    return _PAN_TILT_CODES[sector], _speed(abs(tilt)), _speed(abs(pan))


def _resolution(fields: dict[str, str]) -> tuple[int | None, int | None]:
    width, height = to_int(fields.get("Video.Width")), to_int(fields.get("Video.Height"))
    if width and height:
        return width, height
    named = fields.get("Video.resolution") or fields.get("Video.Resolution") or ""
    if named.upper() in RESOLUTION_NAMES:
        return RESOLUTION_NAMES[named.upper()]
    w, sep, h = named.lower().partition("x")
    return (int(w), int(h)) if sep and w.isdigit() and h.isdigit() else (None, None)


def _speed(share: float) -> int:
    return max(1, min(MAX_SPEED, round(share * MAX_SPEED)))


# ---------------------------------------------------------------------------------------------
# The adapter.


@register
class DahuaAdapter(HttpDeviceAdapter):
    """A Dahua camera, speed dome or NVR through its HTTP API (digest auth)."""

    kind = "dahua"
    title = "Dahua HTTP API"
    default_port = 80

    async def cgi(self, cgi: str, params: Mapping[str, str | int], *, what: str) -> str:
        """GET one CGI with its parameters; the answer text once it is not an `Error`."""
        response = await request(
            self.http(), "GET", f"/cgi-bin/{cgi}", what=what, ok_statuses=(200, 400, 404, 501), params=params
        )
        if response.status_code in (404, 501):
            raise DeviceUnsupported(f"{self.where} offers no {what} (HTTP {response.status_code}).")
        check_not_error(response.text, what=what, where=self.where)
        if response.status_code != 200:
            raise DeviceProtocolError(f"{self.where} answered HTTP 400 to {what}: {excerpt(response.text)}")
        return response.text

    async def device_info(self) -> DeviceInfo:
        """Model, serial and hardware from getSystemInfo; firmware from getSoftwareVersion."""
        system = parse_kv(
            await self.cgi("magicBox.cgi", {"action": "getSystemInfo"}, what="reading device info"),
            what="reading device info",
            where=self.where,
        )
        software = parse_kv(
            await self.cgi("magicBox.cgi", {"action": "getSoftwareVersion"}, what="reading the firmware version"),
            what="reading the firmware version",
            where=self.where,
        )
        return device_info_from(system, software)

    async def stream_profiles(self) -> list[StreamProfile]:
        """Every enabled main and extra stream of every channel, with RTSP URLs without credentials."""
        what = "reading the encoder configuration"
        params = {"action": "getConfig", "name": "Encode"}
        encode = parse_kv(await self.cgi("configManager.cgi", params, what=what), what=what, where=self.where)
        profiles = stream_profiles_from(encode, host=self.address.host, rtsp_port=await self._rtsp_port())
        if not profiles:
            raise DeviceProtocolError(f"{self.where} listed no video streams in its encoder configuration.")
        return profiles

    async def _rtsp_port(self) -> int:
        # Not every firmware (nor every account) may read the RTSP config; 554 is the factory default,
        # and the probe that follows shows whether it is right.
        what = "reading the RTSP port"
        try:
            text = await self.cgi("configManager.cgi", {"action": "getConfig", "name": "RTSP"}, what=what)
            return rtsp_port_from(parse_kv(text, what=what, where=self.where)) or DEFAULT_RTSP_PORT
        except (DeviceUnsupported, DeviceProtocolError, DeviceCredentialsRefused):
            return DEFAULT_RTSP_PORT

    async def ptz(self, profile: str | None = None) -> DahuaPtz:
        """PTZ of a channel ("2", or a stream token "2/0"; channel 1 when None); DeviceUnsupported without PTZ.

        Assumption from the API document: `getCurrentProtocolCaps` answers `caps.*` lines on PTZ
        devices (caps.Pan, caps.Tile — sic —, caps.Zoom, caps.PresetMin/Max) and an Error otherwise.
        """
        channel = _channel_of(profile or "1")
        what = f"reading the PTZ capabilities of channel {channel}"
        try:
            text = await self.cgi("ptz.cgi", {"action": "getCurrentProtocolCaps", "channel": channel}, what=what)
            caps = parse_kv(text, what=what, where=self.where)
        except DeviceProtocolError:
            raise DeviceUnsupported(f"{self.where} offers no PTZ on channel {channel}.") from None
        if not any(caps.get(f"caps.{axis}", "true").lower() == "true" for axis in ("Pan", "Tile", "Tilt", "Zoom")):
            raise DeviceUnsupported(f"{self.where} has no pan, tilt or zoom on channel {channel}.")
        low = to_int(caps.get("caps.PresetMin")) or DEFAULT_PRESET_RANGE[0]
        high = to_int(caps.get("caps.PresetMax")) or DEFAULT_PRESET_RANGE[1]
        zoom_max = to_float(caps.get("caps.ZoomMax")) or DEFAULT_ZOOM_MAX
        return DahuaPtz(self, channel=channel, preset_range=(low, max(low, high)), zoom_max=max(zoom_max, 1.0))


class DahuaPtz(PtzControl):
    """One PTZ channel through /cgi-bin/ptz.cgi (units: see the module docstring)."""

    def __init__(self, device: DahuaAdapter, *, channel: int, preset_range: tuple[int, int], zoom_max: float) -> None:
        self.device = device
        self.channel = channel
        self.preset_range = preset_range
        self.zoom_max = zoom_max
        self._pan_tilt_code: str | None = None  # the direction now moving, which a stop must name
        self._zoom_code: str | None = None

    async def continuous_move(self, velocity: PtzVector, *, timeout_s: float | None = None) -> None:
        """Start the nearest direction code (and ZoomTele/ZoomWide); a zero axis stops what moved on it.

        The CGI direction codes have no timeout, so `timeout_s` is not used: call `stop()`.
        """
        direction = direction_code(velocity.pan, velocity.tilt)
        if direction is not None:
            code, vertical, horizontal = direction
            # Up/Down/Left/Right take their speed in arg2; the diagonals take vertical, horizontal.
            arg1, arg2 = (vertical, horizontal) if code in _PAN_TILT_CODES[1::2] else (0, max(vertical, horizontal))
            if self._pan_tilt_code not in (None, code):
                await self._command("stop", self._pan_tilt_code, what="changing PTZ direction")
            await self._command("start", code, arg1=arg1, arg2=arg2, what="a continuous PTZ move")
            self._pan_tilt_code = code
        elif self._pan_tilt_code is not None:
            await self._command("stop", self._pan_tilt_code, what="stopping pan and tilt")
            self._pan_tilt_code = None
        zoom = clamp(velocity.zoom, -1, 1)
        if abs(zoom) >= 0.01:
            code = "ZoomTele" if zoom > 0 else "ZoomWide"
            if self._zoom_code not in (None, code):
                await self._command("stop", self._zoom_code, what="changing zoom direction")
            await self._command("start", code, arg2=_speed(abs(zoom)), what="a continuous zoom")
            self._zoom_code = code
        elif self._zoom_code is not None:
            await self._command("stop", self._zoom_code, what="stopping zoom")
            self._zoom_code = None

    async def stop(self) -> None:
        """Stop pan/tilt and zoom: the codes this control started, or Up and ZoomTele when it started none."""
        await self._command("stop", self._pan_tilt_code or "Up", what="stopping pan and tilt")
        await self._command("stop", self._zoom_code or "ZoomTele", what="stopping zoom")
        self._pan_tilt_code = self._zoom_code = None

    async def absolute_move(self, position: PtzVector, *, speed: float | None = None) -> None:
        """code=PositionABS with degrees and a zoom multiple (the CGI takes no speed for it)."""
        await self._absolute(
            pan=((clamp(position.pan, -1, 1) + 1) * 180) % 360,
            tilt=-clamp(position.tilt, -1, 1) * 90,
            zoom=1 + clamp(position.zoom, 0, 1) * (self.zoom_max - 1),
        )

    async def relative_move(self, translation: PtzVector, *, speed: float | None = None) -> None:
        """Read the position and go to position + translation with PositionABS (pan wraps, tilt/zoom clamp).

        The CGI's own `code=Position` is 3D positioning in screen coordinates of the current view (for
        click-to-centre), whose angle depends on the zoom; the normalised translation is an angle.
        """
        answer = await self._status_answer()
        pan, tilt, zoom = (
            to_float(answer.get(f"status.Postion[{i}]", answer.get(f"status.Position[{i}]"))) for i in range(3)
        )
        if pan is None or tilt is None or zoom is None:
            raise DeviceUnsupported(f"{self.device.where} does not report its PTZ position; it cannot move relatively.")
        await self._absolute(
            pan=(pan + clamp(translation.pan, -2, 2) * 180) % 360,
            tilt=clamp(tilt - clamp(translation.tilt, -2, 2) * 90, -90, 90),
            zoom=clamp(zoom + clamp(translation.zoom, -1, 1) * (self.zoom_max - 1), 1, self.zoom_max),
        )

    async def presets(self) -> list[PtzPreset]:
        """action=getPresets: the stored ones, by id (an empty answer means none)."""
        what = "listing PTZ presets"
        text = await self.device.cgi("ptz.cgi", {"action": "getPresets", "channel": self.channel}, what=what)
        if not text.strip():
            return []
        return presets_from(parse_kv(text, what=what, where=self.device.where))

    async def set_preset(self, name: str, *, token: str | None = None) -> PtzPreset:
        """code=SetPreset stores the position; action=setPreset names it (assumed from the API document)."""
        name = name.strip()
        if not name:
            raise ValidationFailed("A preset needs a name.")
        if token is not None:
            preset_id = self._preset_id(token)
        else:
            taken = {int(p.token) for p in await self.presets()}
            low, high = self.preset_range
            preset_id = next((n for n in range(low, high + 1) if n not in taken), 0)
            if not preset_id:
                raise Conflict(f"All presets of PTZ channel {self.channel} are in use; remove one.")
        await self._command("start", "SetPreset", arg2=preset_id, what=f"storing preset {preset_id}")
        what = f"naming preset {preset_id}"
        params: dict[str, str | int] = {
            "action": "setPreset",
            "channel": self.channel,
            "arg1": preset_id,
            "arg2": name,
        }
        check_ok(await self.device.cgi("ptz.cgi", params, what=what), what=what, where=self.device.where)
        return PtzPreset(str(preset_id), name)

    async def goto_preset(self, token: str, *, speed: float | None = None) -> None:
        """code=GotoPreset (the CGI takes no speed for it)."""
        preset_id = self._preset_id(token)
        await self._command("start", "GotoPreset", arg2=preset_id, what=f"going to preset {preset_id}")

    async def remove_preset(self, token: str) -> None:
        """code=ClearPreset, after checking it exists (the device answers OK either way)."""
        preset_id = self._preset_id(token)
        if str(preset_id) not in {p.token for p in await self.presets()}:
            raise DeviceUnsupported(f"{self.device.where} has no preset {preset_id} on PTZ channel {self.channel}.")
        await self._command("start", "ClearPreset", arg2=preset_id, what=f"removing preset {preset_id}")

    async def status(self) -> PtzStatus:
        """action=getStatus: position and whether the head or the zoom is moving."""
        return ptz_status_from(await self._status_answer(), zoom_max=self.zoom_max)

    async def _status_answer(self) -> dict[str, str]:
        what = "reading PTZ status"
        text = await self.device.cgi("ptz.cgi", {"action": "getStatus", "channel": self.channel}, what=what)
        return parse_kv(text, what=what, where=self.device.where)

    async def _absolute(self, *, pan: float, tilt: float, zoom: float) -> None:
        await self._command("start", "PositionABS", arg1=pan, arg2=tilt, arg3=zoom, what="an absolute PTZ move")

    async def _command(
        self, action: str, code: str, *, what: str, arg1: float = 0, arg2: float = 0, arg3: float = 0
    ) -> None:
        # Whole numbers as integers ("8", not "8.0"): older firmware parses the arguments as integers.
        args = {name: format(round(value, 2), "g") for name, value in (("arg1", arg1), ("arg2", arg2), ("arg3", arg3))}
        params: dict[str, str | int] = {"action": action, "channel": self.channel, "code": code, **args}
        check_ok(await self.device.cgi("ptz.cgi", params, what=what), what=what, where=self.device.where)

    def _preset_id(self, token: str) -> int:
        low, high = self.preset_range
        if not token.isdigit() or not low <= int(token) <= high:
            raise ValidationFailed(f"A Dahua preset is a number from {low} to {high}, not {token[:20]!r}.")
        return int(token)


def _channel_of(profile: str) -> int:
    channel = profile.partition("/")[0]
    if not channel.isdigit() or int(channel) == 0:
        raise ValidationFailed(
            f"A Dahua channel is a number such as 1, or a stream token such as 1/0, not {profile[:20]!r}."
        )
    return int(channel)
