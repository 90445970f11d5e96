"""Discovery jobs through the API: scan and WS-Discovery in the background against simulated devices on
loopback, progress and results over SSE, cancellation, tenant isolation, and one call from a result to a camera.

The devices are the project's simulators (a fleet of RTSP/ONVIF/vendor devices on 127.0.9x.0 addresses,
the Hikvision ISAPI and ONVIF device simulators, a WS-Discovery responder); the streams' probe is the
fake prober of the camera tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.simulators.fleet import FLEET_CREDENTIALS, DeviceFleet
from tests.simulators.onvif_device import OnvifDeviceSimulator
from tests.simulators.vendor_devices import HikvisionSimulator
from tests.simulators.ws_discovery import SimulatedDevice, onvif_scopes, probe_matches_message, read_probe
from tests.unit.cameras.conftest import CAMERAS, assert_problem, count_rows, new_id
from tests.unit.streaming.recorded import serve
from vms.cameras.models import Camera, DiscoveryJob
from vms.kernel.clock import utcnow
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor

DISCOVERY = f"{CAMERAS}/discovery"
FINISHED = {"completed", "failed", "cancelled"}


@pytest.fixture(autouse=True)
async def stop_runner(app) -> AsyncIterator[None]:
    """Jobs still running when a test ends are stopped (the app's shutdown hook does this in a server)."""
    yield
    runner = getattr(app.state, "discovery_runner", None)
    if runner is not None:
        await runner.close()


async def start(client: httpx.AsyncClient, who, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(DISCOVERY, json=body, headers=who.headers)
    assert r.status_code == 202, r.text
    job: dict[str, Any] = r.json()
    assert job["status"] in ("queued", "running")
    return job


async def finished(client: httpx.AsyncClient, who, job_id: str, *, within_s: float = 20.0) -> dict[str, Any]:
    """The job once it has finished (polled as a console would)."""
    async with asyncio.timeout(within_s):
        while True:
            r = await client.get(f"{DISCOVERY}/{job_id}", headers=who.headers)
            assert r.status_code == 200, r.text
            if r.json()["status"] in FINISHED:
                return dict(r.json())
            await asyncio.sleep(0.05)


async def sse_events(http: httpx.AsyncClient, url: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(event name, data) of each SSE message until the server ends the stream."""
    async with http.stream("GET", url) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line == "":
                if "data" in fields:
                    yield fields.get("event", "message"), json.loads(fields["data"])
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value


async def ticket(client: httpx.AsyncClient, who) -> str:
    r = await client.post("/api/v1/auth/stream-ticket", headers=who.headers)
    assert r.status_code == 200, r.text
    return str(r.json()["ticket"])


@contextlib.asynccontextmanager
async def slow_ws_responder(device: SimulatedDevice, *, delay_s: float) -> AsyncIterator[int]:
    """A WS-Discovery responder that answers each probe after `delay_s` (a camera on a slow link); yields its port."""
    loop = asyncio.get_running_loop()

    class Answerer(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: Any = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            probe = read_probe(data)
            if probe is not None:
                answer = probe_matches_message([device], relates_to=probe[0])
                loop.call_later(delay_s, self.transport.sendto, answer, addr)

    transport, _ = await loop.create_datagram_endpoint(Answerer, local_addr=("127.0.0.1", 0))
    try:
        yield transport.get_extra_info("sockname")[1]
    finally:
        transport.close()


# --- scanning ---------------------------------------------------------------------------------------


async def test_a_scan_finds_every_camera_of_the_fleet_with_its_kind_and_progress(client, world, container):
    async with DeviceFleet("127.0.90.0/28", 9) as fleet:
        job = await start(
            client,
            world.admin,
            {"method": "scan", "targets": "127.0.90.0/28", "ports": list(fleet.ports), "timeout_s": 1},
        )
        assert job["hosts_total"] == 14  # a /28 without its network and broadcast addresses
        done = await finished(client, world.admin, job["id"])

    assert done["status"] == "completed", done
    assert done["hosts_done"] == done["hosts_total"] == 14
    assert done["progress"] == 1.0
    assert done["devices_found"] == len(fleet.cameras) == len(done["results"])
    found = {(d["host"], d["kind"]) for d in done["results"]}
    assert found == {(c.host, c.kind) for c in fleet.cameras}  # the web server is no camera
    for result in done["results"]:
        device = fleet.device(result["host"])
        assert result["manufacturer"] == device.manufacturer, result
        assert result["requires_auth"] == device.requires_auth, result
        assert result["via"] == "scan"
        assert result["camera_id"] is None and result["known_camera_id"] is None
    assert [r["index"] for r in done["results"]] == list(range(len(done["results"])))

    listed = (await client.get(DISCOVERY, headers=world.viewer.headers)).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == job["id"]
    assert listed["items"][0]["results"] is None  # lists stay small


async def test_an_rtsp_result_becomes_a_camera_on_its_stream_url_in_one_call(client, world, prober, container):
    async with DeviceFleet("127.0.91.0/29", 1, profiles=("rtsp",)) as fleet:
        job = await start(client, world.admin, {"method": "scan", "targets": "127.0.91.1", "ports": list(fleet.ports)})
        done = await finished(client, world.admin, job["id"])
        [result] = done["results"]
        assert result["kind"] == "rtsp" and result["rtsp_url"].startswith("rtsp://127.0.91.1:10554")
        r = await client.post(
            f"{DISCOVERY}/{job['id']}/devices/0/add", json={"name": "Yard"}, headers=world.supervisor.headers
        )
        assert r.status_code == 201, r.text
        camera = r.json()
        # The same device scanned by another customer is not "known" to them: A's camera is A's.
        theirs = await start(client, world.b_admin, {"method": "scan", "targets": "127.0.91.1", "ports": [10554]})
        theirs = await finished(client, world.b_admin, theirs["id"])
        ours = await start(client, world.admin, {"method": "scan", "targets": "127.0.91.1", "ports": [10554]})
        ours = await finished(client, world.admin, ours["id"])
    assert theirs["results"][0]["known_camera_id"] is None
    assert ours["results"][0]["known_camera_id"] == camera["id"]
    assert camera["main_url"] == result["rtsp_url"]
    assert camera["manufacturer"] == "go2rtc"  # from the RTSP Server header
    assert camera["device"] is None  # a bare RTSP server has no control interface
    assert prober.calls[0][0] == result["rtsp_url"]  # probed like any new camera


async def test_sse_delivers_snapshot_then_each_device_then_done(client, world, app):
    device = SimulatedDevice(
        xaddrs="http://127.0.0.1:1/onvif/device_service", scopes=onvif_scopes(name="Gate", manufacturer="Acme")
    )
    async with slow_ws_responder(device, delay_s=0.8) as port, serve(app) as base:
        job = await start(
            client,
            world.admin,
            {"method": "ws-discovery", "targets": f"127.0.0.1:{port}", "multicast": False, "timeout_s": 2},
        )
        events = []
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            url = f"{DISCOVERY}/{job['id']}/events?ticket={await ticket(client, world.viewer)}"
            async for name, data in sse_events(http, url):
                events.append((name, data))

    names = [name for name, _ in events]
    assert names[0] == "snapshot" and names[-1] == "done", names
    assert events[0][1]["job"]["id"] == job["id"] and events[0][1]["job"]["results"] == []
    devices = [data for name, data in events if name == "device"]
    assert len(devices) == 1, names
    assert devices[0]["index"] == 0
    assert devices[0]["device"]["kind"] == "onvif" and devices[0]["device"]["name"] == "Gate"
    assert devices[0]["device"]["device_url"] == "http://127.0.0.1:1/onvif/device_service"
    assert "progress" in names  # the answer window is reported as it passes
    final = events[-1][1]["job"]
    assert final["status"] == "completed" and final["devices_found"] == 1 and final["progress"] == 1.0


async def test_sse_of_a_finished_job_is_its_snapshot_and_done(client, world, app):
    async with DeviceFleet("127.0.92.0/29", 1, profiles=("rtsp",)) as fleet:
        job = await start(client, world.admin, {"method": "scan", "targets": "127.0.92.1", "ports": list(fleet.ports)})
        await finished(client, world.admin, job["id"])
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        events = [
            e
            async for e in sse_events(
                http, f"{DISCOVERY}/{job['id']}/events?ticket={await ticket(client, world.admin)}"
            )
        ]
    assert [name for name, _ in events] == ["snapshot", "done"]
    assert len(events[0][1]["job"]["results"]) == 1
    assert events[1][1]["job"]["status"] == "completed"


async def test_cancelling_a_slow_scan_stops_it_promptly_and_keeps_what_it_found(client, world, container):
    # Tarpits accept and never answer, so each holds its fingerprint for the whole (long) timeout.
    profiles = ("rtsp", "tarpit", "tarpit", "tarpit", "tarpit")
    async with DeviceFleet("127.0.97.0/24", 10, profiles=profiles) as fleet:
        job = await start(
            client,
            world.admin,
            {"method": "scan", "targets": "127.0.96.0/22", "ports": list(fleet.ports), "timeout_s": 8},
        )
        async with asyncio.timeout(10):
            while True:
                current = (await client.get(f"{DISCOVERY}/{job['id']}", headers=world.admin.headers)).json()
                if current["status"] == "running" and current["devices_found"] >= 2:
                    break
                await asyncio.sleep(0.05)
        assert current["hosts_done"] < current["hosts_total"] == 1022  # the tarpits hold it open

        began = time.monotonic()
        r = await client.post(f"{DISCOVERY}/{job['id']}/cancel", headers=world.supervisor.headers)
        took = time.monotonic() - began
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "cancelled"
        assert took < 2.0  # not the 16 s the tarpits would hold
        async with asyncio.timeout(5):
            while fleet.open_connections:  # noqa: ASYNC110 (every probe socket was closed)
                await asyncio.sleep(0.05)

    stored = (await client.get(f"{DISCOVERY}/{job['id']}", headers=world.admin.headers)).json()
    assert stored["status"] == "cancelled" and stored["finished_at"] is not None
    assert {r["host"] for r in stored["results"]} == {d.host for d in fleet.cameras}  # found so far: kept

    again = await client.post(f"{DISCOVERY}/{job['id']}/cancel", headers=world.admin.headers)
    assert_problem(again, 409)


# --- refusals ---------------------------------------------------------------------------------------


async def test_a_too_large_range_is_a_422_naming_the_limit_and_stores_nothing(client, world, container):
    r = await client.post(DISCOVERY, json={"method": "scan", "targets": "10.0.0.0/16"}, headers=world.admin.headers)
    body = assert_problem(r, 422)
    assert "1,024" in body["detail"] and "10.0.0.0/22" in body["detail"], body
    assert await count_rows(container, DiscoveryJob) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"method": "scan", "targets": "10.0.0.1", "ports": [0]},
        {"method": "scan", "targets": "10.0.0.1", "ports": [70000]},
        {"method": "scan", "targets": "10.0.0.1", "ports": list(range(1, 18))},
        {"method": "scan", "targets": "10.0.0.1", "ports": []},
        {"method": "scan", "targets": "not-an-address"},
        {"method": "scan"},
        {"method": "scan", "targets": "10.0.0.1", "timeout_s": 120},
        {"method": "ws-discovery", "multicast": False},
        {"method": "ws-discovery", "targets": "http://10.0.0.5/"},
        {"method": "ws-discovery", "credentials": {"username": "admin", "password": "x"}},
        {"method": "telnet", "targets": "10.0.0.1"},
    ],
)
async def test_bad_job_requests_are_422_and_store_nothing(client, world, container, body):
    r = await client.post(DISCOVERY, json=body, headers=world.admin.headers)
    assert_problem(r, 422)
    assert await count_rows(container, DiscoveryJob) == 0


async def test_a_viewer_cannot_start_cancel_or_add(client, world):
    r = await client.post(DISCOVERY, json={"method": "scan", "targets": "127.0.94.1"}, headers=world.viewer.headers)
    assert_problem(r, 403)
    job = await start(client, world.admin, {"method": "scan", "targets": "127.0.94.1", "ports": [9]})
    assert_problem(await client.post(f"{DISCOVERY}/{job['id']}/cancel", headers=world.viewer.headers), 403)
    add = await client.post(f"{DISCOVERY}/{job['id']}/devices/0/add", json={"name": "x"}, headers=world.viewer.headers)
    assert_problem(add, 403)
    assert (await client.get(f"{DISCOVERY}/{job['id']}", headers=world.viewer.headers)).status_code == 200


async def test_another_customers_job_is_not_found(client, world, app):
    job = await start(client, world.admin, {"method": "scan", "targets": "127.0.94.2", "ports": [9]})
    await finished(client, world.admin, job["id"])
    other = world.b_admin.headers
    assert_problem(await client.get(f"{DISCOVERY}/{job['id']}", headers=other), 404)
    assert_problem(await client.post(f"{DISCOVERY}/{job['id']}/cancel", headers=other), 404)
    add = await client.post(f"{DISCOVERY}/{job['id']}/devices/0/add", json={"name": "x"}, headers=other)
    assert_problem(add, 404)
    assert (await client.get(DISCOVERY, headers=other)).json()["total"] == 0
    r = await client.get(f"{DISCOVERY}/{job['id']}/events", headers=other)
    assert_problem(r, 404)
    assert_problem(await client.get(f"{DISCOVERY}/{new_id()}", headers=world.admin.headers), 404)


async def test_a_customer_runs_at_most_two_jobs_at_once(client, world):
    slow = {"method": "ws-discovery", "targets": "127.0.0.1:9", "multicast": False, "timeout_s": 20}
    first = await start(client, world.admin, slow)
    await start(client, world.supervisor, slow)
    r = await client.post(DISCOVERY, json=slow, headers=world.admin.headers)
    assert "at most 2" in assert_problem(r, 409)["detail"]
    other = await client.post(DISCOVERY, json=slow, headers=world.b_admin.headers)
    assert other.status_code == 202  # the limit is per customer
    assert (await client.post(f"{DISCOVERY}/{first['id']}/cancel", headers=world.admin.headers)).status_code == 202
    assert (await client.post(DISCOVERY, json=slow, headers=world.admin.headers)).status_code == 202


# --- adding a result --------------------------------------------------------------------------------


async def hikvision_job(client, world, camera: HikvisionSimulator) -> dict[str, Any]:
    """A finished scan of the simulator's address and port, with its account for the fingerprint."""
    job = await start(
        client,
        world.admin,
        {
            "method": "scan",
            "targets": camera.address.host,
            "ports": [camera.address.port],
            "credentials": {"username": "admin", "password": "Hik12345"},
        },
    )
    assert job["with_credentials"] is True
    done = await finished(client, world.admin, job["id"])
    assert "Hik12345" not in json.dumps(done)
    return done


async def test_a_hikvision_result_is_added_with_its_streams_and_device_link_and_only_once(client, world, container):
    async with HikvisionSimulator("admin", "Hik12345", rtsp_port=8554) as camera:
        done = await hikvision_job(client, world, camera)
        [result] = done["results"]
        assert result["kind"] == "hikvision" and result["model"] == "DS-2DE4425IW-DE"
        add = {"name": "Gate PTZ", "auth": {"method": "digest", "username": "admin", "password": "Hik12345"}}
        r = await client.post(f"{DISCOVERY}/{done['id']}/devices/0/add", json=add, headers=world.admin.headers)
        assert r.status_code == 201, r.text
        created = r.json()
        again = await client.post(f"{DISCOVERY}/{done['id']}/devices/0/add", json=add, headers=world.admin.headers)

    assert created["main_url"] == "rtsp://127.0.0.1:8554/Streaming/Channels/101"
    assert created["sub_url"] == "rtsp://127.0.0.1:8554/Streaming/Channels/102"
    assert created["manufacturer"] == "Hikvision" and created["model"] == "DS-2DE4425IW-DE"
    assert created["device"] == {"kind": "hikvision", "url": result["device_url"]}
    assert created["auth_method"] == "digest" and created["has_credentials"] is True
    assert created["main_stream"]["height"] == 1080  # probed
    assert created["id"] in assert_problem(again, 409)["detail"]
    assert await count_rows(container, Camera) == 1

    job = (await client.get(f"{DISCOVERY}/{done['id']}", headers=world.viewer.headers)).json()
    assert job["results"][0]["camera_id"] == created["id"]
    assert job["results"][0]["known_camera_id"] == created["id"]  # its host is a camera now
    other = (await client.get(CAMERAS, headers=world.b_admin.headers)).json()
    assert other["total"] == 0


async def test_a_wrong_device_password_on_add_is_a_422_and_stores_no_camera(client, world, container):
    async with HikvisionSimulator("admin", "Hik12345") as camera:
        done = await hikvision_job(client, world, camera)
        add = {"name": "Gate", "auth": {"method": "digest", "username": "admin", "password": "wrong"}}
        r = await client.post(f"{DISCOVERY}/{done['id']}/devices/0/add", json=add, headers=world.admin.headers)
    body = assert_problem(r, 422, "Camera device refused the credentials")
    assert "wrong" not in json.dumps(body)
    assert await count_rows(container, Camera) == 0
    job = (await client.get(f"{DISCOVERY}/{done['id']}", headers=world.admin.headers)).json()
    assert job["results"][0]["camera_id"] is None


async def test_an_index_beyond_the_results_is_404(client, world):
    job = await start(client, world.admin, {"method": "scan", "targets": "127.0.94.3", "ports": [9]})
    await finished(client, world.admin, job["id"])
    r = await client.post(f"{DISCOVERY}/{job['id']}/devices/0/add", json={"name": "x"}, headers=world.admin.headers)
    assert "has 0" in assert_problem(r, 404)["detail"]


async def test_an_onvif_device_found_by_ws_discovery_is_added_with_its_profiles(client, world, container):
    async with OnvifDeviceSimulator(password="pw", manufacturer="Acme Vision", model="AV-2000") as onvif:
        device = SimulatedDevice(xaddrs=onvif.device_url, scopes=onvif_scopes(name="Lobby", hardware="AV-2000"))
        async with slow_ws_responder(device, delay_s=0) as port:
            job = await start(
                client,
                world.admin,
                {"method": "ws-discovery", "targets": f"127.0.0.1:{port}", "multicast": False, "timeout_s": 0.5},
            )
            done = await finished(client, world.admin, job["id"])
        [result] = done["results"]
        assert result["via"] == "ws-discovery" and result["device_url"] == onvif.device_url
        add = {
            "name": "Lobby",
            "auth": {"method": "digest", "username": "admin", "password": "pw"},
            "enabled_models": ["motion"],
        }
        r = await client.post(f"{DISCOVERY}/{job['id']}/devices/0/add", json=add, headers=world.admin.headers)
    assert r.status_code == 201, r.text
    camera = r.json()
    assert camera["main_url"] == "rtsp://127.0.0.1:58554/cam1"
    assert camera["sub_url"] == "rtsp://127.0.0.1:58554/cam2"
    assert camera["manufacturer"] == "Acme Vision" and camera["model"] == "AV-2000"
    assert camera["device"] == {"kind": "onvif", "url": onvif.device_url}
    assert camera["enabled_models"] == ["motion"]


async def test_scan_credentials_are_never_stored(client, world, container):
    async with DeviceFleet("127.0.95.0/29", 1, profiles=("onvif_auth",)) as fleet:
        credentials = {"username": FLEET_CREDENTIALS.username, "password": FLEET_CREDENTIALS.password}
        job = await start(
            client,
            world.admin,
            {"method": "scan", "targets": "127.0.95.1", "ports": list(fleet.ports), "credentials": credentials},
        )
        done = await finished(client, world.admin, job["id"])
    assert done["results"][0]["manufacturer"] == "Axis"  # read behind the digest with the job's account
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        row = await uow.session.get(DiscoveryJob, uuid.UUID(done["id"]))
        assert row is not None
        assert FLEET_CREDENTIALS.password not in json.dumps(
            {c.name: str(getattr(row, c.name)) for c in DiscoveryJob.__table__.columns}
        )


# --- jobs of other processes, and shutdown --------------------------------------------------------------

SLOW_WS = {"method": "ws-discovery", "targets": "127.0.0.1:9", "multicast": False, "timeout_s": 20}


async def store_job(container, tenant_id: uuid.UUID, **fields: Any) -> DiscoveryJob:
    """A job row as another api process's runner would have written it."""
    values: dict[str, Any] = {
        "method": "scan",
        "targets": "10.9.0.1",
        "ports": [554],
        "timeout_s": 1.0,
        "status": "running",
        "hosts_total": 1,
        "results": [],
        "started_at": utcnow(),
        "updated_at": utcnow(),
    }
    job = DiscoveryJob(tenant_id=tenant_id, **{**values, **fields})
    async with container.unit_of_work(TenantScope.of(tenant_id), Actor.system("test")) as uow:
        uow.add(job)
        await uow.commit()
    return job


async def update_job(container, job: DiscoveryJob, **fields: Any) -> None:
    async with container.unit_of_work(TenantScope.of(job.tenant_id), Actor.system("test")) as uow:
        row = await uow.get(DiscoveryJob, job.id)
        for name, value in {**fields, "updated_at": utcnow()}.items():
            setattr(row, name, value)
        await uow.commit()


async def test_a_job_cancelled_through_another_process_stops_at_its_next_write(client, world, container, app):
    job = await start(client, world.admin, SLOW_WS)
    async with container.unit_of_work(TenantScope.of(world.a.id), Actor.system("test")) as uow:
        row = await uow.get(DiscoveryJob, uuid.UUID(job["id"]))
        row.status = "cancelled"  # what the cancel route of another process writes
        await uow.commit()
    done = await finished(client, world.admin, job["id"], within_s=3)  # not the 20 s answer window
    assert done["status"] == "cancelled"
    runner = app.state.discovery_runner
    async with asyncio.timeout(3):
        while runner.live(uuid.UUID(job["id"])) is not None:  # noqa: ASYNC110 (the task has ended)
            await asyncio.sleep(0.05)


async def test_a_job_whose_runner_died_is_reported_failed(client, world, container):
    job = await store_job(container, world.a.id, updated_at=utcnow() - timedelta(minutes=5))
    r = await client.get(f"{DISCOVERY}/{job.id}", headers=world.admin.headers)
    assert r.json()["status"] == "failed" and "interrupted" in r.json()["error"]
    # and it no longer counts against the customer's running jobs
    await start(client, world.admin, SLOW_WS)
    await start(client, world.admin, SLOW_WS)


async def test_a_job_running_elsewhere_is_followed_over_sse_from_its_row(client, world, container, app):
    job = await store_job(container, world.a.id)
    found = {
        "host": "10.9.0.1",
        "kind": "rtsp",
        "via": "scan",
        "ports": [554],
        "rtsp_url": "rtsp://10.9.0.1:554/",
        "requires_auth": False,
        "scopes": [],
        "camera_id": None,
    }
    events: list[tuple[str, dict[str, Any]]] = []

    async def follow() -> None:
        async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
            url = f"{DISCOVERY}/{job.id}/events?ticket={await ticket(client, world.admin)}"
            async for event in sse_events(http, url):
                events.append(event)

    following = asyncio.create_task(follow())
    async with asyncio.timeout(5):
        while not events:  # noqa: ASYNC110 (the snapshot has arrived)
            await asyncio.sleep(0.02)
    await update_job(container, job, results=[found], devices_found=1, hosts_done=1, progress=1.0)
    await asyncio.sleep(1.5)
    await update_job(container, job, status="completed", finished_at=utcnow())
    await asyncio.wait_for(following, 10)

    names = [name for name, _ in events]
    assert names[0] == "snapshot" and names[-1] == "done", names
    [device] = [data for name, data in events if name == "device"]
    assert device["index"] == 0 and device["device"]["rtsp_url"] == "rtsp://10.9.0.1:554/"
    assert "progress" in names
    assert events[-1][1]["job"]["status"] == "completed"


async def test_shutting_the_app_down_ends_its_running_jobs_as_interrupted(client, world, app):
    async with app.router.lifespan_context(app):
        job = await start(client, world.admin, SLOW_WS)
    done = await finished(client, world.admin, job["id"], within_s=2)
    assert done["status"] == "failed" and "server stopped" in done["error"]
