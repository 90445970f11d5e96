"""The Hikvision ISAPI and Dahua HTTP API adapters against simulators speaking each vendor's wire format,
plus their parsers on sample answers."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.simulators.vendor_devices import DahuaSimulator, HikvisionSimulator
from vms.cameras.devices import dahua, hikvision
from vms.cameras.devices.base import DeviceAddress, DeviceCredentials, PtzVector, open_device
from vms.cameras.devices.dahua import DahuaAdapter, DahuaPtz
from vms.cameras.devices.hikvision import HikvisionAdapter, HikvisionPtz
from vms.kernel.errors import (
    Conflict,
    DeviceCredentialsRefused,
    DeviceProtocolError,
    DeviceUnreachable,
    DeviceUnsupported,
    ValidationFailed,
)

HIK = DeviceCredentials("admin", "Hik12345")
DAHUA = DeviceCredentials("admin", "Dahua123")


@pytest.fixture
async def hik_camera() -> AsyncIterator[HikvisionSimulator]:
    async with HikvisionSimulator("admin", "Hik12345", rtsp_port=8554) as camera:
        yield camera


@pytest.fixture
async def hik(hik_camera: HikvisionSimulator) -> AsyncIterator[HikvisionAdapter]:
    async with HikvisionAdapter(hik_camera.address, HIK) as device:
        yield device


@pytest.fixture
async def dahua_camera() -> AsyncIterator[DahuaSimulator]:
    async with DahuaSimulator("admin", "Dahua123", rtsp_port=8554) as camera:
        yield camera


@pytest.fixture
async def dh(dahua_camera: DahuaSimulator) -> AsyncIterator[DahuaAdapter]:
    async with DahuaAdapter(dahua_camera.address, DAHUA) as device:
        yield device


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# Registry


def test_open_device_finds_both_vendors_by_kind() -> None:
    address = DeviceAddress("127.0.0.1", 80)
    assert isinstance(open_device("hikvision", address, HIK), HikvisionAdapter)
    assert isinstance(open_device("dahua", address, DAHUA), DahuaAdapter)
    assert (HikvisionAdapter.title, DahuaAdapter.title) == ("Hikvision ISAPI", "Dahua HTTP API")


def test_open_device_with_an_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(ValidationFailed, match="hikvision") as caught:
        open_device("axis-vapix", DeviceAddress("127.0.0.1"), HIK)
    assert caught.value.status == 422 and "dahua" in caught.value.detail


# ---------------------------------------------------------------------------------------------
# Hikvision against the simulator


async def test_hikvision_device_info(hik: HikvisionAdapter) -> None:
    info = await hik.device_info()
    assert info.manufacturer == "Hikvision"
    assert info.model == "DS-2DE4425IW-DE"
    assert info.serial == "DS-2DE4425IW-DE20230101AAWRJ12345678"
    assert info.firmware == "V5.7.3"


async def test_hikvision_device_info_without_namespace() -> None:
    async with (
        HikvisionSimulator("admin", "Hik12345", namespace=None) as camera,
        HikvisionAdapter(camera.address, HIK) as device,
    ):
        assert (await device.device_info()).model == "DS-2DE4425IW-DE"


async def test_hikvision_stream_profiles(hik: HikvisionAdapter, hik_camera: HikvisionSimulator) -> None:
    main, sub, third = await hik.stream_profiles()
    assert (main.token, main.role, main.codec, main.width, main.height) == ("101", "main", "hevc", 2560, 1440)
    assert main.fps == 25.0 and main.bitrate_kbps == 6144  # CBR: constantBitRate
    assert (sub.token, sub.role, sub.codec, sub.width, sub.height, sub.fps) == ("102", "sub", "h264", 640, 360, 15.0)
    assert sub.bitrate_kbps == 512  # VBR: the upper cap, not constantBitRate
    assert (third.token, third.role, third.codec) == ("103", "other", "mjpeg")
    assert main.rtsp_url == "rtsp://127.0.0.1:8554/Streaming/Channels/101"  # the port from adminAccesses
    assert all("@" not in p.rtsp_url and "Hik12345" not in p.rtsp_url for p in (main, sub, third))
    assert main.name == "Camera 01 main stream"


async def test_hikvision_rtsp_port_defaults_to_554_without_admin_accesses() -> None:
    async with HikvisionSimulator("admin", "Hik12345", channels=2, rtsp_port=None) as camera:
        async with HikvisionAdapter(camera.address, HIK) as device:
            profiles = await device.stream_profiles()
        assert "GET /ISAPI/Security/adminAccesses" in camera.requests
    assert [p.token for p in profiles] == ["101", "102", "103", "201", "202", "203"]
    assert profiles[3].rtsp_url == "rtsp://127.0.0.1:554/Streaming/Channels/201"
    assert profiles[3].role == "main"


async def test_hikvision_continuous_move_and_stop(hik: HikvisionAdapter, hik_camera: HikvisionSimulator) -> None:
    ptz = await hik.ptz()
    assert isinstance(ptz, HikvisionPtz) and ptz.channel == 1
    await ptz.continuous_move(PtzVector(pan=0.5, tilt=-0.25, zoom=1.5))  # zoom clamps to 1
    assert hik_camera.head.velocity == (50, -25, 100)
    await ptz.stop()
    assert hik_camera.head.velocity == (0, 0, 0)
    await ptz.continuous_move(PtzVector(pan=-1), timeout_s=1.5)
    assert hik_camera.head.velocity == (-100, 0, 0) and hik_camera.head.momentary_ms == 1500
    assert hik_camera.requests[-1] == "PUT /ISAPI/PTZCtrl/channels/1/momentary"


async def test_hikvision_absolute_move_status_and_relative_move(
    hik: HikvisionAdapter, hik_camera: HikvisionSimulator
) -> None:
    ptz = await hik.ptz("101")
    assert ptz.zoom_range == (10, 250)  # from the channel's capabilities
    await ptz.absolute_move(PtzVector(pan=0.0, tilt=0.5, zoom=0.5))
    head = hik_camera.head
    assert (head.azimuth, head.elevation, head.zoom) == (1800, -450, 130)  # tilt up = negative elevation
    status = await ptz.status()
    assert status.position == PtzVector(pan=0.0, tilt=0.5, zoom=0.5)

    await ptz.absolute_move(PtzVector(pan=0.9, tilt=-0.9, zoom=0))
    assert (head.azimuth, head.elevation, head.zoom) == (3420, 810, 10)
    await ptz.relative_move(PtzVector(pan=0.25, tilt=-0.5, zoom=-0.5))  # +45° wraps past 360°; tilt/zoom clamp
    assert (head.azimuth, head.elevation, head.zoom) == (270, 900, 10)


async def test_hikvision_presets_set_list_goto_remove(hik: HikvisionAdapter, hik_camera: HikvisionSimulator) -> None:
    ptz = await hik.ptz()
    await ptz.absolute_move(PtzVector(pan=-0.5, tilt=0.0, zoom=0.0))
    gate = await ptz.set_preset("Gate <north>")
    assert (gate.token, gate.name) == ("1", "Gate <north>")
    await ptz.absolute_move(PtzVector(pan=0.5, tilt=0.0, zoom=1.0))
    dock = await ptz.set_preset("Dock")
    assert dock.token == "2"
    assert [(p.token, p.name) for p in await ptz.presets()] == [("1", "Gate <north>"), ("2", "Dock")]

    await ptz.goto_preset("1")
    assert (hik_camera.head.azimuth, hik_camera.head.zoom) == (900, 10)
    await ptz.remove_preset("1")
    assert [p.token for p in await ptz.presets()] == ["2"]
    with pytest.raises(DeviceUnsupported, match="no preset 1"):
        await ptz.remove_preset("1")
    with pytest.raises(ValidationFailed):
        await ptz.goto_preset("0")
    with pytest.raises(ValidationFailed):
        await ptz.set_preset("x", token="256")
    renamed = await ptz.set_preset("Dock east", token="2")
    assert renamed.token == "2" and hik_camera.head.presets[2][0] == "Dock east"


async def test_hikvision_new_presets_skip_special_function_ids(
    hik: HikvisionAdapter, hik_camera: HikvisionSimulator
) -> None:
    for n in range(1, 33):
        hik_camera.head.presets[n] = (f"P{n}", (0, 0, 10))
    ptz = await hik.ptz()
    assert (await ptz.set_preset("After the specials")).token == "47"  # 33–46 call functions (flip, patrols…)
    ordinary = [n for n in range(1, 256) if n not in hikvision.SPECIAL_PRESETS]
    hik_camera.head.presets = {n: (f"P{n}", (0, 0, 10)) for n in ordinary}
    with pytest.raises(Conflict, match="in use"):
        await ptz.set_preset("One too many")


async def test_hikvision_goto_of_an_unset_preset_names_the_isapi_reason(hik: HikvisionAdapter) -> None:
    ptz = await hik.ptz()
    with pytest.raises(DeviceProtocolError, match="invalidOperation"):
        await ptz.goto_preset("9")


async def test_hikvision_channel_without_ptz_is_unsupported(hik: HikvisionAdapter) -> None:
    with pytest.raises(DeviceUnsupported, match="notSupport"):
        await hik.ptz("201")


async def test_hikvision_not_support_status_is_unsupported(
    hik: HikvisionAdapter, hik_camera: HikvisionSimulator
) -> None:
    hik_camera.answer_with(
        "/ISAPI/System/deviceInfo",
        403,
        f'<ResponseStatus xmlns="{hikvision.XMLNS}"><statusCode>4</statusCode>'
        "<statusString>Invalid Operation</statusString><subStatusCode>notSupport</subStatusCode></ResponseStatus>",
        "application/xml",
    )
    with pytest.raises(DeviceUnsupported, match="notSupport"):
        await hik.device_info()


async def test_hikvision_html_answer_is_a_protocol_error(hik: HikvisionAdapter, hik_camera: HikvisionSimulator) -> None:
    hik_camera.answer_with("/ISAPI/System/deviceInfo", 200, "<html><body><h1>Web Service</h1></body></html>")
    with pytest.raises(DeviceProtocolError, match="<html>"):
        await hik.device_info()
    hik_camera.answer_with("/ISAPI/Streaming/channels", 200, "\x00\x01 not xml at all")
    with pytest.raises(DeviceProtocolError, match="not XML"):
        await hik.stream_profiles()


async def test_hikvision_wrong_password_is_refused_without_repeating_it(hik_camera: HikvisionSimulator) -> None:
    async with HikvisionAdapter(hik_camera.address, DeviceCredentials("admin", "wrong-pw-123")) as device:
        with pytest.raises(DeviceCredentialsRefused) as caught:
            await device.device_info()
    assert "401" in caught.value.detail and "wrong-pw-123" not in caught.value.detail
    assert hik_camera.gate.failures >= 1 and hik_camera.requests == []


async def test_hikvision_refused_port_is_unreachable() -> None:
    async with HikvisionAdapter(DeviceAddress("127.0.0.1", closed_port()), HIK, timeout_s=2) as device:
        with pytest.raises(DeviceUnreachable):
            await device.device_info()


# ---------------------------------------------------------------------------------------------
# Dahua against the simulator


async def test_dahua_device_info(dh: DahuaAdapter) -> None:
    info = await dh.device_info()
    assert (info.manufacturer, info.model, info.serial) == ("Dahua", "SD49225XA-HNR", "6J0A1B2PAZ00001")
    assert info.firmware == "2.800.0000000.16.R,build:2022-03-11" and info.hardware_id == "1.00"


async def test_dahua_stream_profiles(dh: DahuaAdapter) -> None:
    profiles = await dh.stream_profiles()
    assert [p.token for p in profiles] == ["1/0", "1/1"]  # the disabled third stream is left out
    main, sub = profiles
    assert (main.role, main.codec, main.width, main.height, main.fps, main.bitrate_kbps) == (
        "main",
        "hevc",
        2688,
        1520,
        25.0,
        6144,
    )
    assert (sub.role, sub.codec, sub.width, sub.height, sub.fps) == ("sub", "h264", 704, 576, 15.0)  # "D1", H.264H
    assert main.rtsp_url == "rtsp://127.0.0.1:8554/cam/realmonitor?channel=1&subtype=0"
    assert sub.rtsp_url == "rtsp://127.0.0.1:8554/cam/realmonitor?channel=1&subtype=1"
    assert all("Dahua123" not in p.rtsp_url and "@" not in p.rtsp_url for p in profiles)


async def test_dahua_rtsp_port_defaults_to_554(dahua_camera: DahuaSimulator) -> None:
    dahua_camera.rtsp_port = None
    async with DahuaAdapter(dahua_camera.address, DAHUA) as device:
        profiles = await device.stream_profiles()
    assert profiles[0].rtsp_url == "rtsp://127.0.0.1:554/cam/realmonitor?channel=1&subtype=0"


async def test_dahua_continuous_move_direction_codes_and_stop(dh: DahuaAdapter, dahua_camera: DahuaSimulator) -> None:
    ptz = await dh.ptz()
    assert isinstance(ptz, DahuaPtz) and ptz.zoom_max == 25.0
    head = dahua_camera.head
    await ptz.continuous_move(PtzVector(pan=0.5, tilt=0.5))
    assert (head.moving, head.speeds, head.zooming) == ("RightUp", (4, 4), None)
    await ptz.continuous_move(PtzVector(pan=-1.0, tilt=0.1, zoom=0.5))
    assert (head.moving, head.speeds) == ("Left", (0, 8))
    assert (head.zooming, head.zoom_speed) == ("ZoomTele", 4)
    assert any("action=stop" in r and "code=RightUp" in r for r in dahua_camera.requests)  # the old direction
    assert (await ptz.status()).moving is True
    await ptz.stop()
    assert (head.moving, head.zooming) == (None, None)
    assert (await ptz.status()).moving is False


async def test_dahua_stop_from_a_fresh_control_stops_pan_tilt_and_zoom(
    dh: DahuaAdapter, dahua_camera: DahuaSimulator
) -> None:
    dahua_camera.head.moving, dahua_camera.head.zooming = "Down", "ZoomWide"
    await (await dh.ptz("1/0")).stop()
    assert (dahua_camera.head.moving, dahua_camera.head.zooming) == (None, None)


async def test_dahua_absolute_status_and_relative(dh: DahuaAdapter, dahua_camera: DahuaSimulator) -> None:
    ptz = await dh.ptz()
    head = dahua_camera.head
    await ptz.absolute_move(PtzVector(pan=0.0, tilt=-0.5, zoom=1.0))
    assert (head.pan, head.tilt, head.zoom) == (180.0, 45.0, 25.0)  # tilt down = positive vertical angle
    assert dahua_camera.requests[-1].endswith("code=PositionABS&arg1=180&arg2=45&arg3=25")
    assert (await ptz.status()).position == PtzVector(pan=0.0, tilt=-0.5, zoom=1.0)
    await ptz.absolute_move(PtzVector(pan=0.95, tilt=0.0, zoom=0.0))
    await ptz.relative_move(PtzVector(pan=0.25, tilt=0.5, zoom=-0.2))  # +45° wraps past 360°
    assert (round(head.pan, 2), head.tilt, head.zoom) == (36.0, -45.0, 1.0)


async def test_dahua_presets_set_list_goto_remove(dh: DahuaAdapter, dahua_camera: DahuaSimulator) -> None:
    ptz = await dh.ptz()
    assert await ptz.presets() == []
    await ptz.absolute_move(PtzVector(pan=-0.5, tilt=0.0, zoom=0.0))
    gate = await ptz.set_preset("Gate north")
    assert (gate.token, gate.name) == ("1", "Gate north")
    await ptz.absolute_move(PtzVector(pan=0.5, tilt=0.0, zoom=0.5))
    assert (await ptz.set_preset("Dock")).token == "2"
    assert [(p.token, p.name) for p in await ptz.presets()] == [("1", "Gate north"), ("2", "Dock")]
    await ptz.goto_preset("1")
    assert (dahua_camera.head.pan, dahua_camera.head.zoom) == (90.0, 1.0)
    await ptz.remove_preset("1")
    assert [p.token for p in await ptz.presets()] == ["2"]
    with pytest.raises(DeviceUnsupported, match="no preset 1"):
        await ptz.remove_preset("1")
    with pytest.raises(ValidationFailed):
        await ptz.goto_preset("abc")


async def test_dahua_channel_without_ptz_is_unsupported(dh: DahuaAdapter) -> None:
    with pytest.raises(DeviceUnsupported, match="channel 2"):
        await dh.ptz("2/0")


async def test_dahua_wrong_password_is_refused(dahua_camera: DahuaSimulator) -> None:
    async with DahuaAdapter(dahua_camera.address, DeviceCredentials("admin", "nope-nope")) as device:
        with pytest.raises(DeviceCredentialsRefused) as caught:
            await device.device_info()
    assert "nope-nope" not in caught.value.detail and dahua_camera.requests == []


async def test_dahua_error_and_garbage_answers(dh: DahuaAdapter, dahua_camera: DahuaSimulator) -> None:
    dahua_camera.answer_with("/cgi-bin/magicBox.cgi?action=getSystemInfo", 200, "<html><body>Hi</body></html>")
    with pytest.raises(DeviceProtocolError, match="not Dahua key=value"):
        await dh.device_info()
    dahua_camera.answer_with("/cgi-bin/magicBox.cgi?action=getSystemInfo", 400, "Error\r\nBad Request!\r\n")
    with pytest.raises(DeviceProtocolError, match="Bad Request"):
        await dh.device_info()
    dahua_camera.answer_with("/cgi-bin/magicBox.cgi?action=getSystemInfo", 200, "Error\r\nInvalid Authority!\r\n")
    with pytest.raises(DeviceCredentialsRefused, match="rights"):
        await dh.device_info()


async def test_dahua_refused_port_is_unreachable() -> None:
    async with DahuaAdapter(DeviceAddress("127.0.0.1", closed_port()), DAHUA, timeout_s=2) as device:
        with pytest.raises(DeviceUnreachable):
            await device.stream_profiles()


# ---------------------------------------------------------------------------------------------
# The simulators' digest auth is real


async def test_simulator_refuses_a_replayed_digest_authorization(dahua_camera: DahuaSimulator) -> None:
    url = f"{dahua_camera.address.base_url}/cgi-bin/magicBox.cgi?action=getSystemInfo"
    async with httpx.AsyncClient(auth=httpx.DigestAuth("admin", "Dahua123")) as client:
        first = await client.get(url)
    assert first.status_code == 200
    authorization = first.request.headers["authorization"]
    async with httpx.AsyncClient() as client:
        replay = await client.get(url, headers={"authorization": authorization})
        unauthenticated = await client.get(url)
    assert replay.status_code == 401 and unauthenticated.status_code == 401
    assert unauthenticated.headers["www-authenticate"].startswith('Digest realm="Login to ')


# ---------------------------------------------------------------------------------------------
# Parsers on sample answers

ISAPI_VER10_CHANNELS = """<?xml version="1.0" encoding="UTF-8"?>
<StreamingChannelList version="1.0" xmlns="http://www.hikvision.com/ver10/XMLSchema">
<StreamingChannel><id>102</id><channelName>Lobby</channelName><enabled>true</enabled>
<Video><videoCodecType>H.264</videoCodecType><videoResolutionWidth>704</videoResolutionWidth>
<videoResolutionHeight>576</videoResolutionHeight><videoQualityControlType>CBR</videoQualityControlType>
<constantBitRate>768</constantBitRate><maxFrameRate>1250</maxFrameRate></Video></StreamingChannel>
<StreamingChannel><id>101</id><channelName>Lobby</channelName><enabled>true</enabled>
<Video><videoCodecType>H.265+</videoCodecType><videoResolutionWidth>3840</videoResolutionWidth>
<videoResolutionHeight>2160</videoResolutionHeight><vbrUpperCap>8192</vbrUpperCap><maxFrameRate>2000</maxFrameRate>
</Video></StreamingChannel>
<StreamingChannel><id>103</id><enabled>false</enabled></StreamingChannel>
</StreamingChannelList>"""


def test_isapi_streaming_channels_ver10_namespace_and_ipv6_host() -> None:
    root = hikvision.parse_isapi(ISAPI_VER10_CHANNELS, expect="StreamingChannelList", what="listing")
    main, sub = hikvision.stream_profiles_from(root, host="fd00::7", rtsp_port=554)
    assert (main.token, main.codec, main.width, main.fps, main.bitrate_kbps) == ("101", "hevc", 3840, 20.0, 8192)
    assert (sub.token, sub.role, sub.fps, sub.bitrate_kbps) == ("102", "sub", 12.5, 768)
    assert main.rtsp_url == "rtsp://[fd00::7]:554/Streaming/Channels/101" and main.name == "Lobby main stream"


def test_isapi_without_namespace_and_status_parsers() -> None:
    root = hikvision.parse_isapi(
        "<PTZStatus><AbsoluteHigh><elevation>900</elevation><azimuth>0</azimuth>"
        "<absoluteZoom>320</absoluteZoom></AbsoluteHigh></PTZStatus>",
        expect="PTZStatus",
        what="status",
    )
    assert hikvision.ptz_position_from(root, zoom_range=(10, 320)) == PtzVector(pan=-1.0, tilt=-1.0, zoom=1.0)
    access = hikvision.parse_isapi(
        "<AdminAccessProtocolList><AdminAccessProtocol><protocol>RTSP</protocol><portNo>10554</portNo>"
        "</AdminAccessProtocol></AdminAccessProtocolList>",
        expect="AdminAccessProtocolList",
        what="ports",
    )
    assert hikvision.rtsp_port_from(access) == 10554


def test_isapi_response_status_errors_and_unsafe_xml() -> None:
    def status(sub: str) -> str:
        return (
            "<ResponseStatus xmlns='http://www.hikvision.com/ver20/XMLSchema'><statusCode>4</statusCode>"
            f"<statusString>Invalid Operation</statusString><subStatusCode>{sub}</subStatusCode></ResponseStatus>"
        )

    with pytest.raises(DeviceUnsupported, match="notSupport"):
        hikvision.parse_isapi(status("notSupport"), expect="DeviceInfo", what="reading device info")
    with pytest.raises(DeviceCredentialsRefused, match="lowPrivilege"):
        hikvision.parse_isapi(status("lowPrivilege"), expect="DeviceInfo", what="reading device info")
    with pytest.raises(DeviceProtocolError, match="invalidOperation"):
        hikvision.check_ok(
            hikvision.parse_isapi(status("invalidOperation"), expect="ResponseStatus", what="x"), what="a move"
        )
    bomb = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><DeviceInfo>&b;</DeviceInfo>'
    with pytest.raises(DeviceProtocolError, match="not XML"):
        hikvision.parse_isapi(bomb, expect="DeviceInfo", what="reading device info")


def test_isapi_presets_skip_disabled_slots_and_channel_tokens() -> None:
    root = hikvision.parse_isapi(
        "<PTZPresetList><PTZPreset><enabled>true</enabled><id>5</id><presetName>Gate</presetName></PTZPreset>"
        "<PTZPreset><enabled>false</enabled><id>6</id><presetName>Preset 6</presetName></PTZPreset>"
        "<PTZPreset><id>2</id><presetName></presetName></PTZPreset></PTZPresetList>",
        expect="PTZPresetList",
        what="presets",
    )
    assert [(p.token, p.name) for p in hikvision.presets_from(root)] == [("2", "Preset 2"), ("5", "Gate")]
    assert [hikvision.channel_of(t) for t in ("101", "1202", "3")] == [1, 12, 3]
    with pytest.raises(ValidationFailed):
        hikvision.channel_of("main")


def test_dahua_key_value_parser() -> None:
    answer = "table.Encode[0].MainFormat[0].Video.Compression=H.264\r\nversion=2.4,build=2016\r\n\r\n"
    assert dahua.parse_kv(answer, what="x") == {
        "table.Encode[0].MainFormat[0].Video.Compression": "H.264",
        "version": "2.4,build=2016",  # only the first = separates key from value
    }
    with pytest.raises(DeviceProtocolError, match="Bad Request"):
        dahua.parse_kv("Error\r\nBad Request!\r\n", what="x")
    with pytest.raises(DeviceProtocolError, match="not Dahua"):
        dahua.parse_kv('<html lang="en"><body>Login</body></html>', what="x")
    with pytest.raises(DeviceProtocolError, match="empty"):
        dahua.parse_kv("\r\n", what="x")
    dahua.check_ok("OK\r\n", what="x")
    with pytest.raises(DeviceProtocolError, match="instead of OK"):
        dahua.check_ok("Done", what="x")


def test_dahua_encode_parser_resolution_forms_and_channels() -> None:
    encode = dahua.parse_kv(
        "table.Encode[1].MainFormat[0].Video.Compression=H.264B\n"
        "table.Encode[1].MainFormat[0].Video.resolution=1280x720\n"
        "table.Encode[1].MainFormat[0].Video.FPS=12.500000\n"
        "table.Encode[1].MainFormat[1].Video.Compression=H.264B\n"
        "table.Encode[1].ExtraFormat[0].Video.Compression=MJPG\n"
        "table.Encode[1].ExtraFormat[0].Video.resolution=CIF\n"
        "table.Encode[1].ExtraFormat[1].Video.Compression=H.265\n"
        "table.Encode[1].ExtraFormat[1].Video.resolution=720P\n",
        what="x",
    )
    main, sub, third = dahua.stream_profiles_from(encode, host="10.0.0.9", rtsp_port=10554)
    assert (main.token, main.codec, main.width, main.height, main.fps) == ("2/0", "h264", 1280, 720, 12.5)
    assert (sub.token, sub.role, sub.codec, sub.width, sub.height) == ("2/1", "sub", "mjpeg", 352, 288)
    assert (third.token, third.role, third.codec, third.width) == ("2/2", "other", "hevc", 1280)
    assert third.rtsp_url == "rtsp://10.0.0.9:10554/cam/realmonitor?channel=2&subtype=2"


def test_dahua_ptz_parsers() -> None:
    assert dahua.direction_code(0.0, 0.0) is None
    assert dahua.direction_code(1.0, 0.0) == ("Right", 1, 8)
    assert dahua.direction_code(-0.7, -0.7) == ("LeftDown", 6, 6)
    assert dahua.direction_code(0.0, -0.5) == ("Down", 4, 1)
    assert dahua.direction_code(-0.9, 0.2) == ("Left", 2, 7)  # the nearest of eight, not LeftUp
    presets = dahua.presets_from(
        dahua.parse_kv(
            "presets[0].Index=7\npresets[0].Name=Dock\npresets[1].Index=3\npresets[1].Name=\n", what="presets"
        )
    )
    assert [(p.token, p.name) for p in presets] == [("3", "Preset 3"), ("7", "Dock")]
    status = dahua.ptz_status_from(
        {
            "status.Position[0]": "90",
            "status.Position[1]": "-45",
            "status.Position[2]": "13",
            "status.MoveStatus": "Idle",
        },
        zoom_max=25,
    )
    assert status.position == PtzVector(pan=-0.5, tilt=0.5, zoom=0.5) and status.moving is False
    assert dahua.rtsp_port_from({"table.RTSP.Enable": "true", "table.RTSP.Port": "8554"}) == 8554
    assert dahua.rtsp_port_from({"table.RTSP.Port": "99999"}) is None
