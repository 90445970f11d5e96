"""User management by a customer's Admin through the API, the signed-in user's own view, and the
audit trail an Admin may read (their customer's only)."""

from __future__ import annotations

import json
import uuid

import pytest

from tests import factories
from vms.auth.permissions import Role
from vms.auth.schemas import UserRead

USERS = "/api/v1/users"


@pytest.fixture
async def customer(container):
    return await factories.customer(container)


@pytest.fixture
async def admin(client, container, customer) -> factories.SignedIn:
    """The customer's Admin, signed in."""
    return await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)


def new_user(role: str = "viewer", **extra) -> dict:
    return {
        "email": f"new-{uuid.uuid4().hex[:8]}@acme.example",
        "full_name": "New Person",
        "role": role,
        "password": factories.PASSWORD,
        **extra,
    }


async def create(client, admin, **fields) -> dict:
    r = await client.post(USERS, json=new_user(**fields), headers=admin.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def total_users(client, admin) -> int:
    r = await client.get(USERS, headers=admin.headers)
    assert r.status_code == 200
    return r.json()["total"]


# --- list ---------------------------------------------------------------------------------------


async def test_admin_lists_users_filtered_by_text_and_role_with_paging(client, container, customer, admin):
    tag = uuid.uuid4().hex[:6]
    guards = [await create(client, admin, email=f"guard{i}-{tag}@acme.example") for i in range(3)]
    chief = await create(client, admin, role="supervisor", full_name=f"Chief {tag.upper()}")
    other = await factories.customer(container)
    await factories.user(container, tenant_id=other.id, email=f"guard9-{tag}@other.example")

    async def page(**params) -> dict:
        r = await client.get(USERS, params=params, headers=admin.headers)
        assert r.status_code == 200, r.text
        return r.json()

    everyone = await page()
    assert everyone["total"] == 5  # the Admin, three guards, the chief; never the other customer's user
    assert {u["tenant_id"] for u in everyone["items"]} == {str(customer.id)}

    by_text = await page(q=tag)
    assert by_text["total"] == 4  # email or full name, case-insensitive
    viewers = await page(q=tag, role="viewer")
    assert [u["id"] for u in viewers["items"]] == [g["id"] for g in guards]  # ordered by email
    supervisors = await page(role="supervisor")
    assert [u["id"] for u in supervisors["items"]] == [chief["id"]]

    first = await page(q=tag, limit=3)
    rest = await page(q=tag, limit=3, offset=3)
    assert first["total"] == rest["total"] == 4
    assert len(first["items"]) == 3
    assert len(rest["items"]) == 1
    assert {u["id"] for u in first["items"] + rest["items"]} == {*(g["id"] for g in guards), chief["id"]}


async def test_listing_by_an_unknown_role_is_422(client, admin):
    r = await client.get(USERS, params={"role": "emperor"}, headers=admin.headers)
    assert r.status_code == 422


# --- create -------------------------------------------------------------------------------------


async def test_admin_creates_a_user_who_can_sign_in(client, customer, admin):
    body = new_user(role="supervisor", full_name="Night Guard")

    r = await client.post(USERS, json=body, headers=admin.headers)

    assert r.status_code == 201, r.text
    created = r.json()
    assert created["email"] == body["email"]
    assert created["full_name"] == "Night Guard"
    assert created["role"] == "supervisor"
    assert created["tenant_id"] == str(customer.id)
    assert created["is_active"] is True
    assert created["mfa_enrolled"] is False
    assert not {"password", "password_hash", "totp_secret"} & created.keys()

    signed_in = await factories.sign_in(client, UserRead.model_validate(created))
    me = await client.get("/api/v1/auth/me", headers=signed_in.headers)
    assert me.json()["id"] == created["id"]


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Short-1a", "at least 12 characters"),
        ("onlylowercaseletters", None),  # 20 characters: a passphrase, accepted
        ("lowercase-only-yes", "three of"),
        ("Password1234", "commonly breached"),
    ],
    ids=["too-short", "long-passphrase-ok", "one-class", "common"],
)
async def test_password_policy_names_the_rule_a_weak_password_breaks(client, admin, password, rule):
    before = await total_users(client, admin)

    r = await client.post(USERS, json=new_user(password=password), headers=admin.headers)

    if rule is None:
        assert r.status_code == 201, r.text
        return
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert rule in r.json()["detail"]
    assert await total_users(client, admin) == before


