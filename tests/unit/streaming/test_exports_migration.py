"""Migration 0008 (exports) goes down and up again on SQLite and PostgreSQL and matches the model."""

from __future__ import annotations

import asyncio

from tests.migration_check import diffs_touching, read_schema
from vms import migrations


async def test_the_exports_table_goes_down_and_up_and_matches_the_model(any_database_url):
    schema = await read_schema(any_database_url)
    assert "exports" in schema.tables and diffs_touching(schema.diffs, "exports") == []

    await asyncio.to_thread(migrations.downgrade, any_database_url, "0007")
    schema = await read_schema(any_database_url)
    assert "exports" not in schema.tables and "segments" in schema.tables

    await asyncio.to_thread(migrations.upgrade, any_database_url, "head")
    schema = await read_schema(any_database_url)
    assert "exports" in schema.tables and diffs_touching(schema.diffs, "exports") == []
