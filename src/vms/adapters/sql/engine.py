"""Engine and session factory for the configured database URL.

SQLite runs in WAL mode so readers never block the single writer, with a busy timeout so
concurrent writers wait instead of failing; server databases get a connection pool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from vms.kernel.orm import SCOPE_KEY
from vms.kernel.tenancy import TenantScope


def make_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    """Create an async engine, preparing SQLite's file and pragmas when embedded."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (responses serialise them)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def open_session(maker: async_sessionmaker[AsyncSession], scope: TenantScope) -> AsyncSession:
    """A session confined to `scope`; the tenant guard in kernel.orm reads it from session.info."""
    session = maker()
    session.info[SCOPE_KEY] = scope
    return session
