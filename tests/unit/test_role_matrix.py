"""The role matrix through the API: what each role may and may not do with users, customers,
the account's IP allowlist, the license and the audit log.

A refused request must also change nothing, so each 403 is checked against a snapshot of the
users and customers taken before it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests import factories
from vms.auth.models import User
from vms.auth.permissions import Role
from vms.bootstrap import Container
from vms.kernel.tenancy import TenantScope
from vms.tenants.models import License, Tenant
from vms.uow import Actor

PROBLEM = "application/problem+json"
ADMIN, SUPERVISOR, VIEWER, PROVIDER = Role.ADMIN, Role.SUPERVISOR, Role.VIEWER, Role.PROVIDER_ADMIN


def _license() -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(days=1)
    return {
        "camera_limit": 5,
        "valid_from": start.isoformat(),
        "valid_until": (start + timedelta(days=30)).isoformat(),
        "models": ["intrusion"],
    }


def _new_user(role: str = "viewer") -> dict[str, Any]:
    return {"email": f"new-{uuid.uuid4().hex[:8]}@example.com", "role": role, "password": factories.PASSWORD}


def _new_customer() -> dict[str, Any]:
    return {"name": f"New customer {uuid.uuid4().hex[:8]}", "license": _license()}


# Paths name {target} (another user of the caller's customer) and {customer} (the caller's
# customer; for provider staff, an existing customer).
LIST_USERS = ("GET", "/api/v1/users", None)
READ_USER = ("GET", "/api/v1/users/{target}", None)
CREATE_USER = ("POST", "/api/v1/users", _new_user)
PATCH_USER = ("PATCH", "/api/v1/users/{target}", lambda: {"full_name": "Renamed", "role": "supervisor"})
DELETE_USER = ("DELETE", "/api/v1/users/{target}", None)
RESET_MFA = ("POST", "/api/v1/users/{target}/mfa-reset", None)
UNLOCK = ("POST", "/api/v1/users/{target}/unlock", None)
SET_ALLOWLIST = ("PUT", "/api/v1/account/ip-allowlist", lambda: {"ip_allowlist": ["127.0.0.0/8"]})
READ_AUDIT = ("GET", "/api/v1/audit", None)
OWN_LICENSE = ("GET", "/api/v1/license", None)
LIST_CUSTOMERS = ("GET", "/api/v1/customers", None)
CREATE_CUSTOMER = ("POST", "/api/v1/customers", _new_customer)
READ_CUSTOMER = ("GET", "/api/v1/customers/{customer}", None)
PATCH_CUSTOMER = ("PATCH", "/api/v1/customers/{customer}", lambda: {"ip_allowlist": ["192.0.2.0/24"]})
DELETE_CUSTOMER = ("DELETE", "/api/v1/customers/{customer}", None)
READ_CUSTOMER_LICENSE = ("GET", "/api/v1/customers/{customer}/license", None)
SET_CUSTOMER_LICENSE = ("PUT", "/api/v1/customers/{customer}/license", _license)
ADD_CUSTOMER_USER = ("POST", "/api/v1/customers/{customer}/users", lambda: _new_user("admin"))

CUSTOMER_ENDPOINTS = [
    LIST_CUSTOMERS,
    CREATE_CUSTOMER,
    READ_CUSTOMER,
    PATCH_CUSTOMER,
    DELETE_CUSTOMER,
    READ_CUSTOMER_LICENSE,
    SET_CUSTOMER_LICENSE,
    ADD_CUSTOMER_USER,
]

MATRIX: list[tuple[Role, tuple[str, str, Any], int]] = [
    # Viewers manage nothing and cannot even read the user list.
    (VIEWER, LIST_USERS, 403),
    (VIEWER, READ_USER, 403),
    (VIEWER, CREATE_USER, 403),
    (VIEWER, PATCH_USER, 403),
    (VIEWER, DELETE_USER, 403),
    (VIEWER, RESET_MFA, 403),
    (VIEWER, UNLOCK, 403),
    (VIEWER, SET_ALLOWLIST, 403),
    (VIEWER, READ_AUDIT, 403),
    (VIEWER, OWN_LICENSE, 200),
    # Supervisors read users but change nothing about them, the account or the audit log.
    (SUPERVISOR, LIST_USERS, 200),
    (SUPERVISOR, READ_USER, 200),
    (SUPERVISOR, CREATE_USER, 403),
    (SUPERVISOR, PATCH_USER, 403),
    (SUPERVISOR, DELETE_USER, 403),
    (SUPERVISOR, RESET_MFA, 403),
    (SUPERVISOR, UNLOCK, 403),
    (SUPERVISOR, SET_ALLOWLIST, 403),
    (SUPERVISOR, READ_AUDIT, 403),
    (SUPERVISOR, OWN_LICENSE, 200),
    # Admins do all of it for their customer.
    (ADMIN, LIST_USERS, 200),
    (ADMIN, READ_USER, 200),
    (ADMIN, CREATE_USER, 201),
    (ADMIN, PATCH_USER, 200),
    (ADMIN, DELETE_USER, 204),
    (ADMIN, RESET_MFA, 200),
    (ADMIN, UNLOCK, 200),
    (ADMIN, SET_ALLOWLIST, 200),
    (ADMIN, READ_AUDIT, 200),
    (ADMIN, OWN_LICENSE, 200),
    # Customer roles never reach the provider's customer management.
    *[(role, endpoint, 403) for role in (ADMIN, SUPERVISOR, VIEWER) for endpoint in CUSTOMER_ENDPOINTS],
    # Provider staff manage customers, not a customer's users or account.
    (PROVIDER, LIST_CUSTOMERS, 200),
    (PROVIDER, READ_CUSTOMER, 200),
    (PROVIDER, CREATE_CUSTOMER, 201),
    (PROVIDER, PATCH_CUSTOMER, 200),
    (PROVIDER, READ_CUSTOMER_LICENSE, 200),
    (PROVIDER, SET_CUSTOMER_LICENSE, 200),
    (PROVIDER, ADD_CUSTOMER_USER, 201),
    (PROVIDER, DELETE_CUSTOMER, 204),
    (PROVIDER, READ_AUDIT, 200),
    (PROVIDER, LIST_USERS, 403),
    (PROVIDER, READ_USER, 403),
    (PROVIDER, CREATE_USER, 403),
    (PROVIDER, PATCH_USER, 403),
    (PROVIDER, DELETE_USER, 403),
    (PROVIDER, OWN_LICENSE, 403),
    (PROVIDER, SET_ALLOWLIST, 403),
]


@dataclass
class Caller:
    signed: factories.SignedIn
    customer: uuid.UUID
    target: uuid.UUID


@pytest.fixture
async def make_caller(client, container):
    async def make(role: Role) -> Caller:
        customer = await factories.customer(container)
        target = await factories.user(container, tenant_id=customer.id, role=Role.VIEWER)
        tenant = None if role is Role.PROVIDER_ADMIN else customer.id
        signed = await factories.account(client, container, tenant_id=tenant, role=role)
        return Caller(signed=signed, customer=customer.id, target=target.id)

    return make


async def snapshot(container: Container) -> dict[str, Any]:
    """Users, customers and licenses as stored, to show a refused request changed nothing."""
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        users = (await uow.session.execute(select(User).order_by(User.email))).scalars().all()
        tenants = (await uow.session.execute(select(Tenant).order_by(Tenant.name))).scalars().all()
        licenses = (await uow.session.execute(select(License).order_by(License.tenant_id))).scalars().all()
        return {
            "users": [(u.id, u.email, u.role, u.full_name, u.is_active, u.totp_secret, u.locked_until) for u in users],
            "tenants": [(t.id, t.name, t.status, list(t.ip_allowlist)) for t in tenants],
            "licenses": [(lic.tenant_id, lic.camera_limit, lic.valid_until, list(lic.models)) for lic in licenses],
        }


@pytest.mark.parametrize(
    ("role", "endpoint", "expected"),
    MATRIX,
    ids=[f"{role.value}-{method} {path}-{expected}" for role, (method, path, _), expected in MATRIX],
)
async def test_role_matrix(client, container, make_caller, role, endpoint, expected):
    method, path, body = endpoint
    caller = await make_caller(role)
    before = await snapshot(container)

    r = await client.request(
        method,
        path.format(target=caller.target, customer=caller.customer),
        headers=caller.signed.headers,
        json=body() if body else None,
    )

    assert r.status_code == expected, r.text
    if expected == 403:
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.json()["status"] == 403
        assert await snapshot(container) == before, "a refused request must change nothing"


async def test_admin_cannot_create_a_provider_admin(client, container, make_caller):
    caller = await make_caller(ADMIN)
    body = _new_user("provider_admin")

    r = await client.post("/api/v1/users", headers=caller.signed.headers, json=body)

    assert r.status_code == 403, r.text
    assert body["email"] not in {u[1] for u in (await snapshot(container))["users"]}


async def test_admin_cannot_promote_a_user_to_provider_admin(client, container, make_caller):
    caller = await make_caller(ADMIN)

    r = await client.patch(
        f"/api/v1/users/{caller.target}", headers=caller.signed.headers, json={"role": "provider_admin"}
    )

    assert r.status_code == 403, r.text
    shown = await client.get(f"/api/v1/users/{caller.target}", headers=caller.signed.headers)
    assert shown.json()["role"] == "viewer"


async def test_provider_staff_cannot_add_a_provider_admin_to_a_customer(client, container, make_caller):
    caller = await make_caller(PROVIDER)

    r = await client.post(
        f"/api/v1/customers/{caller.customer}/users", headers=caller.signed.headers, json=_new_user("provider_admin")
    )

    assert r.status_code == 403, r.text


@pytest.mark.parametrize(
    ("method", "body"),
    [("PATCH", {"role": "viewer"}), ("PATCH", {"is_active": False}), ("DELETE", None)],
    ids=["change-own-role", "disable-self", "delete-self"],
)
async def test_admin_cannot_demote_disable_or_delete_themselves(client, container, make_caller, method, body):
    caller = await make_caller(ADMIN)
    before = await snapshot(container)

    r = await client.request(method, f"/api/v1/users/{caller.signed.user.id}", headers=caller.signed.headers, json=body)

    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert await snapshot(container) == before
    me = await client.get("/api/v1/auth/me", headers=caller.signed.headers)
    assert me.status_code == 200
    assert me.json()["role"] == "admin"


async def test_admin_may_rename_themselves(client, make_caller):
    """Control for the self-protection rule: only role and active flag are off-limits."""
    caller = await make_caller(ADMIN)

    r = await client.patch(
        f"/api/v1/users/{caller.signed.user.id}", headers=caller.signed.headers, json={"full_name": "Me"}
    )

    assert r.status_code == 200, r.text
    assert r.json()["full_name"] == "Me"
