"""One object walking from camera to camera leaves one trail of linked events; anything else does not link."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests import factories
from vms.auth.permissions import Role
from vms.cameras import hierarchy
from vms.cameras.models import NodeKind
from vms.cameras.schemas import NodeCreate
from vms.events.adjacency import CameraAdjacency, neighbour_map
from vms.events.correlate import Correlator, Rules
from vms.events.links import Sighting, best_link
from vms.events.role import EventsRole
from vms.kernel.tenancy import TenantScope
from vms.kernel.topics import DETECTIONS, EVENTS, PARTITIONS
from vms.uow import Actor

T0 = datetime.now(UTC) - timedelta(seconds=30)  # near now: the role closes events by wall clock (close_after_s)


@pytest.fixture(autouse=True)
def _near_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """T0 again at each test's start: in a long run the import-time value is minutes old by the time a
    test runs, and the role would close the walks as gone (close_after_s) while they are replayed."""
    monkeypatch.setattr(sys.modules[__name__], "T0", datetime.now(UTC) - timedelta(seconds=30))


ACTOR = Actor.system("test")


# --- the choice of link, pure -----------------------------------------------------------------------


def sighting(camera, first_s, last_s, box=(0.4, 0.4, 0.1, 0.2)):
    return Sighting(uuid.uuid4(), camera, T0 + timedelta(seconds=first_s), T0 + timedelta(seconds=last_s), box)


def test_the_nearest_sighting_in_time_within_the_window_is_the_link():
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    new = sighting(c, 100, 101)
    left_long_ago = sighting(a, 10, 60)  # gap 40 s
    left_recently = sighting(b, 80, 95)  # gap 5 s
    assert best_link(new, [left_long_ago, left_recently], window_s=30) == left_recently
    assert best_link(new, [left_long_ago], window_s=30) is None
    assert best_link(new, [sighting(c, 90, 99)], window_s=30) is None  # its own camera is not a link


def test_among_equally_near_candidates_the_one_that_walked_out_of_view_wins():
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    new = sighting(c, 100, 101)
    standing_in_the_middle = sighting(a, 90, 99.5, box=(0.45, 0.4, 0.1, 0.2))  # gap 0.5 s
    left_at_the_edge = sighting(b, 90, 99, box=(0.88, 0.4, 0.12, 0.2))  # gap 1 s, box touching the right edge
    assert best_link(new, [standing_in_the_middle, left_at_the_edge], window_s=30) == left_at_the_edge


def test_a_later_sighting_consumed_first_still_links():
    a, b = uuid.uuid4(), uuid.uuid4()
    new = sighting(a, 100, 102)  # A's partition was behind: B's later event is already stored
    later = sighting(b, 110, 115)
    assert best_link(new, [later], window_s=30) == later
    assert best_link(new, [later], window_s=5) is None


def test_cameras_on_one_floor_and_cameras_sharing_an_adjacent_tag_are_neighbours():
    a, b, c, d, e = (uuid.uuid4() for _ in range(5))
    z1, z2, z3, floor1, floor2 = (uuid.uuid4() for _ in range(5))
    rows = [
        (a, z1, []),
        (b, z2, ["adjacent:stairs"]),  # sibling zone of a's, and tagged with the stairwell
        (c, z3, []),  # another floor
        (d, None, ["adjacent:stairs", "lobby"]),  # no zone: only its tag neighbours
        (e, None, ["adjacent:"]),  # an empty group name links nothing
    ]
    found = neighbour_map(rows, {z1: floor1, z2: floor1, z3: floor2})
    assert found[a] == {b}
    assert found[b] == {a, d}
    assert found[c] == set()
    assert found[d] == {b}
    assert found[e] == set()


# --- through the events role and the API ------------------------------------------------------------


async def node(container, tenant_id, kind, name, parent=None):
    async with container.unit_of_work(TenantScope.of(tenant_id), ACTOR) as uow:
        read = await hierarchy.create_node(uow=uow, data=NodeCreate(kind=kind, name=name, parent_id=parent))
        await uow.commit()
    return read.id


async def floors(container, tenant_id):
    """A building with two floors: zones 'east' and 'west' on the ground floor, 'roof' upstairs."""
    site = await node(container, tenant_id, NodeKind.SITE, "HQ")
    building = await node(container, tenant_id, NodeKind.BUILDING, "Main", site)
    ground = await node(container, tenant_id, NodeKind.FLOOR, "Ground", building)
    upper = await node(container, tenant_id, NodeKind.FLOOR, "Upper", building)
    return {
        "east": await node(container, tenant_id, NodeKind.ZONE, "East", ground),
        "west": await node(container, tenant_id, NodeKind.ZONE, "West", ground),
        "roof": await node(container, tenant_id, NodeKind.ZONE, "Roof", upper),
    }


async def walk(container, *, tenant, camera, start_s: float, seconds: float, cls: str = "person", track: str):
    """An object crossing the camera's view left to right at 5 detections/s, leaving at the right edge."""
    steps = int(seconds * 5)
    for i in range(steps):
        doc = {
            "model": "intrusion",
            "cameraId": str(camera),
            "customerId": str(tenant),
            "segmentSequence": 0,
            "frameTime": (T0 + timedelta(seconds=start_s + i / 5)).isoformat(),
            "boundingBox": [0.1 + 0.8 * i / steps, 0.4, 0.1, 0.2],
            "objectClass": cls,
            "score": 0.9,
            "trackingId": track,
            "attributes": {},
            "jobId": str(uuid.uuid4()),
            "priority": "HIGH",
        }
        await container.bus.publish(DETECTIONS, key=str(camera), value=json.dumps(doc).encode())


