"""users scoped to tree nodes; cameras' control interface (device kind and URL)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("scope_node_ids", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("device_kind", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("device_url", sa.String(length=2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("device_url")
        batch.drop_column("device_kind")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("scope_node_ids")
