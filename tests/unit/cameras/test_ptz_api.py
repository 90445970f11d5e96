"""PTZ through the API against simulated cameras speaking the vendors' wire protocols (ISAPI, Dahua HTTP,
ONVIF): moves, presets, server-side tours, auto-tracking, and the refusals around them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests import factories
from tests.simulators.onvif_device import OnvifDeviceSimulator
from tests.simulators.vendor_devices import DahuaSimulator, HikvisionSimulator
from tests.unit.cameras.conftest import CAMERAS, World, assert_problem
from vms import migrations
from vms.bootstrap import Container
from vms.cameras.devices import dahua, hikvision, onvif  # noqa: F401 - importing registers the adapters
from vms.cameras.models import PtzTour
from vms.cameras.ptz import TourRunner, recenter_translation
from vms.cameras.ptz_schemas import Box, TrackingGains
from vms.events.models import Event
from vms.kernel.clock import utcnow
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor

HIK_PASSWORD = "Hik12345"
GOTO = "/presets/{}/goto"
TIME_SCALE = 0.02  # tours dwell at least 1 s; the test runner sleeps 1/50 of it


# --- fixtures and helpers ---------------------------------------------------------------------------


@pytest.fixture
async def hik() -> AsyncIterator[HikvisionSimulator]:
    async with HikvisionSimulator("admin", HIK_PASSWORD) as sim:
        yield sim


@pytest.fixture
async def tours(app: FastAPI, container: Container) -> AsyncIterator[TourRunner]:
    """The app's tour runner, with dwells shortened so a tour takes milliseconds."""

    async def fast_sleep(seconds: float) -> None:
        await asyncio.sleep(seconds * TIME_SCALE)

    runner = TourRunner(unit_of_work=container.unit_of_work, secrets=container.identity.secrets, sleep=fast_sleep)
    app.state.ptz_tours = runner
    yield runner
    await runner.close()


async def add_camera(
    client: httpx.AsyncClient,
    who: factories.SignedIn,
    *,
    kind: str | None = "hikvision",
    url: str | None = None,
    password: str = HIK_PASSWORD,
) -> str:
    """A camera with (or without) a control interface; returns the PTZ base path."""
    body: dict[str, Any] = {
        "name": f"PTZ {uuid.uuid4().hex[:6]}",
        "main_url": "rtsp://127.0.0.1:8554/main",
        "probe": False,
        "auth": {"method": "digest", "username": "admin", "password": password},
    }
    if kind is not None:
        body["device"] = {"kind": kind, "url": url}
    r = await client.post(CAMERAS, headers=who.headers, json=body)
    assert r.status_code == 201, r.text
    return f"{CAMERAS}/{r.json()['id']}/ptz"


def camera_id_of(base: str) -> uuid.UUID:
    return uuid.UUID(base.split("/")[-2])


async def move(client: httpx.AsyncClient, who: factories.SignedIn, base: str, **body: Any) -> None:
    r = await client.post(f"{base}/move", headers=who.headers, json=body)
    assert r.status_code == 204, r.text


