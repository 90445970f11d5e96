"""cameras: PTZ tours (sequences of presets the server walks a camera through)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ptz_tours",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("camera_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("loop", sa.Boolean(), nullable=False),
        sa.Column("running", sa.Boolean(), nullable=False),
        sa.Column("current_step", sa.Integer(), nullable=True),
        sa.Column("stepped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=400), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_ptz_tours_camera_id_cameras"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_ptz_tours_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ptz_tours")),
    )
    op.create_index(op.f("ix_ptz_tours_camera_id"), "ptz_tours", ["camera_id"], unique=False)
    op.create_index(op.f("ix_ptz_tours_tenant_id"), "ptz_tours", ["tenant_id"], unique=False)
    op.create_index("uq_ptz_tours_camera_id_name", "ptz_tours", ["camera_id", "name"], unique=True)


def downgrade() -> None:
    # Dropping a table drops its indexes and constraints on every engine.
    op.drop_table("ptz_tours")
