"""Shared fixtures: settings on a fresh embedded database, the container, the app and an HTTP client.

Real engines (PostgreSQL, Redis) come from `scripts/services`; their URLs arrive as
VMS_TEST_POSTGRES_URL / VMS_TEST_REDIS_URL. Locally a missing engine skips its tests; under
CI (CI=true) it fails them, so a green CI run always means the real engines were exercised.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from vms import migrations
from vms.api.app import create_app
from vms.bootstrap import Container, build_container
from vms.settings import Settings

TEMPLATE_DIR = Path(__file__).parent / ".." / ".pytest_cache" / "db-template"


def engine_url(name: str) -> str:
    """The URL of a real engine from scripts/services, or skip (fail under CI) when absent."""
    url = os.environ.get(name)
    if url:
        return url
    message = f'{name} is not set: start the engines with `eval "$(scripts/services up)"`'
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, made once per run; each test copies it (faster than migrating)."""
    path = tmp_path_factory.mktemp("template") / "vms.db"
    migrations.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def make_settings(tmp_path: Path, database_url: str, **overrides: object) -> Settings:
    """Settings for tests: fresh data dir, cheap Argon2, generous rate limits unless a test sets them."""
    values: dict[str, object] = {
        "env": "test",
        "data_dir": tmp_path / "data",
        "database": {"url": database_url},
        "storage": {"root": tmp_path / "data" / "blobs"},
        "security": {"argon2_time_cost": 1, "argon2_memory_kib": 1024},
        "rate_limits": {
            "per_ip_per_minute": 0,
            "per_user_per_minute": 0,
            "per_tenant_per_minute": 0,
            "sign_in_per_ip_per_minute": 0,
        },
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}  # type: ignore[dict-item]
        else:
            values[key] = value
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated SQLite database for this test."""
    path = tmp_path / "vms.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated PostgreSQL template database, made once per run."""
    import asyncio

    import asyncpg

    base = engine_url("VMS_TEST_POSTGRES_URL")
    name = f"vms_template_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(base.replace("postgresql+asyncpg", "postgresql"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    migrations.upgrade(_with_database(base, name))
    yield name
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def postgres_url(postgres_template: str) -> AsyncIterator[str]:
    """A fresh PostgreSQL database cloned from the migrated template."""
    import asyncpg

    base = engine_url("VMS_TEST_POSTGRES_URL")
    name = f"vms_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(base.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    finally:
        await conn.close()
    yield _with_database(base, name)
    conn = await asyncpg.connect(base.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _with_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgres"])
def any_database_url(request: pytest.FixtureRequest) -> str:
    """Each SQL contract test runs on embedded SQLite and on real PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str) -> Settings:
    """Test settings on a fresh embedded database."""
    return make_settings(tmp_path, sqlite_url)


@pytest.fixture
async def container(settings: Settings) -> AsyncIterator[Container]:
    """The container built from the test settings."""
    built = build_container(settings)
    yield built
    await built.close()


@pytest.fixture
def app(container: Container) -> FastAPI:
    """The API app around the test container."""
    return create_app(container)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client calling the app in-process (no socket), as 127.0.0.1."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
