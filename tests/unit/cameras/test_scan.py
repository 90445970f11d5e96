"""The IP range scanner: target parsing and its limits, fingerprints against a simulated fleet,
progress, credentials, and cancellation that leaves no socket behind.

Each test uses its own 127.x subnet so parallel runs never collide."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable

import pytest

from tests.simulators.fleet import FLEET_CREDENTIALS, DeviceFleet, Profile
from vms.cameras.devices.base import DiscoveredDevice
from vms.cameras.devices.scan import MAX_HOSTS, ScanProgress, parse_targets, scan
from vms.kernel.errors import ValidationFailed


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def settled(measure: Callable[[], int], target: int, *, within_s: float = 3.0) -> int:
    """Poll a count until it reaches the target or time runs out (aborted transports close on the next loop turn)."""
    for _ in range(int(within_s / 0.02)):
        if measure() <= target:
            break
        await asyncio.sleep(0.02)
    return measure()


# --- parse_targets --------------------------------------------------------------------------------


def test_cidr_skips_network_and_broadcast() -> None:
    hosts = parse_targets("10.1.2.0/24")
    assert len(hosts) == 254
    assert hosts[0] == "10.1.2.1" and hosts[-1] == "10.1.2.254"
    assert parse_targets("10.1.2.4/30") == ["10.1.2.5", "10.1.2.6"]


def test_tiny_cidrs_keep_every_address() -> None:
    assert parse_targets("10.1.2.4/31") == ["10.1.2.4", "10.1.2.5"]
    assert parse_targets("10.1.2.9/32") == ["10.1.2.9"]


def test_host_bits_in_a_cidr_are_forgiven() -> None:
    assert parse_targets("192.168.1.77/30") == ["192.168.1.77", "192.168.1.78"]


def test_ranges_full_and_last_octet_forms() -> None:
    assert parse_targets("10.0.0.10-10.0.0.12") == ["10.0.0.10", "10.0.0.11", "10.0.0.12"]
    assert parse_targets("10.0.0.254-10.0.1.1") == ["10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"]
    assert parse_targets("10.0.0.10-12") == ["10.0.0.10", "10.0.0.11", "10.0.0.12"]


def test_mixes_keep_order_and_drop_duplicates() -> None:
    hosts = parse_targets("10.0.0.9, 10.0.0.0/30 10.0.0.2-3;10.0.0.9\n10.0.0.1")
    assert hosts == ["10.0.0.9", "10.0.0.1", "10.0.0.2", "10.0.0.3"]


def test_a_range_too_large_is_refused_with_the_limit_and_how_to_split() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_targets("10.0.0.0/16")
    assert caught.value.status == 422
    message = caught.value.detail
    assert "65,534" in message and "1,024" in message and "/22" in message
    assert "10.0.0.0/22, 10.0.4.0/22" in message


def test_the_limit_applies_to_the_total_too() -> None:
    assert len(parse_targets("10.0.0.0/22")) == 1022  # exactly a /22 fits
    with pytest.raises(ValidationFailed, match="add up to more than 1,024"):
        parse_targets("10.0.0.0/22, 10.0.8.0/24")
    with pytest.raises(ValidationFailed, match="covers 21 addresses"):
        parse_targets("10.0.0.10-30", max_hosts=20)


@pytest.mark.parametrize(
    "text",
    ["", "  ,, ", "camera.local", "10.0.0.300", "10.0.0.0/33", "10.0.0.50-10", "10.0.0.1-foo", "10.0.0.1-10.0.0"],
)
def test_garbage_is_refused(text: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_targets(text)
    assert caught.value.status == 422
    assert "10.0.0" in caught.value.detail or "Give the addresses" in caught.value.detail  # says what is expected


@pytest.mark.parametrize("text", ["fe80::1", "2001:db8::/120", "10.0.0.1, ::1"])
def test_ipv6_is_refused_by_name(text: str) -> None:
    with pytest.raises(ValidationFailed, match="IPv6"):
        parse_targets(text)


def test_multicast_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="multicast"):
        parse_targets("239.255.255.250")


def test_oversized_text_is_refused_before_parsing() -> None:
    with pytest.raises(ValidationFailed, match="longer than"):
        parse_targets("10.0.0.1," * 5000)


# --- scan -----------------------------------------------------------------------------------------


async def test_scan_finds_exactly_the_cameras_with_kind_auth_and_maker() -> None:
    async with DeviceFleet("127.0.66.0/24", 20) as fleet:
        reports: list[ScanProgress] = []
        targets = parse_targets("127.0.66.0/27")
        found = [d async for d in scan(targets, ports=fleet.ports, timeout_s=2, progress=reports.append)]

    by_host = {device.host: device for device in found}
    assert len(by_host) == len(found), "each host is reported once"
    assert set(by_host) == {d.host for d in fleet.cameras}
    assert any(not d.is_camera for d in fleet.devices), "the fleet holds a non-camera web server"
    for expected in fleet.cameras:
        device = by_host[expected.host]
        assert (device.kind, device.requires_auth, device.manufacturer) == (
            expected.kind,
            expected.requires_auth,
            expected.manufacturer,
        ), expected.profile
        assert device.via == "scan"
        assert device.rtsp_url == f"rtsp://{expected.host}:{fleet.rtsp_port}/"
        assert set(device.ports) == {p for p in (expected.rtsp_port, expected.http_port) if p}
        if expected.profile == "onvif":
            assert (device.model, device.serial) == (expected.model, expected.serial)
            assert device.device_url == f"http://{expected.host}:{fleet.http_port}/onvif/device_service"
        if expected.profile == "dahua":
            assert (device.model, device.serial) == (expected.model, expected.serial)
    assert reports[-1].hosts_done == reports[-1].hosts_total == len(targets) == 30
    assert reports[-1].devices_found == len(found)
    assert [r.hosts_done for r in reports] == list(range(1, 31))


async def test_credentials_unlock_digest_devices_and_are_never_sent_in_clear() -> None:
    async with DeviceFleet("127.0.67.0/24", 9) as fleet:
        found = {
            d.host: d
            async for d in scan(
                parse_targets("127.0.67.1-9"), ports=fleet.ports, timeout_s=2, credentials=FLEET_CREDENTIALS
            )
        }
    profiles = {fleet.device(host).profile: device for host, device in found.items()}
    assert profiles["hikvision"].requires_auth is False
    assert profiles["hikvision"].model == "DS-2CD2143G2-I"  # the ISAPI answer behind the digest 401
    assert profiles["onvif_auth"].requires_auth is False and profiles["onvif_auth"].model == "SIM-1"
    assert profiles["rtsp_auth"].requires_auth is False
    assert profiles["rtsp_basic"].requires_auth is True  # Basic would have sent the password in clear
    assert fleet.auth_log, "credentials were used"
    assert {scheme for _, scheme in fleet.auth_log} == {"digest"}


async def test_scan_releases_every_socket_when_done() -> None:
    async with DeviceFleet("127.0.72.0/24", 9) as fleet:
        baseline = open_fds()
        found = [d async for d in scan(parse_targets("127.0.72.0/28"), ports=fleet.ports, timeout_s=2)]
        assert len(found) == len(fleet.cameras)
        assert await settled(open_fds, baseline) == baseline
        assert fleet.open_connections == 0


async def test_cancelling_the_consumer_stops_promptly_and_leaks_no_socket() -> None:
    # Tarpits accept and never answer: without cancellation this scan would take timeout_s per probe.
    profiles: tuple[Profile, ...] = ("rtsp", "tarpit", "tarpit", "tarpit")
    async with DeviceFleet("127.0.68.0/24", 40, profiles=profiles) as fleet:
        baseline = open_fds()
        found: list[DiscoveredDevice] = []
        reports: list[ScanProgress] = []
        first = asyncio.Event()

        async def consume() -> None:
            targets = parse_targets("127.0.68.0/26")
            async for device in scan(targets, ports=fleet.ports, timeout_s=30, progress=reports.append):
                found.append(device)
                first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 10)
        await asyncio.sleep(0.2)  # let probes pile up against the tarpits
        assert fleet.open_connections > 0
        started = time.monotonic()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 1.0
        assert task.cancelled()
        assert await settled(open_fds, baseline) == baseline
        assert await settled(lambda: fleet.open_connections, 0) == 0  # the devices saw every connection close
        assert found and {d.kind for d in found} == {"rtsp"}
        assert reports[-1].hosts_done < reports[-1].hosts_total == 62  # the tarpits were still being probed


async def test_breaking_out_of_the_loop_closes_everything() -> None:
    profiles: tuple[Profile, ...] = ("onvif", "tarpit")
    async with DeviceFleet("127.0.73.0/24", 20, profiles=profiles) as fleet:
        baseline = open_fds()
        started = time.monotonic()
        async with contextlib.aclosing(scan(parse_targets("127.0.73.1-20"), ports=fleet.ports, timeout_s=30)) as found:
            async for device in found:
                assert device.kind == "onvif"
                break
        assert time.monotonic() - started < 5
        assert await settled(open_fds, baseline) == baseline


async def test_a_failing_progress_callback_ends_the_scan_with_its_error() -> None:
    def explode(report: ScanProgress) -> None:
        raise RuntimeError("callback broke")

    async with DeviceFleet("127.0.74.0/24", 2) as fleet:
        with pytest.raises(RuntimeError, match="callback broke"):
            _ = [d async for d in scan(["127.0.74.1"], ports=fleet.ports, progress=explode)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ports": []}, "ports"),
        ({"ports": [0]}, "65535"),
        ({"ports": [80, 70000]}, "65535"),
        ({"timeout_s": 0}, "timeout"),
        ({"concurrency": 0}, "concurrency"),
    ],
)
async def test_bad_scan_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        _ = [d async for d in scan(["127.0.75.1"], **kwargs)]  # type: ignore[arg-type]


async def test_closed_ports_and_empty_targets_yield_nothing() -> None:
    reports: list[ScanProgress] = []
    assert [d async for d in scan([], progress=reports.append)] == []
    # 127.0.76.x has no listener: every connect is refused at once
    found = [d async for d in scan(["127.0.76.1", "127.0.76.2"], ports=[10554], progress=reports.append)]
    assert found == []
    assert reports[-1] == ScanProgress(2, 2, 0, reports[-1].elapsed_s)


def test_the_host_limit_is_a_22() -> None:
    assert MAX_HOSTS == 1024
