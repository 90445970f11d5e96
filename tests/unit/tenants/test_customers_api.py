"""Customers and licenses through the API: provider staff onboard, change and close customers;
customer users read their own license; every change leaves an audit record without secrets."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests import factories
from vms.auth.permissions import Role
from vms.auth.schemas import UserRead

CUSTOMERS = "/api/v1/customers"


def license_body(
    *,
    starts_in_days: float = -1,
    days: float = 365,
    camera_limit: int = 50,
    models: list[str] | None = None,
    edge_server_limit: int = 1,
) -> dict:
    start = datetime.now(UTC) + timedelta(days=starts_in_days)
    return {
        "camera_limit": camera_limit,
        "edge_server_limit": edge_server_limit,
        "valid_from": start.isoformat().replace("+00:00", "Z"),
        "valid_until": (start + timedelta(days=days)).isoformat().replace("+00:00", "Z"),
        "models": models if models is not None else ["intrusion", "fire_smoke"],
    }


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:8]}"


@pytest.fixture
async def provider(client, container) -> factories.SignedIn:
    """Provider staff, signed in."""
    return await factories.account(client, container, tenant_id=None, role=Role.PROVIDER_ADMIN)


async def create(client, provider, name: str | None = None, **extra) -> dict:
    body = {"name": name or unique("Acme"), "license": license_body(), **extra}
    r = await client.post(CUSTOMERS, json=body, headers=provider.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def audit(client, who: factories.SignedIn, **params) -> list[dict]:
    r = await client.get("/api/v1/audit", params={"limit": 500, **params}, headers=who.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


# --- create, read, list -------------------------------------------------------------------------


async def test_provider_creates_a_customer_with_an_active_license(client, provider):
    name = unique("Acme Security")
    body = {
        "name": name,
        "contact_email": "ops@acme.example",
        "ip_allowlist": ["203.0.113.7/24"],
        "license": license_body(camera_limit=120, models=["fire_smoke", "anpr", "fire_smoke"]),
    }
    r = await client.post(CUSTOMERS, json=body, headers=provider.headers)

    assert r.status_code == 201, r.text
    created = r.json()
    assert created["name"] == name
    assert created["status"] == "active"
    assert created["ip_allowlist"] == ["203.0.113.0/24"]  # normalised to the network
    assert created["license"]["state"] == "active"
    assert created["license"]["camera_limit"] == 120
    assert created["license"]["models"] == ["anpr", "fire_smoke"]  # de-duplicated and sorted
    assert created["license"]["warning"] is None

    fetched = await client.get(f"{CUSTOMERS}/{created['id']}", headers=provider.headers)
    assert fetched.status_code == 200
    assert fetched.json() == created


async def test_a_duplicate_customer_name_is_refused_with_409(client, provider):
    name = unique("Twin")
    await create(client, provider, name)

    r = await client.post(CUSTOMERS, json={"name": name, "license": license_body()}, headers=provider.headers)

    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert name in r.json()["detail"]


async def test_getting_an_unknown_customer_is_404(client, provider):
    r = await client.get(f"{CUSTOMERS}/{uuid.uuid4()}", headers=provider.headers)
    assert r.status_code == 404


async def test_list_filters_by_text_and_status_and_pages_with_the_right_total(client, provider):
    tag = uuid.uuid4().hex[:8]
    names = [f"Zeta {tag} {letter}" for letter in "abc"]
    made = [await create(client, provider, n) for n in names]
    await create(client, provider, unique("Other"), contact_email=f"ops-{tag}@zeta.example")
    await create(client, provider, unique("Unrelated"))
    r = await client.patch(f"{CUSTOMERS}/{made[1]['id']}", json={"status": "suspended"}, headers=provider.headers)
    assert r.status_code == 200

    async def page(**params) -> dict:
        r = await client.get(CUSTOMERS, params=params, headers=provider.headers)
        assert r.status_code == 200, r.text
        return r.json()

    # q matches the name or the contact email, case-insensitively.
    everything = await page(q=tag.upper())
    assert everything["total"] == 4
    suspended = await page(q=tag, status="suspended")
    assert [c["name"] for c in suspended["items"]] == [names[1]]
    assert suspended["total"] == 1
    active = await page(q=f"zeta {tag}", status="active")
    assert [c["name"] for c in active["items"]] == [names[0], names[2]]

    first = await page(q=f"Zeta {tag}", limit=2, offset=0)
    second = await page(q=f"Zeta {tag}", limit=2, offset=2)
    assert first["total"] == second["total"] == 3
    assert (first["limit"], first["offset"], second["offset"]) == (2, 0, 2)
    assert [c["name"] for c in first["items"] + second["items"]] == names  # ordered by name
    assert all(c["license"]["state"] == "active" for c in first["items"])


async def test_list_rejects_an_unknown_status_filter(client, provider):
    r = await client.get(CUSTOMERS, params={"status": "deleted"}, headers=provider.headers)
    assert r.status_code == 422


# --- update and delete --------------------------------------------------------------------------


async def test_patch_renames_a_customer(client, provider):
    created = await create(client, provider)
    new_name = unique("Renamed")

    r = await client.patch(f"{CUSTOMERS}/{created['id']}", json={"name": new_name}, headers=provider.headers)

    assert r.status_code == 200, r.text
    assert r.json()["name"] == new_name
    assert r.json()["status"] == "active"
    fetched = await client.get(f"{CUSTOMERS}/{created['id']}", headers=provider.headers)
    assert fetched.json()["name"] == new_name


async def test_renaming_to_a_taken_name_is_409_and_changes_nothing(client, provider):
    taken = await create(client, provider)
    other = await create(client, provider)

    r = await client.patch(f"{CUSTOMERS}/{other['id']}", json={"name": taken["name"]}, headers=provider.headers)

    assert r.status_code == 409
    fetched = await client.get(f"{CUSTOMERS}/{other['id']}", headers=provider.headers)
    assert fetched.json()["name"] == other["name"]


async def test_suspending_a_customer_locks_out_its_signed_in_users_at_once(client, container, provider):
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    assert (await client.get("/api/v1/license", headers=admin.headers)).status_code == 200

    r = await client.patch(f"{CUSTOMERS}/{customer.id}", json={"status": "suspended"}, headers=provider.headers)

    assert r.status_code == 200
    assert r.json()["status"] == "suspended"
    refused = await client.get("/api/v1/license", headers=admin.headers)
    assert refused.status_code == 403
    assert "suspended" in refused.json()["detail"]

    r = await client.patch(f"{CUSTOMERS}/{customer.id}", json={"status": "active"}, headers=provider.headers)
    assert r.json()["status"] == "active"
    assert (await client.get("/api/v1/license", headers=admin.headers)).status_code == 200


async def test_delete_closes_the_customer_everywhere(client, container, provider):
    customer = await factories.customer(container)
    user = await factories.user(container, tenant_id=customer.id, role=Role.ADMIN)

    r = await client.delete(f"{CUSTOMERS}/{customer.id}", headers=provider.headers)

    assert r.status_code == 204
    assert r.content == b""
    assert (await client.get(f"{CUSTOMERS}/{customer.id}", headers=provider.headers)).status_code == 404
    listed = await client.get(CUSTOMERS, params={"q": customer.name}, headers=provider.headers)
    assert listed.json()["total"] == 0
    assert customer.id not in {c["id"] for c in listed.json()["items"]}
    put = await client.put(f"{CUSTOMERS}/{customer.id}/license", json=license_body(), headers=provider.headers)
    assert put.status_code == 404
    # Its users can no longer sign in.
    login = await client.post("/api/v1/auth/login", json={"email": user.email, "password": factories.PASSWORD})
    assert login.status_code == 403
    # Deleting again finds nothing.
    assert (await client.delete(f"{CUSTOMERS}/{customer.id}", headers=provider.headers)).status_code == 404


# --- licenses -----------------------------------------------------------------------------------


async def test_put_license_replaces_the_terms_and_get_license_shows_them(client, provider):
    created = await create(client, provider)
    terms = license_body(camera_limit=7, edge_server_limit=3, models=["anpr", "crowd"])

    r = await client.put(f"{CUSTOMERS}/{created['id']}/license", json=terms, headers=provider.headers)

    assert r.status_code == 200, r.text
    assert r.json()["camera_limit"] == 7
    assert r.json()["edge_server_limit"] == 3
    assert r.json()["models"] == ["anpr", "crowd"]
    assert r.json()["state"] == "active"
    got = await client.get(f"{CUSTOMERS}/{created['id']}/license", headers=provider.headers)
    assert got.status_code == 200
    assert got.json() == r.json()
    customer = await client.get(f"{CUSTOMERS}/{created['id']}", headers=provider.headers)
    assert customer.json()["license"] == r.json()


async def test_license_of_an_unknown_customer_is_404(client, provider):
    unknown = uuid.uuid4()
    assert (await client.get(f"{CUSTOMERS}/{unknown}/license", headers=provider.headers)).status_code == 404
    r = await client.put(f"{CUSTOMERS}/{unknown}/license", json=license_body(), headers=provider.headers)
    assert r.status_code == 404


NOW = datetime.now(UTC).replace(microsecond=0)
BAD_LICENSES = {
    "until-before-from": {
        **license_body(),
        "valid_until": "2026-01-01T00:00:00Z",
        "valid_from": "2026-06-01T00:00:00Z",
    },
    "until-equals-from": {
        **license_body(),
        "valid_until": "2026-01-01T00:00:00Z",
        "valid_from": "2026-01-01T00:00:00Z",
    },
    "unknown-model": license_body(models=["intrusion", "mind_reading"]),
    "both-naive": {**license_body(), "valid_from": "2026-01-01T00:00:00", "valid_until": "2027-01-01T00:00:00"},
    "from-naive": {**license_body(), "valid_from": "2026-01-01T00:00:00", "valid_until": "2027-01-01T00:00:00Z"},
    "until-naive": {**license_body(), "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2027-01-01T00:00:00"},
    "negative-cameras": license_body(camera_limit=-1),
}


@pytest.mark.parametrize("terms", BAD_LICENSES.values(), ids=BAD_LICENSES.keys())
async def test_invalid_license_terms_are_refused_with_422_and_change_nothing(client, provider, terms):
    created = await create(client, provider)

    r = await client.put(f"{CUSTOMERS}/{created['id']}/license", json=terms, headers=provider.headers)

    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"]
    got = await client.get(f"{CUSTOMERS}/{created['id']}/license", headers=provider.headers)
    assert got.json() == created["license"]


@pytest.mark.parametrize("terms", BAD_LICENSES.values(), ids=BAD_LICENSES.keys())
async def test_a_customer_with_invalid_license_terms_is_not_created(client, provider, terms):
    name = unique("Invalid")
    r = await client.post(CUSTOMERS, json={"name": name, "license": terms}, headers=provider.headers)

    assert r.status_code == 422, r.text
    listed = await client.get(CUSTOMERS, params={"q": name}, headers=provider.headers)
    assert listed.json()["total"] == 0


async def test_customer_user_sees_own_active_license_without_warning(client, container):
    customer = await factories.customer(container, camera_limit=25, valid_days=365)
    viewer = await factories.account(client, container, tenant_id=customer.id, role=Role.VIEWER)

    r = await client.get("/api/v1/license", headers=viewer.headers)

    assert r.status_code == 200
    assert r.json()["state"] == "active"
    assert r.json()["camera_limit"] == 25
    assert r.json()["warning"] is None
    assert r.json()["days_left"] >= 363


async def test_a_license_expiring_within_a_week_warns_the_customer(client, container):
    customer = await factories.customer(container, valid_days=5)  # started yesterday: 4 days left
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)

    r = await client.get("/api/v1/license", headers=admin.headers)

    assert r.status_code == 200
    body = r.json()
    assert body["state"] == "expiring"
    assert body["days_left"] == 3
    assert "7 days" in body["warning"]


async def test_an_expired_license_is_reported_as_expired(client, container):
    customer = await factories.customer(container, valid_from_days=-400, valid_days=30)
    viewer = await factories.account(client, container, tenant_id=customer.id, role=Role.VIEWER)

    r = await client.get("/api/v1/license", headers=viewer.headers)

    assert r.json()["state"] == "expired"
    assert r.json()["days_left"] < 0
    assert "expired" in r.json()["warning"]


async def test_provider_staff_have_no_own_license(client, provider):
    r = await client.get("/api/v1/license", headers=provider.headers)
    assert r.status_code == 403
    assert "/customers" in r.json()["detail"]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SUPERVISOR, Role.VIEWER])
async def test_customer_users_cannot_manage_customers(client, container, role):
    customer = await factories.customer(container)
    user = await factories.account(client, container, tenant_id=customer.id, role=role)

    assert (await client.get(CUSTOMERS, headers=user.headers)).status_code == 403
    r = await client.post(CUSTOMERS, json={"name": unique("Sneaky"), "license": license_body()}, headers=user.headers)
    assert r.status_code == 403
    r = await client.put(f"{CUSTOMERS}/{customer.id}/license", json=license_body(days=9999), headers=user.headers)
    assert r.status_code == 403


# --- first Admin --------------------------------------------------------------------------------


async def test_provider_creates_the_first_admin_who_can_then_sign_in(client, provider):
    created = await create(client, provider)
    body = {
        "email": f"First.Admin-{uuid.uuid4().hex[:6]}@Acme.example",
        "full_name": "First Admin",
        "role": "admin",
        "password": factories.PASSWORD,
    }

    r = await client.post(f"{CUSTOMERS}/{created['id']}/users", json=body, headers=provider.headers)

    assert r.status_code == 201, r.text
    admin = UserRead.model_validate(r.json())
    assert admin.tenant_id == uuid.UUID(created["id"])
    assert admin.role is Role.ADMIN
    assert admin.email == body["email"].lower()
    assert admin.mfa_enrolled is False
    assert "password" not in r.text and "password_hash" not in r.json()

    signed_in = await factories.sign_in(client, admin)
    me = await client.get("/api/v1/auth/me", headers=signed_in.headers)
    assert me.json()["mfa_enrolled"] is True
    users = await client.get("/api/v1/users", headers=signed_in.headers)
    assert [u["email"] for u in users.json()["items"]] == [admin.email]


async def test_first_admin_of_an_unknown_customer_is_404(client, provider):
    body = {"email": "nobody@acme.example", "role": "admin", "password": factories.PASSWORD}
    r = await client.post(f"{CUSTOMERS}/{uuid.uuid4()}/users", json=body, headers=provider.headers)
    assert r.status_code == 404


async def test_provider_cannot_create_provider_staff_inside_a_customer(client, provider):
    created = await create(client, provider)
    body = {"email": f"x{uuid.uuid4().hex[:6]}@acme.example", "role": "provider_admin", "password": factories.PASSWORD}
    r = await client.post(f"{CUSTOMERS}/{created['id']}/users", json=body, headers=provider.headers)
    assert r.status_code == 403


# --- audit --------------------------------------------------------------------------------------


async def test_every_customer_change_is_audited_with_old_and_new_values(client, provider):
    created = await create(client, provider, name=unique("Audited"))
    cid = created["id"]
    renamed = unique("Audited Renamed")
    patch = await client.patch(f"{CUSTOMERS}/{cid}", json={"name": renamed}, headers=provider.headers)
    put = await client.put(f"{CUSTOMERS}/{cid}/license", json=license_body(camera_limit=3), headers=provider.headers)
    delete = await client.delete(f"{CUSTOMERS}/{cid}", headers=provider.headers)
    assert (patch.status_code, put.status_code, delete.status_code) == (200, 200, 204)

    records = await audit(client, provider, customer_id=cid)

    assert all(r["tenant_id"] == cid for r in records)
    assert all(r["actor_id"] == str(provider.user.id) for r in records)
    by_kind = {(r["action"], r["resource_type"]): r for r in records}
    assert set(by_kind) == {
        ("create", "customer"),
        ("update", "customer"),
        ("update", "license"),
        ("delete", "customer"),
    }
    assert by_kind["create", "customer"]["old_value"] is None
    assert by_kind["create", "customer"]["new_value"]["name"] == created["name"]
    rename = by_kind["update", "customer"]
    assert (rename["old_value"]["name"], rename["new_value"]["name"]) == (created["name"], renamed)
    assert rename["request_id"] == patch.headers["x-request-id"]
    terms = by_kind["update", "license"]
    assert (terms["old_value"]["camera_limit"], terms["new_value"]["camera_limit"]) == (50, 3)
    closed = by_kind["delete", "customer"]
    assert closed["old_value"]["status"] == "active"
    assert closed["new_value"] is None
    # Newest first.
    assert records[0]["action"] == "delete"


async def test_a_refused_change_leaves_no_audit_record(client, provider):
    created = await create(client, provider)
    taken = await create(client, provider)
    before = await audit(client, provider, customer_id=created["id"])

    r = await client.patch(f"{CUSTOMERS}/{created['id']}", json={"name": taken["name"]}, headers=provider.headers)

    assert r.status_code == 409
    assert await audit(client, provider, customer_id=created["id"]) == before


async def test_user_creation_audit_record_holds_no_password_or_hash(client, provider):
    created = await create(client, provider)
    email = f"audited-{uuid.uuid4().hex[:6]}@acme.example"
    r = await client.post(
        f"{CUSTOMERS}/{created['id']}/users",
        json={"email": email, "role": "admin", "password": factories.PASSWORD},
        headers=provider.headers,
    )
    assert r.status_code == 201

    records = await audit(client, provider, customer_id=created["id"], resource_type="user", action="create")

    assert len(records) == 1
    record = records[0]
    assert record["resource_id"] == r.json()["id"]
    assert record["new_value"]["email"] == email
    assert record["new_value"]["role"] == "admin"
    dumped = json.dumps(record)
    assert "password" not in dumped
    assert factories.PASSWORD not in dumped
    assert "$argon2" not in dumped
    assert "totp" not in dumped


async def test_provider_audit_filter_by_customer_excludes_other_customers(client, provider):
    first = await create(client, provider)
    second = await create(client, provider)

    records = await audit(client, provider, customer_id=first["id"])

    assert records
    assert {r["tenant_id"] for r in records} == {first["id"]}
    assert second["id"] not in {r["resource_id"] for r in records}
    everything = await audit(client, provider)
    assert {first["id"], second["id"]} <= {r["tenant_id"] for r in everything}
