"""media: recording holds and retention runs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recording_holds",
        sa.Column("camera_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("reference_id", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_holds")),
    )
    with op.batch_alter_table("recording_holds", schema=None) as batch_op:
        batch_op.create_index("ix_recording_holds_camera_time", ["camera_id", "starts_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_recording_holds_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "retention_runs",
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by_age", sa.Integer(), nullable=False),
        sa.Column("deleted_by_watermark", sa.Integer(), nullable=False),
        sa.Column("bytes_freed", sa.BigInteger(), nullable=False),
        sa.Column("orphans_swept", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=400), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )
    with op.batch_alter_table("retention_runs", schema=None) as batch_op:
        batch_op.create_index("ix_retention_runs_started_at", ["started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("retention_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_retention_runs_started_at")
    op.drop_table("retention_runs")
    with op.batch_alter_table("recording_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recording_holds_tenant_id"))
        batch_op.drop_index("ix_recording_holds_camera_time")
    op.drop_table("recording_holds")
