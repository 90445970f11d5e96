"""cameras: why a stream is down, kept on the camera row (fault, last error, when the status changed, last frame)

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("fault", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("last_error", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_frame_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("last_frame_at")
        batch.drop_column("status_changed_at")
        batch.drop_column("last_error")
        batch.drop_column("fault")
