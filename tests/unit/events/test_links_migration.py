"""Migration 0016 (cross-camera links) goes down and up again on SQLite and PostgreSQL and matches the model."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from vms import migrations
from vms.adapters.sql.engine import make_engine
from vms.migrations.models import Base

LINK_COLUMNS = {"last_seen_at", "correlation_id", "linked_event_ids"}


async def _events_schema(url: str) -> tuple[set[str], set[str], list]:
    """The events table's columns and indexes, and autogenerate's differences that concern it."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:

            def read(sync):
                inspector = inspect(sync)
                columns = {c["name"] for c in inspector.get_columns("events")}
                indexes = {i["name"] for i in inspector.get_indexes("events")}
                context = MigrationContext.configure(sync, opts={"compare_type": True})
                diffs = [d for d in compare_metadata(context, Base.metadata) if "events" in repr(d)]
                return columns, indexes, diffs

            return await conn.run_sync(read)
    finally:
        await engine.dispose()


async def test_the_link_columns_go_down_and_up_and_match_the_model(any_database_url):
    columns, indexes, diffs = await _events_schema(any_database_url)
    assert columns >= LINK_COLUMNS and "ix_events_correlation_id" in indexes
    assert [d for d in diffs if any(c in repr(d) for c in (*LINK_COLUMNS, "ix_events_correlation_id"))] == []

    await asyncio.to_thread(migrations.downgrade, any_database_url, "0015")
    columns, indexes, _ = await _events_schema(any_database_url)
    assert not columns & LINK_COLUMNS and "ix_events_correlation_id" not in indexes
    assert {"camera_id", "clip_key", "updated_at"} <= columns

    await asyncio.to_thread(migrations.upgrade, any_database_url, "head")
    columns, indexes, diffs = await _events_schema(any_database_url)
    assert columns >= LINK_COLUMNS and "ix_events_correlation_id" in indexes
    assert [d for d in diffs if any(c in repr(d) for c in (*LINK_COLUMNS, "ix_events_correlation_id"))] == []
