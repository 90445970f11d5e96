"""The ONVIF adapter against the ONVIF device simulator, and against servers that answer badly."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.simulators.onvif_device import OnvifDeviceSimulator, SimAccessPoint, SimProfile, SimRecording
from vms.cameras.devices import soap
from vms.cameras.devices.base import DeviceAddress, DeviceCredentials, PtzVector, adapter_class, open_device
from vms.cameras.devices.onvif import OnvifAdapter
from vms.kernel.errors import (
    DeviceCredentialsRefused,
    DeviceProtocolError,
    DeviceUnreachable,
    DeviceUnsupported,
    ValidationFailed,
)

PASSWORD = "s3cret-pw"
CREDENTIALS = DeviceCredentials("admin", PASSWORD)
MOTION = "tns1:RuleEngine/CellMotionDetector/Motion"


@asynccontextmanager
async def connected(
    credentials: DeviceCredentials = CREDENTIALS, **device: Any
) -> AsyncIterator[tuple[OnvifDeviceSimulator, OnvifAdapter]]:
    """A simulated device configured by `device`, and the adapter talking to it."""
    async with (
        OnvifDeviceSimulator(password=PASSWORD, **device) as sim,
        OnvifAdapter(sim.address, credentials, timeout_s=3.0) as camera,
    ):
        yield sim, camera


def recording(token: str, day: int) -> SimRecording:
    start = datetime(2024, 5, day, 8, tzinfo=UTC)
    return SimRecording(token, f"Camera {day}", start, start + timedelta(hours=10), f"rtsp://127.0.0.1:58554/{token}")


# -- SOAP building blocks -------------------------------------------------------------------------


def test_password_digest_is_base64_of_sha1_of_nonce_created_password() -> None:
    nonce = bytes(range(16))
    created = "2024-05-01T12:00:00.000Z"
    expected = base64.b64encode(hashlib.sha1(nonce + b"2024-05-01T12:00:00.000Z" + b"s3cret-pw").digest()).decode()
    assert soap.password_digest(nonce, created, PASSWORD) == expected
    assert soap.password_digest(nonce, created, "other") != expected


def test_security_header_carries_the_digest_nonce_and_created_but_not_the_password() -> None:
    nonce = b"0123456789abcdef"
    header = soap.security_header(CREDENTIALS, now=datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC), nonce=nonce)
    assert "<wsu:Created>2024-05-01T12:00:00.250Z</wsu:Created>" in header
    assert base64.b64encode(nonce).decode() in header
    assert soap.password_digest(nonce, "2024-05-01T12:00:00.250Z", PASSWORD) in header
    assert PASSWORD not in header


def test_durations_are_written_and_read_as_xs_duration() -> None:
    assert soap.format_duration(1.5) == "PT1.5S"
    assert soap.format_duration(60) == "PT60S"
    assert soap.parse_duration("PT1M30S") == 90
    assert soap.parse_duration("P1DT2H") == 93600
    assert soap.parse_duration("soon") is None


def test_a_fault_with_an_ordinary_subcode_is_a_protocol_error_naming_it() -> None:
    fault = (
        f'<s:Envelope xmlns:s="{soap.NS_SOAP12}" xmlns:ter="{soap.NS_ERROR}"><s:Body><s:Fault><s:Code>'
        "<s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:InvalidArgVal</s:Value></s:Subcode></s:Code>"
        "<s:Reason><s:Text>Bad profile</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"
    ).encode()
    with pytest.raises(DeviceProtocolError, match=r"InvalidArgVal.*Bad profile"):
        soap.parse_response(fault, where="The camera at x:80", operation="GetProfiles")


def test_the_adapter_is_registered_as_onvif() -> None:
    assert adapter_class("onvif") is OnvifAdapter
    device = open_device("onvif", DeviceAddress("10.0.0.7"), CREDENTIALS)
    assert isinstance(device, OnvifAdapter)
    assert device.device_url == "http://10.0.0.7:80/onvif/device_service"


def test_from_url_takes_a_discovery_xaddr_and_refuses_an_unusable_one() -> None:
    device = OnvifAdapter.from_url("http://10.0.0.7:8080/onvif/device_service", CREDENTIALS)
    assert (device.address, device.device_path) == (DeviceAddress("10.0.0.7", 8080), "/onvif/device_service")
    with pytest.raises(ValidationFailed):
        OnvifAdapter.from_url("rtsp://10.0.0.7/stream", CREDENTIALS)
    with pytest.raises(ValidationFailed):
        OnvifAdapter.from_url("http://admin:pw@10.0.0.7/onvif/device_service", CREDENTIALS)


# -- device service -------------------------------------------------------------------------------


async def test_device_information_round_trip() -> None:
    async with connected(manufacturer="Acme", model="Dome-9") as (sim, camera):
        info = await camera.device_info()
    assert (info.manufacturer, info.model, info.firmware, info.serial) == ("Acme", "Dome-9", "1.0.0", "SIM0001")
    assert sim.auth_failures == []


async def test_services_map_namespaces_to_service_addresses() -> None:
    async with connected() as (sim, camera):
        services = await camera.services()
        base = sim.address.base_url
        assert services[soap.NS_DEVICE] == f"{base}/onvif/device_service"
        assert services[soap.NS_MEDIA2] == f"{base}/onvif/media2_service"
        assert services[soap.NS_PTZ] == f"{base}/onvif/ptz_service"
        assert soap.NS_SEARCH not in services  # no Profile G on this device


async def test_a_device_without_get_services_is_read_through_get_capabilities() -> None:
    async with connected(get_services=False, media2=False) as (sim, camera):
        services = await camera.services()
        profiles = await camera.stream_profiles()
        assert services[soap.NS_MEDIA] == f"{sim.address.base_url}/onvif/media_service"
        assert soap.NS_EVENTS in services and soap.NS_PTZ in services
        assert [p.role for p in profiles] == ["main", "sub"]
        assert "GetCapabilities" in sim.calls


async def test_xaddrs_on_a_private_address_are_rewritten_to_where_the_device_was_reached() -> None:
    async with connected(xaddr_host="192.168.0.64", xaddr_port=80) as (sim, camera):
        services = await camera.services()
        profiles = await camera.stream_profiles()
    assert services[soap.NS_MEDIA2] == f"{sim.address.base_url}/onvif/media2_service"
    assert all("192.168.0.64" not in url for url in services.values())
    assert profiles[0].rtsp_url == "rtsp://127.0.0.1:58554/cam1"


# -- media profiles -------------------------------------------------------------------------------


async def test_profile_s_device_lists_h264_profiles_by_resolution_with_roles() -> None:
    profiles = [
        SimProfile("p_sub", "Sub", "rtsp://127.0.0.1:58554/cam2", width=640, height=360, fps=15, bitrate_kbps=512),
        SimProfile("p_main", "Main", "rtsp://127.0.0.1:58554/cam1"),
        SimProfile("p_mjpeg", "Snap", "rtsp://127.0.0.1:58554/cam4", width=320, height=240, encoding="JPEG"),
    ]
    async with connected(media2=False, profiles=profiles) as (_sim, camera):
        assert soap.NS_MEDIA2 not in await camera.services()
        found = await camera.stream_profiles()
    assert [(p.token, p.role) for p in found] == [("p_main", "main"), ("p_sub", "sub"), ("p_mjpeg", "other")]
    main, sub, snap = found
    assert (main.codec, main.width, main.height, main.fps, main.bitrate_kbps) == ("h264", 1920, 1080, 25.0, 4096)
    assert (sub.codec, sub.width, sub.height, sub.rtsp_url) == ("h264", 640, 360, "rtsp://127.0.0.1:58554/cam2")
    assert snap.codec == "mjpeg"


async def test_profile_t_device_reports_h265_through_media2() -> None:
    profiles = [
        SimProfile("t_main", "Main", "rtsp://127.0.0.1:58554/cam3", width=2560, height=1440, encoding="H265"),
        SimProfile("t_sub", "Sub", "rtsp://127.0.0.1:58554/cam2", width=640, height=360),
    ]
    async with connected(profiles=profiles) as (_sim, camera):
        found = await camera.stream_profiles()
    # Media ver10 cannot describe H.265 (the simulator leaves it out there, as devices do): this came from media2.
    assert [(p.token, p.role, p.codec) for p in found] == [("t_main", "main", "hevc"), ("t_sub", "sub", "h264")]
    assert (found[0].width, found[0].height, found[0].rtsp_url) == (2560, 1440, "rtsp://127.0.0.1:58554/cam3")


@pytest.mark.parametrize("media2", [True, False], ids=["media2", "media1"])
async def test_stream_uris_never_carry_the_credentials_the_device_embeds(media2: bool) -> None:
    async with connected(uri_credentials=True, media2=media2) as (_sim, camera):
        found = await camera.stream_profiles()
    assert [p.rtsp_url for p in found] == ["rtsp://127.0.0.1:58554/cam1", "rtsp://127.0.0.1:58554/cam2"]


# -- PTZ ------------------------------------------------------------------------------------------


async def test_ptz_moves_and_reports_status() -> None:
    async with connected() as (sim, camera):
        ptz = await camera.ptz()
        await ptz.continuous_move(PtzVector(pan=0.5, tilt=-0.25, zoom=0.0), timeout_s=2.5)
        assert (sim.ptz_velocity, sim.ptz_timeout_s) == ((0.5, -0.25, 0.0), 2.5)
        assert (await ptz.status()).moving is True
        await ptz.stop()
        assert (await ptz.status()).moving is False

        await ptz.absolute_move(PtzVector(pan=0.25, tilt=0.5, zoom=0.75), speed=0.5)
        assert sim.ptz_position == (0.25, 0.5, 0.75)
        await ptz.relative_move(PtzVector(pan=-0.5, tilt=0.25, zoom=-0.25))
        assert sim.ptz_position == (-0.25, 0.75, 0.5)
        status = await ptz.status()
        assert status.position == PtzVector(pan=-0.25, tilt=0.75, zoom=0.5)


async def test_ptz_presets_set_list_goto_remove() -> None:
    async with connected() as (sim, camera):
        ptz = await camera.ptz("profile_main")
        await ptz.absolute_move(PtzVector(pan=0.5, tilt=0.5, zoom=0.5))
        gate = await ptz.set_preset("Gate")
        await ptz.absolute_move(PtzVector(pan=-0.5, tilt=0.0, zoom=0.0))
        door = await ptz.set_preset("Door")
        assert await ptz.presets() == [gate, door]

        await ptz.goto_preset(gate.token, speed=1.0)
        assert sim.ptz_position == (0.5, 0.5, 0.5)
        renamed = await ptz.set_preset("Gate east", token=gate.token)  # overwrite at the current position
        assert renamed.token == gate.token and sim.presets[gate.token][0] == "Gate east"

        await ptz.remove_preset(door.token)
        assert [p.token for p in await ptz.presets()] == [gate.token]
        with pytest.raises(DeviceUnsupported, match="NoToken"):
            await ptz.goto_preset(door.token)


async def test_ptz_refuses_out_of_range_moves_before_calling_the_device() -> None:
    async with connected() as (sim, camera):
        ptz = await camera.ptz()
        calls = len(sim.calls)
        with pytest.raises(ValidationFailed, match="pan and tilt"):
            await ptz.continuous_move(PtzVector(pan=1.5))
        with pytest.raises(ValidationFailed, match="zoom"):
            await ptz.absolute_move(PtzVector(zoom=-0.5))
        with pytest.raises(ValidationFailed, match="speed"):
            await ptz.goto_preset("x", speed=2.0)
        with pytest.raises(ValidationFailed, match="timeout"):
            await ptz.continuous_move(PtzVector(pan=0.5), timeout_s=-1)
        assert len(sim.calls) == calls


async def test_no_ptz_service_or_no_ptz_profile_is_unsupported() -> None:
    async with connected(ptz=False) as (sim, camera):
        with pytest.raises(DeviceUnsupported, match="PTZ"):
            await camera.ptz()
    assert sim.calls == ["GetSystemDateAndTime", "GetServices"]  # told from the service list, no PTZ call tried
    fixed = [SimProfile("fixed", "Fixed", "rtsp://127.0.0.1:58554/cam1", ptz=False)]
    async with connected(profiles=fixed) as (_sim, camera):
        with pytest.raises(DeviceUnsupported, match="PTZ configuration"):
            await camera.ptz()
        with pytest.raises(DeviceUnsupported, match="PTZ configuration"):
            await camera.ptz("fixed")
        with pytest.raises(DeviceUnsupported, match="no media profile 'nope'"):
            await camera.ptz("nope")


# -- events ---------------------------------------------------------------------------------------


async def test_pull_events_returns_what_the_device_emits_and_unsubscribes() -> None:
    async with connected() as (sim, camera):
        pulling = asyncio.create_task(camera.pull_events(wait_s=3.0))
        await sim.wait_for_subscription()
        sim.emit_event(MOTION, {"IsMotion": "true"}, source={"VideoSourceConfigurationToken": "vsc0", "Rule": "r1"})
        events = await pulling
        assert sim.subscriptions == {}  # unsubscribed
    assert len(events) == 1
    event = events[0]
    assert event.topic == "RuleEngine/CellMotionDetector/Motion"
    assert event.data == {"IsMotion": "true"}
    assert event.source == {"VideoSourceConfigurationToken": "vsc0", "Rule": "r1"}
    assert event.property_operation == "Changed"
    assert abs((event.time - datetime.now(UTC)).total_seconds()) < 10
    assert "Unsubscribe" in sim.calls


async def test_a_long_lived_subscription_pulls_repeatedly_with_reference_parameters() -> None:
    # Axis-style devices tell subscriptions apart by ReferenceParameters echoed back as SOAP headers.
    async with connected(subscription_style="reference") as (sim, camera):
        async with await camera.subscribe_events(termination_s=30) as subscription:
            assert await subscription.pull(wait_s=0.2) == []
            for n in range(3):
                sim.emit_event("tns1:VideoSource/MotionAlarm", {"State": str(n)})
            first = await subscription.pull(wait_s=1, limit=2)
            rest = await subscription.pull(wait_s=1)
            assert [e.data["State"] for e in first + rest] == ["0", "1", "2"]
            assert first[0].topic == "VideoSource/MotionAlarm"
        assert subscription.closed and sim.subscriptions == {}
        with pytest.raises(ValidationFailed):
            await subscription.pull()


async def test_events_unsupported_without_an_event_service() -> None:
    async with connected(events=False) as (_sim, camera):
        with pytest.raises(DeviceUnsupported, match="event"):
            await camera.pull_events()


# -- Profile G and Profile A ----------------------------------------------------------------------


async def test_recordings_found_through_search_with_time_spans_and_replay_uri() -> None:
    recordings = [recording("rec1", 1), recording("rec2", 2), recording("rec3", 3)]  # two search batches
    async with connected(recordings=recordings, uri_credentials=True) as (sim, camera):
        found = await camera.recordings()
        uri = await camera.replay_uri("rec2")
        with pytest.raises(DeviceUnsupported, match="NoRecording"):
            await camera.replay_uri("missing")
    assert [r.token for r in found] == ["rec1", "rec2", "rec3"]
    assert found[1].source_name == "Camera 2"
    assert found[1].earliest == datetime(2024, 5, 2, 8, tzinfo=UTC)
    assert found[1].latest == datetime(2024, 5, 2, 18, tzinfo=UTC)
    assert uri == "rtsp://127.0.0.1:58554/rec2"
    assert sim.calls.count("GetRecordingSearchResults") == 2 and "EndSearch" in sim.calls


async def test_recordings_fall_back_to_the_recording_service_without_search() -> None:
    recordings = [recording("rec1", 1)]
    async with connected(recordings=recordings, recording_search=False) as (_sim, camera):
        found = await camera.recordings()
    assert [(r.token, r.source_name, r.earliest) for r in found] == [("rec1", "Camera 1", None)]


async def test_recordings_unsupported_without_profile_g() -> None:
    async with connected() as (_sim, camera):
        with pytest.raises(DeviceUnsupported, match="Profile G"):
            await camera.recordings()
        with pytest.raises(DeviceUnsupported, match="replay"):
            await camera.replay_uri("rec1")


async def test_access_points_are_read_across_pages() -> None:
    points = [SimAccessPoint(f"ap{n}", f"Door {n}", f"door{n}", "Reader") for n in range(1, 6)]
    async with connected(access_points=points) as (sim, camera):
        found = await camera.access_points()
        assert sim.calls.count("GetAccessPointInfoList") == 3
    assert [(p.token, p.name, p.entity) for p in found] == [(f"ap{n}", f"Door {n}", f"door{n}") for n in range(1, 6)]


async def test_access_points_unsupported_without_profile_a() -> None:
    async with connected() as (_sim, camera):
        with pytest.raises(DeviceUnsupported, match="access control"):
            await camera.access_points()


# -- authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize("offset_s", [7200, -7200])
async def test_a_camera_clock_two_hours_off_still_authenticates(offset_s: int) -> None:
    async with connected(clock_offset_s=offset_s) as (sim, camera):
        assert (await camera.device_info()).manufacturer == "VMS Simulated"
        assert camera.clock_offset_s is not None and abs(camera.clock_offset_s - offset_s) < 5
        # Signed on our own clock instead, the same camera refuses: the offset is what made it work.
        async with httpx.AsyncClient(base_url=sim.address.base_url) as client:
            with pytest.raises(DeviceCredentialsRefused):
                await soap.call(
                    client,
                    "/onvif/device_service",
                    "<tds:GetDeviceInformation/>",
                    operation="GetDeviceInformation",
                    namespace=soap.NS_DEVICE,
                    credentials=CREDENTIALS,
                )
    assert len(sim.auth_failures) == 1 and "off the device clock" in sim.auth_failures[0]


async def test_a_replayed_nonce_is_refused() -> None:
    async with OnvifDeviceSimulator(password=PASSWORD) as sim:
        message = soap.envelope(
            "<tds:GetDeviceInformation/>", header=soap.security_header(CREDENTIALS, now=datetime.now(UTC))
        )
        async with httpx.AsyncClient(base_url=sim.address.base_url) as client:
            first = await client.post("/onvif/device_service", content=message)
            second = await client.post("/onvif/device_service", content=message)
    assert first.status_code == 200
    assert second.status_code == 400 and "NotAuthorized" in second.text
    assert sim.auth_failures == ["nonce replayed"]


@pytest.mark.parametrize("style", [400, 401], ids=["notauthorized-fault", "http-401"])
async def test_a_wrong_password_is_refused_credentials_without_repeating_it(style: int) -> None:
    async with connected(credentials=DeviceCredentials("admin", "wrong-horse"), auth_failure_status=style) as (
        sim,
        camera,
    ):
        with pytest.raises(DeviceCredentialsRefused) as caught:
            await camera.device_info()
    assert caught.value.status == 422
    assert "wrong-horse" not in str(caught.value) and PASSWORD not in str(caught.value)
    assert "wrong username or password" in sim.auth_failures


# -- devices that answer badly --------------------------------------------------------------------


@asynccontextmanager
async def canned_server(status: int = 200, body: bytes = b"", *, hang: bool = False) -> AsyncIterator[DeviceAddress]:
    """A loopback HTTP server that answers every request the same way (or never answers)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length:\s*(\d+)", head)
            await reader.readexactly(int(length.group(1)) if length else 0)
            if hang:
                await asyncio.sleep(30)
            content_type = b"text/html" if body.lstrip().startswith(b"<html") else b"application/soap+xml"
            writer.write(
                b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                % (status, content_type, len(body), body)
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield DeviceAddress("127.0.0.1", server.sockets[0].getsockname()[1])
    finally:
        server.close()


ENVELOPE = f'<s:Envelope xmlns:s="{soap.NS_SOAP12}" xmlns:tds="{soap.NS_DEVICE}"><s:Body>'
BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10) for n in range(1, 10))
    + b"]>"
    + ENVELOPE.encode()
    + b"<tds:GetDeviceInformationResponse><tds:Model>&lol9;</tds:Model></tds:GetDeviceInformationResponse>"
    + b"</s:Body></s:Envelope>"
)


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (200, b"<html><body><h1>Welcome to NetCam</h1></body></html>", "not SOAP"),
        (200, (ENVELOPE + "<tds:GetDeviceInformationResponse><tds:Manufact").encode(), "not XML"),
        (200, BOMB, "DTD"),
        (200, b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', "'rss' document"),
        (200, (ENVELOPE + "<tds:GetHostnameResponse/></s:Body></s:Envelope>").encode(), "instead of"),
        (200, (ENVELOPE + "</s:Body></s:Envelope>").encode(), "empty SOAP body"),
        (500, b"<html><body>Internal error</body></html>", "not SOAP"),
        (404, b"<html><body>Not found</body></html>", "HTTP 404"),
    ],
    ids=["html", "truncated", "entity-bomb", "not-soap-xml", "wrong-answer", "empty-body", "html-500", "404"],
)
async def test_a_device_answering_garbage_is_a_clear_protocol_error(status: int, body: bytes, reason: str) -> None:
    async with canned_server(status, body) as address, OnvifAdapter(address, CREDENTIALS, timeout_s=3) as camera:
        with pytest.raises(DeviceProtocolError, match=reason) as caught:
            await camera.device_info()
    assert caught.value.status == 422
    assert "lollol" not in str(caught.value)  # the bomb was refused, not expanded


async def test_connection_refused_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with OnvifAdapter(DeviceAddress("127.0.0.1", port), CREDENTIALS, timeout_s=2) as camera:
        with pytest.raises(DeviceUnreachable, match="could not be reached"):
            await camera.device_info()


async def test_a_device_that_never_answers_is_unreachable_within_the_timeout() -> None:
    async with canned_server(hang=True) as address, OnvifAdapter(address, CREDENTIALS, timeout_s=0.5) as camera:
        started = time.monotonic()
        with pytest.raises(DeviceUnreachable, match="in time"):
            await camera.device_info()
        assert time.monotonic() - started < 3
