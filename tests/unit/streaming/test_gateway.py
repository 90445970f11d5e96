"""The go2rtc gateway: config from the camera database, a private config file, supervision
(restart with backoff, stream changes applied live), and a loud 503 when go2rtc is missing.

The supervision tests use a stand-in binary (a shell script) so they run anywhere; the one that
needs real go2rtc runs where scripts/services built it and skips (fails under CI) elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import stat
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs

from tests import factories
from tests.conftest import engine_url
from vms.auth.permissions import Role
from vms.bootstrap import Container
from vms.cameras.schemas import CameraAuth
from vms.kernel.tenancy import TenantScope
from vms.media.ingest import Backoff
from vms.settings import IceServer, StreamingSettings
from vms.streaming.gateway import (
    GatewayState,
    GatewayStream,
    Go2rtcGateway,
    find_binary,
    go2rtc_source,
    load_streams,
    render_config,
    stream_name,
    write_private,
)
from vms.uow import Actor

yaml = pytest.importorskip("yaml")  # only to read the generated YAML back as go2rtc would
PROBLEM = "application/problem+json"
CAM_A = uuid.UUID("00000000-0000-0000-0000-00000000000a")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def streaming_settings(**overrides: object) -> StreamingSettings:
    """Gateway settings on free ports, refreshing fast."""
    values: dict[str, object] = {
        "api_port": free_port(),
        "rtsp_port": free_port(),
        "webrtc_port": free_port(),
        "refresh_s": 0.5,
    }
    return StreamingSettings(**{**values, **overrides})  # type: ignore[arg-type]


def fake_binary(tmp_path: Path, body: str) -> Path:
    """An executable shell script standing in for go2rtc."""
    path = tmp_path / "bin" / "go2rtc"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


async def wait_for(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Poll until `condition()` holds, or fail the test."""
    async with asyncio.timeout(timeout_s):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


# --- config generation -------------------------------------------------------------------------------


def test_the_config_serves_every_stream_on_loopback_with_no_public_stun():
    settings = streaming_settings()
    streams = [
        GatewayStream(stream_name(CAM_A, "main"), CAM_A, "main", "rtsp://admin:p%40ss%22w@10.0.0.7/main"),
        GatewayStream(stream_name(CAM_A, "sub"), CAM_A, "sub", "rtsp://admin:p%40ss%22w@10.0.0.7/sub"),
    ]
    text = render_config(streams, settings, api_user="vms", api_password='s3cr"et', ffmpeg="/usr/bin/ffmpeg")
    config = yaml.safe_load(text)

    assert config["streams"] == {
        str(CAM_A): "rtsp://admin:p%40ss%22w@10.0.0.7/main",
        f"{CAM_A}_sub": "rtsp://admin:p%40ss%22w@10.0.0.7/sub",
    }
    assert config["api"]["listen"] == f"127.0.0.1:{settings.api_port}"
    assert config["api"]["password"] == 's3cr"et' and config["api"]["local_auth"] is True
    assert config["rtsp"]["listen"] == f"127.0.0.1:{settings.rtsp_port}"
    assert config["webrtc"]["listen"] == f"127.0.0.1:{settings.webrtc_port}"
    assert config["webrtc"]["ice_servers"] == []  # go2rtc's default would be public STUN
    assert config["webrtc"]["candidates"] == [f"127.0.0.1:{settings.webrtc_port}"]
    assert config["webrtc"]["filters"]["loopback"] is True
    assert config["srtp"]["listen"] == ""


def test_ice_servers_and_candidates_from_settings_reach_the_config():
    settings = streaming_settings(
        webrtc_host="0.0.0.0",
        webrtc_candidates=["203.0.113.5:18555"],
        ice_servers=[IceServer(urls=["turn:turn.example.com:3478"], username="u", credential="c")],
    )
    config = yaml.safe_load(render_config([], settings, api_user="vms", api_password="x", ffmpeg="ffmpeg"))
    assert config["streams"] == {}
    assert config["webrtc"]["listen"] == f"0.0.0.0:{settings.webrtc_port}"
    assert config["webrtc"]["candidates"] == ["203.0.113.5:18555"]
    assert config["webrtc"]["ice_servers"] == [
        {"urls": ["turn:turn.example.com:3478"], "username": "u", "credential": "c"}
    ]
    assert "loopback" not in config["webrtc"]["filters"]


