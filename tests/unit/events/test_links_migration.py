"""Migration 0016 (cross-camera links) goes down and up again on SQLite and PostgreSQL and matches the model."""

from __future__ import annotations

import asyncio

from tests.migration_check import diffs_touching, read_schema
from vms import migrations

LINK_COLUMNS = {"last_seen_at", "correlation_id", "linked_event_ids"}


async def _events_schema(url: str) -> tuple[set[str], set[str], list]:
    """The events table's columns and indexes, and the differences for the link columns and index."""
    schema = await read_schema(url)
    events_diffs = diffs_touching(schema.diffs, words=("events",))
    links = diffs_touching(events_diffs, words=(*LINK_COLUMNS, "ix_events_correlation_id"))
    return schema.columns("events"), schema.indexes("events"), links


async def test_the_link_columns_go_down_and_up_and_match_the_model(any_database_url):
    columns, indexes, diffs = await _events_schema(any_database_url)
    assert columns >= LINK_COLUMNS and "ix_events_correlation_id" in indexes
    assert diffs == []

    await asyncio.to_thread(migrations.downgrade, any_database_url, "0015")
    columns, indexes, _ = await _events_schema(any_database_url)
    assert not columns & LINK_COLUMNS and "ix_events_correlation_id" not in indexes
    assert {"camera_id", "clip_key", "updated_at"} <= columns

    await asyncio.to_thread(migrations.upgrade, any_database_url, "head")
    columns, indexes, diffs = await _events_schema(any_database_url)
    assert columns >= LINK_COLUMNS and "ix_events_correlation_id" in indexes
    assert diffs == []
