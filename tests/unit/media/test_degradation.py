"""Runtime degradation: a stream that falls short of an enabled model's requirements raises a warning
naming the model and the shortfall (API + gauge), which clears when the stream recovers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests import factories
from tests.unit.media.scenes import cut, make_scene
from vms.auth.permissions import Role
from vms.bootstrap import Container
from vms.cameras.service import IngestTarget
from vms.kernel.ai_models import AiModel
from vms.kernel.ids import TenantId
from vms.kernel.tenancy import TenantScope
from vms.kernel.topics import PARTITIONS
from vms.media import warnings_api
from vms.media.degradation import ModelNeeds, Requirement, Shortfall, StreamMonitor, StreamSample
from vms.media.models import Segment
from vms.roles.ingest import IngestRole, _Running
from vms.uow import Actor

T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
FALLEN = {AiModel.FALLEN: ModelNeeds(min_height=480, min_bitrate_kbps=1000, min_fps=15)}


def monitor_of(*samples: tuple[int, float, float]) -> StreamMonitor:
    monitor = StreamMonitor()
    for lines, kbps, fps in samples:
        monitor.add(StreamSample(lines=lines, bitrate_kbps=kbps, fps=fps))
    return monitor


def test_a_slow_stream_falls_short_of_fallen_with_a_message_naming_both():
    [gap] = monitor_of(*[(480, 1500, 8)] * 4).shortfalls(FALLEN)
    assert gap == Shortfall(AiModel.FALLEN, Requirement.FPS, 8, 15)
    assert gap.message == "fps 8 < 15 required by fallen"


def test_each_requirement_is_named_with_its_unit():
    gaps = monitor_of(*[(360, 400, 15)] * 3).shortfalls(FALLEN)
    assert [g.message for g in gaps] == [
        "resolution 360p < 480p required by fallen",
        "bitrate 400 kbps < 1000 kbps required by fallen",
    ]


def test_no_verdict_on_a_fresh_connection_or_a_blip():
    assert monitor_of((480, 1500, 8), (480, 1500, 8)).shortfalls(FALLEN) == []  # two segments: too early
    # One slow segment among good ones is a blip (median), not a slower camera.
    assert monitor_of((480, 1500, 15), (480, 1500, 6), (480, 1500, 15)).shortfalls(FALLEN) == []
    # 14.5 fps measured for 15 is timestamp noise.
    assert monitor_of(*[(480, 1500, 14.5)] * 3).shortfalls(FALLEN) == []


def test_a_vbr_camera_on_a_still_scene_is_judged_on_its_peak_bitrate():
    quiet = monitor_of((480, 1200, 15), (480, 300, 15), (480, 250, 15), (480, 280, 15))
    assert quiet.shortfalls(FALLEN) == []
    turned_down = monitor_of(*[(480, 600, 15)] * 6, (480, 650, 15))
    assert [g.requirement for g in turned_down.shortfalls(FALLEN)] == [Requirement.BITRATE]


# --- through the ingest role, with real segments -----------------------------------------------------


def segments(tmp_path: Path, name: str, *, fps: int, start: datetime, count: int = 6) -> list:
    """`count` one-second segments of a noisy 640×480 scene (noise keeps the bitrate well above 1 Mbit/s)."""
    clip = make_scene(tmp_path / f"{name}.mp4", seconds=count, fps=fps, width=640, height=480, noise=40)
    return cut(clip, tmp_path / name, start=start, target_s=1)


def with_warning_routes(app: FastAPI) -> None:
    """Mount the warning routes ahead of the API's catch-all, unless routers.py already lists them."""
    if any(getattr(r, "path", "") == "/api/v1/camera-warnings" for r in app.routes):
        return
    before = len(app.router.routes)
    app.include_router(warnings_api.router, prefix="/api/v1")
    added = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[0:0] = added


async def warnings_page(client, app: FastAPI, headers, path: str) -> dict:
    with_warning_routes(app)
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def gauge(container: Container, model: str, requirement: str) -> float:
    text = (await container.metrics.render()).decode()
    line = f'vms_cameras_degraded{{model="{model}",requirement="{requirement}"}} '
    [value] = [row.removeprefix(line) for row in text.splitlines() if row.startswith(line)]
    return float(value)