async def status_of(client: httpx.AsyncClient, who: factories.SignedIn, base: str) -> dict[str, Any]:
    r = await client.get(f"{base}/status", headers=who.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def store_preset(
    client: httpx.AsyncClient, who: factories.SignedIn, base: str, name: str, pan: float, tilt: float
) -> str:
    """Point the head somewhere and store it; returns the preset's token."""
    await move(client, who, base, mode="absolute", pan=pan, tilt=tilt, zoom=0)
    r = await client.post(f"{base}/presets", headers=who.headers, json={"name": name})
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


def gotos(sim: HikvisionSimulator) -> list[int]:
    """The preset ids the simulator was sent to, in order."""
    return [
        int(line.split("/presets/")[1].split("/")[0])
        for line in sim.requests
        if line.startswith("PUT ") and line.endswith("/goto")
    ]


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 (the simulator offers no event to wait on)
            await asyncio.sleep(0.01)


async def tour_row(container: Container, tour_id: str) -> PtzTour | None:
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        found: PtzTour | None = await uow.session.get(PtzTour, uuid.UUID(tour_id))
        return found


# --- moves --------------------------------------------------------------------------------------------


async def test_continuous_move_runs_until_stop(client, world: World, hik, tours):
    base = await add_camera(client, world.supervisor, url=hik.address.base_url)

    await move(client, world.supervisor, base, mode="continuous", pan=0.5, tilt=-0.25)
    assert hik.head.velocity == (50, -25, 0)
    assert hik.head.momentary_ms is None

    r = await client.post(f"{base}/stop", headers=world.supervisor.headers)
    assert r.status_code == 204, r.text
    assert hik.head.velocity == (0, 0, 0)

    # With a timeout the camera stops by itself (ISAPI's momentary move).
    await move(client, world.supervisor, base, mode="continuous", zoom=1, timeout_s=1.5)
    assert hik.head.velocity == (0, 0, 100)
    assert hik.head.momentary_ms == 1500


async def test_absolute_and_relative_moves_reach_their_positions(client, world: World, hik, tours):
    base = await add_camera(client, world.supervisor, url=hik.address.base_url)

    await move(client, world.supervisor, base, mode="absolute", pan=0.5, tilt=0.5, zoom=0.5)
    # pan 0.5 → azimuth 270°, tilt 0.5 (up) → elevation -45° (ISAPI counts downward), zoom half of 1×..25×.
    assert (hik.head.azimuth, hik.head.elevation, hik.head.zoom) == (2700, -450, 130)

    await move(client, world.supervisor, base, mode="relative", pan=-0.25, tilt=-0.1, zoom=0.1, speed=0.5)
    assert (hik.head.azimuth, hik.head.elevation, hik.head.zoom) == (2250, -360, 154)

    status = await status_of(client, world.viewer, base)
    assert status["position"] == pytest.approx({"pan": 0.25, "tilt": 0.4, "zoom": 0.6})
    assert status["tour_id"] is None


async def test_onvif_camera_moves_through_the_same_api(client, world: World, tours):
    async with OnvifDeviceSimulator(password="onvif-pw") as sim:
        base = await add_camera(client, world.supervisor, kind="onvif", url=sim.device_url, password="onvif-pw")
        await move(client, world.supervisor, base, mode="absolute", pan=0.5, tilt=-0.2, zoom=0.3)
        assert sim.ptz_position == pytest.approx((0.5, -0.2, 0.3))
        await move(client, world.supervisor, base, mode="relative", pan=-0.25, tilt=0.1)
        assert sim.ptz_position == pytest.approx((0.25, -0.1, 0.3))
        await move(client, world.supervisor, base, mode="continuous", pan=-1, timeout_s=2)
        assert sim.ptz_velocity == (-1.0, 0.0, 0.0) and sim.ptz_moving
        assert sim.ptz_timeout_s == pytest.approx(2.0)
        assert (await status_of(client, world.viewer, base))["moving"] is True
        r = await client.post(f"{base}/stop", headers=world.supervisor.headers)
        assert r.status_code == 204 and not sim.ptz_moving


# --- presets ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["hikvision", "dahua", "onvif"])
async def test_preset_round_trip(client, world: World, tours, kind: str):
    """set → list → goto (the head is back at the stored position) → remove → gone, on every brand."""
    simulator: Any = {
        "hikvision": lambda: HikvisionSimulator("admin", "pw-1"),
        "dahua": lambda: DahuaSimulator("admin", "pw-1"),
        "onvif": lambda: OnvifDeviceSimulator(password="pw-1"),
    }[kind]()
    async with simulator as sim:
        url = sim.device_url if kind == "onvif" else sim.address.base_url
        base = await add_camera(client, world.supervisor, kind=kind, url=url, password="pw-1")
        token = await store_preset(client, world.supervisor, base, "Gate", pan=0.5, tilt=-0.25)

        r = await client.get(f"{base}/presets", headers=world.viewer.headers)
        assert r.status_code == 200, r.text
        assert r.json() == [{"token": token, "name": "Gate"}]

        await move(client, world.supervisor, base, mode="absolute", pan=-0.5, tilt=0.5, zoom=0)
        assert (await status_of(client, world.viewer, base))["position"]["pan"] == pytest.approx(-0.5, abs=0.01)

        r = await client.post(f"{base}{GOTO.format(token)}", headers=world.supervisor.headers, json={"speed": 0.8})
        assert r.status_code == 204, r.text
        position = (await status_of(client, world.viewer, base))["position"]
        assert position["pan"] == pytest.approx(0.5, abs=0.01)
        assert position["tilt"] == pytest.approx(-0.25, abs=0.01)

        r = await client.delete(f"{base}/presets/{token}", headers=world.supervisor.headers)
        assert r.status_code == 204, r.text
        r = await client.get(f"{base}/presets", headers=world.viewer.headers)
        assert r.json() == []


async def test_preset_on_the_simulated_head_and_in_the_audit_log(client, world: World, hik, tours):
    base = await add_camera(client, world.supervisor, url=hik.address.base_url)
    token = await store_preset(client, world.supervisor, base, "Dock", pan=0.0, tilt=0.5)
    assert hik.head.presets[int(token)] == ("Dock", (1800, -450, 10))

    # Overwrite the same preset with a new position and name.
    await move(client, world.supervisor, base, mode="absolute", pan=0.25, tilt=0, zoom=0)
    r = await client.post(f"{base}/presets", headers=world.supervisor.headers, json={"name": "Dock 2", "token": token})
    assert r.status_code == 201 and r.json() == {"token": token, "name": "Dock 2"}
    assert hik.head.presets[int(token)] == ("Dock 2", (2250, 0, 10))

    r = await client.delete(f"{base}/presets/{token}", headers=world.supervisor.headers)
    assert r.status_code == 204
    r = await client.post(f"{base}{GOTO.format(token)}", headers=world.supervisor.headers)
    assert_problem(r, 422)  # the camera refuses a preset that is no longer stored

    r = await client.get("/api/v1/audit", headers=world.admin.headers, params={"resource_type": "ptz_preset"})
    assert r.status_code == 200, r.text
    actions = sorted(item["action"] for item in r.json()["items"])
    assert actions == ["delete", "set", "set"]


# --- tours --------------------------------------------------------------------------------------------


async def make_tour(
    client: httpx.AsyncClient, who: factories.SignedIn, base: str, tokens: list[str], *, loop: bool = True
) -> dict[str, Any]:
    steps = [{"preset_token": t, "dwell_s": 5, "speed": 0.5} for t in tokens]
    r = await client.post(
        f"{base}/tours", headers=who.headers, json={"name": "Perimeter", "steps": steps, "loop": loop}
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def three_presets(client: httpx.AsyncClient, who: factories.SignedIn, base: str) -> list[str]:
    return [
        await store_preset(client, who, base, "North", pan=0.0, tilt=0.0),
        await store_preset(client, who, base, "East", pan=0.5, tilt=0.0),
        await store_preset(client, who, base, "Gate", pan=-0.5, tilt=-0.5),
    ]


async def test_a_tour_visits_its_presets_in_order_loops_and_stops_on_request(
    client, world: World, hik, tours, container
):
    base = await add_camera(client, world.supervisor, url=hik.address.base_url)
    tokens = await three_presets(client, world.supervisor, base)
    tour = await make_tour(client, world.supervisor, base, tokens)
    assert tour["running"] is False and [s["preset_token"] for s in tour["steps"]] == tokens

    r = await client.post(f"{base}/tours/{tour['id']}/start", headers=world.supervisor.headers)
    assert r.status_code == 200, r.text
    assert r.json()["running"] is True
    await until(lambda: len(gotos(hik)) >= 5)  # all three and round again
    assert gotos(hik)[:5] == [int(t) for t in tokens] + [int(t) for t in tokens[:2]]

    r = await client.get(f"{base}/tours/{tour['id']}", headers=world.viewer.headers)
    assert r.json()["running"] is True and r.json()["current_step"] in (0, 1, 2)
    assert (await status_of(client, world.viewer, base))["tour_id"] == tour["id"]

    r = await client.post(f"{base}/tours/{tour['id']}/stop", headers=world.supervisor.headers)
    assert r.status_code == 200 and r.json()["running"] is False and r.json()["last_error"] is None
    sent = len(gotos(hik))
    await asyncio.sleep(0.4)  # four dwells at the test's pace
    assert len(gotos(hik)) == sent
    assert tours.running(camera_id_of(base)) is None
    row = await tour_row(container, tour["id"])
    assert row is not None and row.running is False


async def test_a_manual_move_stops_the_running_tour(client, world: World, hik, tours):
    base = await add_camera(client, world.supervisor, url=hik.address.base_url)
    tokens = await three_presets(client, world.supervisor, base)
    tour = await make_tour(client, world.supervisor, base, tokens)
    r = await client.post(f"{base}/tours/{tour['id']}/start", headers=world.supervisor.headers)
    assert r.status_code == 200
    await until(lambda: len(gotos(hik)) >= 2)

    await move(client, world.admin, base, mode="absolute", pan=0.9, tilt=0.1, zoom=0)
    sent = len(gotos(hik))
    await asyncio.sleep(0.4)
    assert len(gotos(hik)) == sent  # no preset sent after the operator took the camera
    assert hik.head.azimuth == round(1.9 * 1800)  # and the head stays where the operator put it

    r = await client.get(f"{base}/tours/{tour['id']}", headers=world.viewer.headers)
    assert r.json()["running"] is False
    assert r.json()["last_error"] == "Stopped by a manual absolute move."
    assert (await status_of(client, world.viewer, base))["tour_id"] is None


async def test_a_tour_without_loop_ends_after_its_last_step(client, world: World, hik, tours):
    base = await add_camera(client, world.supervisor, url=hik.address.base_url)
    tokens = (await three_presets(client, world.supervisor, base))[:2]
    tour = await make_tour(client, world.supervisor, base, tokens, loop=False)
    await client.post(f"{base}/tours/{tour['id']}/start", headers=world.supervisor.headers)
    async with asyncio.timeout(5):
        await tours.wait(camera_id_of(base))
    assert gotos(hik) == [int(t) for t in tokens]
    r = await client.get(f"{base}/tours/{tour['id']}", headers=world.viewer.headers)
    assert r.json()["running"] is False and r.json()["current_step"] == 1


async def test_a_tour_gives_up_after_repeated_device_errors(client, world: World, hik, tours):
    base = await add_camera(client, world.supervisor, url=hik.address.base_url)
    tour = await make_tour(client, world.supervisor, base, await three_presets(client, world.supervisor, base))
    hik.answer_with("/ISAPI/PTZCtrl/channels/1/presets/", 500, "<html>internal error</html>")
    await client.post(f"{base}/tours/{tour['id']}/start", headers=world.supervisor.headers)
    async with asyncio.timeout(5):
        await tours.wait(camera_id_of(base))
    r = await client.get(f"{base}/tours/{tour['id']}", headers=world.viewer.headers)
    assert r.json()["running"] is False
    assert r.json()["last_error"].startswith("Stopped after 3 failed steps in a row")


async def test_deleting_the_camera_ends_its_tour(client, world: World, hik, tours, container):
    base = await add_camera(client, world.supervisor, url=hik.address.base_url)
    tour = await make_tour(client, world.supervisor, base, await three_presets(client, world.supervisor, base))
    await client.post(f"{base}/tours/{tour['id']}/start", headers=world.supervisor.headers)
    await until(lambda: len(gotos(hik)) >= 1)

    r = await client.delete(base.removesuffix("/ptz"), headers=world.admin.headers)
    assert r.status_code == 204, r.text
    async with asyncio.timeout(5):
        await tours.wait(camera_id_of(base))
    assert await tour_row(container, tour["id"]) is None  # gone with its camera


async def test_starting_a_tour_replaces_the_cameras_other_tour(client, world: World, hik, tours):
    base = await add_camera(client, world.supervisor, url=hik.address.base_url)
    tokens = await three_presets(client, world.supervisor, base)
    first = await make_tour(client, world.supervisor, base, tokens)
    r = await client.post(
        f"{base}/tours",
        headers=world.supervisor.headers,
        json={"name": "Gate only", "steps": [{"preset_token": tokens[2], "dwell_s": 2}]},
    )
    second = r.json()
    await client.post(f"{base}/tours/{first['id']}/start", headers=world.supervisor.headers)
    r = await client.post(f"{base}/tours/{second['id']}/start", headers=world.supervisor.headers)
    assert r.status_code == 200 and r.json()["running"] is True
    assert tours.running(camera_id_of(base)) == uuid.UUID(second["id"])

    r = await client.get(f"{base}/tours", headers=world.viewer.headers)
    by_name = {t["name"]: t for t in r.json()["items"]}
    assert r.json()["total"] == 2
    assert by_name["Perimeter"]["running"] is False
    assert by_name["Perimeter"]["last_error"] == "Replaced by tour 'Gate only'."
    assert by_name["Gate only"]["running"] is True


async def test_tours_are_validated_edited_and_deleted(client, world: World, hik, tours):
    base = await add_camera(client, world.supervisor, url=hik.address.base_url)
    tokens = await three_presets(client, world.supervisor, base)
    tour = await make_tour(client, world.supervisor, base, tokens)
    path = f"{base}/tours/{tour['id']}"
    headers = world.supervisor.headers

    r = await client.post(
        f"{base}/tours", headers=headers, json={"name": "Typo", "steps": [{"preset_token": "9", "dwell_s": 5}]}
    )
    assert "Step 1" in assert_problem(r, 422)["detail"]
    r = await client.post(
        f"{base}/tours", headers=headers, json={"name": "Perimeter", "steps": [{"preset_token": "1", "dwell_s": 5}]}
    )
    assert_problem(r, 409)
    for bad in (
        {"name": "Zero", "steps": [{"preset_token": "1", "dwell_s": 0}]},
        {"name": "Empty", "steps": []},
        {"name": "Fast", "steps": [{"preset_token": "1", "dwell_s": 5, "speed": 2}]},
        {"name": "Long", "steps": [{"preset_token": "1", "dwell_s": 5}] * 65},
    ):
        assert_problem(await client.post(f"{base}/tours", headers=headers, json=bad), 422)

    r = await client.patch(path, headers=headers, json={"name": "Night", "loop": False, "steps": tour["steps"][:1]})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["loop"], len(r.json()["steps"])) == ("Night", False, 1)
    assert_problem(await client.patch(path, headers=headers, json={"steps": None}), 422)

    r = await client.get(f"{base}/tours/{uuid.uuid4()}", headers=headers)
    assert_problem(r, 404)
    assert (await client.delete(path, headers=headers)).status_code == 204
    assert_problem(await client.get(path, headers=headers), 404)


# --- auto-tracking ------------------------------------------------------------------------------------


def test_recenter_maths_follows_the_picture():
    gains = TrackingGains(pan=0.5, tilt=0.5, zoom=0.25, deadband=0.0)
    # Right of and below the centre: pan right (+), tilt down (-).
    right_low = recenter_translation(Box(x=0.7, y=0.7, w=0.2, h=0.2), gains=gains)
    assert (right_low.pan, right_low.tilt, right_low.zoom) == (0.15, -0.15, 0.0)
    # A box a quarter of the wanted height: two doublings of magnification.
    zoomed = recenter_translation(Box(x=0.45, y=0.45, w=0.1, h=0.1), gains=gains, zoom_to_fraction=0.4)
    assert (zoomed.pan, zoomed.tilt, zoomed.zoom) == (0.0, 0.0, 0.5)
    # Too big: zoom out.
    assert recenter_translation(Box(x=0, y=0, w=1, h=1), gains=gains, zoom_to_fraction=0.5).zoom == -0.25
    # Inside the deadband nothing moves.
    still = recenter_translation(Box(x=0.41, y=0.41, w=0.2, h=0.2), gains=TrackingGains())
    assert (still.pan, still.tilt, still.zoom) == (0.0, 0.0, 0.0)


async def test_track_a_box_in_the_upper_left_moves_the_head_left_and_up(client, world: World, hik, tours):
    base = await add_camera(client, world.supervisor, url=hik.address.base_url)
    await move(client, world.supervisor, base, mode="absolute", pan=0, tilt=0, zoom=0)
    assert (hik.head.azimuth, hik.head.elevation) == (1800, 0)

    r = await client.post(
        f"{base}/track",
        headers=world.supervisor.headers,
        json={"box": {"x": 0.05, "y": 0.05, "w": 0.1, "h": 0.1}, "zoom_to_fraction": 0.4},
    )
    assert r.status_code == 200, r.text
    # Centre (0.1, 0.1): pan (0.1 - 0.5) × 0.33, tilt (0.5 - 0.1) × 0.38, zoom 0.2 × log2(0.4 / 0.1).
    assert r.json() == {"translation": {"pan": -0.132, "tilt": 0.152, "zoom": 0.4}, "moved": True}
    assert hik.head.azimuth == 1562  # left: 1800 - 0.132 × 1800
    assert hik.head.elevation == -137  # up: ISAPI elevation counts downward from the horizon
    assert hik.head.zoom == 106  # 10 + 0.4 × (250 - 10)

    # A centred target sends nothing.
    sent = len(hik.requests)
    r = await client.post(
        f"{base}/track", headers=world.supervisor.headers, json={"box": {"x": 0.45, "y": 0.45, "w": 0.1, "h": 0.1}}
    )
    assert r.json()["moved"] is False
    assert not [line for line in hik.requests[sent:] if line.startswith("PUT")]


async def add_event(container: Container, *, tenant_id: uuid.UUID, camera_id: uuid.UUID, box: list[float]) -> str:
    event = Event(
        tenant_id=tenant_id,
        camera_id=camera_id,
        event_type="intrusion",
        confidence=0.9,
        occurred_at=utcnow(),
        priority="HIGH",
        object_class="person",
        tracking_id="t-1",
        bounding_box=box,
        updated_at=utcnow(),
    )
    async with container.unit_of_work(TenantScope.of(tenant_id), Actor.system("test")) as uow:  # type: ignore[arg-type]
        uow.add(event)
        await uow.commit()
    return str(event.id)


async def test_track_an_ai_event_recentres_on_its_bounding_box(client, world: World, hik, tours, container):
    base = await add_camera(client, world.supervisor, url=hik.address.base_url)
    other = await add_camera(client, world.supervisor, url=hik.address.base_url)
    await move(client, world.supervisor, base, mode="absolute", pan=0, tilt=0, zoom=0)
    event_id = await add_event(container, tenant_id=world.a.id, camera_id=camera_id_of(base), box=[0.7, 0.6, 0.2, 0.3])

    r = await client.post(f"{base}/track", headers=world.supervisor.headers, json={"event_id": event_id})
    assert r.status_code == 200, r.text
    translation = r.json()["translation"]
    assert translation["pan"] > 0 and translation["tilt"] < 0  # centre (0.8, 0.75): right and down
    assert hik.head.azimuth > 1800 and hik.head.elevation > 0

    r = await client.post(f"{other}/track", headers=world.supervisor.headers, json={"event_id": event_id})
    assert "another camera" in assert_problem(r, 422)["detail"]
    r = await client.post(f"{base}/track", headers=world.supervisor.headers, json={"event_id": str(uuid.uuid4())})
    assert_problem(r, 404)
    r = await client.post(f"{base}/track", headers=world.supervisor.headers, json={})
    assert_problem(r, 422)


# --- refusals -----------------------------------------------------------------------------------------


async def test_cameras_without_a_control_interface_or_without_ptz_are_422(client, world: World, tours):
    base = await add_camera(client, world.supervisor, kind=None)
    r = await client.post(f"{base}/move", headers=world.supervisor.headers, json={"mode": "continuous", "pan": 1})
    assert "no control interface" in assert_problem(r, 422, "Not supported by the camera")["detail"]

    async with HikvisionSimulator("admin", HIK_PASSWORD, ptz_channels=()) as fixed:
        base = await add_camera(client, world.supervisor, url=fixed.address.base_url)
        r = await client.get(f"{base}/presets", headers=world.viewer.headers)
        assert_problem(r, 422, "Not supported by the camera")


async def test_wrong_device_password_is_422_with_the_credentials_title(client, world: World, hik, tours):
    base = await add_camera(client, world.supervisor, url=hik.address.base_url, password="wrong")
    r = await client.get(f"{base}/status", headers=world.viewer.headers)
    assert_problem(r, 422, "Camera device refused the credentials")


async def test_viewers_look_but_do_not_move_and_other_customers_see_nothing(client, world: World, hik, tours):
    base = await add_camera(client, world.supervisor, url=hik.address.base_url)
    assert (await client.get(f"{base}/presets", headers=world.viewer.headers)).status_code == 200
    assert (await client.get(f"{base}/tours", headers=world.viewer.headers)).status_code == 200
    for method, path, body in (
        ("POST", "/move", {"mode": "continuous", "pan": 1}),
        ("POST", "/stop", None),
        ("POST", "/presets", {"name": "X"}),
        ("POST", "/presets/1/goto", None),
        ("DELETE", "/presets/1", None),
        ("POST", "/tours", {"name": "X", "steps": [{"preset_token": "1", "dwell_s": 5}]}),
        ("POST", "/track", {"box": {"x": 0, "y": 0, "w": 0.1, "h": 0.1}}),
    ):
        r = await client.request(method, f"{base}{path}", headers=world.viewer.headers, json=body)
        assert_problem(r, 403)
    assert hik.head.velocity == (0, 0, 0) and hik.head.presets == {}

    for method, path, body in (
        ("GET", "/presets", None),
        ("GET", "/status", None),
        ("GET", "/tours", None),
        ("POST", "/move", {"mode": "continuous", "pan": 1}),
    ):
        r = await client.request(method, f"{base}{path}", headers=world.b_admin.headers, json=body)
        assert_problem(r, 404)
    assert hik.head.velocity == (0, 0, 0)


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "continuous", "pan": 5},
        {"mode": "continuous", "pan": 1.5},  # inside the relative range, outside a velocity's
        {"mode": "absolute", "zoom": -0.5},
        {"mode": "orbit", "pan": 0.1},
        {"mode": "continuous", "pan": 0.1, "speed": 0.5},
        {"mode": "absolute", "pan": 0.1, "timeout_s": 3},
        {"mode": "relative", "pan": 0.1, "extra": 1},
        {"pan": 0.1},
    ],
)
async def test_bad_move_bodies_are_422_and_nothing_moves(client, world: World, hik, tours, body):
    base = await add_camera(client, world.supervisor, url=hik.address.base_url)
    r = await client.post(f"{base}/move", headers=world.supervisor.headers, json=body)
    assert_problem(r, 422)
    assert not [line for line in hik.requests if line.startswith("PUT")]


