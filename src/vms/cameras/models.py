"""Tables of the cameras domain: the location tree, cameras, and named camera groups.

The site → building → floor → zone hierarchy is one self-referencing table (`Node`, with a
`kind`) rather than four: the tree, rename, move, delete-when-empty and the counts are one code
path, and a rule table (`PARENT_KIND`) keeps the levels in order. Cameras hang off zones.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, synonym

from vms.kernel.orm import Base, CameraOwned, HasId, TenantOwned, TreeNode


class NodeKind(StrEnum):
    """The levels of the location tree, top to bottom."""

    SITE = "site"
    BUILDING = "building"
    FLOOR = "floor"
    ZONE = "zone"


PARENT_KIND: dict[NodeKind, NodeKind | None] = {
    NodeKind.SITE: None,
    NodeKind.BUILDING: NodeKind.SITE,
    NodeKind.FLOOR: NodeKind.BUILDING,
    NodeKind.ZONE: NodeKind.FLOOR,
}


class Node(HasId, TenantOwned, TreeNode, Base):
    """A site, building, floor or zone of a customer."""

    __tablename__ = "hierarchy_nodes"
    __table_args__ = (CheckConstraint("kind IN ('site', 'building', 'floor', 'zone')", name="kind"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("hierarchy_nodes.id"), index=True)


class CameraStatus(StrEnum):
    """Whether the ingest role currently receives the camera's stream."""

    UNKNOWN = "unknown"
    ONLINE = "online"
    DEGRADED = "degraded"  # connected, but packets arrive late or reconnects are frequent
    OFFLINE = "offline"
    AUTH_FAILED = "auth_failed"  # the camera refuses the stored credentials


class Camera(HasId, TenantOwned, CameraOwned, Base):
    """A camera: its stream URLs (never with credentials), encrypted credentials, probe results, AI models."""

    __tablename__ = "cameras"
    __table_args__ = (
        # External ids (from a bulk import or another VMS) are unique per customer when given.
        # SQL Server counts NULLs as equal in a unique index, hence the filter there.
        Index(
            "uq_cameras_tenant_id_external_id",
            "tenant_id",
            "external_id",
            unique=True,
            mssql_where=text("external_id IS NOT NULL"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    main_url: Mapped[str] = mapped_column(String(2048))
    sub_url: Mapped[str | None] = mapped_column(String(2048))
    manufacturer: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    firmware: Mapped[str | None] = mapped_column(String(100))
    zone_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("hierarchy_nodes.id"), index=True)
    tags: Mapped[list[str]] = mapped_column(default=list)
    external_id: Mapped[str | None] = mapped_column(String(200))
    # "none" or one of the auth methods; the secrets themselves are one SecretBox token of a JSON object.
    auth_method: Mapped[str] = mapped_column(String(16), default="none")
    credentials: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=CameraStatus.UNKNOWN.value, index=True)
    # Why the stream is not online (a StreamFault value) and the reader's last error, kept by the ingest role.
    fault: Mapped[str | None] = mapped_column(String(24))
    last_error: Mapped[str | None] = mapped_column(String(400))
    status_changed_at: Mapped[datetime | None]
    last_frame_at: Mapped[datetime | None]
    # The main stream's measured figures as of last_frame_at (reconnects, bitrate, fps, keyframe interval …).
    stream_stats: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    main_stream: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sub_stream: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    probed_at: Mapped[datetime | None]
    enabled_models: Mapped[list[str]] = mapped_column(default=list)
    # Per enabled model, the stream it runs on: {"anpr": "main", "motion": "sub"}.
    model_streams: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The control interface (ONVIF, ISAPI, Dahua HTTP) for device info and PTZ; it uses the same credentials.
    device_kind: Mapped[str | None] = mapped_column(String(16))
    device_url: Mapped[str | None] = mapped_column(String(2048))
    updated_at: Mapped[datetime | None]

    # For the scope guard (kernel.orm.CameraOwned): a camera is its own camera, placed by its zone.
    camera_id: Mapped[uuid.UUID] = synonym("id")
    placed_by: ClassVar[str | None] = "zone_id"


class CameraGroup(HasId, TenantOwned, Base):
    """A named set of cameras cutting across the tree ("Entrances", "Car park LPR")."""

    __tablename__ = "camera_groups"
    __table_args__ = (Index("uq_camera_groups_tenant_id_name", "tenant_id", "name", unique=True),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(1000))


class CameraGroupMember(TenantOwned, CameraOwned, Base):
    """One camera in one group; the rows go when either side is deleted."""

    __tablename__ = "camera_group_members"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("camera_groups.id", ondelete="CASCADE"), primary_key=True)
    camera_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class DiscoveryStatus(StrEnum):
    """Where a discovery job is in its life."""

    QUEUED = "queued"  # accepted, not started yet
    RUNNING = "running"  # probing; results and progress grow
    COMPLETED = "completed"  # every target probed (or the answer window closed)
    FAILED = "failed"  # `error` says why; the results found until then are kept
    CANCELLED = "cancelled"  # stopped on request; the results found until then are kept


class DiscoveryJob(HasId, TenantOwned, Base):
    """One run of WS-Discovery or an address scan, with its progress and what it found.

    Results are one JSON list (a scan finds at most one device per address, 1,024 at most) so the
    job is written whole, at most twice a second, and a result is addressed by its index. The
    credentials a scan used are never stored: `with_credentials` only records that some were given.
    """

    __tablename__ = "discovery_jobs"
    __table_args__ = (Index("ix_discovery_jobs_tenant_created", "tenant_id", "created_at"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    method: Mapped[str] = mapped_column(String(16))  # scan | ws-discovery
    targets: Mapped[str | None] = mapped_column(Text)
    multicast: Mapped[bool] = mapped_column(default=False)
    ports: Mapped[list[int]] = mapped_column(JSON, default=list)
    timeout_s: Mapped[float]
    with_credentials: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default=DiscoveryStatus.QUEUED.value)  # DiscoveryStatus
    hosts_total: Mapped[int] = mapped_column(default=0)
    hosts_done: Mapped[int] = mapped_column(default=0)
    devices_found: Mapped[int] = mapped_column(default=0)
    progress: Mapped[float] = mapped_column(default=0.0)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(String(400))
    requested_by: Mapped[uuid.UUID | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]  # heartbeat while running; a stale one means the runner died


class PtzTour(HasId, TenantOwned, CameraOwned, Base):
    """A named sequence of presets (with dwell and speed) that the server walks a PTZ camera through.

    `running` is what operators asked for; `current_step` and `stepped_at` are the runner's heartbeat,
    so a tour whose runner died (server restart) is recognised as interrupted rather than shown running.
    """

    __tablename__ = "ptz_tours"
    __table_args__ = (Index("uq_ptz_tours_camera_id_name", "camera_id", "name", unique=True),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    camera_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{preset_token, dwell_s, speed}], 1..64
    loop: Mapped[bool] = mapped_column(default=True)
    running: Mapped[bool] = mapped_column(default=False)
    current_step: Mapped[int | None]
    stepped_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(400))
    updated_at: Mapped[datetime | None]
