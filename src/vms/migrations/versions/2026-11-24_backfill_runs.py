"""media: SD-card backfill runs (ONVIF Profile G replay into the segment index)

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backfill_runs",
        sa.Column("camera_id", sa.Uuid(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("gaps_found", sa.Integer(), nullable=False),
        sa.Column("segments_added", sa.Integer(), nullable=False),
        sa.Column("seconds_filled", sa.Float(), nullable=False),
        sa.Column("error", sa.String(length=400), nullable=True),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backfill_runs")),
    )
    with op.batch_alter_table("backfill_runs", schema=None) as batch_op:
        batch_op.create_index("ix_backfill_runs_camera", ["camera_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_backfill_runs_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("backfill_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_backfill_runs_tenant_id"))
        batch_op.drop_index("ix_backfill_runs_camera")
    op.drop_table("backfill_runs")
