"""The camera device plugin interface: one `CameraAdapter` subclass per control protocol, found by kind.

A camera has two faces: its media streams (RTSP, read by ingest and the gateway) and its control
interface (ONVIF SOAP, Hikvision ISAPI, Dahua HTTP API) that tells us who it is, which streams it
offers and how to move it. Adapters wrap the control interface behind one small surface so the
cameras service, discovery and PTZ never speak a vendor protocol themselves:

>>> async with open_device("onvif", DeviceAddress("10.0.0.7", 80), DeviceCredentials("admin", "pw")) as device:
...     info = await device.device_info()
...     profiles = await device.stream_profiles()
...     ptz = await device.ptz()
...     await ptz.goto_preset("1")

Every failure becomes a `kernel.errors.DeviceProblem` (422) naming the cause — unreachable,
credentials refused, unreadable answer, not supported — and never repeats a password.
Adding a vendor is one module with a `@register`-ed subclass, imported in `devices/__init__.py`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from types import TracebackType
from typing import ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

from vms.kernel.errors import DeviceUnsupported, ValidationFailed

DEFAULT_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class DeviceAddress:
    """Where a device's control interface listens."""

    host: str
    port: int = 80
    scheme: Literal["http", "https"] = "http"

    @property
    def base_url(self) -> str:
        """`http://host:port` (IPv6 hosts bracketed)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class DeviceCredentials:
    """The device account; the password never appears in a repr or a log line."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """Who the device says it is."""

    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    hardware_id: str | None = None


@dataclass(frozen=True, slots=True)
class StreamProfile:
    """One stream the device offers, as its control interface describes it (not probed)."""

    token: str  # ONVIF profile token, ISAPI channel id ("101"), Dahua "channel/subtype"
    name: str
    rtsp_url: str  # never with credentials; the camera's stored credentials are added when opened
    role: Literal["main", "sub", "other"] = "other"
    codec: str | None = None  # h264, hevc, mjpeg as the device reports it
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    bitrate_kbps: int | None = None


@dataclass(frozen=True, slots=True)
class PtzVector:
    """Pan, tilt, zoom in the device-independent normalised space.

    Velocities: each -1..1. Absolute positions: pan and tilt -1..1, zoom 0..1. Relative
    translations: pan and tilt -2..2 (a full sweep), zoom -1..1. Adapters map to vendor units.
    """

    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 0.0


@dataclass(frozen=True, slots=True)
class PtzPreset:
    """A stored camera position."""

    token: str
    name: str


@dataclass(frozen=True, slots=True)
class PtzStatus:
    """Where the head points now, when the device tells."""

    position: PtzVector | None
    moving: bool = False


class PtzControl(ABC):
    """Moving one camera head; obtained from `CameraAdapter.ptz()`."""

    @abstractmethod
    async def continuous_move(self, velocity: PtzVector, *, timeout_s: float | None = None) -> None:
        """Move at a velocity until `stop()` (or until `timeout_s`, when the device supports it)."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop pan, tilt and zoom."""

    @abstractmethod
    async def absolute_move(self, position: PtzVector, *, speed: float | None = None) -> None:
        """Go to a position."""

    @abstractmethod
    async def relative_move(self, translation: PtzVector, *, speed: float | None = None) -> None:
        """Move by an offset from where the head is."""

    @abstractmethod
    async def presets(self) -> list[PtzPreset]:
        """The stored positions."""

    @abstractmethod
    async def set_preset(self, name: str, *, token: str | None = None) -> PtzPreset:
        """Store the current position as a preset (a new one, or overwrite `token`)."""

    @abstractmethod
    async def goto_preset(self, token: str, *, speed: float | None = None) -> None:
        """Go to a stored position."""

    @abstractmethod
    async def remove_preset(self, token: str) -> None:
        """Forget a stored position."""

    @abstractmethod
    async def status(self) -> PtzStatus:
        """Current position and whether the head is moving."""


class CameraAdapter(ABC):
    """One device's control interface. Use as an async context manager; it owns its HTTP client."""

    kind: ClassVar[str]  # registry key: "onvif", "hikvision", "dahua", "rtsp"
    title: ClassVar[str]  # shown to users: "ONVIF (Profile S/T/G)"
    default_port: ClassVar[int] = 80

    def __init__(
        self,
        address: DeviceAddress,
        credentials: DeviceCredentials | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.address = address
        self.credentials = credentials
        self.timeout_s = timeout_s

    @classmethod
    def from_url(
        cls: type[A], url: str, credentials: DeviceCredentials | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> A:
        """An adapter for a control URL (`http://10.0.0.7:8080`); adapters with a path override this."""
        parts = urlsplit(url)
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else cls.default_port)
        address = DeviceAddress(parts.hostname or "", port, "https" if secure else "http")
        return cls(address, credentials, timeout_s=timeout_s)

    @abstractmethod
    async def device_info(self) -> DeviceInfo:
        """Manufacturer, model, firmware, serial."""

    @abstractmethod
    async def stream_profiles(self) -> list[StreamProfile]:
        """The streams on offer, main first."""

    async def ptz(self, profile: str | None = None) -> PtzControl:
        """PTZ for a profile/channel (the first PTZ-capable one when None); DeviceUnsupported without PTZ."""
        raise DeviceUnsupported(f"{self.title} cameras are not moved through this adapter.")

    async def aclose(self) -> None:  # noqa: B027 - adapters without connections have nothing to release
        """Release connections."""

    async def __aenter__(self: A) -> A:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


A = TypeVar("A", bound=CameraAdapter)
_REGISTRY: dict[str, type[CameraAdapter]] = {}


def register(cls: type[A]) -> type[A]:
    """Class decorator: make an adapter available under its `kind`."""
    if cls.kind in _REGISTRY and _REGISTRY[cls.kind] is not cls:
        raise RuntimeError(f"Two camera adapters claim the kind {cls.kind!r}.")
    _REGISTRY[cls.kind] = cls
    return cls


def adapter_kinds() -> list[str]:
    """Every registered kind, sorted."""
    return sorted(_REGISTRY)


def adapter_class(kind: str) -> type[CameraAdapter]:
    """The adapter for a kind, or a 422 listing the known ones."""
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise ValidationFailed(f"Unknown camera adapter {kind!r}; use one of: {', '.join(adapter_kinds())}.") from None


def open_device(
    kind: str,
    address: DeviceAddress,
    credentials: DeviceCredentials | None = None,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> CameraAdapter:
    """An adapter instance for a device (no I/O until a method is awaited)."""
    return adapter_class(kind)(address, credentials, timeout_s=timeout_s)


def open_device_url(
    kind: str, url: str, credentials: DeviceCredentials | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> CameraAdapter:
    """An adapter instance for a stored control URL (a camera's `device.url`)."""
    return adapter_class(kind).from_url(url, credentials, timeout_s=timeout_s)


@dataclass(frozen=True, slots=True)
class DiscoveredDevice:
    """A device found by WS-Discovery or an address scan, with what it told us about itself."""

    host: str
    kind: str  # the adapter to use: onvif, hikvision, dahua, rtsp
    via: Literal["ws-discovery", "scan"]
    ports: tuple[int, ...] = ()
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    device_url: str | None = None  # the control endpoint (ONVIF device service XAddr, ISAPI base URL)
    rtsp_url: str | None = None  # a stream URL when one is known, without credentials
    requires_auth: bool = False  # the device asked for credentials before saying more
    scopes: tuple[str, ...] = ()  # ONVIF scopes (onvif://www.onvif.org/name/..., /hardware/...)
    name: str | None = None  # the name the device announces (ONVIF /name/ scope), when it gives one
