"""Migration 0002 (cameras) goes down and up again on SQLite and PostgreSQL and matches the models."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from vms import migrations
from vms.adapters.sql.engine import make_engine
from vms.migrations.models import Base

CAMERA_TABLES = {"hierarchy_nodes", "cameras", "camera_groups", "camera_group_members"}


async def _schema(url: str) -> tuple[set[str], list]:
    """Table names, and the differences between the database and our tables' models."""
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
    """Whether an autogenerate difference concerns one of the camera tables."""
    text = repr(diff)
    return any(f"'{table}'" in text or f"{table}." in text for table in CAMERA_TABLES)


async def test_the_camera_tables_go_down_and_up_and_match_the_models(any_database_url):
    tables, diffs = await _schema(any_database_url)
    assert tables >= CAMERA_TABLES
    assert [d for d in diffs if _ours(d)] == []

    await asyncio.to_thread(migrations.downgrade, any_database_url, "0001")
    tables, _ = await _schema(any_database_url)
    assert not CAMERA_TABLES & tables
    assert {"tenants", "users", "audit_log"} <= tables

    await asyncio.to_thread(migrations.upgrade, any_database_url, "head")
    tables, diffs = await _schema(any_database_url)
    assert tables >= CAMERA_TABLES
    assert [d for d in diffs if _ours(d)] == []
