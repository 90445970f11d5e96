"""Fixtures of the camera tests: a fake prober for API tests, two customers with signed-in users,
helpers to build a location tree, and tiny media files generated once per run with Debian's ffmpeg."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests import factories
from vms.auth.permissions import Role
from vms.bootstrap import Container
from vms.cameras.probe import StreamCredentials, StreamInfo
from vms.kernel.ai_models import AiModel
from vms.kernel.tenancy import TenantScope
from vms.tenants.schemas import CustomerRead
from vms.uow import Actor

PROBLEM = "application/problem+json"
CAMERAS = "/api/v1/cameras"
NODES = "/api/v1/nodes"
TREE = "/api/v1/sites/tree"
GROUPS = "/api/v1/camera-groups"

HD_1080 = StreamInfo(codec="h264", width=1920, height=1080, fps=25, bitrate_kbps=4000, gop_s=1.0)
HD_720 = StreamInfo(codec="h264", width=1280, height=720, fps=25, bitrate_kbps=1800, gop_s=1.0)
SD_360 = StreamInfo(codec="h264", width=640, height=360, fps=15, bitrate_kbps=600, gop_s=2.0)
SUB_480 = StreamInfo(codec="h264", width=854, height=480, fps=15, bitrate_kbps=1200, gop_s=2.0)


@dataclass
class FakeProber:
    """Answers probes from a table of URL -> StreamInfo or error (1080p at 4 Mbit/s for unknown URLs)."""

    streams: dict[str, StreamInfo | Exception] = field(default_factory=dict)
    calls: list[tuple[str, StreamCredentials | None]] = field(default_factory=list)

    async def probe(self, url: str, *, credentials: StreamCredentials | None = None) -> StreamInfo:
        self.calls.append((url, credentials))
        result = self.streams.get(url, HD_1080)
        if isinstance(result, Exception):
            raise result
        return result


@pytest.fixture
def prober(container: Container) -> FakeProber:
    """The fake prober, installed in the app's container."""
    fake = FakeProber()
    container.prober = fake
    return fake


@dataclass
class World:
    """Customer A (Admin, Supervisor, Viewer signed in) and customer B (Admin signed in)."""

    a: CustomerRead
    b: CustomerRead
    admin: factories.SignedIn
    supervisor: factories.SignedIn
    viewer: factories.SignedIn
    b_admin: factories.SignedIn


A_MODELS = [AiModel.INTRUSION, AiModel.MOTION, AiModel.FIRE_SMOKE, AiModel.ANPR]


@pytest.fixture
async def world(client: httpx.AsyncClient, container: Container, prober: FakeProber) -> World:
    a = await factories.customer(container, camera_limit=10, models=A_MODELS)
    b = await factories.customer(container, camera_limit=10, models=A_MODELS)
    return World(
        a=a,
        b=b,
        admin=await factories.account(client, container, tenant_id=a.id, role=Role.ADMIN),
        supervisor=await factories.account(client, container, tenant_id=a.id, role=Role.SUPERVISOR),
        viewer=await factories.account(client, container, tenant_id=a.id, role=Role.VIEWER),
        b_admin=await factories.account(client, container, tenant_id=b.id, role=Role.ADMIN),
    )


def assert_problem(r: httpx.Response, status: int, title: str | None = None) -> dict[str, Any]:
    """The response is problem+json with this status (and title)."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, Any] = r.json()
    if title is not None:
        assert body["title"] == title, body
    return body


async def node(client: httpx.AsyncClient, who: factories.SignedIn, kind: str, name: str, parent: str | None = None):
    """Create a node through the API; returns its id."""
    r = await client.post(NODES, headers=who.headers, json={"kind": kind, "name": name, "parent_id": parent})
    assert r.status_code == 201, r.text
    return r.json()["id"]


@dataclass
class Tree:
    """Site HQ → building Main → floors F1 (zones Lobby, Dock) and F2 (zone Lab)."""

    site: str
    building: str
    f1: str
    f2: str
    lobby: str
    dock: str
    lab: str


async def make_tree(client: httpx.AsyncClient, who: factories.SignedIn) -> Tree:
    """A small tree for customer of `who`."""
    site = await node(client, who, "site", "HQ")
    building = await node(client, who, "building", "Main", site)
    f1 = await node(client, who, "floor", "F1", building)
    f2 = await node(client, who, "floor", "F2", building)
    return Tree(
        site=site,
        building=building,
        f1=f1,
        f2=f2,
        lobby=await node(client, who, "zone", "Lobby", f1),
        dock=await node(client, who, "zone", "Dock", f1),
        lab=await node(client, who, "zone", "Lab", f2),
    )


async def count_rows(container: Container, model: type) -> int:
    """Rows of a table across all tenants."""
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        return int((await uow.session.execute(select(func.count()).select_from(model))).scalar_one())


# --- generated media ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Media:
    """Tiny clips made by ffmpeg for the real prober."""

    dir: Path
    h264: Path  # 1280x720, 25 fps, keyframe every 25 frames
    hevc: Path  # 640x360, 15 fps, keyframe every 15 frames
    mjpeg: Path  # 640x480, 10 fps
    mpeg4: Path  # an unsupported codec
    audio_only: Path
    not_media: Path
    truncated: Path  # header cut off mid-way
    garbled: Path  # container intact, video payload overwritten


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True, timeout=120)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    """Generate the clips once per run (needs Debian's ffmpeg: apt-get install -y ffmpeg)."""
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is missing: apt-get install -y ffmpeg")
    d = tmp_path_factory.mktemp("media")
    src = ["-f", "lavfi", "-i"]
    _ffmpeg(*src, "testsrc=size=1280x720:rate=25", "-t", "3", "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p",
            str(d / "h264.mp4"))  # fmt: skip
    _ffmpeg(*src, "testsrc=size=640x360:rate=15", "-t", "3", "-c:v", "libx265", "-x265-params",
            "log-level=error:keyint=15:min-keyint=15", "-pix_fmt", "yuv420p", str(d / "hevc.mp4"))  # fmt: skip
    _ffmpeg(*src, "testsrc=size=640x480:rate=10", "-t", "3", "-c:v", "mjpeg", "-q:v", "5", str(d / "mjpeg.avi"))
    _ffmpeg(*src, "testsrc=size=320x240:rate=25", "-t", "2", "-c:v", "mpeg4", str(d / "mpeg4.mp4"))
    _ffmpeg(*src, "sine=duration=2", "-c:a", "aac", str(d / "audio.m4a"))
    (d / "notes.txt").write_text("this is not a video\n" * 20)
    data = (d / "h264.mp4").read_bytes()
    (d / "truncated.mp4").write_bytes(data[:3000])
    garbled = bytearray(data)
    start, end = garbled.find(b"mdat") + 16, garbled.find(b"moov") - 8
    assert 0 < start < end, "ffmpeg writes mdat before moov"
    garbled[start:end] = bytes((i * 131 + 7) % 256 for i in range(end - start))
    (d / "garbled.mp4").write_bytes(bytes(garbled))
    return Media(
        dir=d,
        h264=d / "h264.mp4",
        hevc=d / "hevc.mp4",
        mjpeg=d / "mjpeg.avi",
        mpeg4=d / "mpeg4.mp4",
        audio_only=d / "audio.m4a",
        not_media=d / "notes.txt",
        truncated=d / "truncated.mp4",
        garbled=d / "garbled.mp4",
    )


def new_id() -> str:
    """A random id that names nothing."""
    return str(uuid.uuid4())