def test_sources_drop_fragments_and_loop_local_files():
    # go2rtc reads #… as its own options (some pass raw ffmpeg arguments); a camera URL must not smuggle any in.
    assert go2rtc_source("rtsp://10.0.0.7/live#raw=-i /etc/passwd") == "rtsp://10.0.0.7/live"
    looped = "ffmpeg:/data/demo/camera 1.mp4#input=loopfile#video=copy"
    assert go2rtc_source("file:///data/demo/camera%201.mp4") == looped
    assert go2rtc_source("/data/clip.mp4") == "ffmpeg:/data/clip.mp4#input=loopfile#video=copy"


def test_the_config_file_is_private_and_replaced_whole(tmp_path: Path):
    path = tmp_path / "streaming" / "go2rtc.yaml"
    write_private(path, "streams: {a: rtsp://u:p@h/1}\n")
    write_private(path, "streams: {}\n")
    assert path.read_text() == "streams: {}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["go2rtc.yaml"]  # no temporary file left behind


async def test_streams_come_from_the_camera_database_with_credentials(container: Container):
    one = await factories.customer(container)
    two = await factories.customer(container)
    auth = CameraAuth(method="digest", username="admin", password="p@ss/w#rd")  # type: ignore[arg-type]
    both = await factories.camera(
        container,
        tenant_id=one.id,
        main_url="rtsp://10.0.0.7:554/main",
        sub_url="rtsp://10.0.0.7:554/sub",
        auth=auth,
    )
    main_only = await factories.camera(container, tenant_id=two.id, main_url="rtsp://10.0.0.8/stream1")

    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        streams = {s.name: s for s in await load_streams(uow=uow, secrets=container.identity.secrets, page_size=1)}

    assert set(streams) == {str(both.id), f"{both.id}_sub", str(main_only.id)}  # every customer's cameras
    assert streams[str(both.id)].source == "rtsp://admin:p%40ss%2Fw%23rd@10.0.0.7:554/main"
    assert streams[f"{both.id}_sub"].source == "rtsp://admin:p%40ss%2Fw%23rd@10.0.0.7:554/sub"
    assert streams[f"{both.id}_sub"].kind == "sub"
    assert streams[str(main_only.id)].source == "rtsp://10.0.0.8/stream1"
    assert "p%40ss" not in streams[str(both.id)].shown  # what logs and status may show


# --- finding go2rtc ----------------------------------------------------------------------------------


def test_a_configured_binary_wins_and_a_broken_one_is_not_replaced_silently(tmp_path: Path):
    fake = fake_binary(tmp_path, "exit 0")
    assert find_binary(fake) == fake
    not_executable = tmp_path / "go2rtc-text"
    not_executable.write_text("")
    assert find_binary(not_executable) is None
    assert find_binary(tmp_path / "missing") is None


def test_without_a_configured_binary_path_is_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    fake = fake_binary(tmp_path, "exit 0")
    monkeypatch.setattr("vms.streaming.gateway.REPO_ROOT", tmp_path / "no-checkout")
    assert find_binary(None, search_path=str(fake.parent)) == fake
    assert find_binary(None, search_path=str(tmp_path / "empty")) is None


# --- a missing go2rtc ---------------------------------------------------------------------------------


async def _no_streams() -> list[GatewayStream]:
    return []


async def test_a_missing_go2rtc_is_reported_loudly_once_and_webrtc_answers_503(client, container, app, tmp_path):
    gateway = Go2rtcGateway(settings=streaming_settings(), work_dir=tmp_path / "gw", load=_no_streams, binary=None)
    with capture_logs() as logs:
        await gateway.run()  # returns at once: nothing to supervise
        await gateway.run()
    loud = [e for e in logs if e["log_level"] == "error" and "UNAVAILABLE" in e["event"]]
    assert len(loud) == 1
    assert gateway.status().state == GatewayState.UNAVAILABLE
    app.state.streaming_gateway = gateway

    customer = await factories.customer(container)
    viewer = await factories.account(client, container, tenant_id=customer.id)
    camera = await factories.camera(container, tenant_id=customer.id)
    r = await client.post(
        f"/api/v1/cameras/{camera.id}/live/webrtc",
        content=OFFER,
        headers={**viewer.headers, "Content-Type": "application/sdp"},
    )
    assert r.status_code == 503
    assert r.headers["content-type"] == PROBLEM
    assert "HLS" in r.json()["detail"] and "go2rtc" in r.json()["detail"]
    assert r.json()["fallback"] == "hls"

    status = (await client.get("/api/v1/live/status", headers=viewer.headers)).json()
    assert status["webrtc"] == "unavailable" and status["state"] == "unavailable"
    assert "go2rtc-build" in status["reason"]
    await gateway.close()


