"""Migration 0002 (cameras) goes down and up again on SQLite and PostgreSQL and matches the models."""

from __future__ import annotations

import asyncio

from tests.migration_check import diffs_touching, read_schema
from vms import migrations

CAMERA_TABLES = {"hierarchy_nodes", "cameras", "camera_groups", "camera_group_members"}


async def test_the_camera_tables_go_down_and_up_and_match_the_models(any_database_url):
    schema = await read_schema(any_database_url)
    assert schema.tables >= CAMERA_TABLES
    assert diffs_touching(schema.diffs, *CAMERA_TABLES) == []

    await asyncio.to_thread(migrations.downgrade, any_database_url, "0001")
    schema = await read_schema(any_database_url)
    assert not CAMERA_TABLES & schema.tables
    assert {"tenants", "users", "audit_log"} <= schema.tables

    await asyncio.to_thread(migrations.upgrade, any_database_url, "head")
    schema = await read_schema(any_database_url)
    assert schema.tables >= CAMERA_TABLES
    assert diffs_touching(schema.diffs, *CAMERA_TABLES) == []
