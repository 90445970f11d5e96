"""tickets: external trackers (ServiceNow, Jira) per customer, and delivery state on each ticket

`ticket_integrations` holds one customer's tracker: URL, sign-in (the secret sealed with the
platform key) and options. Tickets gain what delivery needs: the tracker's id, key, URL and status,
the last error and the retry schedule, and the context the remote ticket is written from.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_integrations",
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=True),
        sa.Column("auth", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=320), nullable=True),
        sa.Column("secret_sealed", sa.Text(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("console_url", sa.String(length=500), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_integrations"),
        sa.UniqueConstraint("tenant_id", name="uq_ticket_integrations_tenant"),
    )
    op.create_index("ix_ticket_integrations_tenant_id", "ticket_integrations", ["tenant_id"])
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("external_key", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("external_url", sa.String(length=1000), nullable=True))
        batch.add_column(sa.Column("external_status", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("sync_error", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("sync_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_sync_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("context", sa.JSON(), nullable=False, server_default="{}"))
    op.create_index("ix_tickets_sync_due", "tickets", ["next_sync_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_sync_due", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        for column in (
            "context",
            "synced_at",
            "next_sync_at",
            "sync_attempts",
            "sync_error",
            "external_status",
            "external_url",
            "external_key",
        ):
            batch.drop_column(column)
    op.drop_table("ticket_integrations")
