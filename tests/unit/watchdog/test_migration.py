"""Migration 0021 (incidents): goes down and up, and matches the models."""

from __future__ import annotations

import asyncio

from tests.migration_check import diffs_touching, read_schema
from vms import migrations


async def test_the_incidents_table_goes_down_and_up_and_matches_the_model(any_database_url):
    schema = await read_schema(any_database_url)
    assert "incidents" in schema.tables
    assert "uq_incidents_unresolved_dedupe_key" in schema.indexes("incidents")
    assert diffs_touching(schema.diffs, "incidents") == []

    await asyncio.to_thread(migrations.downgrade, any_database_url, "0020")
    schema = await read_schema(any_database_url)
    assert "incidents" not in schema.tables and "cameras" in schema.tables

    await asyncio.to_thread(migrations.upgrade, any_database_url, "head")
    schema = await read_schema(any_database_url)
    assert "incidents" in schema.tables
    assert diffs_touching(schema.diffs, "incidents") == []
