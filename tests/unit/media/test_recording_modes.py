"""Recording modes decide which segments are kept beyond the rolling buffer: continuous keeps all,
schedule follows local hours across DST, motion keeps [motion − pre, motion + post] of real clips,
events keep their time as event holds, and modes combine as a union."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

import tests.unit.media.scenes as scenes
from tests import factories
from tests.unit.media.scenes import cut, make_scene
from vms.bootstrap import Container
from vms.cameras.service import IngestTarget
from vms.config import service as config
from vms.config.nodes import NodeRef
from vms.config.registry import PARAMETERS
from vms.kernel.errors import ValidationFailed
from vms.kernel.ids import TenantId
from vms.kernel.tenancy import TenantScope
from vms.kernel.topics import EVENTS, PARTITIONS
from vms.media import recording, retention, service
from vms.media.models import HoldReason, RecordingHold, Segment
from vms.media.modes import RecordingMode, parse_modes
from vms.media.motion import MotionDetector, MotionSettings
from vms.media.recording import CameraRecorder, RecordingPolicy, keep_reasons
from vms.media.schedule import RecordingSchedule, ScheduleWindow
from vms.media.segmenter import SegmentInfo
from vms.roles.ingest import IngestRole, _Running
from vms.uow import Actor

T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
LONDON_DAYTIME = RecordingSchedule(
    timezone="Europe/London",
    windows=[ScheduleWindow(days=EVERY_DAY, start="08:00", end="18:00")],  # type: ignore[arg-type]
)


def policy(mode: str, **kw: object) -> RecordingPolicy:
    return RecordingPolicy(modes=parse_modes(mode), **kw)  # type: ignore[arg-type]


def kept(p: RecordingPolicy, start: datetime, seconds: float = 5, motion_until: datetime | None = None) -> str | None:
    return keep_reasons(p, start=start, end=start + timedelta(seconds=seconds), motion_until=motion_until)


# --- the parameter ---------------------------------------------------------------------------------


def test_modes_combine_into_one_canonical_value_and_off_stands_alone():
    mode = PARAMETERS["recording.mode"]
    assert mode.validate("events+motion") == "motion+events"
    assert mode.validate(["schedule", "continuous", "schedule"]) == "continuous+schedule"
    assert mode.validate("off") == "off"
    for bad in ("off+motion", "sometimes", [], True):
        with pytest.raises(ValidationFailed, match=r"recording\.mode"):
            mode.validate(bad)
    assert parse_modes("off") == frozenset()
    assert parse_modes("schedule+events") == {RecordingMode.SCHEDULE, RecordingMode.EVENTS}


def test_a_schedule_with_an_unknown_zone_or_bad_hours_is_refused():
    schedule = PARAMETERS["recording.schedule"]
    with pytest.raises(ValidationFailed, match="IANA"):
        schedule.validate(
            {"timezone": "Mars/Olympus", "windows": [{"days": ["mon"], "start": "08:00", "end": "18:00"}]}
        )
    with pytest.raises(ValidationFailed, match=r"recording\.schedule"):
        schedule.validate({"timezone": "UTC", "windows": [{"days": ["mon"], "start": "25:00", "end": "18:00"}]})
    with pytest.raises(ValidationFailed, match=r"recording\.schedule"):
        schedule.validate({"timezone": "UTC", "windows": [{"days": ["someday"], "start": "08:00", "end": "18:00"}]})


# --- decisions per segment -----------------------------------------------------------------------


def test_continuous_keeps_every_segment_and_off_keeps_none():
    assert kept(policy("continuous"), T0) == "continuous"
    assert kept(policy("off"), T0) is None
    assert kept(policy("events"), T0) is None  # events keep through holds, not per segment


def test_schedule_follows_london_local_hours_across_the_spring_change():
    p = policy("schedule", schedule=LONDON_DAYTIME)
    # Saturday 28 March 2026 is GMT (UTC+0); Sunday 29 March is BST (UTC+1) from 01:00 UTC.
    assert kept(p, datetime(2026, 3, 28, 7, 30, tzinfo=UTC)) is None  # 07:30 local
    assert kept(p, datetime(2026, 3, 29, 7, 30, tzinfo=UTC)) == "schedule"  # 08:30 local
    assert kept(p, datetime(2026, 3, 28, 17, 30, tzinfo=UTC)) == "schedule"  # 17:30 local
    assert kept(p, datetime(2026, 3, 29, 17, 30, tzinfo=UTC)) is None  # 18:30 local
    # A segment straddling the window's start is kept (it holds some scheduled time).
    assert kept(p, datetime(2026, 3, 29, 6, 59, 58, tzinfo=UTC)) == "schedule"


def test_a_night_window_lasts_four_hours_the_night_clocks_go_back():
    # Sunday 25 October 2026: 02:00 BST becomes 01:00 GMT. 00:00–03:00 local is 23:00 UTC (Sat) – 03:00 UTC.
    night = RecordingSchedule(
        timezone="Europe/London", windows=[ScheduleWindow(days=["sun"], start="00:00", end="03:00")]
    )
    p = policy("schedule", schedule=night)
    assert kept(p, datetime(2026, 10, 24, 22, 50, tzinfo=UTC)) is None
    assert kept(p, datetime(2026, 10, 24, 23, 10, tzinfo=UTC)) == "schedule"
    assert kept(p, datetime(2026, 10, 25, 2, 30, tzinfo=UTC)) == "schedule"
    assert kept(p, datetime(2026, 10, 25, 3, 5, tzinfo=UTC)) is None
    # In spring the same window is 00:00 GMT – 03:00 BST = 00:00–02:00 UTC: two hours.
    assert kept(p, datetime(2026, 3, 29, 1, 50, tzinfo=UTC)) == "schedule"
    assert kept(p, datetime(2026, 3, 29, 2, 5, tzinfo=UTC)) is None


def test_a_window_past_midnight_belongs_to_the_day_it_starts():
    late = RecordingSchedule(timezone="UTC", windows=[ScheduleWindow(days=["fri"], start="22:00", end="06:00")])
    p = policy("schedule", schedule=late)
    assert kept(p, datetime(2026, 11, 28, 3, 0, tzinfo=UTC)) == "schedule"  # Saturday 03:00, from Friday's window
    assert kept(p, datetime(2026, 11, 29, 3, 0, tzinfo=UTC)) is None  # Sunday 03:00: Saturday has no window
    assert kept(p, datetime(2026, 11, 27, 21, 0, tzinfo=UTC)) is None  # Friday before 22:00


def test_schedule_mode_without_a_schedule_keeps_nothing():
    assert kept(policy("schedule"), T0) is None


def test_combinations_are_the_union_of_their_modes():
    p = policy("schedule+motion", schedule=LONDON_DAYTIME)
    night = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    day = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert kept(p, night) is None
    assert kept(p, night, motion_until=night + timedelta(seconds=3)) == "motion"
    assert kept(p, day) == "schedule"
    assert kept(p, day, motion_until=day + timedelta(seconds=3)) == "schedule+motion"
    assert kept(policy("continuous+motion"), night, motion_until=night + timedelta(seconds=1)) == "continuous+motion"


# --- motion on real clips --------------------------------------------------------------------------


async def record_through(
    container: Container, recorder: CameraRecorder, tenant: uuid.UUID, camera: uuid.UUID, clip: Path, work: Path
) -> dict[datetime, str | None]:
    """Feed a clip's segments through the recorder as the ingest role does; each segment's keep decision."""
    for info in cut(clip, work, start=T0):
        async with container.unit_of_work(TenantScope.of(tenant), Actor.system("ingest")) as uow:
            with info.path.open("rb") as handle:  # opened before the blob store takes the file
                await service.record_segment(
                    uow=uow,
                    blobs=container.blobs,
                    tenant_id=tenant,
                    camera_id=camera,
                    stream="main",
                    info=info,
                    kept_by=recorder.decide(info.started_at, info.ended_at),
                )
                assert recorder.detector is not None
                result = recorder.detector.analyse(handle, started_at=info.started_at)
            window = recorder.saw(result)
            if window is not None:
                await recording.mark_kept(uow=uow, camera_id=camera, start=window[0], end=window[1], reason="motion")
            await uow.commit()
    async with container.unit_of_work(TenantScope.of(tenant), Actor.system("test")) as uow:
        rows = (await uow.session.execute(select(Segment).order_by(Segment.started_at))).scalars()
        return {round((s.started_at - T0).total_seconds()): s.kept_by for s in rows}  # type: ignore[misc]


async def test_motion_keeps_the_pre_and_post_roll_around_a_moving_object(container, tmp_path):
    customer = await factories.customer(container)
    clip = make_scene(tmp_path / "moving.mp4", seconds=25, moving=(11.0, 12.0))
    recorder = CameraRecorder(policy("motion", pre_s=3, post_s=4))
    kept_by = await record_through(container, recorder, customer.id, uuid.uuid4(), clip, tmp_path / "work")
    # Motion 11–12 s; keep [8, 16): the 5–10 s segment by pre-roll (marked after the fact), 10–15 s for the
    # motion itself, 15–20 s by post-roll (decided when it closed); the first and last stay buffer only.
    assert kept_by == {0: None, 5: "motion", 10: "motion", 15: "motion", 20: None}


async def test_a_still_scene_with_sensor_noise_keeps_nothing(container, tmp_path):
    customer = await factories.customer(container)
    clip = make_scene(tmp_path / "still.mp4", seconds=15, noise=10)
    recorder = CameraRecorder(policy("motion", pre_s=3, post_s=4))
    kept_by = await record_through(container, recorder, customer.id, uuid.uuid4(), clip, tmp_path / "work")
    assert kept_by == {0: None, 5: None, 10: None}


def test_the_detector_reports_when_the_object_moved_and_what_it_cost(tmp_path):
    clip = make_scene(tmp_path / "moving.mp4", seconds=5, moving=(2.0, 3.5))
    detector = MotionDetector(MotionSettings(fps=5))
    result = detector.analyse(str(clip), started_at=T0)
    assert result.frames_decoded == 75 and result.frames_analysed == 25  # every frame decoded, 5 per second looked at
    assert result.motion and result.first_at is not None and result.last_at is not None
    assert T0 + timedelta(seconds=1.9) <= result.first_at <= T0 + timedelta(seconds=2.3)
    assert T0 + timedelta(seconds=3.0) <= result.last_at <= T0 + timedelta(seconds=3.5)
    assert result.cpu_s > 0 and result.error is None


def test_a_lighting_change_is_not_motion(tmp_path):
    detector = MotionDetector(MotionSettings())
    dark = make_scene(tmp_path / "a.mp4", seconds=2)
    detector.analyse(str(dark), started_at=T0)
    # The same scene with every pixel much brighter: a lamp switched on, not something moving.
    original = scenes.still_scene
    scenes.still_scene = lambda w, h: np.clip(original(w, h).astype(np.int16) + 120, 0, 255).astype(np.uint8)
    try:
        bright = make_scene(tmp_path / "b.mp4", seconds=2)
    finally:
        scenes.still_scene = original
    result = detector.analyse(str(bright), started_at=T0 + timedelta(seconds=2))
    assert not result.motion


def test_damaged_video_gives_what_came_before_the_damage(tmp_path):
    clip = make_scene(tmp_path / "moving.mp4", seconds=4, moving=(0.5, 3.5))
    [segment] = cut(clip, tmp_path / "work", start=T0, target_s=10)  # fragmented MP4, as recorded
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(segment.path.read_bytes()[: segment.bytes // 2])
    result = MotionDetector(MotionSettings()).analyse(str(damaged), started_at=T0)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video at all" * 100)
    nothing = MotionDetector(MotionSettings()).analyse(str(garbage), started_at=T0)
    assert 0 < result.frames_decoded < 60 and result.motion  # the first half's fragments, with their motion
    assert nothing.frames_decoded == 0 and nothing.error is not None and not nothing.motion


# --- events ----------------------------------------------------------------------------------------


async def event_holds(container: Container, tenant: uuid.UUID) -> list[RecordingHold]:
    async with container.unit_of_work(TenantScope.of(tenant), Actor.system("test")) as uow:
        rows = await uow.session.execute(select(RecordingHold).where(RecordingHold.reason == HoldReason.EVENT.value))
        return list(rows.scalars())


async def test_an_event_is_kept_as_an_event_hold_that_follows_it_until_it_closes(container):
    customer = await factories.customer(container)
    camera = uuid.uuid4()
    p = policy("motion+events", pre_s=10, post_s=10)

    async def change(ended: datetime | None, closed: bool, now: datetime) -> None:
        async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("ingest")) as uow:
            await recording.keep_for_event(
                uow=uow,
                policy=p,
                tenant_id=customer.id,
                camera_id=camera,
                event_id="ev-1",
                occurred_at=T0,
                ended_at=ended,
                closed=closed,
                now=now,
            )
            await uow.commit()

    await change(None, False, T0 + timedelta(seconds=5))
    await change(None, False, T0 + timedelta(seconds=6))  # redelivered: still one hold
    [hold] = await event_holds(container, customer.id)
    assert (hold.starts_at, hold.ends_at, hold.expires_at) == (
        T0 - timedelta(seconds=10),
        T0 + timedelta(seconds=10),
        None,
    )

    await change(T0 + timedelta(seconds=30), True, T0 + timedelta(seconds=45))
    [hold] = await event_holds(container, customer.id)
    assert hold.ends_at == T0 + timedelta(seconds=40)  # extended to the event's end + post
    assert hold.expires_at == T0 + timedelta(seconds=45)  # released: event retention takes over


async def test_a_camera_not_recording_events_gets_no_hold(container):
    customer = await factories.customer(container)
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("ingest")) as uow:
        hold = await recording.keep_for_event(
            uow=uow,
            policy=policy("continuous"),
            tenant_id=customer.id,
            camera_id=uuid.uuid4(),
            event_id="ev-2",
            occurred_at=T0,
            ended_at=None,
            closed=False,
            now=T0,
        )
    assert hold is None


async def test_the_ingest_role_keeps_events_announced_on_the_bus(container):
    customer = await factories.customer(container)
    camera = (await factories.camera(container, tenant_id=customer.id)).id  # a camera override needs a real camera
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
        await config.change_overrides(
            uow=uow,
            config_cache=container.config,
            node=NodeRef.camera(customer.id, camera),
            values={"recording.mode": "events", "recording.pre_s": 5},
            reason="record events only",
        )
        await uow.commit()
    await container.bus.ensure_topics(PARTITIONS)
    event = {"eventId": str(uuid.uuid4()), "customerId": str(customer.id), "cameraId": str(camera)}
    event |= {"timestamp": T0.isoformat(), "endedAt": None}
    await container.bus.publish(
        EVENTS, key=str(camera), value=json.dumps({"change": "opened", "event": event}).encode(), headers={}
    )
    role = IngestRole(container)
    task = asyncio.create_task(role._consume_events())
    try:
        for _ in range(100):
            holds = await event_holds(container, customer.id)
            if holds:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    [hold] = holds
    assert hold.reference_id == event["eventId"] and hold.camera_id == camera
    assert hold.starts_at == T0 - timedelta(seconds=5) and hold.expires_at is None


async def test_an_event_hold_keeps_unkept_segments_past_the_buffer(container, tmp_path):
    customer = await factories.customer(container)
    camera = uuid.uuid4()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("ingest")) as uow:
        for i in range(4):
            start = T0 + timedelta(seconds=5 * i)
            path = inbox / f"{i}.mp4"
            path.write_bytes(b"x" * 10)
            info = SegmentInfo(path, i, start, start + timedelta(seconds=5), 50, 10, "h264", 320, 240, 1.0)
            await service.record_segment(
                uow=uow,
                blobs=container.blobs,
                tenant_id=customer.id,
                camera_id=camera,
                stream="main",
                info=info,
                kept_by=None,
            )
        await recording.keep_for_event(
            uow=uow,
            policy=policy("events", pre_s=2, post_s=2),
            tenant_id=customer.id,
            camera_id=camera,
            event_id="ev-3",
            occurred_at=T0 + timedelta(seconds=8),
            ended_at=T0 + timedelta(seconds=9),
            closed=True,
            now=T0 + timedelta(seconds=20),
        )
        await uow.commit()
    async with container.unit_of_work(TenantScope.platform(), Actor.system("retention")) as uow:

        async def fixed(_tenant: uuid.UUID, _camera: uuid.UUID) -> retention.RetentionPolicy:
            return retention.RetentionPolicy(days=30, event_days=90, buffer_minutes=15)

        report = await retention.apply_retention(
            uow=uow,
            blobs=container.blobs,
            now=T0 + timedelta(hours=1),
            policy_for_camera=fixed,
            watermark=None,
            disk_usage=lambda: (0, 1),
        )
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
        left = [(s.started_at - T0).total_seconds() for s in (await uow.session.execute(select(Segment))).scalars()]
    # Event 8–9 s with 2 s either side: [6, 11) touches the 5–10 s and 10–15 s segments.
    assert sorted(left) == [5.0, 10.0]
    assert report.deleted_unkept == 2


async def test_the_ingest_role_keeps_motion_of_a_camera_set_to_motion(container, tmp_path):
    customer = await factories.customer(container)
    camera = (await factories.camera(container, tenant_id=customer.id)).id
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
        await config.change_overrides(
            uow=uow,
            config_cache=container.config,
            node=NodeRef.camera(customer.id, camera),
            values={"recording.mode": "motion", "recording.pre_s": 3, "recording.post_s": 4},
            reason="motion only",
        )
        await uow.commit()
    await container.bus.ensure_topics(PARTITIONS)
    target = IngestTarget(
        tenant_id=TenantId(customer.id),
        camera_id=camera,
        streams={"main": "rtsp://192.0.2.10/main"},
        enabled_models=[],
        model_streams={},
    )
    role = IngestRole(container)
    await role._refresh_policies([target])
    running = _Running(target, "main", asyncio.get_running_loop().create_future())  # type: ignore[arg-type]
    clip = make_scene(tmp_path / "moving.mp4", seconds=25, moving=(11.0, 12.0))
    for info in cut(clip, tmp_path / "work", start=T0):
        await role._segment_closed(running, info)
        await asyncio.gather(*role._background)  # as a camera's 5 s would: analysis keeps up
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
        rows = (await uow.session.execute(select(Segment).order_by(Segment.started_at))).scalars()
        kept_by = {round((s.started_at - T0).total_seconds()): s.kept_by for s in rows}
    assert kept_by == {0: None, 5: "motion", 10: "motion", 15: "motion", 20: None}