async def test_an_app_without_a_gateway_still_serves_and_says_so(client, container):
    customer = await factories.customer(container)
    viewer = await factories.account(client, container, tenant_id=customer.id)
    camera = await factories.camera(container, tenant_id=customer.id)
    r = await client.post(
        f"/api/v1/cameras/{camera.id}/live/webrtc",
        content=OFFER,
        headers={**viewer.headers, "Content-Type": "application/sdp"},
    )
    assert r.status_code == 503 and "HLS" in r.json()["detail"]
    status = (await client.get("/api/v1/live/status", headers=viewer.headers)).json()
    assert (status["webrtc"], status["state"]) == ("unavailable", "not_started")


async def test_a_disabled_gateway_stays_off(tmp_path: Path):
    binary = fake_binary(tmp_path, "")
    settings = streaming_settings(enabled=False)
    gateway = Go2rtcGateway(settings=settings, work_dir=tmp_path, load=_no_streams, binary=binary)
    await gateway.run()
    assert gateway.status().state == GatewayState.DISABLED
    with pytest.raises(Exception, match="HLS"):
        gateway.ensure_running()
    await gateway.close()


# --- supervision --------------------------------------------------------------------------------------


async def test_a_dying_go2rtc_is_restarted_with_backoff(tmp_path: Path):
    binary = fake_binary(tmp_path, 'echo "fake go2rtc: listen tcp 127.0.0.1: address already in use"; exit 3')
    gateway = Go2rtcGateway(
        settings=streaming_settings(),
        work_dir=tmp_path / "gw",
        load=_no_streams,
        binary=binary,
        backoff=Backoff(base_s=0.01, cap_s=0.05),
    )
    task = asyncio.create_task(gateway.run())
    try:
        await wait_for(lambda: gateway.status().restarts >= 3)
        status = gateway.status()
        assert status.state in (GatewayState.RESTARTING, GatewayState.STARTING)
        assert "code 3" in (status.reason or "") and "address already in use" in (status.reason or "")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await gateway.close()
    assert gateway.status().state == GatewayState.STOPPED
    assert (tmp_path / "gw" / "go2rtc.log").read_text().count("address already in use") >= 3


@pytest.fixture
async def real_gateway(tmp_path: Path) -> AsyncIterator[tuple[Go2rtcGateway, list[GatewayStream]]]:
    """Real go2rtc supervised by the gateway, fed from a list the test edits."""
    engine_url("VMS_TEST_GO2RTC_API")  # scripts/services built go2rtc; without the engines this skips
    binary = find_binary(None)
    assert binary is not None, "scripts/services runs go2rtc, yet the gateway found no binary"
    cameras: list[GatewayStream] = [GatewayStream("a", CAM_A, "main", "rtsp://127.0.0.1:9/a")]

    async def load() -> list[GatewayStream]:
        return list(cameras)

    gateway = Go2rtcGateway(
        settings=streaming_settings(refresh_s=3600),  # the test calls refresh() itself
        work_dir=tmp_path / "gw",
        load=load,
        binary=binary,
        backoff=Backoff(base_s=0.05, cap_s=0.1),
    )
    task = asyncio.create_task(gateway.run())
    try:
        await wait_for(lambda: gateway.status().state == GatewayState.RUNNING)
        yield gateway, cameras
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await gateway.close()


async def _go2rtc_streams(gateway: Go2rtcGateway) -> set[str]:
    r = await gateway._http.get("/api/streams")
    r.raise_for_status()
    return set(r.json())


@pytest.mark.engines
async def test_real_go2rtc_is_private_restarted_when_killed_and_follows_camera_changes(real_gateway, caplog):
    gateway, cameras = real_gateway
    caplog.set_level(logging.DEBUG)
    assert await _go2rtc_streams(gateway) == {"a"}
    assert stat.S_IMODE(gateway.config_path.stat().st_mode) == 0o600
    # Its API wants our random password, even from loopback.
    port = gateway.settings.api_port
    async with httpx.AsyncClient(trust_env=False) as anonymous:
        assert (await anonymous.get(f"http://127.0.0.1:{port}/api/streams")).status_code == 401

    # A camera added and one removed: applied through the API, go2rtc keeps running.
    pid = gateway.status().pid
    cameras[:] = [GatewayStream("b", CAM_A, "main", "rtsp://u:secret-pw@127.0.0.1:9/b")]
    assert await gateway.refresh() is True
    assert await gateway.refresh() is False  # nothing changed since
    assert await _go2rtc_streams(gateway) == {"b"}
    assert gateway.status().pid == pid
    assert yaml.safe_load(gateway.config_path.read_text())["streams"] == {"b": "rtsp://u:secret-pw@127.0.0.1:9/b"}
    assert "secret-pw" not in caplog.text  # the PUT's query carried it; httpx's request log must not
    assert stat.S_IMODE(gateway.config_path.stat().st_mode) == 0o600

    # Killed from outside: the supervisor starts a new go2rtc on the current config.
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await wait_for(lambda: gateway.status().restarts == 1 and gateway.status().state == GatewayState.RUNNING)
    assert gateway.status().pid not in (None, pid)
    assert await _go2rtc_streams(gateway) == {"b"}


