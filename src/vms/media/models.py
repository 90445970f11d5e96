"""Tables of the media domain: the index of recorded segments."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vms.kernel.orm import Base, HasId, TenantOwned


class Segment(HasId, TenantOwned, Base):
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
