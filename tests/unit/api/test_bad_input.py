"""Bad input gets a clear problem+json 4xx, never a 5xx, and leaves nothing half-written."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests import factories
from tests.conftest import make_settings
from vms.api.app import create_app
from vms.audit.models import AuditRecord
from vms.auth.models import User
from vms.auth.permissions import Role
from vms.bootstrap import Container, build_container
from vms.kernel.tenancy import TenantScope
from vms.tenants.models import License, Tenant
from vms.uow import Actor

PROBLEM = "application/problem+json"
CUSTOMERS = "/api/v1/customers"
SQLISH = ["'; DROP TABLE users; --", '" OR 1=1 --', "1' OR '1'='1", "admin'--", "%' UNION SELECT * FROM users --"]


def license_body() -> dict:
    start = datetime.now(UTC) - timedelta(days=1)
    return {
        "camera_limit": 10,
        "valid_from": start.isoformat(),
        "valid_until": (start + timedelta(days=365)).isoformat(),
        "models": ["intrusion"],
    }


async def count(container: Container, model: type) -> int:
    """Rows of a table, read past the tenant guard."""
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        return int((await uow.session.execute(select(func.count()).select_from(model))).scalar_one())


def assert_problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


@pytest.fixture
async def provider(client, container) -> factories.SignedIn:
    return await factories.account(client, container, tenant_id=None, role=Role.PROVIDER_ADMIN)


@pytest.fixture
async def admin(client, container) -> factories.SignedIn:
    customer = await factories.customer(container)
    return await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)


# --- malformed bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b'{"email": "a@b.example", "password": ', b"{'single': 'quotes'}", b"{", b'{"a": 1,}', b"nul\x00l"],
    ids=["truncated", "single-quotes", "open-brace", "trailing-comma", "nul-byte"],
)
async def test_malformed_json_is_400_malformed_json(client, raw):
    r = await client.post("/api/v1/auth/login", content=raw, headers={"Content-Type": "application/json"})
    body = assert_problem(r, 400)
    assert body["title"] == "Malformed JSON"
    assert body["instance"] == "/api/v1/auth/login"


async def test_a_body_that_is_not_utf8_is_a_4xx(client):
    r = await client.post("/api/v1/auth/login", content=b"\xff\xfe{}", headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500
    assert r.headers["content-type"] == PROBLEM


async def test_deeply_nested_json_is_a_4xx_not_a_crash(client):
    bomb = b"[" * 50_000 + b"]" * 50_000
    r = await client.post("/api/v1/auth/login", content=bomb, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 42, "license": license_body()}, "name"),
        ({"name": "Typed", "license": {**license_body(), "camera_limit": "lots"}}, "camera_limit"),
        ({"name": "Typed", "license": {**license_body(), "valid_from": "yesterday-ish"}}, "valid_from"),
        ({"name": "Typed", "license": {**license_body(), "models": "intrusion"}}, "models"),
        ({"name": "Typed", "license": "forever"}, "license"),
        ({"name": "Typed"}, "license"),
        ({"name": "Typed", "contact_email": "not-an-email", "license": license_body()}, "contact_email"),
        ({"name": "Typed", "ip_allowlist": ["10.0.0.300/8"], "license": license_body()}, "ip_allowlist"),
    ],
    ids=["name-int", "limit-str", "date-garbage", "models-str", "license-str", "license-missing", "email", "cidr"],
)
async def test_wrong_types_are_422_naming_the_field(client, container, provider, body, field):
    before = await count(container, Tenant)

    r = await client.post(CUSTOMERS, json=body, headers=provider.headers)

    problem = assert_problem(r, 422)
    assert problem["title"] == "Validation failed"
    assert any(field in error["loc"] for error in problem["errors"]), problem["errors"]
    assert field in problem["detail"]
    assert await count(container, Tenant) == before


async def test_a_json_array_instead_of_an_object_is_422(client):
    r = await client.post("/api/v1/auth/login", json=[{"email": "a@b.example", "password": "x"}])
    assert_problem(r, 422)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (CUSTOMERS, {"name": "Extra", "license": license_body(), "is_vip": True}, "is_vip"),
        (CUSTOMERS, {"name": "Extra", "license": {**license_body(), "camera_limt": 5}}, "camera_limt"),
        ("/api/v1/auth/login", {"email": "a@b.example", "password": "x", "remember_me": True}, "remember_me"),
    ],
    ids=["customer", "nested-typo", "login"],
)
async def test_unknown_fields_are_refused_so_typos_never_silently_do_nothing(client, provider, path, body, field):
    r = await client.post(path, json=body, headers=provider.headers)
    problem = assert_problem(r, 422)
    extra = [e for e in problem["errors"] if e["type"] == "extra_forbidden"]
    assert extra and extra[0]["loc"][-1] == field


async def test_an_admin_cannot_set_fields_a_patch_does_not_offer(client, admin):
    r = await client.patch(
        f"/api/v1/users/{admin.user.id}", json={"tenant_id": str(uuid.uuid4())}, headers=admin.headers
    )
    assert_problem(r, 422)


# --- body size limit ----------------------------------------------------------------------------


@pytest.fixture
async def small_container(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Container]:
    built = build_container(make_settings(tmp_path, sqlite_url, api={"max_body_bytes": 2048}))
    yield built
    await built.close()


@pytest.fixture
async def small_client(small_container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that accepts bodies up to 2 KiB."""
    transport = httpx.ASGITransport(app=create_app(small_container), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def chunks(total: int, size: int = 512) -> AsyncIterator[bytes]:
    """A JSON body of `total` bytes, streamed without Content-Length (chunked)."""
    body = b'{"email": "a@b.example", "password": "Wrong-Password-1"}'
    body += b" " * (total - len(body))  # trailing whitespace keeps it valid JSON of the wanted size
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_a_body_over_the_limit_by_content_length_is_413(small_client):
    r = await small_client.post("/api/v1/auth/login", json={"email": "a@b.example", "password": "x" * 4000})
    body = assert_problem(r, 413)
    assert "2048" in body["detail"]
    assert r.headers["x-request-id"]


async def test_a_lying_content_length_is_413(small_client):
    r = await small_client.post(
        "/api/v1/auth/login",
        content=b"{}",
        headers={"Content-Type": "application/json", "Content-Length": "not-a-number"},
    )
    assert_problem(r, 413)


async def test_a_streamed_body_over_the_limit_is_413(small_client):
    request = small_client.build_request(
        "POST", "/api/v1/auth/login", content=chunks(8192), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in request.headers  # really chunked
    r = await small_client.send(request)
    assert_problem(r, 413)


async def test_a_streamed_body_under_the_limit_is_processed_normally(small_client):
    request = small_client.build_request(
        "POST", "/api/v1/auth/login", content=chunks(1024), headers={"Content-Type": "application/json"}
    )
    r = await small_client.send(request)
    assert_problem(r, 401)  # wrong credentials: the body was read and understood


async def test_an_oversized_customer_create_writes_nothing(small_client, small_container):
    provider = await factories.account(small_client, small_container, tenant_id=None, role=Role.PROVIDER_ADMIN)
    before = await count(small_container, Tenant)
    allowlist = [f"2001:db8:{i:x}::/48" for i in range(100)]  # each entry valid; together over 2 KiB
    body = {"name": "Big", "contact_email": "a@b.example", "license": license_body(), "ip_allowlist": allowlist}

    r = await small_client.post(CUSTOMERS, json=body, headers=provider.headers)

    assert_problem(r, 413)
    assert await count(small_container, Tenant) == before


# --- injection-shaped strings -------------------------------------------------------------------


@pytest.mark.parametrize("evil", SQLISH)
async def test_sql_shaped_customer_names_are_stored_verbatim_and_harm_nothing(client, container, provider, evil):
    users_before = await count(container, User)
    name = f"{evil} {uuid.uuid4().hex[:6]}"

    r = await client.post(CUSTOMERS, json={"name": name, "license": license_body()}, headers=provider.headers)

    assert r.status_code == 201, r.text
    fetched = await client.get(f"{CUSTOMERS}/{r.json()['id']}", headers=provider.headers)
    assert fetched.json()["name"] == name
    found = await client.get(CUSTOMERS, params={"q": name}, headers=provider.headers)
    assert [c["id"] for c in found.json()["items"]] == [r.json()["id"]]
    assert await count(container, User) == users_before


@pytest.mark.parametrize("evil", SQLISH)
async def test_sql_shaped_search_text_is_just_text(client, container, admin, provider, evil):
    users_before = await count(container, User)

    users = await client.get("/api/v1/users", params={"q": evil}, headers=admin.headers)
    customers = await client.get(CUSTOMERS, params={"q": evil}, headers=provider.headers)

    assert users.status_code == 200
    assert users.json()["total"] == 0  # not "every user", as a working injection would give
    assert customers.status_code == 200
    assert customers.json()["total"] == 0
    assert await count(container, User) == users_before


@pytest.mark.parametrize("evil", SQLISH)
async def test_sql_shaped_emails_are_refused_or_fail_sign_in(client, container, admin, evil):
    users_before = await count(container, User)

    created = await client.post(
        "/api/v1/users",
        json={"email": evil, "role": "viewer", "password": factories.PASSWORD},
        headers=admin.headers,
    )
    login = await client.post("/api/v1/auth/login", json={"email": evil, "password": evil})
    login_as_admin = await client.post("/api/v1/auth/login", json={"email": admin.user.email, "password": evil})

    assert_problem(created, 422)
    assert login.status_code in (401, 422)
    assert_problem(login_as_admin, 401)
    assert await count(container, User) == users_before


async def test_sql_shaped_full_name_is_stored_verbatim(client, container, admin):
    evil = SQLISH[0]
    r = await client.post(
        "/api/v1/users",
        json={
            "email": f"n{uuid.uuid4().hex[:6]}@acme.example",
            "full_name": evil,
            "role": "viewer",
            "password": factories.PASSWORD,
        },
        headers=admin.headers,
    )
    assert r.status_code == 201
    assert (await client.get(f"/api/v1/users/{r.json()['id']}", headers=admin.headers)).json()["full_name"] == evil


# --- parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/customers/not-a-uuid",
        "/api/v1/customers/1234/license",
        "/api/v1/users/' OR 1=1 --",
        "/api/v1/users/00000000-0000-0000-0000-00000000000Z",
    ],
)
async def test_an_invalid_uuid_in_the_path_is_422(client, provider, admin, path):
    who = provider if "customers" in path else admin
    r = await client.get(path, headers=who.headers)
    problem = assert_problem(r, 422)
    assert problem["errors"][0]["loc"][0] == "path"


