"""events: last-change stamp indexed per customer for live push; clip blob key and clip error

Live push (vms.events.feed) reads each customer's changes in (updated_at, id) order. Events stored
before this revision had no stamp until their first change; they get their creation time. Clips
(vms.events.clips) are stored in the blob store; `clip_key` says where, `clip_error` why there is none.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE events SET updated_at = created_at WHERE updated_at IS NULL")
    op.create_index("ix_events_tenant_updated", "events", ["tenant_id", "updated_at", "id"])
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("clip_key", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("clip_error", sa.String(length=400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("clip_error")
        batch.drop_column("clip_key")
    op.drop_index("ix_events_tenant_updated", table_name="events")
