"""Tables of the streaming domain: MP4 exports of recorded video."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from vms.kernel.orm import Base, CameraOwned, HasId, TenantOwned


class ExportStatus(StrEnum):
    """Where an export is in its life."""

    QUEUED = "queued"  # accepted, waiting for a free export slot
    RUNNING = "running"  # being cut; `progress` grows
    DONE = "done"  # the MP4 is in the blob store, ready to download
    FAILED = "failed"  # `error` says why; nothing to download


class Export(HasId, TenantOwned, CameraOwned, Base):
    """One MP4 export of a camera's recordings over [starts_at, ends_at), cut by stream copy."""

    __tablename__ = "exports"
    __table_args__ = (Index("ix_exports_tenant_created", "tenant_id", "created_at"),)

    camera_id: Mapped[uuid.UUID]  # the cameras domain's id; no foreign key across domains
    stream: Mapped[str] = mapped_column(String(8))  # main | sub
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=ExportStatus.QUEUED.value)  # ExportStatus
    progress: Mapped[float] = mapped_column(default=0.0)  # 0–1, share of the range's segments cut
    blob_key: Mapped[str | None] = mapped_column(String(400))
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    duration_s: Mapped[float | None]  # of the MP4 written
    sha256: Mapped[str | None] = mapped_column(String(64))  # of the MP4: chain of custody for evidence
    hold: Mapped[str | None] = mapped_column(String(16))  # export | evidence: a recording hold was placed
    reference_id: Mapped[str | None] = mapped_column(String(100))  # case number of an evidence hold
    error: Mapped[str | None] = mapped_column(String(400))
    requested_by: Mapped[uuid.UUID | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]  # heartbeat while running; a stale one means the cutter died
