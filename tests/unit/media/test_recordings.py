"""Closed segments land in blob storage and the index; the gap report says what is missing."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests import factories
from tests.media import make_clip
from vms.adapters.blobs.filesystem import FilesystemBlobStore
from vms.kernel.tenancy import TenantScope
from vms.media import service
from vms.media.segmenter import Segmenter, SegmentInfo
from vms.uow import Actor

T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


def segments_from(tmp_path: Path, seconds: int, start: datetime) -> list[SegmentInfo]:
    clip = make_clip(tmp_path / f"c{seconds}.mp4", width=320, height=240, fps=10, seconds=seconds)
    got: list[SegmentInfo] = []
    Segmenter(out_dir=tmp_path / f"s{start:%H%M%S}", clock=lambda: start).run(
        str(clip), on_segment=got.append, stop=threading.Event()
    )
    return got


async def test_recorded_segments_are_stored_indexed_and_found_by_time(container, tmp_path: Path):
    customer = await factories.customer(container)
    camera = uuid.uuid4()
    blobs = FilesystemBlobStore(tmp_path / "blobs")
    segs = segments_from(tmp_path, 15, T0)
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("ingest")) as uow:
        for info in segs:
            await service.record_segment(
                uow=uow, blobs=blobs, tenant_id=customer.id, camera_id=camera, stream="main", info=info
            )
        await uow.commit()
    assert not any(s.path.exists() for s in segs)  # moved into the store
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("playback")) as uow:
        found = await service.segments_between(
            uow=uow, camera_id=camera, start=T0 + timedelta(seconds=6), end=T0 + timedelta(seconds=11)
        )
    assert [s.sequence for s in found] == [1, 2]
    assert all([await blobs.exists(s.blob_key) for s in found])
    assert found[0].blob_key.startswith(f"{customer.id}/{camera}/main/2026/11/24/12/")


async def test_another_tenant_sees_no_recordings(container, tmp_path: Path):
    a, b = await factories.customer(container), await factories.customer(container)
    camera = uuid.uuid4()
    blobs = FilesystemBlobStore(tmp_path / "blobs")
    async with container.unit_of_work(TenantScope.of(a.id), Actor.system("ingest")) as uow:
        for info in segments_from(tmp_path, 5, T0):
            await service.record_segment(
                uow=uow, blobs=blobs, tenant_id=a.id, camera_id=camera, stream="main", info=info
            )
        await uow.commit()
    async with container.unit_of_work(TenantScope.of(b.id), Actor.system("playback")) as uow:
        assert await service.segments_between(uow=uow, camera_id=camera, start=T0, end=T0 + timedelta(hours=1)) == []


async def test_the_gap_report_finds_an_outage(container, tmp_path: Path):
    customer = await factories.customer(container)
    camera = uuid.uuid4()
    blobs = FilesystemBlobStore(tmp_path / "blobs")
    before = segments_from(tmp_path, 10, T0)  # 12:00:00 – 12:00:10
    after = segments_from(tmp_path, 10, T0 + timedelta(seconds=40))  # 12:00:40 – 12:00:50, a 30 s outage
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("ingest")) as uow:
        for info in before + after:
            await service.record_segment(
                uow=uow, blobs=blobs, tenant_id=customer.id, camera_id=camera, stream="main", info=info
            )
        await uow.commit()
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("integrity")) as uow:
        report = await service.gap_report(uow=uow, camera_id=camera, start=T0, end=T0 + timedelta(seconds=60))
    assert [(g.start, g.end) for g in report.gaps] == [
        (T0 + timedelta(seconds=10), T0 + timedelta(seconds=40)),
        (T0 + timedelta(seconds=50), T0 + timedelta(seconds=60)),
    ]
    assert report.recorded_s == 20
    assert round(report.coverage, 3) == round(20 / 60, 3)
