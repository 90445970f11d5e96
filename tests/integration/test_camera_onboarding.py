"""Onboarding end to end against the simulators, the way an integrator rolls out a site:

discover an ONVIF camera (WS-Discovery) → add it in one call (its streams are the camera simulator's
real RTSP streams, probed for real) → PTZ preset round trip → bulk import of 200 cameras with 5 bad
rows → a Supervisor scoped to one site sees only that site's cameras.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests import factories
from tests.conftest import engine_url
from tests.simulators.onvif_device import OnvifDeviceSimulator, SimProfile
from tests.simulators.ws_discovery import SimulatedDevice, WsDiscoveryResponder, onvif_scopes
from tests.unit.cameras.conftest import CAMERAS, make_tree, node
from tests.unit.cameras.test_bulk_import import LOBBY, to_csv, two_hundred_with_five_bad, upload
from vms.auth.permissions import Role
from vms.bootstrap import Container
from vms.kernel.ai_models import AiModel

pytestmark = pytest.mark.engines
DISCOVERY = f"{CAMERAS}/discovery"


async def _job_done(client: httpx.AsyncClient, who: factories.SignedIn, job_id: str) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            job = (await client.get(f"{DISCOVERY}/{job_id}", headers=who.headers)).json()
            if job["status"] not in ("queued", "running"):
                return job
            await asyncio.sleep(0.1)


async def test_discover_add_probe_ptz_import_and_scope(client: httpx.AsyncClient, container: Container) -> None:
    rtsp_base = engine_url("VMS_TEST_RTSP_BASE")  # the camera simulator from scripts/services
    customer = await factories.customer(container, camera_limit=300, models=[AiModel.MOTION, AiModel.INTRUSION])
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    tree = await make_tree(client, admin)  # HQ/Main/F1/Lobby …
    profiles = [
        SimProfile(token="main", name="Main", rtsp_url=f"{rtsp_base}/cam1", width=1920, height=1080),
        SimProfile(token="sub", name="Sub", rtsp_url=f"{rtsp_base}/cam2", width=640, height=360),
    ]
    async with OnvifDeviceSimulator(username="installer", password="Onv1f-pass", profiles=profiles) as camera:
        device = SimulatedDevice(
            xaddrs=camera.device_url, scopes=onvif_scopes(name="Gate", hardware="SIM-PTZ", manufacturer="Simcam")
        )
        async with WsDiscoveryResponder([device]) as responder:
            # 1. Discover.
            r = await client.post(
                DISCOVERY,
                headers=admin.headers,
                json={"method": "ws-discovery", "targets": f"127.0.0.1:{responder.port}", "multicast": False},
            )
            assert r.status_code == 202, r.text
            job = await _job_done(client, admin, r.json()["id"])
            assert job["status"] == "completed", job
            [found] = job["results"]
            assert (found["kind"], found["device_url"]) == ("onvif", camera.device_url)

            # 2. Add it in one call: device identity and stream URLs from ONVIF, streams probed for real.
            r = await client.post(
                f"{DISCOVERY}/{job['id']}/devices/0/add",
                headers=admin.headers,
                json={
                    "name": "Gate PTZ",
                    "zone_id": tree.lobby,
                    "auth": {"method": "digest", "username": "installer", "password": "Onv1f-pass"},
                    "enabled_models": ["motion"],
                },
            )
            assert r.status_code == 201, r.text
            added = r.json()
            assert added["main_url"] == f"{rtsp_base}/cam1"
            assert added["sub_url"] == f"{rtsp_base}/cam2"
            assert added["device"] == {"kind": "onvif", "url": camera.device_url}
            assert added["main_stream"]["codec"] == "h264" and added["main_stream"]["width"] > 0
            assert added["model_streams"]["motion"] in ("main", "sub")

            # 3. PTZ preset round trip through our API to the device.
            ptz = f"{CAMERAS}/{added['id']}/ptz"
            r = await client.post(
                f"{ptz}/move",
                headers=admin.headers,
                json={"mode": "absolute", "pan": 0.5, "tilt": -0.25, "zoom": 0.3},
            )
            assert r.status_code in (200, 202, 204), r.text
            r = await client.post(f"{ptz}/presets", headers=admin.headers, json={"name": "Gate view"})
            assert r.status_code == 201, r.text
            token = r.json()["token"]
            names = [p["name"] for p in (await client.get(f"{ptz}/presets", headers=admin.headers)).json()]
            assert "Gate view" in names
            await client.post(
                f"{ptz}/move", headers=admin.headers, json={"mode": "absolute", "pan": -0.9, "tilt": 0.9, "zoom": 0}
            )
            r = await client.post(f"{ptz}/presets/{token}/goto", headers=admin.headers)
            assert r.status_code in (200, 202, 204), r.text
            assert camera.ptz_position[0] == pytest.approx(0.5, abs=1e-6)
            assert camera.ptz_position[1] == pytest.approx(-0.25, abs=1e-6)
            assert (await client.delete(f"{ptz}/presets/{token}", headers=admin.headers)).status_code == 204
            names = [p["name"] for p in (await client.get(f"{ptz}/presets", headers=admin.headers)).json()]
            assert "Gate view" not in names

    # 4. Bulk import: 200 rows, 5 bad → 195 cameras, each bad row reported with its number.
    assert LOBBY == "HQ/Main/F1/Lobby"
    r = await upload(client, admin, to_csv(two_hundred_with_five_bad()))
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["failed"]) == (195, 5), report
    assert sorted(e["row"] for e in report["errors"]) == [12, 52, 92, 132, 172]

    # 5. A Supervisor scoped to another site sees only its cameras.
    north = await node(client, admin, "site", "North")
    north_zone = await node(
        client,
        admin,
        "zone",
        "Yard",
        await node(client, admin, "floor", "G", await node(client, admin, "building", "B", north)),
    )
    r = await client.post(
        CAMERAS,
        headers=admin.headers,
        json={"name": "Yard cam", "main_url": f"{rtsp_base}/cam2", "zone_id": north_zone, "probe": False},
    )
    assert r.status_code == 201, r.text
    supervisor_account = await factories.user(container, tenant_id=customer.id, role=Role.SUPERVISOR)
    r = await client.patch(
        f"/api/v1/users/{supervisor_account.id}", headers=admin.headers, json={"scope_node_ids": [north]}
    )
    assert r.status_code == 200, r.text
    supervisor = await factories.sign_in(client, supervisor_account)
    listed = (await client.get(CAMERAS, headers=supervisor.headers, params={"limit": 500})).json()
    assert [c["name"] for c in listed["items"]] == ["Yard cam"]
    assert (await client.get(f"{CAMERAS}/{added['id']}", headers=supervisor.headers)).status_code == 404
    everything = (await client.get(CAMERAS, headers=admin.headers, params={"limit": 1})).json()
    assert everything["total"] == 1 + 195 + 1
