"""The gateway every client talks to: health probes, request ids, CORS, problem+json for routing
errors, and an OpenAPI document whose operation ids the generated TypeScript client can rely on."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from vms.api.app import create_app
from vms.bootstrap import build_container

PROBLEM = "application/problem+json"
SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


# --- health -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/health", "/health/live"])
async def test_basic_and_liveness_probes_answer_up(client, path):
    r = await client.get(path)
    assert r.status_code == 200
    assert r.json()["status"] == "up"


async def test_readiness_is_up_with_the_database_answering(client):
    r = await client.get("/health/ready")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "up"
    assert body["components"]["database"]["status"] == "up"
    assert body["components"]["database"]["latency_ms"] is not None


async def test_detailed_health_lists_every_component_with_its_status(client):
    r = await client.get("/health/detailed")
    assert r.status_code == 200
    body = r.json()
    components = body["components"]
    assert set(components) == {"database", "cache", "audit", "storage", "bus"}
    for name in ("database", "cache", "audit", "storage", "bus"):
        assert components[name]["status"] == "up", (name, components[name])
    assert body["status"] == "up"


@pytest.fixture
async def client_without_database(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose database URL points at a directory, so every connection attempt fails."""
    unopenable = tmp_path / "not-a-database"
    unopenable.mkdir()
    container = build_container(make_settings(tmp_path, f"sqlite+aiosqlite:///{unopenable}"))
    transport = httpx.ASGITransport(app=create_app(container), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
    await container.close()


async def test_readiness_and_detailed_health_report_503_when_the_database_is_down(client_without_database):
    ready = await client_without_database.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["components"]["database"]["status"] == "down"
    assert ready.json()["components"]["database"]["detail"]

    detailed = await client_without_database.get("/health/detailed")
    assert detailed.status_code == 503
    assert detailed.json()["status"] == "down"
    assert detailed.json()["components"]["database"]["status"] == "down"
    # Liveness does not depend on the database: the process itself is fine.
    assert (await client_without_database.get("/health/live")).status_code == 200


# --- request ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/health"),
        ("GET", "/api/v1/auth/me"),  # 401
        ("GET", "/api/v1/no-such-thing"),  # 404
        ("POST", "/api/v1/auth/login"),  # 422, empty body
    ],
)
async def test_every_response_carries_a_generated_request_id(client, method, path):
    r = await client.request(method, path)
    assert SANE_ID.match(r.headers["x-request-id"])


async def test_two_requests_get_different_request_ids(client):
    first = await client.get("/health")
    second = await client.get("/health")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_sane_incoming_request_id_is_echoed_in_header_and_problem_body(client):
    r = await client.get("/api/v1/auth/me", headers={"X-Request-ID": "trace-42.abc:DEF_9"})
    assert r.headers["x-request-id"] == "trace-42.abc:DEF_9"
    assert r.json()["request_id"] == "trace-42.abc:DEF_9"


@pytest.mark.parametrize(
    "insane",
    ["a" * 200, "has spaces in it", "semi;colon", "new\tline", ""],
    ids=["200-chars", "spaces", "semicolon", "tab", "empty"],
)
async def test_an_insane_incoming_request_id_is_replaced(client, insane):
    r = await client.get("/health", headers={"X-Request-ID": insane})
    echoed = r.headers["x-request-id"]
    assert echoed != insane
    assert SANE_ID.match(echoed)


# --- CORS ---------------------------------------------------------------------------------------


async def test_cors_preflight_from_an_allowed_origin_is_answered(client, settings):
    origin = settings.api.cors_origins[0]
    r = await client.options(
        "/api/v1/auth/login",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,authorization",
        },
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == origin
    assert "POST" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-credentials"] == "true"


async def test_cors_preflight_from_an_unknown_origin_gets_no_allow_origin(client):
    r = await client.options(
        "/api/v1/auth/login",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in r.headers
    assert r.status_code >= 400


async def test_a_simple_cross_origin_response_exposes_the_request_id(client, settings):
    origin = settings.api.cors_origins[0]
    r = await client.get("/health", headers={"Origin": origin})
    assert r.headers["access-control-allow-origin"] == origin
    assert "x-request-id" in r.headers["access-control-expose-headers"].lower()


# --- routing errors -----------------------------------------------------------------------------


async def test_unknown_route_is_404_problem_json(client):
    r = await client.get("/api/v1/definitely-not-a-route")
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == 404
    assert body["title"] == "Not found"
    assert body["instance"] == "/api/v1/definitely-not-a-route"
    assert body["type"].startswith("https://vms.dev/problems/")


async def test_wrong_method_is_405_problem_json(client):
    r = await client.delete("/api/v1/auth/login")
    assert r.status_code == 405
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["title"] == "Method not allowed"
    assert r.json()["status"] == 405


async def test_missing_token_is_401_problem_json_saying_how_to_sign_in(client):
    r = await client.get("/api/v1/users")
    assert r.status_code == 401
    assert r.headers["content-type"] == PROBLEM
    assert "/api/v1/auth/login" in r.json()["detail"]


# "/" serves the web console: tests/unit/api/test_web.py


# --- OpenAPI ------------------------------------------------------------------------------------


@pytest.fixture
async def openapi(client) -> dict:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def _operations(spec: dict) -> list[dict]:
    methods = {"get", "post", "put", "patch", "delete", "head", "options"}
    return [op for item in spec["paths"].values() for method, op in item.items() if method in methods]


async def test_operation_ids_are_tag_dash_name(openapi):
    operations = _operations(openapi)
    assert len(operations) > 20
    for op in operations:
        tag, _, name = op["operationId"].partition("-")
        assert re.fullmatch(r"[a-z]+", tag), op["operationId"]
        assert re.fullmatch(r"[a-z_]+", name), op["operationId"]
        # The prefix is the route's first tag, so clients group operations the way the docs do.
        assert tag == op["tags"][0], op["operationId"]


async def test_known_operation_ids_are_present(openapi):
    ids = {op["operationId"] for op in _operations(openapi)}
    expected = {
        "auth-login",
        "auth-verify_mfa",
        "auth-me",
        "users-list_users",
        "users-create_user",
        "customers-create_customer",
        "customers-create_customer_user",
        "account-get_own_license",
        "audit-search_audit",
        "health-ready",
    }
    assert expected <= ids, expected - ids


async def test_operation_ids_are_unique(openapi):
    ids = [op["operationId"] for op in _operations(openapi)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


async def test_openapi_describes_the_bearer_scheme_and_the_api(openapi):
    assert openapi["info"]["title"] == "VMS Platform API"
    assert openapi["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    # The root redirect is not part of the API.
    assert "/" not in openapi["paths"]


async def test_docs_serve_swagger_ui(client):
    r = await client.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in r.text
    assert "/openapi.json" in r.text
