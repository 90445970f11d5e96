"""Tenant isolation: an Admin of customer A can neither see nor touch customer B's data.

Another tenant's items answer 404 exactly like items that do not exist (never 403, which would
confirm they exist), and lists never include them. Underneath the API, the ORM tenant guard
confines every SELECT, UPDATE and DELETE to the unit of work's tenant and refuses writes to
another tenant's rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from tests import factories
from vms.auth.models import User
from vms.auth.permissions import Role
from vms.auth.schemas import UserRead
from vms.bootstrap import Container
from vms.kernel.errors import Forbidden
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor

PROBLEM = "application/problem+json"


@dataclass
class World:
    """Customer A with a signed-in Admin, customer B with a signed-in (and locked-out) Admin."""

    a_id: uuid.UUID
    b_id: uuid.UUID
    a_admin: factories.SignedIn
    a_viewer: UserRead
    b_admin: factories.SignedIn


@pytest.fixture
async def world(client, container) -> World:
    a = await factories.customer(container)
    b = await factories.customer(container)
    a_admin = await factories.account(client, container, tenant_id=a.id, role=Role.ADMIN)
    a_viewer = await factories.user(container, tenant_id=a.id)
    b_admin = await factories.account(client, container, tenant_id=b.id, role=Role.ADMIN)
    # B's Admin is also locked out, so an unlock that leaked across tenants would show.
    for _ in range(container.settings.security.lockout_threshold):
        await client.post("/api/v1/auth/login", json={"email": b_admin.user.email, "password": "Wrong-Password-1"})
    return World(a_id=a.id, b_id=b.id, a_admin=a_admin, a_viewer=a_viewer, b_admin=b_admin)


async def user_row(container: Container, user_id: uuid.UUID) -> dict[str, Any] | None:
    """A user's stored state, read across tenants."""
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        row = await uow.session.get(User, user_id)
        if row is None:
            return None
        return {
            c: getattr(row, c)
            for c in (
                "tenant_id",
                "email",
                "full_name",
                "role",
                "is_active",
                "password_hash",
                "totp_secret",
                "mfa_enrolled_at",
                "recovery_code_hashes",
                "locked_until",
                "lock_count",
            )
        }


# Every operation on one of another tenant's users, with a body that would change it if it leaked.
USER_OPERATIONS = [
    ("GET", "/api/v1/users/{id}", None),
    ("PATCH", "/api/v1/users/{id}", {"full_name": "Hijacked", "role": "viewer", "is_active": False}),
    ("DELETE", "/api/v1/users/{id}", None),
    ("POST", "/api/v1/users/{id}/mfa-reset", None),
    ("POST", "/api/v1/users/{id}/unlock", None),
]


@pytest.mark.parametrize(("method", "path", "body"), USER_OPERATIONS, ids=[f"{m} {p}" for m, p, _ in USER_OPERATIONS])
async def test_admin_of_a_gets_404_for_customer_bs_user_and_b_is_untouched(
    client, container, world, method, path, body
):
    before = await user_row(container, world.b_admin.user.id)

    r = await client.request(method, path.format(id=world.b_admin.user.id), headers=world.a_admin.headers, json=body)

    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert world.b_admin.user.email not in r.text
    assert await user_row(container, world.b_admin.user.id) == before
    me = await client.get("/api/v1/auth/me", headers=world.b_admin.headers)
    assert me.status_code == 200, "B's Admin must still be signed in"


@pytest.mark.parametrize(("method", "path", "body"), USER_OPERATIONS, ids=[f"{m} {p}" for m, p, _ in USER_OPERATIONS])
async def test_another_tenants_user_is_indistinguishable_from_a_missing_one(client, world, method, path, body):
    theirs = await client.request(
        method, path.format(id=world.b_admin.user.id), headers=world.a_admin.headers, json=body
    )
    missing = await client.request(method, path.format(id=uuid.uuid4()), headers=world.a_admin.headers, json=body)

    assert (
        (theirs.status_code, theirs.json()["title"])
        == (missing.status_code, missing.json()["title"])
        == (
            404,
            "Not found",
        )
    )


@pytest.mark.parametrize(("method", "path", "body"), USER_OPERATIONS, ids=[f"{m} {p}" for m, p, _ in USER_OPERATIONS])
async def test_the_same_operation_on_an_own_user_succeeds(client, world, method, path, body):
    """Control for the 404 matrix: the operations work within the Admin's own customer."""
    r = await client.request(method, path.format(id=world.a_viewer.id), headers=world.a_admin.headers, json=body)

    assert r.status_code in (200, 204), r.text


async def test_users_list_of_admin_a_never_includes_customer_bs_users(client, container, world):
    await factories.user(container, tenant_id=world.b_id, role=Role.VIEWER)

    r = await client.get("/api/v1/users", headers=world.a_admin.headers, params={"limit": 500})

    assert r.status_code == 200
    page = r.json()
    assert {u["tenant_id"] for u in page["items"]} == {str(world.a_id)}
    assert {u["id"] for u in page["items"]} == {str(world.a_admin.user.id), str(world.a_viewer.id)}
    assert page["total"] == 2


async def test_users_search_for_a_b_email_finds_nothing_for_admin_a(client, world):
    r = await client.get("/api/v1/users", headers=world.a_admin.headers, params={"q": world.b_admin.user.email})

    assert r.status_code == 200
    assert r.json() == {"items": [], "total": 0, "limit": 50, "offset": 0}


