"""WS-Discovery: the Probe we send, the ProbeMatches we accept, and discovery against simulated cameras."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
import uuid
from collections.abc import AsyncIterator

import defusedxml.ElementTree as safe_xml
import pytest

from tests.simulators.ws_discovery import (
    SimulatedDevice,
    WsDiscoveryResponder,
    onvif_scopes,
    probe_matches_message,
)
from vms.cameras.devices.base import DiscoveredDevice
from vms.cameras.devices.wsdiscovery import (
    MAX_DATAGRAM_BYTES,
    SOAP_ENV,
    WS_DISCOVERY_GROUP,
    WS_DISCOVERY_PORT,
    WSA,
    WSD,
    DiscoveryStats,
    discover,
    parse_probe_matches,
    parse_target,
    probe_message,
)
from vms.kernel.errors import DeviceProtocolError, ValidationFailed

MESSAGE_ID = "urn:uuid:6f1a2b3c-0000-4000-8000-000000000001"


def camera(port: int = 8080, **scopes: str) -> SimulatedDevice:
    return SimulatedDevice(
        xaddrs=f"http://127.0.0.1:{port}/onvif/device_service", scopes=onvif_scopes(**scopes) if scopes else ()
    )


async def collect(devices: AsyncIterator[DiscoveredDevice]) -> list[DiscoveredDevice]:
    return [device async for device in devices]


# --- the Probe ------------------------------------------------------------------------------------------------


def test_probe_is_a_soap12_ws_discovery_probe_for_network_video_transmitters() -> None:
    root = safe_xml.fromstring(probe_message(MESSAGE_ID))

    assert root.tag == f"{{{SOAP_ENV}}}Envelope"
    assert root.findtext(f"{{{SOAP_ENV}}}Header/{{{WSA}}}MessageID") == MESSAGE_ID
    assert root.findtext(f"{{{SOAP_ENV}}}Header/{{{WSA}}}Action") == f"{WSD}/Probe"
    assert root.findtext(f"{{{SOAP_ENV}}}Header/{{{WSA}}}To") == "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
    assert root.findtext(f"{{{SOAP_ENV}}}Body/{{{WSD}}}Probe/{{{WSD}}}Types") == "dn:NetworkVideoTransmitter"
    assert b'xmlns:dn="http://www.onvif.org/ver10/network/wsdl"' in probe_message(MESSAGE_ID)


def test_probe_without_types_asks_every_device() -> None:
    root = safe_xml.fromstring(probe_message(MESSAGE_ID, types=""))
    probe = root.find(f"{{{SOAP_ENV}}}Body/{{{WSD}}}Probe")
    assert probe is not None and probe.find(f"{{{WSD}}}Types") is None


@pytest.mark.parametrize("types", ["NetworkVideoTransmitter", "evil:Thing", "dn:<script>", "dn:"])
def test_probe_refuses_types_it_cannot_declare(types: str) -> None:
    with pytest.raises(ValidationFailed, match="Cannot probe for the type"):
        probe_message(MESSAGE_ID, types=types)


# --- ProbeMatches ----------------------------------------------------------------------------------------------


def test_probe_match_becomes_a_discovered_onvif_device_with_decoded_scopes() -> None:
    device = SimulatedDevice(
        xaddrs="http://192.0.2.40:8899/onvif/device_service http://[fe80::1]/onvif/device_service",
        scopes=onvif_scopes(name="Front Door", hardware="DS-2CD2143G2-I", manufacturer="Hikvision Co."),
    )
    [found] = parse_probe_matches(probe_matches_message([device], relates_to=MESSAGE_ID), relates_to=MESSAGE_ID)

    assert found.kind == "onvif" and found.via == "ws-discovery"
    assert found.host == "192.0.2.40"
    assert found.ports == (8899,)
    assert found.device_url == "http://192.0.2.40:8899/onvif/device_service"
    assert (found.name, found.model, found.manufacturer) == ("Front Door", "DS-2CD2143G2-I", "Hikvision Co.")
    assert "onvif://www.onvif.org/name/Front%20Door" in found.scopes


def test_manufacturer_scope_may_be_spelled_out_and_missing_scopes_stay_empty() -> None:
    spelled = SimulatedDevice(xaddrs="http://192.0.2.41/onvif", scopes=("onvif://www.onvif.org/manufacturer/Axis",))
    bare = SimulatedDevice(xaddrs="https://192.0.2.42/onvif")
    first, second = parse_probe_matches(
        probe_matches_message([spelled, bare], relates_to=MESSAGE_ID), relates_to=MESSAGE_ID
    )

    assert first.manufacturer == "Axis" and first.model is None and first.ports == (80,)
    assert (second.name, second.model, second.manufacturer, second.scopes) == (None, None, None, ())
    assert second.ports == (443,)


def test_the_xaddr_on_the_senders_address_is_preferred() -> None:
    device = SimulatedDevice(xaddrs="http://10.9.0.5/onvif/device_service http://192.0.2.43/onvif/device_service")
    datagram = probe_matches_message([device], relates_to=MESSAGE_ID)

    assert parse_probe_matches(datagram, relates_to=MESSAGE_ID)[0].host == "10.9.0.5"
    assert parse_probe_matches(datagram, relates_to=MESSAGE_ID, source="192.0.2.43")[0].host == "192.0.2.43"


def test_matches_for_someone_elses_probe_are_not_ours() -> None:
    datagram = probe_matches_message([camera()], relates_to="urn:uuid:someone-else")
    assert parse_probe_matches(datagram, relates_to=MESSAGE_ID) == []


def test_a_probe_match_without_a_usable_xaddr_is_skipped() -> None:
    device = SimulatedDevice(xaddrs="soap.udp://192.0.2.44:3702 http://:99999/")
    assert parse_probe_matches(probe_matches_message([device], relates_to=MESSAGE_ID), relates_to=MESSAGE_ID) == []


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>'
)
EXTERNAL_ENTITY = b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><e>&x;</e>'
GARBAGE = [
    b"",
    b"\x00\x01 not xml at all",
    b"<unclosed",
    b'<?xml version="1.0" encoding="no-such-encoding"?><a/>',
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    b"<html><body>Not SOAP</body></html>",
    f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body/></s:Envelope>'.encode(),
    b"<" * (MAX_DATAGRAM_BYTES + 1),
]


@pytest.mark.parametrize("datagram", GARBAGE, ids=lambda d: repr(d[:24]))
def test_unreadable_datagrams_are_refused_as_protocol_errors(datagram: bytes) -> None:
    with pytest.raises(DeviceProtocolError):
        parse_probe_matches(datagram, relates_to=MESSAGE_ID)


# --- targets -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("192.0.2.7", ("192.0.2.7", 3702)),
        (" 192.0.2.7:8000 ", ("192.0.2.7", 8000)),
        ("camera-12.site.example", ("camera-12.site.example", 3702)),
        ("[2001:db8::7]:3703", ("2001:db8::7", 3703)),
        ("2001:db8::7", ("2001:db8::7", 3702)),
    ],
)
def test_targets_are_host_or_host_and_port(target: str, expected: tuple[str, int]) -> None:
    assert parse_target(target) == expected


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("", "empty"),
        ("192.0.2.7:0", "invalid port"),
        ("192.0.2.7:70000", "invalid port"),
        ("192.0.2.7:http", "invalid port"),
        ("192.0.2.300", "not a valid IPv4 address or host name"),
        ("bad_host!", "not a valid IPv4 address or host name"),
        ("-leading.example", "not a valid IPv4 address or host name"),
        ("http://192.0.2.7/onvif", "not a URL"),
        ("[2001:db8::7", "not a valid \\[IPv6\\]:port"),
        ("2001:db8:::7:::", "not a valid IPv6 address"),
    ],
)
async def test_bad_targets_are_refused_before_anything_is_sent(target: str, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        parse_target(target)
    stats = DiscoveryStats()
    with pytest.raises(ValidationFailed, match=message):
        await collect(discover(targets=["127.0.0.1", target], multicast=False, stats=stats))
    assert stats.probes_sent == 0


def test_a_password_in_a_target_is_never_repeated() -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_target("admin:s3cret@192.0.2.7")
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"multicast": False}, "Nothing to probe"),
        ({"interface": "no-such-nic0"}, "no network interface"),
        ({"group": "192.0.2.1"}, "not an IPv4 multicast group"),
        ({"timeout_s": 0}, "timeout"),
        ({"targets": ["127.0.0.1"], "port": 0}, "port"),
        ({"targets": ["no-such-host.invalid"], "multicast": False}, "cannot be resolved"),
    ],
)
async def test_bad_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        await collect(discover(**options))  # type: ignore[arg-type]


# --- discovery against simulated cameras -------------------------------------------------------------------------


async def test_unicast_probe_finds_one_camera_once_despite_repeated_answers() -> None:
    stats = DiscoveryStats()
    device = camera(port=8081, name="Lobby", hardware="IPC-HDW2431T", manufacturer="Dahua")
    async with WsDiscoveryResponder([device]) as responder:
        found = await collect(
            discover(targets=[f"127.0.0.1:{responder.port}"], multicast=False, timeout_s=1.5, stats=stats)
        )

    assert [(d.host, d.device_url, d.name, d.model, d.manufacturer) for d in found] == [
        ("127.0.0.1", "http://127.0.0.1:8081/onvif/device_service", "Lobby", "IPC-HDW2431T", "Dahua")
    ]
    assert stats.probes_sent == 3  # the probe and its two SOAP-over-UDP repeats
    assert responder.probes_answered == 3
    assert stats.duplicates == 2 and stats.devices == 1


async def test_directed_probes_find_twenty_cameras_each_with_its_own_address_and_scopes() -> None:
    devices = [camera(port=9000 + n, name=f"Cam {n:02d}", hardware=f"Model-{n}") for n in range(20)]
    async with contextlib.AsyncExitStack() as stack:
        responders = [await stack.enter_async_context(WsDiscoveryResponder([device])) for device in devices]
        targets = [f"127.0.0.1:{responder.port}" for responder in responders]
        found = await collect(discover(targets=targets, multicast=False, timeout_s=1.5))

    assert sorted((d.name, d.model, d.ports) for d in found) == [
        (f"Cam {n:02d}", f"Model-{n}", (9000 + n,)) for n in range(20)
    ]


async def test_one_responder_can_answer_for_several_cameras() -> None:
    devices = [camera(port=8100 + n, name=f"NVR channel {n}") for n in range(3)]
    async with WsDiscoveryResponder(devices) as responder:
        found = await collect(discover(targets=[f"127.0.0.1:{responder.port}"], multicast=False, timeout_s=1.0))

    assert sorted(d.name or "" for d in found) == ["NVR channel 0", "NVR channel 1", "NVR channel 2"]


async def test_devices_yield_as_they_answer_not_at_the_timeout() -> None:
    async with WsDiscoveryResponder([camera(name="Quick")]) as responder:
        started = time.monotonic()
        async with contextlib.aclosing(
            discover(targets=[f"127.0.0.1:{responder.port}"], multicast=False, timeout_s=10)
        ) as found:
            first = await anext(found)
        assert time.monotonic() - started < 5
    assert first.name == "Quick"


async def test_rogue_answers_and_garbage_are_ignored_and_counted() -> None:
    stats = DiscoveryStats()
    rogue_device = camera(port=8666, name="Impostor")
    noise = [
        b"\xff\xfe garbage",
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        b"<" * 60_000,
        probe_matches_message([rogue_device], relates_to="urn:uuid:not-your-probe"),
    ]
    rogue = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        async with WsDiscoveryResponder([camera(name="Genuine")]) as responder:
            task = asyncio.create_task(
                collect(discover(targets=[f"127.0.0.1:{responder.port}"], multicast=False, timeout_s=1.5, stats=stats))
            )
            await asyncio.wait_for(responder.probed.wait(), 5)  # the probe tells the rogue the client's port
            for datagram in noise:
                rogue.sendto(datagram, responder.probe_sources[0])
            found = await task
    finally:
        rogue.close()

    assert [d.name for d in found] == ["Genuine"]
    assert stats.unreadable == 4
    assert stats.unrelated == 1
    assert stats.ignored == 5


async def test_nothing_answering_ends_empty_at_the_timeout() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    stats = DiscoveryStats()
    try:
        started = time.monotonic()
        found = await collect(
            discover(targets=[f"127.0.0.1:{silent.getsockname()[1]}"], multicast=False, timeout_s=1.0, stats=stats)
        )
        elapsed = time.monotonic() - started
    finally:
        silent.close()

    assert found == []
    assert 0.9 < elapsed < 4
    assert stats.probes_sent == 3 and stats.devices == 0  # every repeat goes out within 0.75 s


async def test_a_probe_for_a_type_no_camera_has_finds_nothing_and_an_untyped_probe_finds_all() -> None:
    async with WsDiscoveryResponder([camera(name="Typed")]) as responder:
        target = [f"127.0.0.1:{responder.port}"]
        none = await collect(discover(targets=target, multicast=False, timeout_s=0.5, types="tds:NoSuchType"))
        every = await collect(discover(targets=target, multicast=False, timeout_s=0.5, types=""))

    assert none == []
    assert [d.name for d in every] == ["Typed"]


async def test_stopping_early_closes_the_socket() -> None:
    stats = DiscoveryStats()
    async with (
        WsDiscoveryResponder([camera(name="One"), camera(name="Two")]) as responder,
        contextlib.aclosing(
            discover(targets=[f"127.0.0.1:{responder.port}"], multicast=False, timeout_s=5, stats=stats)
        ) as found,
    ):
        async for _ in found:
            break
    await asyncio.sleep(0)  # the transport releases its socket on the next loop turn

    assert stats.local_port is not None
    again = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        again.bind(("127.0.0.1", stats.local_port))  # fails with EADDRINUSE while discovery still holds it
    finally:
        again.close()


# --- multicast on the loopback interface -------------------------------------------------------------------------


def loopback_multicast_problem() -> str | None:
    """Why multicast cannot loop through `lo` here, or None when a datagram really makes the trip."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        receiver.bind((WS_DISCOVERY_GROUP, 0))
        membership = struct.pack("=4s4s", socket.inet_aton(WS_DISCOVERY_GROUP), socket.inet_aton("127.0.0.1"))
        receiver.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        sender.sendto(b"ping", (WS_DISCOVERY_GROUP, receiver.getsockname()[1]))
        receiver.settimeout(1.0)
        receiver.recvfrom(16)
    except OSError as exc:
        return (
            f"the kernel does not carry multicast through the loopback interface here ({exc}); "
            "enabling it needs a root network change (ip link set lo multicast on), which tests must not make"
        )
    finally:
        receiver.close()
        sender.close()
    return None


async def test_multicast_probe_on_loopback_finds_the_camera() -> None:
    if problem := loopback_multicast_problem():
        pytest.skip(problem)
    stats = DiscoveryStats()
    name = f"Multicast cam {uuid.uuid4().hex[:8]}"  # unique: a parallel run's responder may answer too
    device = camera(port=8200, name=name, hardware="M-1")
    try:
        responder = WsDiscoveryResponder([device], multicast=True, multicast_port=WS_DISCOVERY_PORT)
        await responder.__aenter__()
    except OSError as exc:
        pytest.skip(f"cannot listen on the WS-Discovery port {WS_DISCOVERY_PORT} beside its current user: {exc}")
    try:
        found = await collect(discover(multicast=True, interface="127.0.0.1", timeout_s=1.5, stats=stats))
    finally:
        await responder.aclose()

    assert [d.device_url for d in found if d.name == name] == ["http://127.0.0.1:8200/onvif/device_service"]
    assert responder.probes_answered >= 3  # our probe and its repeats (more if a parallel run probes too)
    assert stats.probes_sent == 3
