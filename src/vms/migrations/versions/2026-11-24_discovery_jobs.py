"""cameras: discovery jobs (WS-Discovery and address scans, with their progress and results)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "discovery_jobs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("targets", sa.Text(), nullable=True),
        sa.Column("multicast", sa.Boolean(), nullable=False),
        sa.Column("ports", sa.JSON(), nullable=False),
        sa.Column("timeout_s", sa.Double(), nullable=False),
        sa.Column("with_credentials", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hosts_total", sa.Integer(), nullable=False),
        sa.Column("hosts_done", sa.Integer(), nullable=False),
        sa.Column("devices_found", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=400), nullable=True),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_discovery_jobs_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discovery_jobs")),
    )
    with op.batch_alter_table("discovery_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_discovery_jobs_tenant_created", ["tenant_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_discovery_jobs_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("discovery_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_discovery_jobs_tenant_id"))
        batch_op.drop_index("ix_discovery_jobs_tenant_created")
    op.drop_table("discovery_jobs")
