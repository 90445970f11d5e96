"""`GET /api/v1/statistics/events`: events per hour or day, counted like the events list — the
caller's customer only, a scoped user's cameras only — on embedded SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests import factories
from tests.conftest import make_settings
from tests.unit.cameras import conftest as camera_fixtures
from tests.unit.cameras import test_scoped_users as scoped_users
from tests.unit.cameras.conftest import World, assert_problem
from tests.unit.cameras.test_scoped_users import Sites, _scope
from vms.auth.permissions import Role
from vms.bootstrap import Container
from vms.settings import Settings
from vms.stats.event_statistics import windows

# The camera tests' fixtures: customers A and B with signed-in users, and A's sites North and South.
prober, world, sites = camera_fixtures.prober, camera_fixtures.world, scoped_users.sites

STATS = "/api/v1/statistics/events"
T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # the first bucket of every window below


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """The counting query is one conditional sum per bucket: it must agree on both engines."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    return make_settings(tmp_path, str(url))


async def store(
    container: Container, tenant_id: uuid.UUID, camera_id: str | uuid.UUID, at: datetime, model: str = "intrusion"
) -> None:
    """An event as the events role stores it."""
    await factories.event(container, tenant_id=tenant_id, camera_id=camera_id, at=at, event_type=model)


def window(hours: int, **extra: str) -> dict[str, str]:
    return {"since": T0.isoformat(), "until": (T0 + timedelta(hours=hours)).isoformat(), **extra}


async def test_events_are_counted_in_their_hour_and_the_window_edges_hold(
    client: httpx.AsyncClient, container: Container, world: World, sites: Sites
) -> None:
    for minutes in (0, 59, 60, 61, 179):  # hour 0: 2, hour 1: 2, hour 2: 1
        await store(container, world.a.id, sites.north_cam, T0 + timedelta(minutes=minutes))
    await store(container, world.a.id, sites.north_cam, T0 - timedelta(seconds=1))  # before since
    await store(container, world.a.id, sites.north_cam, T0 + timedelta(hours=4))  # at until: excluded

    r = await client.get(STATS, headers=world.admin.headers, params=window(4))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [b["count"] for b in body["buckets"]] == [2, 2, 1, 0]
    assert body["total"] == 5
    assert body["bucket"] == "hour"
    assert datetime.fromisoformat(body["buckets"][0]["start"]) == T0
    assert datetime.fromisoformat(body["buckets"][3]["end"]) == T0 + timedelta(hours=4)


async def test_day_buckets_and_the_camera_and_model_filters(
    client: httpx.AsyncClient, container: Container, world: World, sites: Sites
) -> None:
    await store(container, world.a.id, sites.north_cam, T0 + timedelta(hours=1))
    await store(container, world.a.id, sites.north_cam, T0 + timedelta(days=1, hours=2), model="fire_smoke")
    await store(container, world.a.id, sites.south_cam, T0 + timedelta(days=2))

    r = await client.get(STATS, headers=world.admin.headers, params=window(72, bucket="day"))
    assert [b["count"] for b in r.json()["buckets"]] == [1, 1, 1]
    r = await client.get(STATS, headers=world.admin.headers, params=window(72, bucket="day", camera_id=sites.north_cam))
    assert [b["count"] for b in r.json()["buckets"]] == [1, 1, 0]
    r = await client.get(STATS, headers=world.admin.headers, params=window(72, bucket="day", event_type="fire_smoke"))
    assert [b["count"] for b in r.json()["buckets"]] == [0, 1, 0]


async def test_another_customers_events_are_never_counted(
    client: httpx.AsyncClient, container: Container, world: World, sites: Sites
) -> None:
    await store(container, world.a.id, sites.north_cam, T0 + timedelta(minutes=5))
    await store(container, world.b.id, uuid.uuid4(), T0 + timedelta(minutes=5))
    await store(container, world.b.id, sites.north_cam, T0 + timedelta(minutes=6))  # B naming A's camera id

    a = (await client.get(STATS, headers=world.admin.headers, params=window(1))).json()
    b = (await client.get(STATS, headers=world.b_admin.headers, params=window(1))).json()
    assert (a["total"], b["total"]) == (1, 2)


