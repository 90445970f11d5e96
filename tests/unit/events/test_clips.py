"""Event clips: 10 s before to 10 s after each event, cut by stream copy from the real segments,
served through signed URLs; late or missing recordings are handled without retrying for ever."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import av
import pytest

from tests import factories
from tests.unit.streaming.recorded import cut_clip, record_run
from vms.auth.permissions import Role
from vms.events.clips import ClipMaker
from vms.events.models import Event
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pieces(tmp_path_factory):
    """A real 12 s recording (keyframe every second) cut into 5 + 5 + 2 s segments."""
    return cut_clip(tmp_path_factory.mktemp("clip"), width=320, height=240)


async def recorded(container, tmp_path, pieces, tenant_id, camera_id, *, runs: int) -> datetime:
    at = START
    for run in range(runs):
        at = await record_run(
            container,
            tenant_id=tenant_id,
            camera_id=camera_id,
            stream="main",
            pieces=pieces,
            start=at,
            first_sequence=run * 10,
            work=tmp_path / f"run{run}",
        )
    return at


async def add_event(container, tenant_id, camera_id, at: datetime) -> uuid.UUID:
    return (await factories.event(container, tenant_id=tenant_id, camera_id=camera_id, at=at)).id


async def load(container, tenant_id, event_id) -> Event:
    async with container.unit_of_work(TenantScope.of(tenant_id), Actor.system("test")) as uow:
        return await uow.get(Event, event_id)


def clip_duration(path: str) -> tuple[float, int]:
    with av.open(path) as clip:
        frames = sum(1 for _ in clip.decode(video=0))
        return float(clip.duration or 0) / av.time_base, frames


async def test_a_clip_covers_ten_seconds_each_side_and_plays_through_its_signed_url(
    client, container, tmp_path, pieces
):
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    camera = uuid.uuid4()
    await recorded(container, tmp_path, pieces, customer.id, camera, runs=2)  # 24 s from START
    event_id = await add_event(container, customer.id, camera, START + timedelta(seconds=12))
    maker = ClipMaker(container)

    assert await maker.make_due(now=START + timedelta(seconds=20)) == 0  # post-roll not recorded yet
    assert await maker.make_due(now=START + timedelta(seconds=40)) == 1
    event = await load(container, customer.id, event_id)
    assert event.clip_key == f"{customer.id}/clips/{event_id}.mp4" and event.clip_error is None
    local = await container.blobs.local_path(event.clip_key)
    duration, frames = clip_duration(str(local))
    assert 19.0 <= duration <= 21.0, duration  # 20 s, from the keyframe at or before event − 10 s
    assert 470 <= frames <= 530, frames  # 25 fps, every frame decodes

    read = (await client.get(f"/api/v1/events/{event_id}", headers=admin.headers)).json()
    assert read["clipUrl"].startswith(f"/api/v1/events/{event_id}/clip.mp4?token=")
    assert read["snapshotUrl"].startswith(f"/api/v1/events/{event_id}/snapshot.jpg?token=")
    again = (await client.get(f"/api/v1/events/{event_id}", headers=admin.headers)).json()
    assert again["clipUrl"] == read["clipUrl"]  # stable for a while: caches can keep the clip

    clip = await client.get(read["clipUrl"])  # no Authorization header: the token is the proof
    assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"
    assert clip.content == local.read_bytes()
    part = await client.get(read["clipUrl"], headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    snapshot = await client.get(read["snapshotUrl"])
    assert snapshot.status_code == 200 and snapshot.content[:2] == b"\xff\xd8"

    tampered = read["clipUrl"][:-3] + ("AAA" if not read["clipUrl"].endswith("AAA") else "BBB")
    assert (await client.get(tampered)).status_code == 403
    other_event = read["clipUrl"].replace(str(event_id), str(uuid.uuid4()))
    assert (await client.get(other_event)).status_code == 403  # the token opens this event's media only
    stranger = await factories.account(
        client, container, tenant_id=(await factories.customer(container)).id, role=Role.ADMIN
    )
    r = await client.get(f"/api/v1/events/{event_id}/clip.mp4", headers=stranger.headers)
    assert r.status_code == 404


async def test_a_late_recording_is_waited_for_then_cut_as_far_as_it_goes(client, container, tmp_path, pieces):
    customer = await factories.customer(container)
    camera = uuid.uuid4()
    end = await recorded(container, tmp_path, pieces, customer.id, camera, runs=1)  # 12 s only
    event_id = await add_event(container, customer.id, camera, START + timedelta(seconds=6))
    maker = ClipMaker(container)
    assert await maker.make_due(now=START + timedelta(seconds=40)) == 0  # waits for the rest of the post-roll
    assert await maker.make_due(now=START + timedelta(seconds=400)) == 1  # then takes what exists
    event = await load(container, customer.id, event_id)
    duration, _ = clip_duration(str(await container.blobs.local_path(event.clip_key)))
    assert abs(duration - (end - START).total_seconds()) <= 1.0  # from START (event − 6 s) to the end


async def test_no_recording_means_a_clear_clip_error_and_no_retries(client, container):
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    event_id = await add_event(container, customer.id, uuid.uuid4(), START)
    maker = ClipMaker(container)
    assert await maker.make_due(now=START + timedelta(seconds=400)) == 1
    assert await maker.make_due(now=START + timedelta(seconds=500)) == 0  # settled: not tried again
    read = (await client.get(f"/api/v1/events/{event_id}", headers=admin.headers)).json()
    assert read["clipUrl"] is None and "No recording" in read["clipError"]
    r = await client.get(f"/api/v1/events/{event_id}/clip.mp4", headers=admin.headers)
    assert r.status_code == 404 and "No recording" in r.json()["detail"]
