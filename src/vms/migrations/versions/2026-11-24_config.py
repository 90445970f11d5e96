"""config: overrides per node (system, customer, site, camera) and their versions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 14:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _version_columns() -> list[sa.Column]:
    return [
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("rolled_back_to", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "config_system",
        sa.Column("overrides", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_system")),
    )
    op.create_table(
        "config_system_versions",
        *_version_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_system_versions")),
        sa.UniqueConstraint("version", name=op.f("uq_config_system_versions_version")),
    )
    op.create_table(
        "config_nodes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("node_id", sa.Uuid(), nullable=False),
        sa.Column("overrides", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("level IN ('customer', 'site', 'camera')", name=op.f("ck_config_nodes_level")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_config_nodes_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_nodes")),
        sa.UniqueConstraint("tenant_id", "level", "node_id", name=op.f("uq_config_nodes_tenant_id")),
    )
    with op.batch_alter_table("config_nodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_config_nodes_node_id"), ["node_id"], unique=False)
    op.create_table(
        "config_node_versions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("node_id", sa.Uuid(), nullable=False),
        *_version_columns(),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_config_node_versions_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_node_versions")),
        sa.UniqueConstraint("tenant_id", "level", "node_id", "version", name=op.f("uq_config_node_versions_tenant_id")),
    )


def downgrade() -> None:
    op.drop_table("config_node_versions")
    with op.batch_alter_table("config_nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_config_nodes_node_id"))
    op.drop_table("config_nodes")
    op.drop_table("config_system_versions")
    op.drop_table("config_system")
