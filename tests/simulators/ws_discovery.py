"""A WS-Discovery responder that answers Probes as ONVIF cameras do, for discovery tests and demos.

One responder can stand in for several devices (an NVR's worth of cameras behind one socket): each
device gets its own ProbeMatches datagram, as separate cameras would send. It listens on 127.0.0.1
(an ephemeral port unless told) and, with `multicast=True`, also joins 239.255.255.250 on the
loopback interface at port 3702 so multicast probes sent through `lo` reach it.

>>> device = SimulatedDevice(xaddrs="http://127.0.0.1:8080/onvif/device_service", scopes=onvif_scopes(name="Gate"))
>>> async with WsDiscoveryResponder([device]) as responder:
...     found = [d async for d in discover(targets=[f"127.0.0.1:{responder.port}"], multicast=False)]
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

import defusedxml.ElementTree as safe_xml

from vms.cameras.devices.wsdiscovery import (
    PROBE_ACTION,
    PROBE_MATCHES_ACTION,
    SOAP_ENV,
    TYPE_NAMESPACES,
    WS_DISCOVERY_GROUP,
    WS_DISCOVERY_PORT,
    WSA,
    WSD,
)


def onvif_scopes(
    *,
    name: str | None = None,
    hardware: str | None = None,
    manufacturer: str | None = None,
    location: str | None = None,
) -> tuple[str, ...]:
    """ONVIF scope URIs for a camera, percent-encoded as devices send them."""
    scopes = ["onvif://www.onvif.org/type/video_encoder", "onvif://www.onvif.org/Profile/Streaming"]
    for category, value in (("name", name), ("hardware", hardware), ("mfr", manufacturer), ("location", location)):
        if value is not None:
            scopes.append(f"onvif://www.onvif.org/{category}/{quote(value, safe='')}")
    return tuple(scopes)


@dataclass(frozen=True)
class SimulatedDevice:
    """One camera as WS-Discovery sees it: where its device service is and what its scopes say."""

    xaddrs: str  # space-separated device-service URLs
    scopes: tuple[str, ...] = ()
    endpoint: str = field(default_factory=lambda: f"urn:uuid:{uuid.uuid4()}")
    types: str = "dn:NetworkVideoTransmitter tds:Device"
    metadata_version: int = 1


def probe_matches_message(devices: Sequence[SimulatedDevice], *, relates_to: str) -> bytes:
    """A ProbeMatches for `devices` answering the probe `relates_to` (a rogue can use it with any id)."""
    namespaces = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in TYPE_NAMESPACES.items())
    matches = "".join(
        "<d:ProbeMatch>"
        f"<a:EndpointReference><a:Address>{escape(device.endpoint)}</a:Address></a:EndpointReference>"
        f"<d:Types>{escape(device.types)}</d:Types>"
        f"<d:Scopes>{escape(' '.join(device.scopes))}</d:Scopes>"
        f"<d:XAddrs>{escape(device.xaddrs)}</d:XAddrs>"
        f"<d:MetadataVersion>{device.metadata_version}</d:MetadataVersion>"
        "</d:ProbeMatch>"
        for device in devices
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP_ENV}" xmlns:a="{WSA}" xmlns:d="{WSD}" {namespaces}>'
        "<s:Header>"
        f"<a:MessageID>urn:uuid:{uuid.uuid4()}</a:MessageID>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        f"<a:To>{WSA}/role/anonymous</a:To>"
        f"<a:Action>{PROBE_MATCHES_ACTION}</a:Action>"
        "</s:Header>"
        f"<s:Body><d:ProbeMatches>{matches}</d:ProbeMatches></s:Body>"
        "</s:Envelope>"
    ).encode()


def read_probe(datagram: bytes) -> tuple[str, list[str]] | None:
    """(MessageID, local names of the probed Types) of a Probe; None for anything else."""
    try:
        root = safe_xml.fromstring(datagram, forbid_dtd=True)
    except (safe_xml.ParseError, ValueError, LookupError):
        return None
    message_id = root.findtext(f"{{{SOAP_ENV}}}Header/{{{WSA}}}MessageID")
    action = root.findtext(f"{{{SOAP_ENV}}}Header/{{{WSA}}}Action")
    probe = root.find(f"{{{SOAP_ENV}}}Body/{{{WSD}}}Probe")
    if not message_id or probe is None or (action and action.strip() != PROBE_ACTION):
        return None
    types = (probe.findtext(f"{{{WSD}}}Types") or "").split()
    return message_id.strip(), [name.rpartition(":")[2] for name in types]


class WsDiscoveryResponder:
    """Answers WS-Discovery Probes for its devices; `port`, `probes_answered` and `probe_sources` for tests."""

    def __init__(
        self,
        devices: Sequence[SimulatedDevice],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        multicast: bool = False,
        group: str = WS_DISCOVERY_GROUP,
        multicast_port: int = WS_DISCOVERY_PORT,
    ) -> None:
        self.devices = list(devices)
        self.host = host
        self.port = port
        self.multicast = multicast
        self.group = group
        self.multicast_port = multicast_port
        self.probes_answered = 0
        self.probes_ignored = 0  # not a Probe, or a Probe for types no device offers
        self.probe_sources: list[tuple[str, int]] = []
        self.probed = asyncio.Event()  # set once a probe has been answered
        self._transports: list[asyncio.DatagramTransport] = []
        self._unicast: asyncio.DatagramTransport | None = None

    async def __aenter__(self) -> WsDiscoveryResponder:
        loop = asyncio.get_running_loop()
        unicast = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        unicast.setblocking(False)
        unicast.bind((self.host, self.port))
        self.port = unicast.getsockname()[1]
        self._unicast, _ = await loop.create_datagram_endpoint(lambda: _Answerer(self), sock=unicast)
        self._transports.append(self._unicast)
        if self.multicast:
            try:
                group_socket = self._multicast_socket()
            except OSError:
                await self.aclose()
                raise
            transport, _ = await loop.create_datagram_endpoint(lambda: _Answerer(self), sock=group_socket)
            self._transports.append(transport)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop answering and release the sockets (group membership ends with the socket)."""
        for transport in self._transports:
            transport.close()
        self._transports.clear()
        await asyncio.sleep(0)  # the transports close their sockets on the next loop turn

    def _multicast_socket(self) -> socket.socket:
        # Bound to the group address, not 0.0.0.0: it hears only the group, and only on the interface
        # it joined (the host's). SO_REUSEADDR/SO_REUSEPORT let it share 3702 with other listeners.
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if hasattr(socket, "SO_REUSEPORT"):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((self.group, self.multicast_port))
            membership = struct.pack("=4s4s", socket.inet_aton(self.group), socket.inet_aton(self.host))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        except OSError:
            sock.close()
            raise
        return sock

    def _answer(self, datagram: bytes, sender: tuple[str, int]) -> None:
        probe = read_probe(datagram)
        if probe is None or self._unicast is None:
            self.probes_ignored += 1
            return
        message_id, probed_types = probe
        wanted = set(probed_types)
        matching = [
            device for device in self.devices if wanted <= {name.rpartition(":")[2] for name in device.types.split()}
        ]  # a Probe matches a device that has every probed type; no Types matches every device
        if not matching:
            self.probes_ignored += 1
            return
        self.probes_answered += 1
        self.probe_sources.append(sender)
        self.probed.set()
        for device in matching:  # one datagram per device, as separate cameras would answer
            with contextlib.suppress(OSError):
                self._unicast.sendto(probe_matches_message([device], relates_to=message_id), sender)


class _Answerer(asyncio.DatagramProtocol):
    def __init__(self, responder: WsDiscoveryResponder) -> None:
        self.responder = responder

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.responder._answer(data, addr)
