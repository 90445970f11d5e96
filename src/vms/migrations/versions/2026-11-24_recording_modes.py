"""media: recording-mode decisions on segments, runtime warnings of degraded streams

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-24

Segments recorded before this revision were recorded continuously, so they are marked kept by
`continuous` (a NULL would make retention treat them as rolling buffer and delete them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kept_by", sa.String(length=40), nullable=True))
    op.execute("UPDATE segments SET kept_by = 'continuous'")
    with op.batch_alter_table("retention_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_unkept", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("retention_runs", schema=None) as batch_op:
        batch_op.alter_column("deleted_unkept", server_default=None)

    op.create_table(
        "camera_warnings",
        sa.Column("camera_id", sa.Uuid(), nullable=False),
        sa.Column("stream", sa.String(length=8), nullable=False),
        sa.Column("model", sa.String(length=32), nullable=False),
        sa.Column("requirement", sa.String(length=16), nullable=False),
        sa.Column("measured", sa.Double(), nullable=False),
        sa.Column("required", sa.Double(), nullable=False),
        sa.Column("message", sa.String(length=200), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_warnings")),
    )
    with op.batch_alter_table("camera_warnings", schema=None) as batch_op:
        batch_op.create_index("ix_camera_warnings_camera_active", ["camera_id", "cleared_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_camera_warnings_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("camera_warnings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_camera_warnings_tenant_id"))
        batch_op.drop_index("ix_camera_warnings_camera_active")
    op.drop_table("camera_warnings")
    with op.batch_alter_table("retention_runs", schema=None) as batch_op:
        batch_op.drop_column("deleted_unkept")
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.drop_column("kept_by")