async def test_garbage_json_is_400(client, world: World, hik, tours):
    base = await add_camera(client, world.supervisor, url=hik.address.base_url)
    r = await client.post(
        f"{base}/move", headers={**world.supervisor.headers, "content-type": "application/json"}, content=b"{pan:"
    )
    assert_problem(r, 400, "Malformed JSON")


# --- schema -------------------------------------------------------------------------------------------


async def test_the_tour_table_goes_down_and_up(any_database_url):
    from sqlalchemy import inspect

    from vms.adapters.sql.engine import make_engine

    async def tables() -> set[str]:
        engine = make_engine(any_database_url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        finally:
            await engine.dispose()

    assert "ptz_tours" in await tables()
    await asyncio.to_thread(migrations.downgrade, any_database_url, "0012")
    assert "ptz_tours" not in await tables()
    await asyncio.to_thread(migrations.upgrade, any_database_url, "head")
    assert "ptz_tours" in await tables()


async def test_tour_rows_are_scoped_to_the_customer(client, world: World, hik, tours, container):
    base = await add_camera(client, world.supervisor, url=hik.address.base_url)
    tour = await make_tour(client, world.supervisor, base, await three_presets(client, world.supervisor, base))
    async with container.unit_of_work(TenantScope.of(world.b.id), Actor.system("test")) as uow:  # type: ignore[arg-type]
        assert (await uow.session.execute(select(PtzTour))).scalars().all() == []
    r = await client.get(f"{base}/tours/{tour['id']}", headers=world.b_admin.headers)
    assert_problem(r, 404)
