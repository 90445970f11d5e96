"""ONVIF WS-Discovery client: probe the LAN (multicast) and chosen hosts (directed unicast) for cameras.

ONVIF devices answer a WS-Discovery Probe (SOAP 1.2 over UDP, WS-Addressing 2004/08) for the type
`dn:NetworkVideoTransmitter` with a ProbeMatches naming their device-service URL (XAddrs) and scopes
(name, hardware, manufacturer, location). Multicast reaches only the local segment; routed subnets
need directed probes to each address, which is what `targets` is for.

>>> stats = DiscoveryStats()
>>> async with contextlib.aclosing(discover(targets=["10.0.5.20"], stats=stats)) as found:
...     async for device in found:
...         print(device.host, device.model, device.device_url)

UDP is lossy, so the probe is repeated as SOAP-over-UDP prescribes (same message, random growing
delay) and answers are deduplicated by the device's endpoint reference. Everything that arrives is
untrusted: only ProbeMatches that relate to our own MessageID count, XML is parsed by defusedxml
with DTDs refused, and anything unreadable is counted in `DiscoveryStats` and otherwise ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import re
import socket
import struct
import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import defusedxml.ElementTree as safe_xml

from vms.cameras.devices.base import DiscoveredDevice
from vms.kernel.errors import DeviceProblem, DeviceProtocolError, ValidationFailed

WS_DISCOVERY_PORT = 3702
WS_DISCOVERY_GROUP = "239.255.255.250"
NETWORK_VIDEO_TRANSMITTER = "dn:NetworkVideoTransmitter"

MAX_DATAGRAM_BYTES = 64 * 1024  # a ProbeMatches is a few KiB; anything larger is not one
MAX_TARGETS = 4096  # a /20 of directed probes; wider ranges belong to the address scanner
MAX_TIMEOUT_S = 60.0
PROBE_REPEATS = 2  # SOAP-over-UDP asks for at least one repeat; one more helps on lossy Wi-Fi bridges
MULTICAST_TTL = 1  # WS-Discovery is link-local by design: never let a probe cross a router

# SOAP-over-UDP retransmission: the first repeat after a random 50–250 ms, then doubling, at most 500 ms.
UDP_MIN_DELAY_S = 0.05
UDP_MAX_DELAY_S = 0.25
UDP_UPPER_DELAY_S = 0.5

SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
PROBE_ACTION = f"{WSD}/Probe"
PROBE_MATCHES_ACTION = f"{WSD}/ProbeMatches"
DISCOVERY_TO = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
ANONYMOUS = f"{WSA}/role/anonymous"
TYPE_NAMESPACES = {
    "dn": "http://www.onvif.org/ver10/network/wsdl",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
}

ONVIF_SCOPE_PREFIX = "onvif://www.onvif.org/"
_HOSTNAME = re.compile(r"(?=.{1,253}\.?$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(?:\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")
_TYPE_LOCAL_NAME = re.compile(r"[A-Za-z_][\w.-]*")
_MESSAGE_ID = re.compile(r"[\w:.\-{}]{1,200}")
_INBOX_SIZE = 1024  # datagrams waiting to be parsed; beyond that a flood is dropped, not buffered


@dataclass(slots=True)
class DiscoveryStats:
    """What one `discover()` run sent and received; pass one in to read it during or after the run."""

    probes_sent: int = 0
    datagrams: int = 0  # received, of any kind
    devices: int = 0  # distinct devices yielded
    duplicates: int = 0  # matches for a device already yielded (repeats, several XAddrs, several NICs)
    unrelated: int = 0  # well-formed SOAP that is not an answer to this probe (RelatesTo, action)
    unreadable: int = 0  # not XML, DTDs/entities, oversized, not a SOAP envelope
    dropped: int = 0  # arrived faster than they could be parsed
    send_errors: int = 0  # the network refused a probe (no route, interface down)
    local_port: int | None = None  # where answers are received, once the socket is open

    @property
    def ignored(self) -> int:
        """Datagrams that did not become a device: unrelated, unreadable or dropped."""
        return self.unrelated + self.unreadable + self.dropped


def probe_message(message_id: str, types: str = NETWORK_VIDEO_TRANSMITTER) -> bytes:
    """The WS-Discovery Probe for `types` (space-separated dn:/tds: QNames; empty probes for every device)."""
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ValidationFailed("A WS-Discovery MessageID is a URI such as urn:uuid:<uuid>.")
    for name in types.split():
        prefix, colon, local = name.partition(":")
        if not colon or prefix not in TYPE_NAMESPACES or not _TYPE_LOCAL_NAME.fullmatch(local):
            raise ValidationFailed(
                f"Cannot probe for the type {name[:60]!r}; use QNames with the prefix "
                f"{' or '.join(TYPE_NAMESPACES)}, such as {NETWORK_VIDEO_TRANSMITTER}."
            )
    namespaces = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in TYPE_NAMESPACES.items())
    types_element = f"<d:Types>{' '.join(types.split())}</d:Types>" if types.split() else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP_ENV}" xmlns:a="{WSA}" xmlns:d="{WSD}" {namespaces}>'
        "<s:Header>"
        f'<a:Action s:mustUnderstand="1">{PROBE_ACTION}</a:Action>'
        f"<a:MessageID>{escape(message_id)}</a:MessageID>"
        f"<a:ReplyTo><a:Address>{ANONYMOUS}</a:Address></a:ReplyTo>"
        f'<a:To s:mustUnderstand="1">{DISCOVERY_TO}</a:To>'
        "</s:Header>"
        f"<s:Body><d:Probe>{types_element}</d:Probe></s:Body>"
        "</s:Envelope>"
    ).encode()


def parse_probe_matches(datagram: bytes, *, relates_to: str, source: str | None = None) -> list[DiscoveredDevice]:
    """The devices in a ProbeMatches answering `relates_to`; [] for any other well-formed SOAP message.

    Raises DeviceProtocolError for a datagram that is not a readable SOAP envelope. With `source`
    (the sender's IP) the XAddr on that address is preferred: multi-homed devices list one per NIC.
    """
    return [device for _, device in _probe_matches(datagram, relates_to=relates_to, source=source)]


def parse_target(target: str, *, default_port: int = WS_DISCOVERY_PORT) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 address as (host, port); ValidationFailed otherwise."""
    text = target.strip()
    shown = _shown(text)
    if not text:
        raise ValidationFailed("A discovery target is empty; give a host or host:port, such as 10.0.5.20:3702.")
    if "://" in text or "/" in text or "@" in text:
        raise ValidationFailed(f"The discovery target {shown!r} is not a host; give a host or host:port, not a URL.")
    port_text: str | None = None
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValidationFailed(f"The discovery target {shown!r} is not a valid [IPv6]:port.")
        port_text = rest[1:] if rest else None
        if not _is_ip(host, version=6):
            raise ValidationFailed(f"The discovery target {shown!r} does not hold a valid IPv6 address.")
    elif text.count(":") > 1:
        host = text
        if not _is_ip(host, version=6):
            raise ValidationFailed(f"The discovery target {shown!r} is not a valid IPv6 address.")
    else:
        host, colon, rest = text.partition(":")
        port_text = rest if colon else None
        if not (_is_ip(host, version=4) or (_HOSTNAME.fullmatch(host) and not host.replace(".", "").isdigit())):
            raise ValidationFailed(f"The discovery target {shown!r} is not a valid IPv4 address or host name.")
    if port_text is None:
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValidationFailed(f"The discovery target {shown!r} has an invalid port; use 1 to 65535.")
    return host, int(port_text)


async def discover(
    *,
    targets: Sequence[str] = (),
    multicast: bool = True,
    timeout_s: float = 3.0,
    port: int = WS_DISCOVERY_PORT,
    group: str = WS_DISCOVERY_GROUP,
    interface: str | None = None,
    types: str = NETWORK_VIDEO_TRANSMITTER,
    repeats: int = PROBE_REPEATS,
    stats: DiscoveryStats | None = None,
) -> AsyncGenerator[DiscoveredDevice, None]:
    """Probe, then yield each distinct device as its answer arrives, until `timeout_s` has passed.

    `targets` get directed probes (port `port` unless given); `multicast` probes `group` on the
    interface `interface` (an IPv4 address or a name such as eth0; the default route's otherwise).
    Stopping early is fine: wrap in `contextlib.aclosing` so the socket closes at once.
    """
    _check_options(timeout_s=timeout_s, port=port, repeats=repeats, group=group if multicast else None)
    endpoints = [parse_target(target, default_port=port) for target in targets]
    if len(endpoints) > MAX_TARGETS:
        raise ValidationFailed(f"{len(endpoints)} discovery targets is too many; probe at most {MAX_TARGETS} at once.")
    if not endpoints and not multicast:
        raise ValidationFailed("Nothing to probe: give targets, or allow multicast discovery.")
    multicast_if = _multicast_interface(interface) if multicast and interface is not None else None
    message_id = f"urn:uuid:{uuid.uuid4()}"
    message = probe_message(message_id, types)
    stats = stats if stats is not None else DiscoveryStats()

    loop = asyncio.get_running_loop()
    destinations = [await _resolve(loop, host, target_port) for host, target_port in endpoints]
    if multicast:
        destinations.append((socket.AF_INET, (group, port)))
    inbox = _Inbox(stats)
    transports: dict[int, asyncio.DatagramTransport] = {}
    sender: asyncio.Task[None] | None = None
    try:
        for family in sorted({family for family, _ in destinations}):
            loopback_only = all(_is_loopback(address[0]) for fam, address in destinations if fam == family)
            sock = _open_socket(family, multicast_if=multicast_if, loopback_only=loopback_only and not multicast)
            transport, _ = await loop.create_datagram_endpoint(lambda: inbox, sock=sock)
            transports[family] = transport
            if family == socket.AF_INET or stats.local_port is None:
                stats.local_port = sock.getsockname()[1]
        sender = asyncio.create_task(_send_probes(transports, destinations, message, repeats, stats))
        deadline = loop.time() + timeout_s
        seen: set[str] = set()
        while (remaining := deadline - loop.time()) > 0:
            try:
                datagram, sender_address = await asyncio.wait_for(inbox.queue.get(), remaining)
            except TimeoutError:
                break
            try:
                matches = _probe_matches(datagram, relates_to=message_id, source=str(sender_address[0]))
            except DeviceProtocolError:
                stats.unreadable += 1
                continue
            if not matches:
                stats.unrelated += 1
                continue
            for endpoint, device in matches:
                if endpoint in seen:
                    stats.duplicates += 1
                    continue
                seen.add(endpoint)
                stats.devices += 1
                yield device
    finally:
        if sender is not None:
            sender.cancel()
        for transport in transports.values():
            transport.close()


class _Inbox(asyncio.DatagramProtocol):
    """Hands received datagrams to the `discover()` loop; parsing happens there, outside the callback."""

    def __init__(self, stats: DiscoveryStats) -> None:
        self.stats = stats
        self.queue: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue(maxsize=_INBOX_SIZE)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.stats.datagrams += 1
        if self.queue.full():
            self.stats.dropped += 1
        else:
            self.queue.put_nowait((data, addr))

    def error_received(self, exc: Exception) -> None:
        # No route, interface down, ICMP unreachable: one target failing must not end the others.
        self.stats.send_errors += 1


async def _send_probes(
    transports: dict[int, asyncio.DatagramTransport],
    destinations: list[tuple[int, tuple[Any, ...]]],
    message: bytes,
    repeats: int,
    stats: DiscoveryStats,
) -> None:
    """Send the probe to every destination, then repeat the identical message with SOAP-over-UDP delays."""
    delay = random.uniform(UDP_MIN_DELAY_S, UDP_MAX_DELAY_S)
    for attempt in range(repeats + 1):
        if attempt:
            await asyncio.sleep(delay)
            delay = min(delay * 2, UDP_UPPER_DELAY_S)
        for sent, (family, address) in enumerate(destinations, start=1):
            transports[family].sendto(message, address)
            stats.probes_sent += 1
            if sent % 256 == 0:
                await asyncio.sleep(0)  # let answers in while a long target list goes out


def _probe_matches(datagram: bytes, *, relates_to: str, source: str | None) -> list[tuple[str, DiscoveredDevice]]:
    """(endpoint reference, device) for each usable ProbeMatch; see `parse_probe_matches`."""
    if len(datagram) > MAX_DATAGRAM_BYTES:
        raise DeviceProtocolError(f"A discovery answer of {len(datagram)} bytes is too large to be a ProbeMatches.")
    try:
        root = safe_xml.fromstring(datagram, forbid_dtd=True)
    except (safe_xml.ParseError, ValueError, LookupError) as exc:  # ValueError covers defusedxml's refusals
        raise DeviceProtocolError(f"A discovery answer is not readable XML ({type(exc).__name__}).") from None
    if _local(root.tag) != "Envelope":
        raise DeviceProtocolError("A discovery answer is not a SOAP envelope.")
    header, body = _child(root, "Header"), _child(root, "Body")
    if header is None or body is None:
        raise DeviceProtocolError("A discovery answer lacks a SOAP header or body.")
    action = _text(_child(header, "Action"))
    if _text(_child(header, "RelatesTo")) != relates_to or (action and action != PROBE_MATCHES_ACTION):
        return []
    container = _child(body, "ProbeMatches")
    if container is None:
        return []
    found: list[tuple[str, DiscoveredDevice]] = []
    for match in _children(container, "ProbeMatch"):
        xaddr = _pick_xaddr(_text(_child(match, "XAddrs")).split(), source)
        if xaddr is None:
            continue  # no usable XAddr: nothing to connect to (a WS-Discovery Resolve is not worth it for ONVIF)
        endpoint_reference = _child(match, "EndpointReference")
        endpoint = _text(_child(endpoint_reference, "Address")) if endpoint_reference is not None else ""
        url = urlsplit(xaddr)
        scopes = tuple(_text(_child(match, "Scopes")).split())
        device = DiscoveredDevice(
            host=url.hostname or "",
            kind="onvif",
            via="ws-discovery",
            ports=(url.port or (443 if url.scheme == "https" else 80),),
            manufacturer=_scope_value(scopes, "mfr", "manufacturer"),
            model=_scope_value(scopes, "hardware"),
            device_url=xaddr,
            scopes=scopes,
            name=_scope_value(scopes, "name"),
        )
        found.append((endpoint or xaddr, device))
    return found


def _pick_xaddr(xaddrs: list[str], source: str | None) -> str | None:
    """The XAddr on the sender's address when there is one, else the first usable one."""
    usable = []
    for xaddr in xaddrs:
        try:
            url = urlsplit(xaddr)
            url.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError:
            continue
        if url.scheme in ("http", "https") and url.hostname:
            usable.append((url.hostname, xaddr))
    for host, xaddr in usable:
        if source is not None and host == source:
            return xaddr
    return usable[0][1] if usable else None


def _scope_value(scopes: Sequence[str], *categories: str) -> str | None:
    """The percent-decoded value of the first onvif://www.onvif.org/<category>/<value> scope."""
    for scope in scopes:
        if not scope.lower().startswith(ONVIF_SCOPE_PREFIX):
            continue
        category, slash, value = scope[len(ONVIF_SCOPE_PREFIX) :].partition("/")
        if slash and category.lower() in categories:
            cleaned = "".join(ch for ch in unquote(value) if ch.isprintable()).strip()[:128]
            if cleaned:
                return cleaned
    return None


def _local(tag: str) -> str:
    """An element's name without its namespace: devices disagree on SOAP 1.1/1.2 and on prefixes."""
    return tag.rpartition("}")[2]


def _children(parent: Element, name: str) -> list[Element]:
    return [child for child in parent if isinstance(child.tag, str) and _local(child.tag) == name]


def _child(parent: Element | None, name: str) -> Element | None:
    if parent is None:
        return None
    found = _children(parent, name)
    return found[0] if found else None


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _check_options(*, timeout_s: float, port: int, repeats: int, group: str | None) -> None:
    if not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise ValidationFailed(f"The discovery timeout must be above 0 and at most {MAX_TIMEOUT_S:g} seconds.")
    if not 1 <= port <= 65535:
        raise ValidationFailed("The WS-Discovery port must be between 1 and 65535.")
    if not 0 <= repeats <= 5:
        raise ValidationFailed("Repeat a discovery probe 0 to 5 times.")
    if group is not None:
        try:
            multicast_group = ipaddress.IPv4Address(group).is_multicast
        except ValueError:
            multicast_group = False
        if not multicast_group:
            raise ValidationFailed(
                f"{group[:60]!r} is not an IPv4 multicast group (WS-Discovery uses 239.255.255.250)."
            )


def _multicast_interface(interface: str) -> tuple[bytes, str | None]:
    """The IP_MULTICAST_IF value for an interface address or name, and the address to bind to."""
    try:
        address = ipaddress.IPv4Address(interface)
    except ValueError:
        pass
    else:
        return address.packed, str(address)
    if not interface or len(interface) > 15:
        raise ValidationFailed(f"{interface[:60]!r} is neither an IPv4 address nor a network interface name.")
    try:
        index = socket.if_nametoindex(interface)
    except OSError:
        raise ValidationFailed(f"There is no network interface {interface!r} on this server.") from None
    # struct ip_mreqn {multiaddr, address, ifindex}: Linux picks the interface by index.
    return struct.pack("=4s4si", bytes(4), bytes(4), index), None


def _open_socket(family: int, *, multicast_if: tuple[bytes, str | None] | None, loopback_only: bool) -> socket.socket:
    """A non-blocking UDP socket on an ephemeral port, set up for link-local multicast probes."""
    if family == socket.AF_INET:
        bind_host = multicast_if[1] if multicast_if and multicast_if[1] else ("127.0.0.1" if loopback_only else "")
    else:
        bind_host = "::1" if loopback_only else ""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        if family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, MULTICAST_TTL)
            if multicast_if is not None:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, multicast_if[0])
        sock.bind((bind_host, 0))
    except OSError as exc:
        sock.close()
        where = f" on {bind_host}" if bind_host else ""
        raise DeviceProblem(f"Cannot open a UDP socket{where} for discovery: {exc.strerror or exc}.") from None
    return sock


async def _resolve(loop: asyncio.AbstractEventLoop, host: str, port: int) -> tuple[int, tuple[Any, ...]]:
    """(address family, socket address) for a target; names resolve once, before any probe is sent."""
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError):
        raise ValidationFailed(f"The discovery target {host!r} cannot be resolved to an address.") from None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)  # IPv4 first: cameras rarely speak IPv6 only
    family, _, _, _, address = infos[0]
    return int(family), tuple(address)


def _is_ip(text: str, *, version: int) -> bool:
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(text).version == version
    return False


def _is_loopback(host: Any) -> bool:
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(str(host).partition("%")[0]).is_loopback
    return False


def _shown(text: str) -> str:
    """A target as safe to repeat in a message: what follows any user:password@ part, shortened."""
    return text.rpartition("@")[2][:80]
