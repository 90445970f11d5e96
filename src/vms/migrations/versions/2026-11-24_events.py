"""events: events and their notes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("camera_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("object_class", sa.String(length=64), nullable=False),
        sa.Column("tracking_id", sa.String(length=64), nullable=False),
        sa.Column("bounding_box", sa.JSON(), nullable=False),
        sa.Column("clip_url", sa.String(length=2048), nullable=True),
        sa.Column("snapshot_key", sa.String(length=400), nullable=True),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("detections", sa.Integer(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_camera_time", ["camera_id", "occurred_at"], unique=False)
        batch_op.create_index("ix_events_tenant_time", ["tenant_id", "occurred_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_tenant_id"), ["tenant_id"], unique=False)
    op.create_table(
        "event_notes",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("author", sa.String(length=320), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_event_notes_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_notes")),
    )
    with op.batch_alter_table("event_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_notes_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_notes_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("event_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_notes_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_event_notes_event_id"))
    op.drop_table("event_notes")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_events_status"))
        batch_op.drop_index("ix_events_tenant_time")
        batch_op.drop_index("ix_events_camera_time")
    op.drop_table("events")
