"""What a migrated database holds, and how it differs from the models, for the migration tests.

Every migration test opens the database, lists its tables (and some columns or indexes), runs
alembic's `compare_metadata` against `vms.migrations.models.Base.metadata`, then keeps the
differences that concern its own tables. That is one concept, so it lives here once: `read_schema`
reads it all in one connection, `diffs_touching` keeps the differences a test cares about.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from vms.adapters.sql.engine import make_engine
from vms.migrations.models import Base


@dataclass(frozen=True)
class Schema:
    """The database's tables, their columns and indexes, and autogenerate's differences from the models."""

    tables: set[str]
    diffs: list
    _columns: dict[str, set[str]]
    _indexes: dict[str, set[str | None]]

    def columns(self, table: str) -> set[str]:
        """The table's column names; a KeyError when the database has no such table."""
        return self._columns[table]

    def indexes(self, table: str) -> set[str | None]:
        """The table's index names; a KeyError when the database has no such table."""
        return self._indexes[table]


async def read_schema(url: str) -> Schema:
    """Read the schema at `url` and compare it (types included) with the models' metadata."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:

            def read(sync: Connection) -> Schema:
                inspector = inspect(sync)
                tables = set(inspector.get_table_names())
                columns = {t: {c["name"] for c in inspector.get_columns(t)} for t in tables}
                indexes = {t: {i["name"] for i in inspector.get_indexes(t)} for t in tables}
                context = MigrationContext.configure(sync, opts={"compare_type": True})
                return Schema(tables, compare_metadata(context, Base.metadata), columns, indexes)

            return await conn.run_sync(read)
    finally:
        await engine.dispose()


def diffs_touching(
    diffs: Iterable[object], *tables: str, quoted: Iterable[str] = (), words: Iterable[str] = ()
) -> list:
    """The differences whose repr names one of `tables` (as `'table'` or `table.`), one of `quoted`
    (only as `'name'`), or holds one of `words` anywhere."""
    needles = [*(f"'{t}'" for t in tables), *(f"{t}." for t in tables), *(f"'{q}'" for q in quoted), *words]
    return [d for d in diffs if any(n in repr(d) for n in needles)]
