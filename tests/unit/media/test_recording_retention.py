"""Retention and the recording modes: segments no mode kept go once past the rolling buffer, never
while a hold covers them; kept segments follow retention.days. Migration 0017 goes down and up."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from tests import factories
from tests.migration_check import diffs_touching, read_schema
from vms import migrations
from vms.bootstrap import Container
from vms.config import service as config
from vms.config.nodes import NodeRef
from vms.kernel.tenancy import TenantScope
from vms.media import retention, service
from vms.media.models import HoldReason, RetentionRun, Segment
from vms.media.segmenter import SegmentInfo
from vms.uow import Actor

NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


async def record(
    container: Container, inbox: Path, tenant: uuid.UUID, camera: uuid.UUID, starts: dict[datetime, str | None]
) -> None:
    """5 s segments at `starts`, each with its keep decision."""
    async with container.unit_of_work(TenantScope.of(tenant), Actor.system("ingest")) as uow:
        for i, (start, kept_by) in enumerate(starts.items()):
            path = inbox / f"{uuid.uuid4()}.mp4"
            path.write_bytes(b"x" * 100)
            info = SegmentInfo(path, i, start, start + timedelta(seconds=5), 50, 100, "h264", 320, 240, 1.0)
            await service.record_segment(
                uow=uow,
                blobs=container.blobs,
                tenant_id=tenant,
                camera_id=camera,
                stream="main",
                info=info,
                kept_by=kept_by,
            )
        await uow.commit()


async def left(container: Container) -> dict[uuid.UUID, list[float]]:
    """Minutes before NOW of the segments left, per camera."""
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        found: dict[uuid.UUID, list[float]] = {}
        for s in (await uow.session.execute(select(Segment).order_by(Segment.started_at.desc()))).scalars():
            found.setdefault(s.camera_id, []).append((NOW - s.started_at).total_seconds() / 60)
        return found


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


async def test_unkept_segments_go_after_the_buffer_but_never_held_ones(container, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    customer = await factories.customer(container)
    camera = (await factories.camera(container, tenant_id=customer.id)).id
    other = uuid.uuid4()  # on defaults: a 15 min buffer
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
        await config.change_overrides(
            uow=uow,
            config_cache=container.config,
            node=NodeRef.camera(customer.id, camera),
            values={"recording.buffer_minutes": 5},
            reason="short buffer",
        )
        await uow.commit()
    await record(
        container,
        inbox,
        customer.id,
        camera,
        {ago(2): None, ago(10): None, ago(20): None, ago(30): "motion", ago(40): None, ago(60 * 24 * 40): "schedule"},
    )
    await record(container, inbox, customer.id, other, {ago(10): None, ago(20): None})
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
        await retention.create_hold(
            uow=uow,
            tenant_id=customer.id,
            camera_id=camera,
            start=ago(40),
            end=ago(40) + timedelta(seconds=5),
            reason=HoldReason.EVIDENCE,
            reference_id="case-7",
        )
        await uow.commit()

    async with container.unit_of_work(TenantScope.platform(), Actor.system("retention")) as uow:
        report = await retention.apply_retention(
            uow=uow,
            blobs=container.blobs,
            now=NOW,
            policy_for_camera=retention.config_policy(uow=uow, config_cache=container.config),
            watermark=None,
            disk_usage=lambda: (0, 1),
        )

    remaining = await left(container)
    # camera: 5 min buffer → the 2 min one stays; 10 and 20 go; the motion-kept 30 min one stays (retention 30 days);
    # the 40 min one is unkept but held; the 40-day-old kept one goes by age.
    assert remaining[camera] == [2, 30, 40]
    assert remaining[other] == [10]  # default 15 min buffer: only the 20 min one went
    assert (report.deleted_unkept, report.deleted_by_age) == (3, 1)
    assert not [k for k in report.deleted_keys if await container.blobs.exists(k)]
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        run = await uow.get(RetentionRun, report.run_id)
    assert run.deleted_unkept == 3 and run.deleted_by_age == 1


async def test_the_retention_policy_reads_the_buffer_from_configuration(container):
    customer = await factories.customer(container)
    camera = (await factories.camera(container, tenant_id=customer.id)).id
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
        await config.change_overrides(
            uow=uow,
            config_cache=container.config,
            node=NodeRef.customer(customer.id),
            values={"recording.buffer_minutes": 45},
            reason="longer buffer",
        )
        await uow.commit()
    async with container.unit_of_work(TenantScope.platform(), Actor.system("retention")) as uow:
        policy = await retention.config_policy(uow=uow, config_cache=container.config)(customer.id, camera)
    assert policy == retention.RetentionPolicy(days=30, event_days=90, buffer_minutes=45)


async def _schema(url: str) -> tuple[set[str], set[str], list]:
    schema = await read_schema(url)
    columns = schema.columns("segments") | {f"runs.{c}" for c in schema.columns("retention_runs")}
    diffs = diffs_touching(schema.diffs, words=("camera_warnings", "kept_by", "deleted_unkept"))
    return schema.tables, columns, diffs


async def test_migration_0017_goes_down_and_up_and_matches_the_model(any_database_url):
    tables, columns, diffs = await _schema(any_database_url)
    assert "camera_warnings" in tables and {"kept_by", "runs.deleted_unkept"} <= columns and diffs == []

    await asyncio.to_thread(migrations.downgrade, any_database_url, "0016")
    tables, columns, _ = await _schema(any_database_url)
    assert "camera_warnings" not in tables and not {"kept_by", "runs.deleted_unkept"} & columns

    await asyncio.to_thread(migrations.upgrade, any_database_url, "head")
    tables, columns, diffs = await _schema(any_database_url)
    assert "camera_warnings" in tables and {"kept_by", "runs.deleted_unkept"} <= columns and diffs == []
