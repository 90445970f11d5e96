"""Migration 0015 (ticket integrations, delivery state): goes down and up, and matches the models."""

from __future__ import annotations

import asyncio

from tests.migration_check import diffs_touching, read_schema
from vms import migrations

TABLES = ("tickets", "ticket_integrations")


async def test_the_ticket_tables_go_down_and_up_and_match_the_models(any_database_url):
    schema = await read_schema(any_database_url)
    assert "ticket_integrations" in schema.tables
    assert diffs_touching(schema.diffs, *TABLES) == []

    await asyncio.to_thread(migrations.downgrade, any_database_url, "0014")
    schema = await read_schema(any_database_url)
    assert "ticket_integrations" not in schema.tables and "tickets" in schema.tables

    await asyncio.to_thread(migrations.upgrade, any_database_url, "head")
    schema = await read_schema(any_database_url)
    assert "ticket_integrations" in schema.tables
    assert diffs_touching(schema.diffs, *TABLES) == []
