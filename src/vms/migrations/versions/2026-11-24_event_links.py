"""events: cross-camera links — the trail's correlation id, its other events, and the last sighting

An object moving between adjacent cameras leaves one event per camera; `vms.events.links` joins them
in a trail. `correlation_id` is the trail's first event's id (indexed: the inbox filters by it),
`linked_event_ids` the trail's other events, `last_seen_at` the frame time of the newest detection
stored, from which the gap between leaving one camera and appearing on the next is measured.
Events stored before this revision have no sighting time and are never linked.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("correlation_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("linked_event_ids", sa.JSON(), nullable=False, server_default="[]"))
        batch.create_index("ix_events_correlation_id", ["correlation_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_index("ix_events_correlation_id")
        batch.drop_column("linked_event_ids")
        batch.drop_column("correlation_id")
        batch.drop_column("last_seen_at")