@pytest.mark.parametrize(
    "params",
    [{"limit": 100000}, {"limit": 0}, {"limit": -1}, {"offset": -5}, {"limit": "ten"}, {"offset": 10**12}],
    ids=["huge-limit", "zero-limit", "negative-limit", "negative-offset", "word-limit", "huge-offset"],
)
async def test_out_of_range_paging_is_422(client, admin, params):
    r = await client.get("/api/v1/users", params=params, headers=admin.headers)
    problem = assert_problem(r, 422)
    assert problem["errors"][0]["loc"][0] == "query"


async def test_an_overlong_search_text_is_422(client, admin):
    r = await client.get("/api/v1/users", params={"q": "x" * 201}, headers=admin.headers)
    assert_problem(r, 422)


@pytest.mark.parametrize("name", ["Evil\x00Corp", "Line\nBreak", "Tab\tName", "Esc\x1b[31mRed", "", "x" * 201])
async def test_control_characters_and_bad_lengths_in_a_customer_name_are_422(client, container, provider, name):
    before = await count(container, Tenant)

    r = await client.post(CUSTOMERS, json={"name": name, "license": license_body()}, headers=provider.headers)

    problem = assert_problem(r, 422)
    assert "name" in problem["errors"][0]["loc"]
    assert await count(container, Tenant) == before


