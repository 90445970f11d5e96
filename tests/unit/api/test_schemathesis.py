"""Property-based fuzzing of the whole OpenAPI spec: no generated input, valid or not, gets a 5xx,
and every error is problem+json.

The schema comes from an app built at import time (building one touches no database), so each
operation becomes its own pytest item with a fresh database and fresh signed-in callers. Runs are
bounded (few examples per operation) and derandomized, so CI sees the same inputs every time.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from tests import factories
from tests.conftest import make_settings
from vms.api.app import create_app
from vms.auth.permissions import Role
from vms.bootstrap import Container, build_container

PROBLEM = "application/problem+json"
MAX_EXAMPLES = 15

# Only the OpenAPI document is read from this app; requests go to each test's own app.
_SCHEMA_APP = create_app(build_container(make_settings(Path(tempfile.gettempdir()), "sqlite+aiosqlite:///:memory:")))
schema = schemathesis.openapi.from_dict(_SCHEMA_APP.openapi())


@dataclass
class Target:
    """An app on a fresh database, its callers, and rows for generated path ids to hit."""

    app: FastAPI
    provider: dict[str, str]
    admin: dict[str, str]
    customer_id: uuid.UUID  # a customer other than the Admin's, for provider operations
    user_id: uuid.UUID  # a Viewer of the Admin's customer, for user operations


async def _seed(app: FastAPI, container: Container) -> Target:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        home = await factories.customer(container)
        other = await factories.customer(container)
        admin = await factories.account(http, container, tenant_id=home.id, role=Role.ADMIN)
        provider = await factories.account(http, container, tenant_id=None, role=Role.PROVIDER_ADMIN)
        viewer = await factories.user(container, tenant_id=home.id)
    # Seeding ran on its own event loop; schemathesis calls the app from another, so no pooled
    # connection may outlive this loop.
    await container.engine.dispose()
    return Target(app, provider.headers, admin.headers, other.id, viewer.id)


@pytest.fixture
def target(tmp_path: Path, sqlite_url: str) -> Iterator[Target]:
    container = build_container(make_settings(tmp_path, sqlite_url))
    app = create_app(container)
    yield asyncio.run(_seed(app, container))
    asyncio.run(container.close())


def _aim(case: schemathesis.Case, target: Target) -> None:
    """Point generated well-formed ids at real rows, so writes reach the services, not just 404s."""
    params = case.path_parameters or {}
    for name, real in (("customer_id", target.customer_id), ("user_id", target.user_id)):
        value = params.get(name)
        try:
            uuid.UUID(str(value))
        except ValueError:
            continue  # malformed ids stay: they test the 422 path
        params[name] = str(real)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # Stop an operation at its first failing input: one clear report, and a broken endpoint
    # cannot drag the run past its time budget with dozens of 500s, each logged with a traceback.
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_input_gets_a_server_error(case: schemathesis.Case, target: Target) -> None:
    _aim(case, target)
    staff_only = (case.operation.tags or [""])[0] == "customers"
    headers = target.provider if staff_only else target.admin

    response = case.call(app=target.app, headers=headers)

    assert response.status_code < 500, (case.operation.label, response.status_code, response.text)
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0]  # lowercase keys, list values
        assert content_type == PROBLEM, (case.operation.label, response.status_code, content_type, response.text)