async def test_a_password_containing_the_email_name_is_refused(client, admin):
    body = new_user(email="harriet.jones@acme.example", password="Harriet.Jones-2026!")
    r = await client.post(USERS, json=body, headers=admin.headers)
    assert r.status_code == 422
    assert "email name" in r.json()["detail"]


async def test_a_duplicate_email_is_refused_with_409_whatever_its_case(client, admin):
    existing = await create(client, admin)

    r = await client.post(USERS, json=new_user(email=existing["email"].upper()), headers=admin.headers)

    assert r.status_code == 409
    assert existing["email"] in r.json()["detail"]


async def test_an_email_taken_in_another_customer_is_also_refused(client, container, admin):
    other = await factories.customer(container)
    taken = await factories.user(container, tenant_id=other.id)
    r = await client.post(USERS, json=new_user(email=taken.email), headers=admin.headers)
    assert r.status_code == 409


async def test_an_admin_cannot_create_provider_staff(client, admin):
    before = await total_users(client, admin)

    r = await client.post(USERS, json=new_user(role="provider_admin"), headers=admin.headers)

    assert r.status_code == 403
    assert await total_users(client, admin) == before


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.VIEWER])
async def test_non_admins_cannot_create_users(client, container, customer, role):
    user = await factories.account(client, container, tenant_id=customer.id, role=role)
    r = await client.post(USERS, json=new_user(), headers=user.headers)
    assert r.status_code == 403


async def test_a_supervisor_may_read_users_but_a_viewer_may_not(client, container, customer):
    supervisor = await factories.account(client, container, tenant_id=customer.id, role=Role.SUPERVISOR)
    viewer = await factories.account(client, container, tenant_id=customer.id, role=Role.VIEWER)
    assert (await client.get(USERS, headers=supervisor.headers)).status_code == 200
    assert (await client.get(USERS, headers=viewer.headers)).status_code == 403


# --- get, patch ---------------------------------------------------------------------------------


async def test_admin_gets_a_user(client, admin):
    created = await create(client, admin)
    r = await client.get(f"{USERS}/{created['id']}", headers=admin.headers)
    assert r.status_code == 200
    assert r.json() == created


async def test_a_user_of_another_customer_is_not_found(client, container, admin):
    other = await factories.customer(container)
    stranger = await factories.user(container, tenant_id=other.id)

    assert (await client.get(f"{USERS}/{stranger.id}", headers=admin.headers)).status_code == 404
    patched = await client.patch(f"{USERS}/{stranger.id}", json={"full_name": "Hijacked"}, headers=admin.headers)
    assert patched.status_code == 404
    assert (await client.delete(f"{USERS}/{stranger.id}", headers=admin.headers)).status_code == 404
    assert (await client.post(f"{USERS}/{stranger.id}/mfa-reset", headers=admin.headers)).status_code == 404


async def test_admin_patches_full_name_and_role(client, admin):
    created = await create(client, admin)

    r = await client.patch(
        f"{USERS}/{created['id']}", json={"full_name": "Renamed Person", "role": "supervisor"}, headers=admin.headers
    )

    assert r.status_code == 200, r.text
    assert r.json()["full_name"] == "Renamed Person"
    assert r.json()["role"] == "supervisor"
    fetched = await client.get(f"{USERS}/{created['id']}", headers=admin.headers)
    assert (fetched.json()["full_name"], fetched.json()["role"]) == ("Renamed Person", "supervisor")


async def test_patching_a_role_to_provider_admin_is_403(client, admin):
    created = await create(client, admin)
    r = await client.patch(f"{USERS}/{created['id']}", json={"role": "provider_admin"}, headers=admin.headers)
    assert r.status_code == 403
    assert (await client.get(f"{USERS}/{created['id']}", headers=admin.headers)).json()["role"] == "viewer"


async def test_an_admin_cannot_demote_or_disable_themself(client, admin):
    own = f"{USERS}/{admin.user.id}"
    assert (await client.patch(own, json={"role": "viewer"}, headers=admin.headers)).status_code == 409
    assert (await client.patch(own, json={"is_active": False}, headers=admin.headers)).status_code == 409
    assert (await client.delete(own, headers=admin.headers)).status_code == 409
    # Their own name is theirs to change.
    assert (await client.patch(own, json={"full_name": "Me"}, headers=admin.headers)).status_code == 200