async def test_control_characters_in_a_rename_are_422(client, container, provider):
    customer = await factories.customer(container)
    r = await client.patch(f"{CUSTOMERS}/{customer.id}", json={"name": "Bad\rName"}, headers=provider.headers)
    assert_problem(r, 422)
    assert (await client.get(f"{CUSTOMERS}/{customer.id}", headers=provider.headers)).json()["name"] == customer.name


# --- licenses and partial writes ----------------------------------------------------------------


async def test_admin_of_an_expired_customer_cannot_add_users(client, container):
    customer = await factories.customer(container, valid_from_days=-400, valid_days=30)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    users_before, audit_before = await count(container, User), await count(container, AuditRecord)

    r = await client.post(
        "/api/v1/users",
        json={"email": f"late-{uuid.uuid4().hex[:6]}@acme.example", "role": "viewer", "password": factories.PASSWORD},
        headers=admin.headers,
    )

    problem = assert_problem(r, 403)
    assert problem["title"] == "License expired"
    assert "renew" in problem["detail"]
    assert await count(container, User) == users_before
    assert await count(container, AuditRecord) == audit_before


async def test_admin_of_a_not_yet_valid_customer_cannot_add_users(client, container):
    customer = await factories.customer(container, valid_from_days=10)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    r = await client.post(
        "/api/v1/users",
        json={"email": f"early-{uuid.uuid4().hex[:6]}@acme.example", "role": "viewer", "password": factories.PASSWORD},
        headers=admin.headers,
    )
    assert assert_problem(r, 403)["title"] == "License expired"


async def test_a_duplicate_customer_leaves_no_extra_license_or_audit_record(client, container, provider):
    existing = await factories.customer(container)
    tenants, licenses, records = (
        await count(container, Tenant),
        await count(container, License),
        await count(container, AuditRecord),
    )

    r = await client.post(CUSTOMERS, json={"name": existing.name, "license": license_body()}, headers=provider.headers)

    assert_problem(r, 409)
    assert await count(container, Tenant) == tenants
    assert await count(container, License) == licenses
    assert await count(container, AuditRecord) == records


async def test_a_user_refused_by_password_policy_leaves_no_row_or_audit_record(client, container, admin):
    users_before, audit_before = await count(container, User), await count(container, AuditRecord)

    r = await client.post(
        "/api/v1/users",
        json={"email": f"weak-{uuid.uuid4().hex[:6]}@acme.example", "role": "viewer", "password": "short"},
        headers=admin.headers,
    )

    assert_problem(r, 422)
    assert await count(container, User) == users_before
    assert await count(container, AuditRecord) == audit_before
