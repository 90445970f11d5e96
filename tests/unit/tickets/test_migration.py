"""Migration 0015 (ticket integrations, delivery state): goes down and up, and matches the models."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from vms import migrations
from vms.adapters.sql.engine import make_engine
from vms.migrations.models import Base

TABLES = ("tickets", "ticket_integrations")


async def _schema(url: str) -> tuple[set[str], list]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:

            def read(sync):
                names = set(inspect(sync).get_table_names())
                context = MigrationContext.configure(sync, opts={"compare_type": True})
                return names, compare_metadata(context, Base.metadata)

            return await conn.run_sync(read)
    finally:
        await engine.dispose()


def _ours(diff) -> bool:
    text = repr(diff)
    return any(f"'{table}'" in text or f"{table}." in text for table in TABLES)


async def test_the_ticket_tables_go_down_and_up_and_match_the_models(any_database_url):
    tables, diffs = await _schema(any_database_url)
    assert "ticket_integrations" in tables
    assert [d for d in diffs if _ours(d)] == []

    await asyncio.to_thread(migrations.downgrade, any_database_url, "0014")
    tables, _ = await _schema(any_database_url)
    assert "ticket_integrations" not in tables and "tickets" in tables

    await asyncio.to_thread(migrations.upgrade, any_database_url, "head")
    tables, diffs = await _schema(any_database_url)
    assert "ticket_integrations" in tables
    assert [d for d in diffs if _ours(d)] == []
