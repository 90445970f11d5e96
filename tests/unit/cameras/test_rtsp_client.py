"""The minimal RTSP client and the generic RTSP adapter, against simulated cameras and against servers
that misbehave (garbage, HTTP, silence, oversized answers, refused connections).

Each test uses its own 127.x addresses so parallel runs never collide."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from tests.simulators.fleet import FLEET_CREDENTIALS, DeviceFleet
from vms.cameras.devices.base import DeviceAddress, DeviceCredentials, adapter_class, open_device
from vms.cameras.devices.rtsp import (
    RtspAdapter,
    manufacturer_from_server,
    parse_sdp,
    rtsp_describe,
    rtsp_options,
)
from vms.kernel.errors import (
    DeviceCredentialsRefused,
    DeviceProtocolError,
    DeviceUnreachable,
    DeviceUnsupported,
    ValidationFailed,
)

WRONG = DeviceCredentials("admin", "not-the-password")
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def tcp_server(host: str, handler: Handler) -> AsyncIterator[int]:
    """A one-off TCP server on an ephemeral port; yields the port."""

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()

    server = await asyncio.start_server(guarded, host, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def replying(payload: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(payload)
        await writer.drain()
        await asyncio.sleep(0.05)

    return handler


@pytest.fixture
async def fleet() -> AsyncIterator[DeviceFleet]:
    async with DeviceFleet("127.0.70.0/24", 9) as running:
        yield running


def device(fleet: DeviceFleet, profile: str) -> tuple[str, str]:
    found = next(d for d in fleet.devices if d.profile == profile)
    return found.host, found.rtsp_url


# --- the client against simulated cameras ---------------------------------------------------------


async def test_options_reports_server_and_methods(fleet: DeviceFleet) -> None:
    host, _ = device(fleet, "rtsp")
    answer = await rtsp_options(host, fleet.rtsp_port, timeout_s=2)
    assert answer.status == 200
    assert answer.server == "go2rtc/1.9.14"
    assert {"OPTIONS", "DESCRIBE", "PLAY"} <= set(answer.public)


async def test_describe_parses_the_sdp(fleet: DeviceFleet) -> None:
    _, url = device(fleet, "onvif_auth")
    answer = await rtsp_describe(url, credentials=FLEET_CREDENTIALS, timeout_s=2)
    assert answer.status == 200
    assert answer.video_codec == "H265"
    assert answer.codecs == ("H265", "PCMA")
    assert answer.sdp is not None and answer.sdp.startswith("v=0")
    video = answer.media[0]
    assert (video.kind, video.width, video.height, video.fps) == ("video", 1920, 1080, 25.0)


async def test_describe_without_credentials_returns_the_401(fleet: DeviceFleet) -> None:
    _, url = device(fleet, "hikvision")
    answer = await rtsp_describe(url, timeout_s=2)
    assert answer.status == 401
    assert answer.sdp is None
    assert (answer.header("www-authenticate") or "").startswith("Digest")


async def test_digest_is_chosen_over_basic_and_succeeds(fleet: DeviceFleet) -> None:
    host, url = device(fleet, "rtsp_auth")  # offers Digest and Basic
    answer = await rtsp_describe(url, credentials=FLEET_CREDENTIALS, timeout_s=2)
    assert answer.status == 200 and answer.video_codec == "JPEG"  # static payload type 26, no rtpmap
    assert [scheme for h, scheme in fleet.auth_log if h == host] == ["digest"]


async def test_credentials_in_the_url_are_used_not_sent(fleet: DeviceFleet) -> None:
    _, url = device(fleet, "hikvision")
    with_userinfo = url.replace("rtsp://", "rtsp://admin:fleet-Secret-1@")
    answer = await rtsp_describe(with_userinfo, timeout_s=2)
    assert answer.status == 200
    assert answer.header("content-base") == url  # the request line carried the URL without user-info


async def test_wrong_credentials_are_refused_without_repeating_them(fleet: DeviceFleet) -> None:
    _, url = device(fleet, "hikvision")
    with pytest.raises(DeviceCredentialsRefused) as caught:
        await rtsp_describe(url, credentials=WRONG, timeout_s=2)
    assert caught.value.status == 422
    assert "not-the-password" not in caught.value.detail
    assert "refused the credentials" in caught.value.detail


async def test_basic_only_camera_works_unless_basic_is_forbidden(fleet: DeviceFleet) -> None:
    _, url = device(fleet, "rtsp_basic")
    assert (await rtsp_describe(url, credentials=FLEET_CREDENTIALS, timeout_s=2)).status == 200
    sent_before = len(fleet.auth_log)
    with pytest.raises(DeviceCredentialsRefused, match="not sent"):
        await rtsp_describe(url, credentials=FLEET_CREDENTIALS, timeout_s=2, allow_basic=False)
    assert len(fleet.auth_log) == sent_before  # nothing went out


async def test_unknown_path_comes_back_as_404(fleet: DeviceFleet) -> None:
    host, _ = device(fleet, "rtsp")
    answer = await rtsp_describe(f"rtsp://{host}:{fleet.rtsp_port}/no/such/stream", timeout_s=2)
    assert answer.status == 404 and answer.reason == "Not Found"


# --- servers that are not (good) RTSP -------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"HELLO I AM A PRINTER\r\n\r\n", "not RTSP"),
        (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "an HTTP answer"),
        (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nthis is no header\r\n\r\n", "malformed RTSP header"),
        (b"RTSP/1.0 200 OK\r\nCSeq: 7\r\n\r\n", "out of order"),
        (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 99999999\r\n\r\n", "announced 99999999 bytes"),
        (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 50\r\n\r\nv=0\r\n", "truncated body"),
        (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: x\r\n\r\n", "invalid Content-Length"),
        (b"RTSP/1.0 200 OK\r\n" + b"X-Pad: " + b"a" * 20000 + b"\r\n\r\n", "oversized"),
        (b"", "closed the connection"),
    ],
)
async def test_non_rtsp_answers_are_protocol_errors(payload: bytes, message: str) -> None:
    async with tcp_server("127.0.71.1", replying(payload)) as port:
        with pytest.raises(DeviceProtocolError, match=message) as caught:
            await rtsp_options("127.0.71.1", port, timeout_s=2)
    assert f"127.0.71.1:{port}" in caught.value.detail


async def test_too_many_headers_are_refused() -> None:
    payload = b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n" + b"X-A: b\r\n" * 500 + b"\r\n"
    async with tcp_server("127.0.71.2", replying(payload)) as port:
        with pytest.raises(DeviceProtocolError, match="oversized headers"):
            await rtsp_options("127.0.71.2", port, timeout_s=2)


async def test_a_refused_connection_is_unreachable() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there now
        probe.bind(("127.0.71.3", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DeviceUnreachable, match="could not be reached"):
        await rtsp_options("127.0.71.3", port, timeout_s=2)


async def test_a_silent_server_is_unreachable_after_the_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async with tcp_server("127.0.71.4", silent) as port:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(DeviceUnreachable, match="in time"):
            await rtsp_options("127.0.71.4", port, timeout_s=0.3)
        assert loop.time() - started < 2


@pytest.mark.parametrize("url", ["http://127.0.71.5/stream", "rtsp://", "rtsp://127.0.71.5:99999/x", "not a url"])
async def test_bad_urls_are_validation_errors(url: str) -> None:
    with pytest.raises(ValidationFailed, match="Invalid RTSP URL"):
        await rtsp_describe(url, timeout_s=1)


async def test_requests_share_one_connection_until_closed(fleet: DeviceFleet) -> None:
    _, url = device(fleet, "rtsp_auth")
    async with RtspAdapter.from_url(url, FLEET_CREDENTIALS, 2) as adapter:
        first = await adapter.stream_profiles()  # DESCRIBE, 401, DESCRIBE again: one connection
        second = await adapter.stream_profiles()
        assert fleet.open_connections == 1
    assert first == second
    for _ in range(500):  # the device sees the close on its next loop turn (5 s bound for a loaded machine)
        if fleet.open_connections == 0:
            break
        await asyncio.sleep(0.01)
    assert fleet.open_connections == 0


# --- SDP and Server header parsing ---------------------------------------------------------------


def test_parse_sdp_reads_codecs_static_payloads_and_sizes() -> None:
    sdp = (
        "v=0\r\no=- 1 1 IN IP4 10.0.0.7\r\ns=x\r\nt=0 0\r\n"
        "m=video 0 RTP/AVP 98\r\na=rtpmap:98 h265/90000\r\na=x-dimensions:2560,1440\r\na=control:track1\r\n"
        "m=video 0 RTP/AVP 26\r\na=control:track2\r\n"
        "m=audio 0 RTP/AVP 0\r\n"
        "m=application 0 RTP/AVP 107\r\na=rtpmap:107 vnd.onvif.metadata/90000\r\n"
    )
    media = parse_sdp(sdp)
    assert [(m.kind, m.codec) for m in media] == [
        ("video", "H265"),
        ("video", "JPEG"),
        ("audio", "PCMU"),
        ("application", "VND.ONVIF.METADATA"),
    ]
    assert (media[0].width, media[0].height, media[0].control, media[0].clock_rate) == (2560, 1440, "track1", 90000)


@pytest.mark.parametrize(
    ("server", "maker"),
    [
        ("Hikvision-Webs", "Hikvision"),
        ("Dahua Rtsp Server", "Dahua"),
        ("GStreamer RTSP server", "GStreamer"),
        ("go2rtc/1.9.14", "go2rtc"),
        ("AXIS Media Server", "Axis"),
        ("LIVE555 Streaming Media v2020.01.01", "LIVE555"),
        ("Rtsp Server/3.0", None),
        (None, None),
    ],
)
def test_manufacturer_guess_from_server(server: str | None, maker: str | None) -> None:
    assert manufacturer_from_server(server) == maker


# --- the adapter ------------------------------------------------------------------------------------


def test_the_adapter_is_registered_as_rtsp() -> None:
    assert adapter_class("rtsp") is RtspAdapter
    assert (RtspAdapter.title, RtspAdapter.default_port) == ("Generic RTSP", 554)


async def test_adapter_identity_and_main_profile(fleet: DeviceFleet) -> None:
    _, url = device(fleet, "onvif_auth")
    async with RtspAdapter.from_url(url, FLEET_CREDENTIALS, 2) as adapter:
        info = await adapter.device_info()
        profiles = await adapter.stream_profiles()
    assert info.manufacturer == "Axis"
    assert len(profiles) == 1
    profile = profiles[0]
    assert (profile.role, profile.codec, profile.rtsp_url) == ("main", "hevc", url)
    assert (profile.width, profile.height, profile.fps) == (1920, 1080, 25.0)


async def test_adapter_through_open_device_and_mjpeg(fleet: DeviceFleet) -> None:
    host, _ = device(fleet, "rtsp_auth")
    async with open_device("rtsp", DeviceAddress(host, fleet.rtsp_port), FLEET_CREDENTIALS, timeout_s=2) as adapter:
        profiles = await adapter.stream_profiles()
        with pytest.raises(DeviceUnsupported):
            await adapter.ptz()
    assert profiles[0].codec == "mjpeg"
    assert profiles[0].rtsp_url == f"rtsp://{host}:{fleet.rtsp_port}/"


async def test_adapter_without_credentials_says_they_are_needed(fleet: DeviceFleet) -> None:
    _, url = device(fleet, "hikvision")
    async with RtspAdapter.from_url(url, timeout_s=2) as adapter:
        with pytest.raises(DeviceCredentialsRefused, match="asks for credentials"):
            await adapter.stream_profiles()


async def test_adapter_reports_a_wrong_path(fleet: DeviceFleet) -> None:
    host, _ = device(fleet, "rtsp")
    async with RtspAdapter.from_url(f"rtsp://{host}:{fleet.rtsp_port}/nothing", timeout_s=2) as adapter:
        with pytest.raises(DeviceProtocolError, match="404"):
            await adapter.stream_profiles()


def test_from_url_refuses_other_schemes() -> None:
    with pytest.raises(ValidationFailed):
        RtspAdapter.from_url("http://10.0.0.7/stream")
