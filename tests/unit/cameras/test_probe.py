"""The real prober (PyAV) against tiny generated files, small fake servers speaking real HTTP and
RTSP, and — when VMS_TEST_RTSP_BASE is set — the camera simulator's RTSP streams."""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import structlog.testing

from tests import factories
from tests.conftest import engine_url
from tests.unit.cameras.conftest import Media
from vms.auth.permissions import Role
from vms.cameras.probe import PyAvProber, StreamCredentials
from vms.kernel.ai_models import AiModel
from vms.kernel.errors import (
    NotAMediaStream,
    StreamCredentialsRefused,
    StreamUnreachable,
    UnsupportedCodec,
)

QUICK = PyAvProber(open_timeout_s=1.0, read_timeout_s=1.0)
SECRET = "Sup3r/S3cret@#1"  # needs percent-encoding in a URL


# --- local files ----------------------------------------------------------------------------------


async def test_h264_file_is_measured(media: Media):
    info = await QUICK.probe(str(media.h264))

    assert (info.codec, info.width, info.height) == ("h264", 1280, 720)
    assert info.fps == pytest.approx(25, abs=0.5)
    assert info.gop_s == pytest.approx(1.0, abs=0.05)
    assert info.bitrate_kbps > 0
    assert info.declared_bitrate_kbps and info.declared_bitrate_kbps > 0


async def test_hevc_file_is_measured(media: Media):
    info = await QUICK.probe(str(media.hevc))

    assert (info.codec, info.width, info.height) == ("hevc", 640, 360)
    assert info.fps == pytest.approx(15, abs=0.5)
    assert info.gop_s == pytest.approx(1.0, abs=0.1)


async def test_mjpeg_file_is_measured_and_every_frame_is_a_keyframe(media: Media):
    info = await QUICK.probe(str(media.mjpeg))

    assert (info.codec, info.width, info.height) == ("mjpeg", 640, 480)
    assert info.fps == pytest.approx(10, abs=0.5)
    assert info.gop_s == pytest.approx(0.1, abs=0.02)
    # MJPEG is heavy: the measured rate is in the megabits even for a test pattern.
    assert info.bitrate_kbps > 500


async def test_bitrate_is_measured_from_the_packets(media: Media):
    slow = await QUICK.probe(str(media.h264))
    import av

    with av.open(str(media.h264)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size and p.dts is not None and p.dts * p.time_base < 2]
    expected_kbps = sum(p.size for p in packets) * 8 / (len(packets) / 25) / 1000

    assert slow.bitrate_kbps == pytest.approx(expected_kbps, rel=0.1)


async def test_unsupported_codec_is_named(media: Media):
    with pytest.raises(UnsupportedCodec, match="mpeg4") as caught:
        await QUICK.probe(str(media.mpeg4))
    assert caught.value.status == 422
    assert caught.value.extra["codec"] == "mpeg4"


@pytest.mark.parametrize("which", ["not_media", "truncated"])
async def test_a_file_that_is_not_video_is_not_a_media_stream(media: Media, which: str):
    with pytest.raises(NotAMediaStream, match="not a media stream"):
        await QUICK.probe(str(getattr(media, which)))


async def test_audio_without_video_is_not_a_media_stream(media: Media):
    with pytest.raises(NotAMediaStream, match=r"no video \(found: audio\)"):
        await QUICK.probe(str(media.audio_only))


async def test_a_corrupt_video_payload_cannot_be_decoded(media: Media):
    with pytest.raises(NotAMediaStream, match="cannot be decoded"):
        await QUICK.probe(str(media.garbled))


# --- network failures -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("scheme", ["rtsp", "http"])
async def test_a_refused_port_is_unreachable_quickly_and_the_password_is_never_repeated(scheme: str):
    port = free_port()
    url = f"{scheme}://admin:pw@127.0.0.1:{port}/stream"
    started = time.monotonic()

    with pytest.raises(StreamUnreachable, match="refused the connection") as caught:
        await QUICK.probe(url, credentials=StreamCredentials(username="admin", password=SECRET))

    assert time.monotonic() - started < 1.0
    assert f"127.0.0.1:{port}" in caught.value.detail
    assert "pw@" not in caught.value.detail and SECRET not in caught.value.detail
    assert caught.value.__cause__ is None and caught.value.__suppress_context__, "FFmpeg's error quotes the URL"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


