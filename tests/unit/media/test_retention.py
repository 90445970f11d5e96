"""Retention deletes by age and by watermark, never what a hold protects; a crash leaves only orphaned
blobs, which the sweep removes; integrity raises alarms for a stalled job and a filling disk."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests import factories
from vms.adapters.blobs.filesystem import FilesystemBlobStore
from vms.bootstrap import Container
from vms.config import service as config
from vms.config.nodes import NodeRef
from vms.kernel.tenancy import TenantScope
from vms.media import integrity, retention, service
from vms.media.integrity import IntegrityAlarm
from vms.media.models import HoldReason, RetentionRun, Segment
from vms.media.segmenter import SegmentInfo
from vms.uow import Actor

NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
SIZE = 100  # bytes per test segment
PLATFORM = TenantScope.platform()


@dataclass
class Storage:
    """A blob store on disk and a fake disk of `total` bytes whose usage is what the store holds."""

    blobs: FilesystemBlobStore
    root: Path
    inbox: Path
    total: int = 1000
    measured: int = 0

    def usage(self) -> tuple[int, int]:
        self.measured += 1
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file()), self.total


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    (tmp_path / "inbox").mkdir()
    return Storage(FilesystemBlobStore(tmp_path / "blobs"), tmp_path / "blobs", tmp_path / "inbox")


async def record(
    container: Container, storage: Storage, tenant: uuid.UUID, camera: uuid.UUID, *starts: datetime, size: int = SIZE
) -> None:
    """Record 5 s segments starting at `starts` through the media service."""
    async with container.unit_of_work(TenantScope.of(tenant), Actor.system("ingest")) as uow:
        for i, start in enumerate(starts):
            path = storage.inbox / f"{uuid.uuid4()}.mp4"
            path.write_bytes(b"x" * size)
            info = SegmentInfo(path, i, start, start + timedelta(seconds=5), 50, size, "h264", 320, 240, 1.0)
            await service.record_segment(
                uow=uow, blobs=storage.blobs, tenant_id=tenant, camera_id=camera, stream="main", info=info
            )
        await uow.commit()


async def remaining(container: Container) -> dict[uuid.UUID, list[datetime]]:
    """Segment start times left, per camera."""
    async with container.unit_of_work(PLATFORM, Actor.system("test")) as uow:
        rows = (await uow.session.execute(select(Segment).order_by(Segment.started_at))).scalars()
        found: dict[uuid.UUID, list[datetime]] = {}
        for s in rows:
            found.setdefault(s.camera_id, []).append(s.started_at)
        return found


async def hold(container: Container, tenant: uuid.UUID, camera: uuid.UUID, start: datetime, **kw: object) -> None:
    async with container.unit_of_work(TenantScope.of(tenant), Actor.system("test")) as uow:
        await retention.create_hold(
            uow=uow,
            tenant_id=tenant,
            camera_id=camera,
            start=start,
            end=start + timedelta(seconds=5),
            reference_id=kw.pop("reference_id", "case-1"),  # type: ignore[arg-type]
            **kw,  # type: ignore[arg-type]
        )
        await uow.commit()


async def run(container: Container, storage: Storage, **kw: object) -> retention.RetentionReport:
    async with container.unit_of_work(PLATFORM, Actor.system("retention")) as uow:
        return await retention.apply_retention(
            uow=uow,
            blobs=kw.pop("blobs", storage.blobs),  # type: ignore[arg-type]
            now=kw.pop("now", NOW),  # type: ignore[arg-type]
            policy_for_camera=retention.config_policy(uow=uow, config_cache=container.config),
            watermark=kw.pop("watermark", None),  # type: ignore[arg-type]
            disk_usage=storage.usage,
        )


def days_ago(*days: float) -> list[datetime]:
    return [NOW - timedelta(days=d) for d in days]


async def test_age_follows_system_customer_and_camera_retention_and_keeps_held_time(container, storage):
    a, b = (await factories.customer(container)).id, (await factories.customer(container)).id
    cam_x = (await factories.camera(container, tenant_id=a)).id  # a camera override needs a real camera
    cam_y, cam_z = uuid.uuid4(), uuid.uuid4()
    async with container.unit_of_work(TenantScope.of(a), Actor.system("test")) as uow:
        for node, days in ((NodeRef.customer(a), 10), (NodeRef.camera(a, cam_x), 3)):
            await config.change_overrides(
                uow=uow, config_cache=container.config, node=node, values={"retention.days": days}, reason="test"
            )
        await uow.commit()
    ages = days_ago(2, 5, 20, 40)
    await record(container, storage, a, cam_x, *ages)  # camera override: 3 days
    await record(container, storage, a, cam_y, *ages)  # customer override: 10 days
    await record(container, storage, b, cam_z, *ages)  # system default: 30 days
    await hold(container, a, cam_y, ages[2], reason=HoldReason.EVIDENCE)  # an investigation keeps the 20-day-old one

    report = await run(container, storage)

    left = await remaining(container)
    assert left[cam_x] == days_ago(2)
    assert left[cam_y] == days_ago(20, 5, 2)
    assert left[cam_z] == days_ago(20, 5, 2)
    assert (report.deleted_by_age, report.protected, report.bytes_freed) == (5, 1, 5 * SIZE)
    assert not [k for k in report.deleted_keys if await storage.blobs.exists(k)]
    async with container.unit_of_work(PLATFORM, Actor.system("test")) as uow:
        recorded = (await uow.session.execute(select(RetentionRun))).scalar_one()
    assert (recorded.deleted_by_age, recorded.bytes_freed, recorded.error) == (5, 5 * SIZE, None)
    assert recorded.finished_at is not None


async def test_event_holds_keep_video_for_event_days_and_open_ones_for_ever(container, storage):
    tenant, camera = (await factories.customer(container)).id, uuid.uuid4()
    old = days_ago(40, 50, 100, 200)
    await record(container, storage, tenant, camera, *old)
    closed = NOW - timedelta(days=1)
    await hold(container, tenant, camera, old[0], reason=HoldReason.EVENT, expires_at=closed)  # within 90 event days
    await hold(container, tenant, camera, old[1], reason=HoldReason.EVIDENCE, expires_at=closed)  # released: no hold
    await hold(container, tenant, camera, old[2], reason=HoldReason.EVENT, expires_at=closed)  # past 90 event days
    await hold(container, tenant, camera, old[3], reason=HoldReason.EVENT)  # the event is still open

    report = await run(container, storage)

    assert sorted((await remaining(container))[camera]) == sorted(days_ago(40, 200))
    assert report.deleted_by_age == 2


async def test_watermark_deletes_the_oldest_unprotected_first_and_stops_at_the_low_mark(container, storage):
    tenant, cam_1, cam_2 = (await factories.customer(container)).id, uuid.uuid4(), uuid.uuid4()
    starts = [NOW - timedelta(hours=10 - i) for i in range(10)]  # within retention: age deletes nothing
    await record(container, storage, tenant, cam_1, *starts[0::2])
    await record(container, storage, tenant, cam_2, *starts[1::2])
    await hold(container, tenant, cam_1, starts[0], reason=HoldReason.EXPORT)  # the oldest is being exported

    below = await run(container, storage, watermark=(1.0, 0.5))  # 100 % used is not above a 100 % high mark
    assert below.deleted_by_watermark == 0

    report = await run(container, storage, watermark=(0.9, 0.6))  # 1000 of 1000 bytes: free down to 600

    left = await remaining(container)
    assert sorted(left[cam_1] + left[cam_2]) == [starts[0], *starts[5:]]
    assert report.deleted_by_watermark == 4
    assert (report.usage_before, report.usage_after) == (1.0, 0.6)


async def test_a_watermark_that_holds_cannot_reach_stops_when_nothing_is_left_to_delete(container, storage):
    tenant, camera = (await factories.customer(container)).id, uuid.uuid4()
    starts = [NOW - timedelta(hours=3 - i) for i in range(3)]
    await record(container, storage, tenant, camera, *starts)
    await hold(container, tenant, camera, starts[2], reason=HoldReason.EVIDENCE)
    storage.total = 300

    report = await run(container, storage, watermark=(0.5, 0.1))

    assert (await remaining(container))[camera] == [starts[2]]
    assert report.deleted_by_watermark == 2


@dataclass
class CrashingBlobs:
    """A blob store whose process dies while deleting."""

    inner: FilesystemBlobStore
    deleted: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def delete(self, *keys: str) -> None:
        raise RuntimeError("power cut")


async def test_a_crash_after_commit_leaves_orphaned_blobs_never_rows_without_blobs(container, storage):
    tenant, camera = (await factories.customer(container)).id, uuid.uuid4()
    await record(container, storage, tenant, camera, *days_ago(1, 40, 50))
    recent = NOW - timedelta(minutes=10)
    young = f"{tenant}/{camera}/main/{recent:%Y/%m/%d/%H}/{recent:%M%S%f}-00000009.mp4"
    await storage.blobs.put(young, b"up")  # uploaded, index row not yet committed: within the grace
    await storage.blobs.put(f"{tenant}/clips/event-1.mp4", b"clip")  # not a segment: never swept

    with pytest.raises(RuntimeError, match="power cut"):
        await run(container, storage, blobs=CrashingBlobs(storage.blobs))

    async with container.unit_of_work(PLATFORM, Actor.system("test")) as uow:
        rows = list((await uow.session.execute(select(Segment))).scalars())
        failed = (await uow.session.execute(select(RetentionRun))).scalar_one()
    assert [r.started_at for r in rows] == days_ago(1)
    assert all([await storage.blobs.exists(r.blob_key) for r in rows])  # every index row has its blob
    assert len(await storage.blobs.list("")) == 5  # two orphans, the young upload, the clip, the kept one
    assert failed.finished_at is None and failed.error == "RuntimeError: power cut"

    async with container.unit_of_work(PLATFORM, Actor.system("retention")) as uow:
        swept = await retention.sweep_orphans(uow=uow, blobs=storage.blobs, now=NOW)

    assert len(swept) == 2 and all(k.startswith(f"{tenant}/{camera}/main/") for k in swept)
    assert sorted(await storage.blobs.list("")) == sorted([rows[0].blob_key, young, f"{tenant}/clips/event-1.mp4"])


async def test_a_tenant_scoped_sweep_never_touches_another_tenants_blobs(container, storage):
    a, b = (await factories.customer(container)).id, (await factories.customer(container)).id
    await record(container, storage, a, uuid.uuid4(), *days_ago(2))
    await record(container, storage, b, uuid.uuid4(), *days_ago(2))
    async with container.unit_of_work(TenantScope.of(a), Actor.system("retention")) as uow:
        assert await retention.sweep_orphans(uow=uow, blobs=storage.blobs, now=NOW) == []
    assert len(await storage.blobs.list("")) == 2


@dataclass
class RecordingAlert:
    """The alert hook, recording what it was called with."""

    alarms: list[IntegrityAlarm] = field(default_factory=list)

    async def __call__(self, alarm: IntegrityAlarm) -> None:
        self.alarms.append(alarm)


async def test_the_liveness_alarm_fires_when_retention_has_not_run_recently(container, storage):
    alert = RecordingAlert()
    async with container.unit_of_work(PLATFORM, Actor.system("watchdog")) as uow:
        never = await integrity.check_integrity(uow=uow, now=NOW, disk_usage=None, alert=alert)
    assert [a.kind for a in alert.alarms] == ["retention_stalled"] and "never finished" in alert.alarms[0].message
    assert integrity.integrity_metrics(never)["vms_retention_alive"] == 0.0

    await run(container, storage, now=NOW)
    alert.alarms.clear()
    async with container.unit_of_work(PLATFORM, Actor.system("watchdog")) as uow:
        fresh = await integrity.check_integrity(
            uow=uow, now=NOW + timedelta(minutes=90), disk_usage=None, alert=alert, interval=timedelta(hours=1)
        )
        stale = await integrity.check_integrity(
            uow=uow, now=NOW + timedelta(hours=3), disk_usage=None, alert=alert, interval=timedelta(hours=1)
        )
    assert fresh.liveness.alive and not fresh.alarms
    assert not stale.liveness.alive and [a.kind for a in alert.alarms] == ["retention_stalled"]
    assert integrity.integrity_metrics(stale)["vms_retention_last_run_age_seconds"] == pytest.approx(3 * 3600, abs=5)


async def test_the_forecast_divides_free_space_by_the_measured_write_rate(container, storage):
    tenant, camera = (await factories.customer(container)).id, uuid.uuid4()
    # 6 h window, 12 segments of 1800 bytes: 21 600 bytes / 21 600 s = 1 byte/s; an older one does not count.
    await record(
        container, storage, tenant, camera, *[NOW - timedelta(minutes=30 * i + 10) for i in range(12)], size=1800
    )
    await record(container, storage, tenant, camera, NOW - timedelta(hours=8), size=10_000)
    alert = RecordingAlert()
    async with container.unit_of_work(PLATFORM, Actor.system("watchdog")) as uow:
        plenty = await integrity.check_integrity(
            uow=uow, now=NOW, disk_usage=lambda: (0, 36_000 * 100), alert=alert, interval=timedelta(days=999)
        )
        tight = await integrity.check_integrity(
            uow=uow, now=NOW, disk_usage=lambda: (1_000, 1_000 + 36_000), alert=alert, interval=timedelta(days=999)
        )
        quiet = await integrity.disk_forecast(uow=uow, now=NOW + timedelta(days=2), disk_usage=lambda: (1, 2))
    assert plenty.forecast.write_bytes_per_s == pytest.approx(1.0)
    assert plenty.forecast.hours_until_full == pytest.approx(1000.0)
    assert tight.forecast.hours_until_full == pytest.approx(10.0)
    filling = [a for a in alert.alarms if a.kind == "disk_filling"]  # (retention never ran here: stalled too)
    assert len(filling) == 1 and filling[0].value == pytest.approx(10.0)
    assert integrity.integrity_metrics(tight)["vms_recording_disk_full_hours"] == pytest.approx(10.0)
    assert quiet.hours_until_full is None  # nothing written lately: not filling


def test_the_forecast_is_none_without_a_disk_or_without_writes():
    assert integrity.forecast_from(written_bytes=0, window=timedelta(hours=1), used=1, total=2).hours_until_full is None
    assert integrity.forecast_from(written_bytes=9, window=timedelta(hours=1), used=None, total=None).free_bytes is None


async def test_holds_are_created_validated_released_and_audited(container):
    tenant, camera = (await factories.customer(container)).id, uuid.uuid4()
    async with container.unit_of_work(TenantScope.of(tenant), Actor.system("events")) as uow:
        made = await retention.create_hold(
            uow=uow,
            tenant_id=tenant,
            camera_id=camera,
            start=NOW,
            end=NOW + timedelta(seconds=20),
            reason=HoldReason.EVENT,
            reference_id="event-7",
        )
        assert await retention.release_holds_for(uow=uow, reason=HoldReason.EVENT, reference_id="event-7", now=NOW) == 1
        assert made.expires_at == NOW
        assert [e.action for e in uow.pending_audit] == ["create", "release"]
        with pytest.raises(Exception, match="end must come after"):
            await retention.create_hold(
                uow=uow,
                tenant_id=tenant,
                camera_id=camera,
                start=NOW,
                end=NOW,
                reason=HoldReason.EVIDENCE,
                reference_id="x",
            )