async def test_audit_list_of_admin_a_never_includes_customer_bs_records(client, container, world):
    # A new user of B signs in, so that B has fresh audit records of its own.
    b_user = await factories.user(container, tenant_id=world.b_id)
    await factories.sign_in(client, b_user)

    r = await client.get("/api/v1/audit", headers=world.a_admin.headers, params={"limit": 500})

    assert r.status_code == 200
    items = r.json()["items"]
    assert items, "A has audit records of its own (sign-ins, user creation)"
    assert {i["tenant_id"] for i in items} == {str(world.a_id)}
    b_ids = {str(world.b_id), str(world.b_admin.user.id), str(b_user.id), world.b_admin.session_id}
    assert not b_ids & {i["resource_id"] for i in items}


async def test_audit_filter_by_customer_b_still_returns_only_customer_as_records(client, world):
    r = await client.get("/api/v1/audit", headers=world.a_admin.headers, params={"customer_id": str(world.b_id)})

    assert r.status_code == 200
    assert {i["tenant_id"] for i in r.json()["items"]} == {str(world.a_id)}


async def test_admin_of_a_cannot_revoke_a_session_of_customer_bs_user(client, world):
    r = await client.delete(f"/api/v1/auth/sessions/{world.b_admin.session_id}", headers=world.a_admin.headers)

    assert r.status_code == 404, r.text
    assert (await client.get("/api/v1/auth/me", headers=world.b_admin.headers)).status_code == 200


# --- The ORM tenant guard ----------------------------------------------------------------------


@dataclass
class Rows:
    a_id: uuid.UUID
    b_id: uuid.UUID
    a_users: set[uuid.UUID]
    b_users: set[uuid.UUID]
    staff: uuid.UUID


@pytest.fixture
async def rows(container) -> Rows:
    a = await factories.customer(container)
    b = await factories.customer(container)
    a_users = {(await factories.user(container, tenant_id=a.id)).id for _ in range(2)}
    b_users = {(await factories.user(container, tenant_id=b.id)).id for _ in range(2)}
    staff = await factories.user(container, tenant_id=None, role=Role.PROVIDER_ADMIN)
    return Rows(a_id=a.id, b_id=b.id, a_users=a_users, b_users=b_users, staff=staff.id)


async def all_users(container: Container) -> dict[uuid.UUID, User]:
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        return {u.id: u for u in (await uow.session.execute(select(User))).scalars()}


async def test_select_in_a_tenant_scope_returns_only_that_tenants_rows(container, rows):
    async with container.unit_of_work(TenantScope.of(rows.a_id), Actor.system()) as uow:
        found = {u.id for u in (await uow.session.execute(select(User))).scalars()}

    assert found == rows.a_users


async def test_select_by_another_tenants_id_in_a_tenant_scope_finds_nothing(container, rows):
    b_user = next(iter(rows.b_users))
    async with container.unit_of_work(TenantScope.of(rows.a_id), Actor.system()) as uow:
        by_where = (await uow.session.execute(select(User).where(User.id == b_user))).scalar_one_or_none()
        by_key = await uow.session.get(User, b_user)

    assert by_where is None
    assert by_key is None


async def test_the_tenant_filter_follows_the_scope_of_each_unit_of_work(container, rows):
    """The filter's tenant id is a bound value, not one frozen into a cached statement."""
    for tenant, expected in ((rows.a_id, rows.a_users), (rows.b_id, rows.b_users), (rows.a_id, rows.a_users)):
        async with container.unit_of_work(TenantScope.of(tenant), Actor.system()) as uow:
            assert {u.id for u in (await uow.session.execute(select(User))).scalars()} == expected


async def test_unfiltered_update_in_a_tenant_scope_changes_only_that_tenants_rows(container, rows):
    async with container.unit_of_work(TenantScope.of(rows.a_id), Actor.system()) as uow:
        await uow.session.execute(update(User).values(full_name="Renamed"))
        await uow.commit()

    users = await all_users(container)
    assert {i for i, u in users.items() if u.full_name == "Renamed"} == rows.a_users


async def test_unfiltered_delete_in_a_tenant_scope_removes_only_that_tenants_rows(container, rows):
    async with container.unit_of_work(TenantScope.of(rows.a_id), Actor.system()) as uow:
        await uow.session.execute(delete(User))
        await uow.commit()

    assert set(await all_users(container)) == rows.b_users | {rows.staff}


async def test_adding_a_row_for_another_tenant_is_refused_on_commit(container, rows):
    async with container.unit_of_work(TenantScope.of(rows.a_id), Actor.system()) as uow:
        uow.add(User(tenant_id=rows.b_id, email="intruder@example.com", role="admin", password_hash="x"))
        with pytest.raises(Forbidden):
            await uow.commit()

    assert "intruder@example.com" not in {u.email for u in (await all_users(container)).values()}


async def test_moving_an_own_row_to_another_tenant_is_refused_on_commit(container, rows):
    a_user = next(iter(rows.a_users))
    async with container.unit_of_work(TenantScope.of(rows.a_id), Actor.system()) as uow:
        row = await uow.get(User, a_user)
        row.tenant_id = rows.b_id
        with pytest.raises(Forbidden):
            await uow.commit()

    assert (await all_users(container))[a_user].tenant_id == rows.a_id


async def test_a_new_row_without_tenant_gets_the_scopes_tenant(container, rows):
    async with container.unit_of_work(TenantScope.of(rows.a_id), Actor.system()) as uow:
        user = User(email="newcomer@example.com", role="viewer", password_hash="x")
        user.tenant_id = None  # type: ignore[assignment]
        uow.add(user)
        await uow.commit()
        new_id = user.id

    assert (await all_users(container))[new_id].tenant_id == rows.a_id