@pytest.mark.parametrize("scheme", ["rtsp", "http"])
async def test_a_silent_server_times_out_within_the_bound(silent_server: int, scheme: str):
    started = time.monotonic()

    with pytest.raises(StreamUnreachable, match=r"No answer from 127\.0\.0\.1:\d+ within 1 s"):
        await QUICK.probe(f"{scheme}://127.0.0.1:{silent_server}/stream")

    assert 0.9 < time.monotonic() - started < 5


async def test_an_unknown_host_is_unreachable():
    with pytest.raises(StreamUnreachable, match="could not be opened"):
        await QUICK.probe("rtsp://no-such-camera.invalid/stream")


@dataclass
class FakeRtspCamera:
    """An RTSP server that answers every request with 401, recording the Authorization headers."""

    port: int
    authorizations: list[str] = field(default_factory=list)


@pytest.fixture
def rtsp_401() -> Iterator[FakeRtspCamera]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    camera = FakeRtspCamera(port=server.getsockname()[1])

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                buffer = b""
                while chunk := conn.recv(4096):
                    buffer += chunk
                    while b"\r\n\r\n" in buffer:
                        head, buffer = buffer.split(b"\r\n\r\n", 1)
                        lines = head.decode().split("\r\n")
                        headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
                        headers = {k.strip().lower(): v.strip() for k, v in headers.items()}
                        if "authorization" in headers:
                            camera.authorizations.append(headers["authorization"])
                        conn.sendall(
                            f"RTSP/1.0 401 Unauthorized\r\nCSeq: {headers.get('cseq', '1')}\r\n"
                            'WWW-Authenticate: Basic realm="camera"\r\n\r\n'.encode()
                        )

    threading.Thread(target=serve, daemon=True).start()
    yield camera
    server.close()


async def test_rtsp_401_means_the_camera_refused_the_credentials(rtsp_401: FakeRtspCamera):
    with pytest.raises(StreamCredentialsRefused, match=r"refused the credentials \(401\)") as caught:
        await QUICK.probe(
            f"rtsp://127.0.0.1:{rtsp_401.port}/live",
            credentials=StreamCredentials(username="viewer", password=SECRET),
        )

    # The credentials reached the camera intact, special characters and all …
    assert f"Basic {base64.b64encode(f'viewer:{SECRET}'.encode()).decode()}" in rtsp_401.authorizations
    # … and never came back in the message.
    assert SECRET not in caught.value.detail
    assert caught.value.title == "Camera refused the credentials"


@dataclass
class FakeHttpCamera:
    """An HTTP MJPEG camera serving the media files behind Basic or Bearer authentication."""

    port: int

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="module")
def http_camera(media: Media) -> Iterator[FakeHttpCamera]:
    basic = "Basic " + base64.b64encode(f"admin:{SECRET}".encode()).decode()
    bearer = "Bearer tok-123"

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("Authorization") not in (basic, bearer):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="camera"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            super().do_GET()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(media.dir)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield FakeHttpCamera(port=server.server_address[1])
    server.shutdown()
    server.server_close()


async def test_http_mjpeg_with_the_right_basic_credentials_is_measured(http_camera: FakeHttpCamera):
    info = await QUICK.probe(
        http_camera.url("mjpeg.avi"), credentials=StreamCredentials(username="admin", password=SECRET)
    )

    assert (info.codec, info.width, info.height) == ("mjpeg", 640, 480)


async def test_http_with_a_bearer_token_is_measured(http_camera: FakeHttpCamera):
    info = await QUICK.probe(http_camera.url("mjpeg.avi"), credentials=StreamCredentials(token="tok-123"))

    assert info.codec == "mjpeg"


@pytest.mark.parametrize(
    "credentials",
    [None, StreamCredentials(username="admin", password="wrong"), StreamCredentials(token="nope")],
    ids=["none", "wrong-password", "wrong-token"],
)
async def test_http_401_means_the_camera_refused_the_credentials(http_camera, credentials):
    with pytest.raises(StreamCredentialsRefused):
        await QUICK.probe(http_camera.url("mjpeg.avi"), credentials=credentials)


async def test_http_404_names_the_path(http_camera: FakeHttpCamera):
    with pytest.raises(StreamUnreachable, match=r"no stream at .*/missing\.avi \(404\)"):
        await QUICK.probe(http_camera.url("missing.avi"), credentials=StreamCredentials(token="tok-123"))


async def test_http_text_is_not_a_media_stream(http_camera: FakeHttpCamera):
    with pytest.raises(NotAMediaStream):
        await QUICK.probe(http_camera.url("notes.txt"), credentials=StreamCredentials(token="tok-123"))


# --- the camera simulator (live RTSP) -------------------------------------------------------------

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def rtsp_base() -> str:
    return engine_url("VMS_TEST_RTSP_BASE").rstrip("/")


