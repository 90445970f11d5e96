"""cameras: the main stream's measured figures (reconnects, bitrate, fps, keyframe interval), kept by the ingest role

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("stream_stats", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("stream_stats")
