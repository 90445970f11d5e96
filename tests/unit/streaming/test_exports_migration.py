"""Migration 0008 (exports) goes down and up again on SQLite and PostgreSQL and matches the model."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from vms import migrations
from vms.adapters.sql.engine import make_engine
from vms.migrations.models import Base


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


def _exports(diffs) -> list:
    return [d for d in diffs if "'exports'" in repr(d) or "exports." in repr(d)]


async def test_the_exports_table_goes_down_and_up_and_matches_the_model(any_database_url):
    tables, diffs = await _schema(any_database_url)
    assert "exports" in tables and _exports(diffs) == []

    await asyncio.to_thread(migrations.downgrade, any_database_url, "0007")
    tables, _ = await _schema(any_database_url)
    assert "exports" not in tables and "segments" in tables

    await asyncio.to_thread(migrations.upgrade, any_database_url, "head")
    tables, diffs = await _schema(any_database_url)
    assert "exports" in tables and _exports(diffs) == []