def simulator_manifest() -> dict[str, dict]:
    """What the simulator says each camera sends: its manifest file, else its script's output, else nothing."""
    path = os.environ.get("VMS_TEST_CAMERAS_MANIFEST")
    if path and Path(path).exists():
        document = json.loads(Path(path).read_text())
    else:
        script = REPO / "scripts" / "camera_simulator.py"
        if not script.exists():
            return {}
        out = subprocess.run(
            [sys.executable, str(script), "--manifest", "--cameras", "4"], capture_output=True, text=True, timeout=30
        )
        if out.returncode != 0:
            return {}
        document = json.loads(out.stdout)
    return {cam["name"]: cam for cam in document["cameras"]}


LIVE = PyAvProber(open_timeout_s=10, read_timeout_s=5)


@pytest.mark.parametrize("name", ["cam1", "cam2", "cam3", "cam4"])
async def test_live_rtsp_stream_of_the_simulator_is_measured(rtsp_base: str, name: str):
    started = time.monotonic()
    info = await LIVE.probe(f"{rtsp_base}/{name}")

    assert info.codec in ("h264", "hevc", "mjpeg")
    assert info.width > 0 and info.height > 0
    assert info.fps and info.fps > 1
    assert info.bitrate_kbps > 0
    assert time.monotonic() - started < 20
    expected = simulator_manifest().get(name)
    if expected:
        assert info.codec == {"h264": "h264", "h265": "hevc", "hevc": "hevc", "mjpeg": "mjpeg"}[expected["codec"]]
        assert (info.width, info.height) == (expected["width"], expected["height"])
        assert info.fps == pytest.approx(expected["fps"], rel=0.1)
        assert info.gop_s == pytest.approx(expected["gop_frames"] / expected["fps"], rel=0.1)
        if expected.get("bitrate_kbps"):
            assert expected["bitrate_kbps"] / 2 < info.bitrate_kbps < expected["bitrate_kbps"] * 2


async def test_a_missing_path_on_the_simulator_is_unreachable(rtsp_base: str):
    with pytest.raises(StreamUnreachable, match=r"no stream at .*/no-such-camera \(404\)") as caught:
        await LIVE.probe(f"{rtsp_base}/no-such-camera")
    assert caught.value.status == 422


async def test_probe_logs_name_the_stream_without_its_credentials(http_camera: FakeHttpCamera):
    port = free_port()
    with structlog.testing.capture_logs() as logs:
        await QUICK.probe(
            http_camera.url("mjpeg.avi"), credentials=StreamCredentials(username="admin", password=SECRET)
        )
        with pytest.raises(StreamUnreachable):
            await QUICK.probe(f"rtsp://admin:{SECRET}@127.0.0.1:{port}/x")

    events = {entry["event"]: entry for entry in logs}
    assert events["stream probed"]["url"] == http_camera.url("mjpeg.avi")
    assert events["stream probe failed"]["url"] == f"rtsp://***@127.0.0.1:{port}/x"
    assert SECRET not in repr(logs) and "admin" not in repr(logs)


async def test_a_camera_added_through_the_api_is_probed_live(client, container, rtsp_base: str):
    customer = await factories.customer(container, models=[AiModel.ANPR, AiModel.INTRUSION])
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)

    r = await client.post(
        "/api/v1/cameras",
        headers=admin.headers,
        json={
            "name": "Gate",
            "main_url": f"{rtsp_base}/cam1",  # H.264 1080p25, about 4 Mbit/s
            "sub_url": f"{rtsp_base}/cam4",  # MJPEG 480p10, megabits
            "enabled_models": ["anpr", "intrusion"],
        },
    )

    assert r.status_code == 201, r.text
    cam = r.json()
    assert (cam["main_stream"]["codec"], cam["main_stream"]["height"]) == ("h264", 1080)
    assert (cam["sub_stream"]["codec"], cam["sub_stream"]["height"]) == ("mjpeg", 480)
    assert cam["model_streams"] == {"anpr": "main", "intrusion": "sub"}


async def test_a_live_stream_too_small_for_a_model_is_refused_through_the_api(client, container, rtsp_base: str):
    customer = await factories.customer(container, models=[AiModel.ANPR])
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)

    r = await client.post(
        "/api/v1/cameras",
        headers=admin.headers,
        json={"name": "Lane", "main_url": f"{rtsp_base}/cam3", "enabled_models": ["anpr"]},  # H.265 720p25
    )

    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("anpr needs 1080p at 3000 kbps; main stream is 720p at ")