# --- the live API before the gateway: input and access ---------------------------------------------------

OFFER = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\na=rtpmap:96 H264/90000\r\n"
)


@pytest.mark.parametrize(
    ("content_type", "body", "status", "words"),
    [
        ("application/sdp", OFFER.replace("a=recvonly", "a=sendonly"), 422, "only receives"),
        ("application/sdp", OFFER.replace("a=recvonly\r\n", ""), 422, "sendrecv"),
        ("application/sdp", OFFER.replace("m=video", "m=audio"), 422, "no video"),
        ("application/sdp", "hello", 422, "v=0"),
        ("application/sdp", b"v=0\xff\xfe", 400, "UTF-8"),
        ("text/plain", OFFER, 400, "Content-Type"),
        ("application/json", '{"type": "answer", "sdp": "v=0"}', 400, "JSON"),
        ("application/json", "{not json", 400, "JSON"),
        ("application/sdp", "v=0\r\n" + "a=x\r\n" * 20_000, 400, "larger"),
    ],
)
async def test_bad_offers_get_a_clear_4xx(client, container, content_type, body, status, words):
    customer = await factories.customer(container)
    viewer = await factories.account(client, container, tenant_id=customer.id)
    camera = await factories.camera(container, tenant_id=customer.id)
    r = await client.post(
        f"/api/v1/cameras/{camera.id}/live/webrtc",
        content=body,
        headers={**viewer.headers, "Content-Type": content_type},
    )
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    assert words in r.json()["detail"]


async def test_live_view_is_scoped_to_the_callers_customer_and_role(client, container):
    mine = await factories.customer(container)
    theirs = await factories.customer(container)
    viewer = await factories.account(client, container, tenant_id=mine.id)
    provider = await factories.account(client, container, tenant_id=None, role=Role.PROVIDER_ADMIN)
    their_camera = await factories.camera(container, tenant_id=theirs.id)
    my_camera = await factories.camera(container, tenant_id=mine.id)
    sdp = {"Content-Type": "application/sdp"}

    url = f"/api/v1/cameras/{their_camera.id}/live/webrtc"
    r = await client.post(url, content=OFFER, headers={**viewer.headers, **sdp})
    assert r.status_code == 404  # another customer's camera does not exist for this viewer
    r = await client.post(f"/api/v1/cameras/{my_camera.id}/live/webrtc", content=OFFER, headers=sdp)
    assert r.status_code == 401
    r = await client.post(
        f"/api/v1/cameras/{my_camera.id}/live/webrtc", content=OFFER, headers={**provider.headers, **sdp}
    )
    assert r.status_code == 403  # provider staff hold no live:view
    r = await client.post(
        f"/api/v1/cameras/{my_camera.id}/live/webrtc",
        params={"stream": "sub"},
        content=OFFER,
        headers={**viewer.headers, **sdp},
    )
    assert r.status_code == 422 and "no sub stream" in r.json()["detail"]
    r = await client.post(
        f"/api/v1/cameras/{my_camera.id}/live/webrtc",
        params={"stream": "hd"},
        content=OFFER,
        headers={**viewer.headers, **sdp},
    )
    assert r.status_code == 422


async def test_ice_servers_come_from_settings(client, container):
    container.settings.streaming.ice_servers = [
        IceServer(urls=["stun:stun.internal:3478"]),
        IceServer(urls=["turn:turn.internal:3478?transport=udp"], username="vms", credential="secret"),
    ]
    customer = await factories.customer(container)
    viewer = await factories.account(client, container, tenant_id=customer.id)
    r = await client.get("/api/v1/live/ice-servers", headers=viewer.headers)
    assert r.status_code == 200
    assert r.json() == {
        "ice_servers": [
            {"urls": ["stun:stun.internal:3478"], "username": None, "credential": None},
            {"urls": ["turn:turn.internal:3478?transport=udp"], "username": "vms", "credential": "secret"},
        ]
    }
