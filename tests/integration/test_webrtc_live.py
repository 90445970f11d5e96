"""End to end on the camera simulator: a real WebRTC client (aiortc) negotiates through OUR API with
the platform's own go2rtc gateway and decodes live frames of a simulated camera.

ICE is confined to loopback on both sides (aiortc gathers only 127.0.0.1, the gateway announces only
127.0.0.1, nobody uses STUN), so nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aioice.ice
import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from tests import factories
from tests.conftest import engine_url, make_settings
from vms.auth.permissions import Role
from vms.bootstrap import Container
from vms.roles.streaming import build_gateway
from vms.settings import Settings
from vms.streaming.gateway import GatewayState, Go2rtcGateway

pytestmark = pytest.mark.engines
FRAMES = 10  # decoded frames the viewer must receive


def free_port() -> int:
    """A TCP port nobody listens on right now (the gateway binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str) -> Settings:
    """Test settings with the gateway on free ports, so it never meets the simulator's go2rtc."""
    ports = {"api_port": free_port(), "rtsp_port": free_port(), "webrtc_port": free_port()}
    return make_settings(tmp_path, sqlite_url, streaming={**ports, "refresh_s": 1.0})


@pytest.fixture
async def gateway(app, container: Container) -> AsyncIterator[Go2rtcGateway]:
    """The api role's gateway, running real go2rtc beside the test app."""
    engine_url("VMS_TEST_GO2RTC_API")  # scripts/services built go2rtc; without the engines this skips
    built = build_gateway(container)
    assert built.binary is not None, "scripts/services runs go2rtc, yet the gateway found no binary"
    app.state.streaming_gateway = built
    task = asyncio.create_task(built.run())
    try:
        async with asyncio.timeout(20):
            while True:
                if built.status().state == GatewayState.RUNNING:
                    break
                await asyncio.sleep(0.05)
        yield built
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await built.close()


@pytest.fixture
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiortc gathers host candidates on 127.0.0.1 only (aioice skips loopback by default)."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


async def _collect(track: MediaStreamTrack, frames: list[av.VideoFrame], count: int) -> None:
    while len(frames) < count:
        frame = await track.recv()
        assert isinstance(frame, av.VideoFrame)
        frames.append(frame)


async def test_a_viewer_receives_decodable_frames_through_our_api(client, container, gateway, loopback_ice):
    base = engine_url("VMS_TEST_RTSP_BASE")
    customer = await factories.customer(container)
    viewer = await factories.account(client, container, tenant_id=customer.id, role=Role.VIEWER)
    camera = await factories.camera(container, tenant_id=customer.id, name="Lobby", main_url=f"{base}/cam1")

    ice = await client.get("/api/v1/live/ice-servers", headers=viewer.headers)
    assert ice.status_code == 200 and ice.json() == {"ice_servers": []}  # no public STUN by default
    status = (await client.get("/api/v1/live/status", headers=viewer.headers)).json()
    assert status["webrtc"] == "available" and status["state"] == "running"

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # aiortc would otherwise use Google's STUN
    frames: list[av.VideoFrame] = []
    received: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if track.kind == "video" and not received.done():
            received.set_result(track)

    try:
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription.sdp
        assert "127.0.0.1" in offer and "stun" not in offer.lower()
        r = await client.post(
            f"/api/v1/cameras/{camera.id}/live/webrtc",
            params={"stream": "main"},
            content=offer,
            headers={**viewer.headers, "Content-Type": "application/sdp"},
        )
        assert r.status_code == 201, r.text
        assert r.headers["content-type"].startswith("application/sdp")
        answer = r.text
        assert "a=candidate" in answer and "127.0.0.1" in answer
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        async with asyncio.timeout(30):
            track = await received
            await _collect(track, frames, FRAMES)
    finally:
        await pc.close()

    assert len(frames) >= FRAMES
    assert {(f.width, f.height) for f in frames} == {(1920, 1080)}  # cam1 is 1080p: no transcoding
    assert any(f.to_ndarray(format="gray").std() > 1 for f in frames)  # real pictures, not blank frames

    # Every view is audit-logged: who watched which camera, which stream, how.
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    audit = await client.get(
        "/api/v1/audit", params={"action": "live_view", "resource_id": str(camera.id)}, headers=admin.headers
    )
    assert audit.status_code == 200, audit.text
    [entry] = audit.json()["items"]
    assert entry["actor_id"] == str(viewer.user.id)
    assert entry["new_value"] == {"protocol": "webrtc", "stream": "main"}


async def test_the_gateway_serves_one_camera_connection_to_many_viewers(client, container, gateway, loopback_ice):
    base = engine_url("VMS_TEST_RTSP_BASE")
    customer = await factories.customer(container)
    viewer = await factories.account(client, container, tenant_id=customer.id, role=Role.VIEWER)
    camera = await factories.camera(container, tenant_id=customer.id, main_url=f"{base}/cam2")
    peers = []
    try:
        for _ in range(2):
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            peers.append(pc)
            pc.addTransceiver("video", direction="recvonly")
            await pc.setLocalDescription(await pc.createOffer())
            r = await client.post(
                f"/api/v1/cameras/{camera.id}/live/webrtc",
                json={"type": "offer", "sdp": pc.localDescription.sdp},
                headers=viewer.headers,
            )
            assert r.status_code == 200, r.text
            assert r.json()["type"] == "answer"
            await pc.setRemoteDescription(RTCSessionDescription(**r.json()))
        # go2rtc's own view of the stream: one producer (the camera), two consumers (the viewers).
        info = (await gateway._http.get("/api/streams", params={"src": str(camera.id)})).json()
        assert len(info["producers"]) == 1
        assert len(info["consumers"]) == 2
    finally:
        for pc in peers:
            with contextlib.suppress(Exception):
                await pc.close()


async def test_a_codec_the_viewer_cannot_play_is_a_clear_422(client, container, gateway, loopback_ice):
    base = engine_url("VMS_TEST_RTSP_BASE")
    customer = await factories.customer(container)
    viewer = await factories.account(client, container, tenant_id=customer.id, role=Role.VIEWER)
    camera = await factories.camera(container, tenant_id=customer.id, main_url=f"{base}/cam3")  # H.265 720p
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTransceiver("video", direction="recvonly")  # aiortc offers VP8 and H.264 only
        await pc.setLocalDescription(await pc.createOffer())
        r = await client.post(
            f"/api/v1/cameras/{camera.id}/live/webrtc",
            content=pc.localDescription.sdp,
            headers={**viewer.headers, "Content-Type": "application/sdp"},
        )
    finally:
        await pc.close()
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "codec" in r.json()["detail"] and "HLS" in r.json()["detail"]


async def test_an_unreachable_camera_is_a_503_that_names_the_problem(client, container, gateway, loopback_ice):
    customer = await factories.customer(container)
    viewer = await factories.account(client, container, tenant_id=customer.id, role=Role.VIEWER)
    camera = await factories.camera(container, tenant_id=customer.id, main_url=f"rtsp://127.0.0.1:{free_port()}/x")
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        r = await client.post(
            f"/api/v1/cameras/{camera.id}/live/webrtc",
            content=pc.localDescription.sdp,
            headers={**viewer.headers, "Content-Type": "application/sdp"},
        )
    finally:
        await pc.close()
    assert r.status_code == 503, r.text
    assert "camera" in r.json()["detail"].lower()
