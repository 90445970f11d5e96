"""cameras: location tree (sites, buildings, floors, zones), cameras, camera groups

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 13:51:33.380636
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hierarchy_nodes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('site', 'building', 'floor', 'zone')", name=op.f("ck_hierarchy_nodes_kind")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["hierarchy_nodes.id"], name=op.f("fk_hierarchy_nodes_parent_id_hierarchy_nodes")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_hierarchy_nodes_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hierarchy_nodes")),
    )
    op.create_index(op.f("ix_hierarchy_nodes_parent_id"), "hierarchy_nodes", ["parent_id"], unique=False)
    op.create_index(op.f("ix_hierarchy_nodes_tenant_id"), "hierarchy_nodes", ["tenant_id"], unique=False)

    op.create_table(
        "cameras",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("main_url", sa.String(length=2048), nullable=False),
        sa.Column("sub_url", sa.String(length=2048), nullable=True),
        sa.Column("manufacturer", sa.String(length=100), nullable=True),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column("firmware", sa.String(length=100), nullable=True),
        sa.Column("zone_id", sa.Uuid(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("auth_method", sa.String(length=16), nullable=False),
        sa.Column("credentials", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("main_stream", sa.JSON(), nullable=True),
        sa.Column("sub_stream", sa.JSON(), nullable=True),
        sa.Column("probed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enabled_models", sa.JSON(), nullable=False),
        sa.Column("model_streams", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_cameras_tenant_id_tenants")),
        sa.ForeignKeyConstraint(["zone_id"], ["hierarchy_nodes.id"], name=op.f("fk_cameras_zone_id_hierarchy_nodes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
    )
    op.create_index(op.f("ix_cameras_status"), "cameras", ["status"], unique=False)
    op.create_index(op.f("ix_cameras_tenant_id"), "cameras", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_cameras_zone_id"), "cameras", ["zone_id"], unique=False)
    # SQL Server counts NULLs as equal in a unique index; the filter keeps cameras without an external id apart.
    op.create_index(
        "uq_cameras_tenant_id_external_id",
        "cameras",
        ["tenant_id", "external_id"],
        unique=True,
        mssql_where=sa.text("external_id IS NOT NULL"),
    )

    op.create_table(
        "camera_groups",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_camera_groups_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_groups")),
    )
    op.create_index(op.f("ix_camera_groups_tenant_id"), "camera_groups", ["tenant_id"], unique=False)
    op.create_index("uq_camera_groups_tenant_id_name", "camera_groups", ["tenant_id", "name"], unique=True)

    op.create_table(
        "camera_group_members",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("camera_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
            name=op.f("fk_camera_group_members_camera_id_cameras"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["camera_groups.id"],
            name=op.f("fk_camera_group_members_group_id_camera_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_camera_group_members_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("group_id", "camera_id", name=op.f("pk_camera_group_members")),
    )
    op.create_index(op.f("ix_camera_group_members_camera_id"), "camera_group_members", ["camera_id"], unique=False)
    op.create_index(op.f("ix_camera_group_members_tenant_id"), "camera_group_members", ["tenant_id"], unique=False)


def downgrade() -> None:
    # Dropping a table drops its indexes and constraints on every engine.
    op.drop_table("camera_group_members")
    op.drop_table("camera_groups")
    op.drop_table("cameras")
    op.drop_table("hierarchy_nodes")