async def correlate(container, expected_events: int, **rules) -> EventsRole:
    """Run the events role until it has stored `expected_events` openings and consumed everything."""
    role = EventsRole(
        container,
        correlator=Correlator(default_rules=Rules(min_hits=3, min_duration_s=1, close_after_s=600, **rules)),
        adjacency=CameraAdjacency(container, ttl_s=0),
    )
    task = asyncio.create_task(role.run())
    try:
        async with asyncio.timeout(20):
            while role.changes["opened"] < expected_events or await container.bus.lag("events", [DETECTIONS]) != {  # noqa: ASYNC110
                DETECTIONS: 0
            }:
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return role


async def events_by_camera(client, user) -> dict[str, dict]:
    page = (await client.get("/api/v1/events", params={"limit": 100}, headers=user.headers)).json()
    return {e["cameraId"]: e for e in page["items"]}


async def test_a_person_leaving_one_view_and_entering_the_adjacent_one_is_one_trail(client, container):
    await container.bus.ensure_topics(PARTITIONS)
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    zones = await floors(container, customer.id)
    lobby = await factories.camera(container, tenant_id=customer.id, zone_id=zones["east"])
    corridor = await factories.camera(container, tenant_id=customer.id, zone_id=zones["west"])  # sibling zone
    await walk(container, tenant=customer.id, camera=lobby.id, start_s=0, seconds=4, track="p-lobby")
    await walk(container, tenant=customer.id, camera=corridor.id, start_s=10, seconds=4, track="p-corridor")
    role = await correlate(container, 2)

    events = await events_by_camera(client, admin)
    first, second = events[str(lobby.id)], events[str(corridor.id)]
    assert first["correlationId"] == second["correlationId"] == first["eventId"]  # the trail's first event
    assert first["linkedEventIds"] == [second["eventId"]]
    assert second["linkedEventIds"] == [first["eventId"]]
    trail = (
        await client.get("/api/v1/events", params={"correlation_id": first["eventId"]}, headers=admin.headers)
    ).json()
    assert trail["total"] == 2
    assert {e["eventId"] for e in trail["items"]} == {first["eventId"], second["eventId"]}
    nothing = (
        await client.get("/api/v1/events", params={"correlation_id": str(uuid.uuid4())}, headers=admin.headers)
    ).json()
    assert nothing["total"] == 0
    assert (
        await client.get("/api/v1/events", params={"correlation_id": "not-a-uuid"}, headers=admin.headers)
    ).status_code == 422
    one = (await client.get(f"/api/v1/events/{second['eventId']}", headers=admin.headers)).json()
    assert one["correlationId"] == first["eventId"]

    # Both changes went out on the `events` topic with the link (the earlier event as an update).
    assert role.changes["linked"] == 1
    announced: dict[str, str | None] = {}
    async with asyncio.timeout(5), contextlib.aclosing(container.bus.consume([EVENTS], group="links")) as stream:
        async for message in stream:
            document = json.loads(message.value)["event"]
            announced[document["eventId"]] = document["correlationId"]
            if all(announced.get(e) == first["eventId"] for e in (first["eventId"], second["eventId"])):
                break


async def test_no_link_across_floors_outside_the_window_or_between_classes(client, container):
    await container.bus.ensure_topics(PARTITIONS)
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    zones = await floors(container, customer.id)
    east = await factories.camera(container, tenant_id=customer.id, zone_id=zones["east"])
    west = await factories.camera(container, tenant_id=customer.id, zone_id=zones["west"])
    roof = await factories.camera(container, tenant_id=customer.id, zone_id=zones["roof"])
    await walk(container, tenant=customer.id, camera=east.id, start_s=0, seconds=4, track="e1")
    await walk(container, tenant=customer.id, camera=roof.id, start_s=6, seconds=4, track="r1")  # another floor
    await walk(container, tenant=customer.id, camera=west.id, start_s=8, seconds=4, cls="car", track="w1")  # a car
    await walk(container, tenant=customer.id, camera=west.id, start_s=60, seconds=4, track="w2")  # 56 s later
    await correlate(container, 4)

    page = (await client.get("/api/v1/events", params={"limit": 100}, headers=admin.headers)).json()
    assert page["total"] == 4
    assert [(e["correlationId"], e["linkedEventIds"]) for e in page["items"]] == [(None, [])] * 4