async def test_a_scoped_viewer_counts_only_the_cameras_of_their_site(
    client: httpx.AsyncClient, container: Container, world: World, sites: Sites
) -> None:
    await store(container, world.a.id, sites.north_cam, T0 + timedelta(minutes=5))
    await store(container, world.a.id, sites.south_cam, T0 + timedelta(minutes=6))
    await store(container, world.a.id, sites.south_cam, T0 + timedelta(minutes=7))
    viewer = await _scope(client, world, world.viewer, [sites.north])

    scoped = (await client.get(STATS, headers=viewer.headers, params=window(1))).json()
    everyone = (await client.get(STATS, headers=world.admin.headers, params=window(1))).json()
    assert (scoped["total"], everyone["total"]) == (1, 3)
    # naming a camera outside their site does not count it either
    r = await client.get(STATS, headers=viewer.headers, params=window(1, camera_id=sites.south_cam))
    assert r.json()["total"] == 0


async def test_bad_windows_are_refused_with_422(client: httpx.AsyncClient, world: World) -> None:
    h = world.admin.headers
    assert_problem(await client.get(STATS, headers=h, params=window(169)), 422)  # over a week of hours
    assert_problem(await client.get(STATS, headers=h, params=window(93 * 24, bucket="day")), 422)
    backwards = {"since": T0.isoformat(), "until": (T0 - timedelta(hours=1)).isoformat()}
    assert_problem(await client.get(STATS, headers=h, params=backwards), 422)
    assert_problem(await client.get(STATS, headers=h, params={"since": T0.isoformat(), "hours": "3"}), 422)
    assert (await client.get(STATS, headers=h, params={"hours": "0"})).status_code == 422
    assert (await client.get(STATS, headers=h, params={"bucket": "week"})).status_code == 422


async def test_provider_staff_and_anonymous_callers_get_no_counts(
    client: httpx.AsyncClient, container: Container, world: World
) -> None:
    staff = await factories.account(client, container, tenant_id=None, role=Role.PROVIDER_ADMIN)
    assert (await client.get(STATS, headers=staff.headers)).status_code == 403
    assert (await client.get(STATS)).status_code == 401


def test_without_since_the_window_is_whole_utc_hours_ending_with_the_current_one() -> None:
    now = datetime(2026, 11, 24, 13, 25, tzinfo=UTC)
    bounds = windows(bucket="hour", since=None, until=None, hours=None, now=now)
    assert len(bounds) == 24
    assert bounds[0][0] == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert bounds[-1] == (datetime(2026, 11, 24, 13, 0, tzinfo=UTC), now)  # the running hour, so far
    days = windows(bucket="day", since=None, until=None, hours=48, now=now)
    assert [start.day for start, _ in days] == [23, 24]


def test_an_until_on_a_bucket_boundary_ends_the_last_bucket_there() -> None:
    """`until` exactly on the hour (or midnight) must not lose the bucket that ends there."""
    until = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    one = windows(bucket="hour", since=None, until=until, hours=1)
    assert one == [(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), until)]
    day = windows(bucket="hour", since=None, until=until, hours=24)
    assert len(day) == 24
    assert day[0][0] == until - timedelta(hours=24)
    assert all(end - start == timedelta(hours=1) for start, end in day)
    midnight = datetime(2026, 11, 24, tzinfo=UTC)
    week = windows(bucket="day", since=None, until=midnight, hours=None)
    assert len(week) == 7
    assert week[0][0] == midnight - timedelta(days=7)
    assert week[-1] == (midnight - timedelta(days=1), midnight)


def test_a_microsecond_past_the_boundary_opens_a_new_bucket() -> None:
    until = datetime(2026, 11, 24, 10, 0, 0, 1, tzinfo=UTC)
    bounds = windows(bucket="hour", since=None, until=until, hours=1)
    assert bounds == [(datetime(2026, 11, 24, 10, 0, tzinfo=UTC), until)]


async def test_the_last_hour_up_to_a_whole_hour_is_counted_not_a_500(
    client: httpx.AsyncClient, container: Container, world: World, sites: Sites
) -> None:
    until = T0 + timedelta(hours=2)
    await store(container, world.a.id, sites.north_cam, until - timedelta(minutes=1))  # in the last hour
    await store(container, world.a.id, sites.north_cam, until)  # at until: excluded
    params = {"hours": "1", "until": until.isoformat()}
    r = await client.get(STATS, headers=world.admin.headers, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [b["count"] for b in body["buckets"]] == [1]
    assert datetime.fromisoformat(body["since"]) == until - timedelta(hours=1)
    assert datetime.fromisoformat(body["until"]) == until
