"""media: which clock dated each segment (camera RTCP sender reports or receive time)

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-24

Segments recorded before this revision were all dated by the receive clock.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("clock", sa.String(length=8), nullable=False, server_default="receive"))
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.alter_column("clock", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.drop_column("clock")