async def test_a_wider_window_links_what_the_default_would_not(client, container):
    await container.bus.ensure_topics(PARTITIONS)
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    zones = await floors(container, customer.id)
    east = await factories.camera(container, tenant_id=customer.id, zone_id=zones["east"])
    west = await factories.camera(container, tenant_id=customer.id, zone_id=zones["west"])
    await walk(container, tenant=customer.id, camera=east.id, start_s=0, seconds=4, track="e1")
    await walk(container, tenant=customer.id, camera=west.id, start_s=60, seconds=4, track="w1")  # 56 s gap
    await correlate(container, 2, link_window_s=90)
    events = await events_by_camera(client, admin)
    assert events[str(west.id)]["correlationId"] == events[str(east.id)]["eventId"]


async def test_three_cameras_in_a_chain_share_one_correlation_id(client, container):
    """Explicit adjacency by tags: gate–yard and yard–dock are neighbours, gate and dock are not."""
    await container.bus.ensure_topics(PARTITIONS)
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    gate = await factories.camera(container, tenant_id=customer.id, tags=["adjacent:gate-yard"])
    yard = await factories.camera(container, tenant_id=customer.id, tags=["adjacent:gate-yard", "adjacent:yard-dock"])
    dock = await factories.camera(container, tenant_id=customer.id, tags=["adjacent:yard-dock"])
    await walk(container, tenant=customer.id, camera=gate.id, start_s=0, seconds=4, track="g")
    await walk(container, tenant=customer.id, camera=yard.id, start_s=8, seconds=4, track="y")
    await walk(container, tenant=customer.id, camera=dock.id, start_s=16, seconds=4, track="d")
    await correlate(container, 3)

    events = await events_by_camera(client, admin)
    first = events[str(gate.id)]["eventId"]
    assert {e["correlationId"] for e in events.values()} == {first}
    g, y, d = (events[str(c.id)]["eventId"] for c in (gate, yard, dock))
    assert events[str(gate.id)]["linkedEventIds"] == [y]  # each lists its step before, then its step after
    assert events[str(yard.id)]["linkedEventIds"] == [g, d]
    assert events[str(dock.id)]["linkedEventIds"] == [y]
    trail = (await client.get("/api/v1/events", params={"correlation_id": first}, headers=admin.headers)).json()
    assert [e["eventId"] for e in trail["items"]] == [d, y, g]  # the whole trail, newest first


async def test_two_people_walking_one_after_the_other_are_two_trails(client, container):
    await container.bus.ensure_topics(PARTITIONS)
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    zones = await floors(container, customer.id)
    east = await factories.camera(container, tenant_id=customer.id, zone_id=zones["east"])
    west = await factories.camera(container, tenant_id=customer.id, zone_id=zones["west"])
    # Two people cross east 2 s apart and reach west 2 s apart: each west event has both east ones in
    # its window, but each east event hands over to west only once.
    for n, start in enumerate((0, 2)):
        await walk(container, tenant=customer.id, camera=east.id, start_s=start, seconds=4, track=f"e{n}")
        await walk(container, tenant=customer.id, camera=west.id, start_s=start + 7, seconds=4, track=f"w{n}")
    await correlate(container, 4)

    page = (await client.get("/api/v1/events", params={"limit": 100}, headers=admin.headers)).json()
    trails: dict[str, set[str]] = {}
    for event in page["items"]:
        trails.setdefault(event["correlationId"], set()).add(event["cameraId"])
    assert None not in trails
    assert list(trails.values()) == [{str(east.id), str(west.id)}] * 2


async def test_another_customers_camera_is_never_linked(client, container):
    """Both customers tag their cameras alike and see a person at the same moments; no trail crosses."""
    await container.bus.ensure_topics(PARTITIONS)
    a, b = await factories.customer(container), await factories.customer(container)
    admin_a = await factories.account(client, container, tenant_id=a.id, role=Role.ADMIN)
    admin_b = await factories.account(client, container, tenant_id=b.id, role=Role.ADMIN)
    cam_a = await factories.camera(container, tenant_id=a.id, tags=["adjacent:lobby"])
    cam_b = await factories.camera(container, tenant_id=b.id, tags=["adjacent:lobby"])
    await walk(container, tenant=a.id, camera=cam_a.id, start_s=0, seconds=4, track="a")
    await walk(container, tenant=b.id, camera=cam_b.id, start_s=6, seconds=4, track="b")
    await correlate(container, 2)

    for admin in (admin_a, admin_b):
        [event] = (await client.get("/api/v1/events", headers=admin.headers)).json()["items"]
        assert (event["correlationId"], event["linkedEventIds"]) == (None, [])