async def test_disabling_a_user_signs_them_out_and_stops_sign_in(client, container, customer, admin):
    victim = await factories.account(client, container, tenant_id=customer.id, role=Role.VIEWER)
    assert (await client.get("/api/v1/auth/me", headers=victim.headers)).status_code == 200

    r = await client.patch(f"{USERS}/{victim.user.id}", json={"is_active": False}, headers=admin.headers)

    assert r.status_code == 200
    assert r.json()["is_active"] is False
    assert (await client.get("/api/v1/auth/me", headers=victim.headers)).status_code == 401
    login = await client.post("/api/v1/auth/login", json={"email": victim.user.email, "password": factories.PASSWORD})
    assert login.status_code == 403
    assert "disabled" in login.json()["detail"]
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": victim.refresh_token})
    assert refresh.status_code == 401


# --- delete -------------------------------------------------------------------------------------


async def test_admin_deletes_a_signed_in_user_who_is_then_gone(client, container, customer, admin):
    victim = await factories.account(client, container, tenant_id=customer.id, role=Role.VIEWER)

    r = await client.delete(f"{USERS}/{victim.user.id}", headers=admin.headers)

    assert r.status_code == 204
    assert (await client.get(f"{USERS}/{victim.user.id}", headers=admin.headers)).status_code == 404
    assert (await client.delete(f"{USERS}/{victim.user.id}", headers=admin.headers)).status_code == 404
    assert (await client.get("/api/v1/auth/me", headers=victim.headers)).status_code == 401
    login = await client.post("/api/v1/auth/login", json={"email": victim.user.email, "password": factories.PASSWORD})
    assert login.status_code == 401


# --- mfa reset, unlock --------------------------------------------------------------------------


async def test_mfa_reset_makes_the_user_enrol_again_at_next_sign_in(client, container, customer, admin):
    victim = await factories.account(client, container, tenant_id=customer.id, role=Role.VIEWER)

    r = await client.post(f"{USERS}/{victim.user.id}/mfa-reset", headers=admin.headers)

    assert r.status_code == 200
    assert r.json()["mfa_enrolled"] is False
    # The lost phone's sessions end.
    assert (await client.get("/api/v1/auth/me", headers=victim.headers)).status_code == 401
    login = await client.post("/api/v1/auth/login", json={"email": victim.user.email, "password": factories.PASSWORD})
    assert login.status_code == 200
    challenge = login.json()
    assert challenge["enrollment_required"] is True
    assert challenge["secret"] and challenge["secret"] != victim.authenticator.secret
    # The old authenticator's codes no longer work.
    old_code = await client.post(
        "/api/v1/auth/mfa", json={"mfa_token": challenge["mfa_token"], "code": victim.authenticator.code()}
    )
    assert old_code.status_code == 401


async def test_unlock_lifts_a_sign_in_lockout(client, container, customer, admin):
    victim = await factories.user(container, tenant_id=customer.id)
    wrong = {"email": victim.email, "password": "Wrong-Password-123"}
    for _ in range(container.settings.security.lockout_threshold):
        assert (await client.post("/api/v1/auth/login", json=wrong)).status_code == 401
    right = {"email": victim.email, "password": factories.PASSWORD}
    locked = await client.post("/api/v1/auth/login", json=right)
    assert locked.status_code == 423
    listed = await client.get(f"{USERS}/{victim.id}", headers=admin.headers)
    assert listed.json()["locked_until"] is not None

    r = await client.post(f"{USERS}/{victim.id}/unlock", headers=admin.headers)

    assert r.status_code == 200
    assert r.json()["locked_until"] is None
    assert (await client.post("/api/v1/auth/login", json=right)).status_code == 200


# --- me -----------------------------------------------------------------------------------------


async def test_me_shows_the_signed_in_user_without_secrets(client, customer, admin):
    r = await client.get("/api/v1/auth/me", headers=admin.headers)

    assert r.status_code == 200
    me = r.json()
    assert me["id"] == str(admin.user.id)
    assert me["email"] == admin.user.email
    assert me["role"] == "admin"
    assert me["tenant_id"] == str(customer.id)
    assert me["mfa_enrolled"] is True
    assert me["last_sign_in_at"] is not None
    assert "password" not in r.text
    assert "secret" not in r.text


