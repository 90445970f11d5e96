"""Users scoped to part of the site tree: a Supervisor for one site sees and controls only its cameras.

The guard sits in the unit of work (kernel.orm), so these tests go through the real routes of
several domains — cameras, tree, events, playback, live, exports, push — and check each one.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest

from tests import factories
from tests.unit.cameras.conftest import CAMERAS, NODES, TREE, World, assert_problem, node
from tests.unit.events.test_live_push import add_event, sse_messages
from tests.unit.streaming.recorded import serve
from vms.auth.permissions import Role
from vms.bootstrap import Container
from vms.kernel.clock import utcnow

USERS = "/api/v1/users"


class Sites:
    """Customer A: site North (zone N1 with camera north_cam) and site South (zone S1 with south_cam)."""

    def __init__(self) -> None:
        self.north = self.north_zone = self.south = self.south_zone = ""
        self.north_cam = self.south_cam = ""


async def _zone_under(client: httpx.AsyncClient, who: factories.SignedIn, site: str, name: str) -> str:
    building = await node(client, who, "building", f"{name} building", site)
    floor = await node(client, who, "floor", f"{name} floor", building)
    return await node(client, who, "zone", name, floor)


async def _camera(client: httpx.AsyncClient, who: factories.SignedIn, name: str, zone: str) -> str:
    body = {"name": name, "main_url": f"rtsp://192.0.2.{len(name)}:554/{name}", "zone_id": zone, "probe": False}
    r = await client.post(CAMERAS, headers=who.headers, json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.fixture
async def sites(client: httpx.AsyncClient, world: World) -> Sites:
    s = Sites()
    s.north = await node(client, world.admin, "site", "North")
    s.south = await node(client, world.admin, "site", "South")
    s.north_zone = await _zone_under(client, world.admin, s.north, "N1")
    s.south_zone = await _zone_under(client, world.admin, s.south, "S1")
    s.north_cam = await _camera(client, world.admin, "north-cam", s.north_zone)
    s.south_cam = await _camera(client, world.admin, "south-cam", s.south_zone)
    return s


async def _scope(
    client: httpx.AsyncClient, world: World, who: factories.SignedIn, nodes: list[str]
) -> factories.SignedIn:
    """Limit a user to `nodes` as their Admin does, then sign them in again (the change signs them out)."""
    r = await client.patch(f"{USERS}/{who.user.id}", headers=world.admin.headers, json={"scope_node_ids": nodes})
    assert r.status_code == 200, r.text
    assert sorted(r.json()["scope_node_ids"]) == sorted(nodes)
    r = await client.get(CAMERAS, headers=who.headers)
    assert r.status_code == 401, "changing the scope must sign the user out at once"
    return await factories.sign_in(client, who.user, authenticator=who.authenticator)


async def test_a_site_scoped_supervisor_sees_and_controls_only_their_site(
    client: httpx.AsyncClient, world: World, sites: Sites
) -> None:
    supervisor = await _scope(client, world, world.supervisor, [sites.north])

    r = await client.get(CAMERAS, headers=supervisor.headers)
    assert [c["id"] for c in r.json()["items"]] == [sites.north_cam]
    assert r.json()["total"] == 1
    assert (await client.get(f"{CAMERAS}/{sites.north_cam}", headers=supervisor.headers)).status_code == 200
    for method, path in (
        ("GET", f"{CAMERAS}/{sites.south_cam}"),
        ("PATCH", f"{CAMERAS}/{sites.south_cam}"),
        ("DELETE", f"{CAMERAS}/{sites.south_cam}"),
        ("GET", f"{CAMERAS}/{sites.south_cam}/models"),
        ("GET", f"{NODES}/{sites.south}"),
    ):
        r = await client.request(
            method, path, headers=supervisor.headers, json={"name": "x"} if method == "PATCH" else None
        )
        assert_problem(r, 404)

    # The tree shows their site only, with its counts.
    tree = (await client.get(TREE, headers=supervisor.headers)).json()
    assert [site["id"] for site in tree["sites"]] == [sites.north]
    assert tree["sites"][0]["camera_count"] == 1
    assert tree["total"]["camera_count"] == 1

    # Controls: edit their camera; add one in their zone; none elsewhere; no changes to the tree.
    r = await client.patch(f"{CAMERAS}/{sites.north_cam}", headers=supervisor.headers, json={"name": "north-gate"})
    assert r.status_code == 200, r.text
    new = await _camera(client, supervisor, "north-2", sites.north_zone)
    assert (await client.get(f"{CAMERAS}/{new}", headers=supervisor.headers)).status_code == 200
    body = {"name": "sneaky", "main_url": "rtsp://192.0.2.99/x", "zone_id": sites.south_zone, "probe": False}
    assert (await client.post(CAMERAS, headers=supervisor.headers, json=body)).status_code in (403, 404)
    r = await client.patch(f"{CAMERAS}/{new}", headers=supervisor.headers, json={"zone_id": sites.south_zone})
    assert r.status_code in (403, 404), r.text
    r = await client.post(NODES, headers=supervisor.headers, json={"kind": "site", "name": "Mine"})
    assert_problem(r, 403)

    # The Admin still sees everything, including what the Supervisor added.
    r = await client.get(CAMERAS, headers=world.admin.headers)
    assert {c["name"] for c in r.json()["items"]} == {"north-gate", "north-2", "south-cam"}


async def test_scoped_viewers_get_404_for_other_sites_in_events_playback_live_and_exports(
    client: httpx.AsyncClient, container: Container, world: World, sites: Sites
) -> None:
    viewer = await _scope(client, world, world.viewer, [sites.north_zone])  # a zone is a scope too
    north_event = await add_event(container, world.a.id, camera_id=uuid.UUID(sites.north_cam))
    south_event = await add_event(container, world.a.id, camera_id=uuid.UUID(sites.south_cam))

    r = await client.get("/api/v1/events", headers=viewer.headers)
    assert [e["eventId"] for e in r.json()["items"]] == [str(north_event.id)]
    assert (await client.get(f"/api/v1/events/{north_event.id}", headers=viewer.headers)).status_code == 200
    assert_problem(await client.get(f"/api/v1/events/{south_event.id}", headers=viewer.headers), 404)

    now = utcnow()
    window = {"start": (now - timedelta(hours=1)).isoformat(), "end": now.isoformat()}
    r = await client.get(f"{CAMERAS}/{sites.north_cam}/timeline", headers=viewer.headers, params=window)
    assert r.status_code == 200, r.text
    r = await client.get(f"{CAMERAS}/{sites.south_cam}/timeline", headers=viewer.headers, params=window)
    assert_problem(r, 404)
    r = await client.get(
        "/api/v1/playback/timeline", headers=viewer.headers, params={**window, "camera_ids": sites.south_cam}
    )
    assert_problem(r, 404)
    r = await client.post(
        f"{CAMERAS}/{sites.south_cam}/live/webrtc",
        headers={**viewer.headers, "content-type": "application/sdp"},
        content=b"v=0\r\n",
    )
    assert_problem(r, 404)
    r = await client.get(f"{CAMERAS}/{sites.south_cam}/hls/live/master.m3u8", headers=viewer.headers)
    assert_problem(r, 404)
    # The unscoped Viewer of the same customer sees both events.
    other = await factories.account(client, container, tenant_id=world.a.id, role=Role.VIEWER)
    r = await client.get("/api/v1/events", headers=other.headers)
    assert {e["eventId"] for e in r.json()["items"]} == {str(north_event.id), str(south_event.id)}


async def test_scoped_users_hear_only_their_cameras_on_the_live_push(
    app, client: httpx.AsyncClient, container: Container, world: World, sites: Sites
) -> None:
    viewer = await _scope(client, world, world.viewer, [sites.north])
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        received: list[str] = []

        async def listen() -> None:
            async for _id, message in sse_messages(http, "/api/v1/events/stream", headers=viewer.headers):
                if message["type"] == "event":
                    received.append(message["event"]["cameraId"])
                    if message["event"]["cameraId"] == sites.north_cam:
                        return

        listening = asyncio.create_task(listen())
        await asyncio.sleep(0.3)
        await add_event(container, world.a.id, camera_id=uuid.UUID(sites.south_cam))
        await add_event(container, world.a.id, camera_id=uuid.UUID(sites.north_cam))
        async with asyncio.timeout(10):
            await listening
    assert received == [sites.north_cam]
    feed = getattr(app.state, "event_feed", None)
    if feed is not None:
        await feed.close()


async def test_only_supervisors_and_viewers_can_be_scoped_and_only_to_existing_nodes(
    client: httpx.AsyncClient, container: Container, world: World, sites: Sites
) -> None:
    r = await client.patch(
        f"{USERS}/{world.supervisor.user.id}", headers=world.admin.headers, json={"scope_node_ids": [str(uuid.uuid4())]}
    )
    assert "not a site" in assert_problem(r, 422)["detail"]
    other_admin = await factories.user(container, tenant_id=world.a.id, role=Role.ADMIN)
    r = await client.patch(
        f"{USERS}/{other_admin.id}", headers=world.admin.headers, json={"scope_node_ids": [sites.north]}
    )
    assert "Only Supervisors and Viewers" in assert_problem(r, 422)["detail"]
    # Another customer's node is unknown here.
    b_site = await node(client, world.b_admin, "site", "B-site")
    r = await client.patch(
        f"{USERS}/{world.viewer.user.id}", headers=world.admin.headers, json={"scope_node_ids": [b_site]}
    )
    assert_problem(r, 422)
    # Creating a scoped user directly works, and [] lifts the limit again.
    r = await client.post(
        USERS,
        headers=world.admin.headers,
        json={
            "email": f"guard-{uuid.uuid4().hex[:6]}@example.com",
            "role": "viewer",
            "password": factories.PASSWORD,
            "scope_node_ids": [sites.south],
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["scope_node_ids"] == [sites.south]
    r = await client.patch(f"{USERS}/{r.json()['id']}", headers=world.admin.headers, json={"scope_node_ids": []})
    assert r.json()["scope_node_ids"] == []


async def test_a_scoped_user_signed_in_again_after_lifting_the_scope_sees_everything(
    client: httpx.AsyncClient, container: Container, world: World, sites: Sites
) -> None:
    account = await factories.user(container, tenant_id=world.a.id, role=Role.SUPERVISOR)
    r = await client.patch(f"{USERS}/{account.id}", headers=world.admin.headers, json={"scope_node_ids": [sites.south]})
    assert r.status_code == 200, r.text
    supervisor = await factories.sign_in(client, account)
    assert [c["id"] for c in (await client.get(CAMERAS, headers=supervisor.headers)).json()["items"]] == [
        sites.south_cam
    ]
    r = await client.patch(f"{USERS}/{account.id}", headers=world.admin.headers, json={"scope_node_ids": []})
    assert r.status_code == 200
    assert (await client.get(CAMERAS, headers=supervisor.headers)).status_code == 401
    supervisor = await factories.sign_in(client, account, authenticator=supervisor.authenticator)
    assert (await client.get(CAMERAS, headers=supervisor.headers)).json()["total"] == 2


async def test_a_scoped_supervisors_import_places_cameras_in_their_zones_only(
    client: httpx.AsyncClient, world: World, sites: Sites
) -> None:
    from tests.unit.cameras.test_bulk_import import camera_row, to_csv, upload

    r = await client.patch(
        f"{CAMERAS}/{sites.south_cam}", headers=world.admin.headers, json={"external_id": "nvr/south"}
    )
    assert r.status_code == 200, r.text
    supervisor = await _scope(client, world, world.supervisor, [sites.north])
    north_path = "North/N1 building/N1 floor/N1"
    rows = [
        camera_row(1, zone_path=north_path, enabled_models="", external_id="nvr/1"),
        camera_row(2, zone_path="South/S1 building/S1 floor/S1", enabled_models="", external_id="nvr/2"),
        camera_row(3, zone_path="", enabled_models="", external_id="nvr/3"),
        camera_row(4, zone_path=north_path, enabled_models="", external_id="nvr/south"),
    ]
    r = await upload(client, supervisor, to_csv(rows))
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["failed"]) == (1, 3), report
    errors = {e["row"]: e["message"] for e in report["errors"]}
    assert "No zone at" in errors[3]  # row 2 of the data: the South zone is not theirs to see
    assert "one of your zones" in errors[4]
    assert "already exists" in errors[5]
    # The South camera is untouched and still the Admin's to see.
    r = await client.get(f"{CAMERAS}/{sites.south_cam}", headers=world.admin.headers)
    assert (r.json()["name"], r.json()["zone_id"]) == ("south-cam", sites.south_zone)
