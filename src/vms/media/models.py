"""Tables of the media domain: the index of recorded segments, recording holds, retention runs and the
runtime warnings of degraded camera streams."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vms.kernel.orm import Base, CameraOwned, HasId, TenantOwned


class Segment(HasId, TenantOwned, CameraOwned, Base):
    """One stored segment of one camera stream: where it is and what it holds."""

    __tablename__ = "segments"
    __table_args__ = (
        UniqueConstraint("camera_id", "stream", "started_at"),
        Index("ix_segments_camera_time", "camera_id", "stream", "started_at"),
    )

    camera_id: Mapped[uuid.UUID]  # the cameras domain's id; no foreign key across domains
    stream: Mapped[str] = mapped_column(String(8))  # main | sub
    sequence: Mapped[int]
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    frames: Mapped[int]
    bytes: Mapped[int]
    codec: Mapped[str] = mapped_column(String(16))
    width: Mapped[int]
    height: Mapped[int]
    bitrate_kbps: Mapped[float]
    keyframe_interval_s: Mapped[float | None]
    blob_key: Mapped[str] = mapped_column(String(400))
    source: Mapped[str] = mapped_column(String(16), default="rtsp")  # rtsp | sd_card (Profile G backfill)
    # Which clock dated started_at/ended_at: "camera" (its RTCP sender reports) or "receive" (ours); media.timing.
    clock: Mapped[str] = mapped_column(String(8), default="receive")
    # Why the recording mode keeps this segment beyond the rolling buffer ("continuous", "schedule+motion" ...);
    # None: buffer only (AI jobs, live HLS, pre-roll), deleted by retention once older than recording.buffer_minutes.
    kept_by: Mapped[str | None] = mapped_column(String(40))
    # Set when the edge buffer freed the local copy: the bytes are then in the cloud store only (TieredBlobStore).
    local_freed_at: Mapped[datetime | None]


class HoldReason(StrEnum):
    """Why recordings must outlive their retention."""

    EVENT = "event"  # an event references the time (event-type retention applies)
    EXPORT = "export"  # an export is being cut or kept
    EVIDENCE = "evidence"  # a person put the time on hold (investigation, legal)


class RecordingHold(HasId, TenantOwned, CameraOwned, Base):
    """A stretch of one camera's recordings that retention must not delete while the hold is active.

    Active means `expires_at` is empty or in the future. Event and export holds are created by their
    domains; evidence holds by supervisors through the API.
    """

    __tablename__ = "recording_holds"
    __table_args__ = (Index("ix_recording_holds_camera_time", "camera_id", "starts_at"),)

    camera_id: Mapped[uuid.UUID]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(16))  # HoldReason
    reference_id: Mapped[str] = mapped_column(String(100))  # event id, export id or case number
    expires_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None]  # the user; None for a service


class RetentionRun(HasId, Base):
    """One pass of the retention job (all customers of this storage), for liveness and reporting.

    Not tenant-owned: the job works on the shared storage of an edge or a cloud region.
    """

    __tablename__ = "retention_runs"
    __table_args__ = (Index("ix_retention_runs_started_at", "started_at"),)

    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    deleted_by_age: Mapped[int] = mapped_column(default=0)
    deleted_by_watermark: Mapped[int] = mapped_column(default=0)
    bytes_freed: Mapped[int] = mapped_column(BigInteger, default=0)
    orphans_swept: Mapped[int] = mapped_column(default=0)
    deleted_unkept: Mapped[int] = mapped_column(default=0)  # buffer-only segments past the rolling buffer
    error: Mapped[str | None] = mapped_column(String(400))


class CameraWarning(HasId, TenantOwned, CameraOwned, Base):
    """A camera stream that falls short of an enabled model's requirements at run time (media.degradation).

    One row per raised warning; `cleared_at` is set when the stream recovers (the row stays, for the
    record). At most one uncleared row per camera, model and requirement.
    """

    __tablename__ = "camera_warnings"
    __table_args__ = (Index("ix_camera_warnings_camera_active", "camera_id", "cleared_at"),)

    camera_id: Mapped[uuid.UUID]
    stream: Mapped[str] = mapped_column(String(8))  # the stream the model runs on: main | sub
    model: Mapped[str] = mapped_column(String(32))  # AiModel
    requirement: Mapped[str] = mapped_column(String(16))  # resolution | bitrate | fps
    measured: Mapped[float]
    required: Mapped[float]
    message: Mapped[str] = mapped_column(String(200))  # "fps 8 < 15 required by fallen"
    raised_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]


class BackfillRun(HasId, TenantOwned, CameraOwned, Base):
    """One SD-card backfill of a camera's window (media.backfill): what was asked and what it filled."""

    __tablename__ = "backfill_runs"
    __table_args__ = (Index("ix_backfill_runs_camera", "camera_id", "created_at"),)

    camera_id: Mapped[uuid.UUID]
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # queued | running | done | failed
    gaps_found: Mapped[int] = mapped_column(default=0)
    segments_added: Mapped[int] = mapped_column(default=0)
    seconds_filled: Mapped[float] = mapped_column(default=0.0)
    error: Mapped[str | None] = mapped_column(String(400))
    requested_by: Mapped[uuid.UUID | None]  # the user; None when ingest started it after an outage
    finished_at: Mapped[datetime | None]