async def feed(role: IngestRole, running: _Running, infos: list) -> None:
    for info in infos:
        await role._segment_closed(running, info)
    await asyncio.gather(*role._background)


@pytest.fixture
async def setup(container, client):
    customer = await factories.customer(container, models=[AiModel.FALLEN, AiModel.MOTION])
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    camera = await factories.camera(container, tenant_id=customer.id)
    target = IngestTarget(
        tenant_id=TenantId(customer.id),
        camera_id=camera.id,
        streams={"main": "rtsp://192.0.2.10/main"},
        enabled_models=[AiModel.FALLEN, AiModel.MOTION],
        model_streams={AiModel.FALLEN: "main", AiModel.MOTION: "main"},
    )
    await container.bus.ensure_topics(PARTITIONS)  # the role publishes the segments' AI jobs
    role = IngestRole(container)
    await role._refresh_policies([target])
    running = _Running(target, "main", asyncio.get_running_loop().create_future())  # type: ignore[arg-type]
    return customer, admin, camera, role, running


async def test_a_stream_dropping_to_8_fps_warns_for_fallen_and_clears_when_it_recovers(
    setup, container, client, app, tmp_path
):
    customer, admin, camera, role, running = setup
    await feed(role, running, segments(tmp_path, "slow", fps=8, start=T0))

    page = await warnings_page(client, app, admin.headers, f"/api/v1/cameras/{camera.id}/warnings")
    # Models see 15 fps (video.normalize.fps), so both enabled models fall short; nothing else does.
    assert sorted((w["model"], w["requirement"], w["message"]) for w in page["items"]) == [
        ("fallen", "fps", "fps 8 < 15 required by fallen"),
        ("motion", "fps", "fps 8 < 15 required by motion"),
    ]
    assert {w["cleared_at"] for w in page["items"]} == {None} and page["total"] == 2
    assert await gauge(container, "fallen", "fps") == 1.0
    assert await gauge(container, "fallen", "bitrate") == 0.0

    await feed(role, running, segments(tmp_path, "recovered", fps=15, start=T0 + timedelta(seconds=10)))

    assert (await warnings_page(client, app, admin.headers, f"/api/v1/cameras/{camera.id}/warnings"))["total"] == 0
    history = await warnings_page(client, app, admin.headers, "/api/v1/camera-warnings?active=false&model=fallen")
    [cleared] = history["items"]
    assert cleared["message"] == "fps 8 < 15 required by fallen" and cleared["cleared_at"] is not None
    assert await gauge(container, "fallen", "fps") == 0.0
    # Recording went on meanwhile: every segment was indexed (continuous by default).
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
        kept = (await uow.session.execute(select(Segment.kept_by))).scalars().all()
    assert len(kept) == 12 and set(kept) == {"continuous"}


async def test_switching_a_model_off_clears_its_warning(setup, container, client, app, tmp_path):
    _, admin, camera, role, running = setup
    await feed(role, running, segments(tmp_path, "slow", fps=8, start=T0, count=3))
    running.target.enabled_models.remove(AiModel.MOTION)
    await role._refresh_policies([running.target])
    await feed(role, running, segments(tmp_path, "slow2", fps=8, start=T0 + timedelta(seconds=10), count=1))
    page = await warnings_page(client, app, admin.headers, f"/api/v1/cameras/{camera.id}/warnings")
    assert [w["message"] for w in page["items"]] == ["fps 8 < 15 required by fallen"]
    assert await gauge(container, "motion", "fps") == 0.0


async def test_another_customers_camera_warnings_are_404(setup, container, client, app):
    _, admin, _, _, _ = setup
    other = await factories.customer(container)
    foreign = await factories.camera(container, tenant_id=other.id)
    with_warning_routes(app)
    assert (await client.get(f"/api/v1/cameras/{foreign.id}/warnings", headers=admin.headers)).status_code == 404
    assert (await client.get(f"/api/v1/cameras/{uuid.uuid4()}/warnings", headers=admin.headers)).status_code == 404
    assert (await client.get("/api/v1/camera-warnings?model=teleport", headers=admin.headers)).status_code == 422
