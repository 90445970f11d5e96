"""ONVIF PTZ: the `PtzControl` an `OnvifAdapter` hands out for one media profile.

Split from `onvif` to keep that module to the device and media services. Choosing the profile
stays on the adapter (`OnvifAdapter.ptz`), because only it knows the media profiles; this module
holds the PTZ service calls and the checks of ONVIF's generic (normalised) spaces. It calls the
adapter's SOAP plumbing (`_call`, `where`) as part of the same adapter, so the clock offset and
the HTTP client stay the adapter's; the adapter is imported for type checking only (no cycle).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element

from vms.cameras.devices import soap
from vms.cameras.devices.base import PtzControl, PtzPreset, PtzStatus, PtzVector
from vms.cameras.devices.soap import attribute, el, escape, find, find_all, text
from vms.kernel.errors import DeviceProtocolError, ValidationFailed

if TYPE_CHECKING:
    from vms.cameras.devices.onvif import OnvifAdapter


class OnvifPtz(PtzControl):
    """PTZ service calls for one media profile, in ONVIF's generic (normalised) spaces."""

    def __init__(self, device: OnvifAdapter, url: str, profile_token: str) -> None:
        self.device = device
        self.url = url
        self.profile_token = profile_token

    async def continuous_move(self, velocity: PtzVector, *, timeout_s: float | None = None) -> None:
        """ContinuousMove; the device stops by itself after `timeout_s` when given."""
        _check(velocity, pan_tilt=1.0, zoom=(-1.0, 1.0), what="velocity")
        if timeout_s is not None and not 0 < timeout_s <= 3600:
            raise ValidationFailed("A PTZ move timeout goes from 0 to 3600 seconds.")
        timeout = f"<tptz:Timeout>{soap.format_duration(timeout_s)}</tptz:Timeout>" if timeout_s else ""
        await self._ptz("ContinuousMove", f"<tptz:Velocity>{_vector(velocity)}</tptz:Velocity>{timeout}")

    async def stop(self) -> None:
        """Stop pan, tilt and zoom."""
        await self._ptz("Stop", "<tptz:PanTilt>true</tptz:PanTilt><tptz:Zoom>true</tptz:Zoom>")

    async def absolute_move(self, position: PtzVector, *, speed: float | None = None) -> None:
        """AbsoluteMove to a position."""
        _check(position, pan_tilt=1.0, zoom=(0.0, 1.0), what="position")
        await self._ptz("AbsoluteMove", f"<tptz:Position>{_vector(position)}</tptz:Position>{_speed(speed)}")

    async def relative_move(self, translation: PtzVector, *, speed: float | None = None) -> None:
        """RelativeMove by a translation."""
        _check(translation, pan_tilt=2.0, zoom=(-1.0, 1.0), what="translation")
        await self._ptz("RelativeMove", f"<tptz:Translation>{_vector(translation)}</tptz:Translation>{_speed(speed)}")

    async def presets(self) -> list[PtzPreset]:
        """GetPresets."""
        answer = await self._ptz("GetPresets")
        return [
            PtzPreset(token=token, name=text(preset, "Name") or token)
            for preset in find_all(answer, "Preset")
            if (token := attribute(preset, "token"))
        ]

    async def set_preset(self, name: str, *, token: str | None = None) -> PtzPreset:
        """SetPreset at the current position; a new preset, or overwrite `token`."""
        if not name.strip():
            raise ValidationFailed("A preset needs a name.")
        existing = f"<tptz:PresetToken>{escape(token)}</tptz:PresetToken>" if token else ""
        answer = await self._ptz("SetPreset", f"<tptz:PresetName>{escape(name)}</tptz:PresetName>{existing}")
        stored = text(answer, "PresetToken") or token
        if not stored:
            raise DeviceProtocolError(f"{self.device.where} stored a preset without telling its token.")
        return PtzPreset(token=stored, name=name)

    async def goto_preset(self, token: str, *, speed: float | None = None) -> None:
        """GotoPreset."""
        await self._ptz("GotoPreset", f"<tptz:PresetToken>{escape(token)}</tptz:PresetToken>{_speed(speed)}")

    async def remove_preset(self, token: str) -> None:
        """RemovePreset."""
        await self._ptz("RemovePreset", f"<tptz:PresetToken>{escape(token)}</tptz:PresetToken>")

    async def status(self) -> PtzStatus:
        """GetStatus: position in the generic space, and whether pan/tilt or zoom is moving."""
        answer = await self._ptz("GetStatus")
        position = find(answer, "PTZStatus/Position")
        vector = None
        if position is not None:
            pan_tilt, zoom = find(position, "PanTilt"), find(position, "Zoom")
            vector = PtzVector(
                pan=_coordinate(attribute(pan_tilt, "x")),
                tilt=_coordinate(attribute(pan_tilt, "y")),
                zoom=_coordinate(attribute(zoom, "x")),
            )
        moves = (text(answer, "PTZStatus/MoveStatus/PanTilt"), text(answer, "PTZStatus/MoveStatus/Zoom"))
        return PtzStatus(position=vector, moving=any(move == "MOVING" for move in moves))

    async def _ptz(self, operation: str, fields: str = "") -> Element:
        body = el(f"tptz:{operation}", el("tptz:ProfileToken", text=self.profile_token), fields)
        return await self.device._call(self.url, soap.NS_PTZ, operation, body)


def _check(vector: PtzVector, *, pan_tilt: float, zoom: tuple[float, float], what: str) -> None:
    if not (-pan_tilt <= vector.pan <= pan_tilt and -pan_tilt <= vector.tilt <= pan_tilt):
        raise ValidationFailed(f"PTZ {what}: pan and tilt go from {-pan_tilt:g} to {pan_tilt:g}.")
    if not zoom[0] <= vector.zoom <= zoom[1]:
        raise ValidationFailed(f"PTZ {what}: zoom goes from {zoom[0]:g} to {zoom[1]:g}.")


def _vector(vector: PtzVector) -> str:
    return f'<tt:PanTilt x="{vector.pan:.6f}" y="{vector.tilt:.6f}"/><tt:Zoom x="{vector.zoom:.6f}"/>'


def _speed(speed: float | None) -> str:
    if speed is None:
        return ""
    if not 0 <= speed <= 1:
        raise ValidationFailed("PTZ speed goes from 0 to 1.")
    return f'<tptz:Speed><tt:PanTilt x="{speed:.6f}" y="{speed:.6f}"/><tt:Zoom x="{speed:.6f}"/></tptz:Speed>'


def _coordinate(value: str | None) -> float:
    """A position coordinate; 0 when missing or unreadable, so one bad axis does not hide the others."""
    try:
        return float(value) if value is not None else 0.0
    except ValueError:
        return 0.0