async def test_me_without_a_token_is_401(client):
    r = await client.get("/api/v1/auth/me")
    assert r.status_code == 401


async def test_me_with_a_forged_token_is_401(client, admin):
    forged = admin.access_token[:-4] + ("AAAA" if not admin.access_token.endswith("AAAA") else "BBBB")
    r = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


# --- audit --------------------------------------------------------------------------------------


async def test_admin_audit_shows_only_their_customers_records(client, container, customer, admin):
    mine = await create(client, admin)
    other = await factories.customer(container)
    other_admin = await factories.account(client, container, tenant_id=other.id, role=Role.ADMIN)
    theirs = await create(client, other_admin)

    r = await client.get("/api/v1/audit", params={"limit": 500}, headers=admin.headers)

    assert r.status_code == 200
    records = r.json()["items"]
    assert r.json()["total"] == len(records) > 0
    assert {rec["tenant_id"] for rec in records} == {str(customer.id)}
    assert mine["id"] in {rec["resource_id"] for rec in records}
    assert theirs["id"] not in {rec["resource_id"] for rec in records}

    # Asking for another customer explicitly changes nothing: the caller's own customer wins.
    r = await client.get("/api/v1/audit", params={"customer_id": str(other.id)}, headers=admin.headers)
    assert {rec["tenant_id"] for rec in r.json()["items"]} == {str(customer.id)}


async def test_admin_audit_filters_by_resource_type_and_action(client, admin):
    created = await create(client, admin)
    await client.patch(f"{USERS}/{created['id']}", json={"full_name": "Changed"}, headers=admin.headers)
    deleted = await create(client, admin)
    await client.delete(f"{USERS}/{deleted['id']}", headers=admin.headers)

    r = await client.get("/api/v1/audit", params={"resource_type": "user", "action": "create"}, headers=admin.headers)

    records = r.json()["items"]
    assert {(rec["resource_type"], rec["action"]) for rec in records} == {("user", "create")}
    assert {created["id"], deleted["id"]} <= {rec["resource_id"] for rec in records}
    assert all(rec["actor_id"] == str(admin.user.id) for rec in records if rec["resource_id"] == created["id"])
    assert "$argon2" not in json.dumps(records)

    r = await client.get("/api/v1/audit", params={"resource_type": "user", "action": "update"}, headers=admin.headers)
    (update,) = [rec for rec in r.json()["items"] if rec["resource_id"] == created["id"]]
    assert (update["old_value"]["full_name"], update["new_value"]["full_name"]) == ("New Person", "Changed")

    r = await client.get("/api/v1/audit", params={"resource_type": "user", "action": "delete"}, headers=admin.headers)
    (removal,) = r.json()["items"]
    assert removal["resource_id"] == deleted["id"]
    assert removal["old_value"]["email"] == deleted["email"]


async def test_mfa_reset_and_unlock_are_audited(client, container, customer, admin):
    victim = await factories.user(container, tenant_id=customer.id)
    await client.post(f"{USERS}/{victim.id}/mfa-reset", headers=admin.headers)
    await client.post(f"{USERS}/{victim.id}/unlock", headers=admin.headers)

    r = await client.get("/api/v1/audit", params={"resource_id": str(victim.id)}, headers=admin.headers)

    assert {rec["action"] for rec in r.json()["items"]} >= {"reset_mfa", "unlock"}


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.VIEWER])
async def test_non_admins_cannot_read_the_audit_log(client, container, customer, role):
    user = await factories.account(client, container, tenant_id=customer.id, role=role)
    assert (await client.get("/api/v1/audit", headers=user.headers)).status_code == 403


async def test_search_treats_percent_and_underscore_literally(client, container):
    from tests import factories as f
    from vms.auth.permissions import Role as R

    customer = await f.customer(container)
    admin = await f.account(client, container, tenant_id=customer.id, role=R.ADMIN)
    await f.user(container, tenant_id=customer.id, email="plain.viewer@example.com")
    everyone = await client.get("/api/v1/users", params={"q": "%"}, headers=admin.headers)
    assert everyone.status_code == 200
    assert everyone.json()["total"] == 0
    underscore = await client.get("/api/v1/users", params={"q": "plain_viewer"}, headers=admin.headers)
    assert underscore.json()["total"] == 0
    dotted = await client.get("/api/v1/users", params={"q": "plain.viewer"}, headers=admin.headers)
    assert dotted.json()["total"] == 1
