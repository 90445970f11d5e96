"""Sign-in, tokens, sessions and access rules end to end through the API.

Every test drives the real app over an in-process HTTP client on the embedded engines; what a
test proves is in its name.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pyotp
import pytest

from tests import factories
from tests.conftest import make_settings
from vms.adapters.cache.memory import MemoryRateLimiter
from vms.api.app import create_app
from vms.auth.models import User
from vms.auth.permissions import Role
from vms.bootstrap import Container, build_container
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor

PROBLEM = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(client: httpx.AsyncClient, email: str, password: str = factories.PASSWORD, **kw: Any) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password}, **kw)


async def mfa(client: httpx.AsyncClient, mfa_token: str, code: str) -> httpx.Response:
    return await client.post("/api/v1/auth/mfa", json={"mfa_token": mfa_token, "code": code})


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/v1/auth/me", headers=bearer(token))


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/v1/auth/refresh", json={"refresh_token": token})


def wrong_code(secret: str) -> str:
    """A well-formed 6-digit code that is valid for none of the steps the server accepts now."""
    totp = pyotp.TOTP(secret)
    step = int(time.time() // totp.interval)
    valid = {totp.generate_otp(s) for s in range(step - 2, step + 3)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in valid)


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


@asynccontextmanager
async def serve(
    tmp_path: Path, sqlite_url: str, **overrides: object
) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    """An app on its own container built from test settings plus `overrides`."""
    container = build_container(make_settings(tmp_path, sqlite_url, **overrides))
    transport = httpx.ASGITransport(app=create_app(container), client=("127.0.0.1", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield container, http
    finally:
        await container.close()


# --- No token without MFA --------------------------------------------------------------------


async def test_password_alone_yields_only_an_mfa_challenge_never_a_token(client, container):
    customer = await factories.customer(container)
    user = await factories.user(container, tenant_id=customer.id)

    r = await login(client, user.email)

    assert r.status_code == 200
    assert set(r.json()) == {"mfa_token", "enrollment_required", "otpauth_uri", "secret"}


async def test_mfa_challenge_token_is_refused_as_a_bearer_token(client, container):
    customer = await factories.customer(container)
    user = await factories.user(container, tenant_id=customer.id)
    challenge = (await login(client, user.email)).json()

    r = await me(client, challenge["mfa_token"])

    assert_problem(r, 401)


async def test_wrong_totp_code_is_refused_and_issues_no_tokens(client, container):
    customer = await factories.customer(container)
    user = await factories.user(container, tenant_id=customer.id)
    challenge = (await login(client, user.email)).json()

    r = await mfa(client, challenge["mfa_token"], wrong_code(challenge["secret"]))

    body = assert_problem(r, 401)
    assert "access_token" not in body and "refresh_token" not in body
    # The enrolment did not complete either: the next sign-in still asks to enrol.
    assert (await login(client, user.email)).json()["enrollment_required"] is True


# --- Recovery codes and TOTP replay ------------------------------------------------------------


async def test_recovery_code_signs_in_once_and_is_refused_the_second_time(client, container):
    customer = await factories.customer(container)
    signed = await factories.account(client, container, tenant_id=customer.id)
    code = signed.recovery_codes[0]

    first = await mfa(client, (await login(client, signed.user.email)).json()["mfa_token"], code)
    assert first.status_code == 200, first.text
    assert (await me(client, first.json()["access_token"])).status_code == 200

    second = await mfa(client, (await login(client, signed.user.email)).json()["mfa_token"], code)
    assert_problem(second, 401)


async def test_recovery_code_is_accepted_regardless_of_case_and_spaces_but_others_still_work(client, container):
    customer = await factories.customer(container)
    signed = await factories.account(client, container, tenant_id=customer.id)
    typed = "  " + signed.recovery_codes[1].upper() + " "

    r = await mfa(client, (await login(client, signed.user.email)).json()["mfa_token"], typed)
    assert r.status_code == 200, r.text

    r = await mfa(client, (await login(client, signed.user.email)).json()["mfa_token"], signed.recovery_codes[2])
    assert r.status_code == 200, r.text


async def test_a_totp_code_cannot_be_replayed(client, container):
    customer = await factories.customer(container)
    user = await factories.user(container, tenant_id=customer.id)
    challenge = (await login(client, user.email)).json()
    totp = pyotp.TOTP(challenge["secret"])
    step = int(time.time() // totp.interval)
    code = totp.generate_otp(step)
    assert (await mfa(client, challenge["mfa_token"], code)).status_code == 200

    replay = await mfa(client, (await login(client, user.email)).json()["mfa_token"], code)
    assert_problem(replay, 401)

    # A code of a later step still works, so the refusal was about the replay.
    fresh = factories.Authenticator(challenge["secret"], last_step=step).code()
    assert (await mfa(client, (await login(client, user.email)).json()["mfa_token"], fresh)).status_code == 200


# --- Refresh token rotation --------------------------------------------------------------------


async def test_refresh_rotates_the_pair_and_the_new_refresh_token_works(client, container):
    customer = await factories.customer(container)
    signed = await factories.account(client, container, tenant_id=customer.id)

    r = await refresh(client, signed.refresh_token)
    assert r.status_code == 200, r.text
    pair = r.json()
    assert pair["refresh_token"] != signed.refresh_token
    assert pair["session_id"] == signed.session_id
    assert (await me(client, pair["access_token"])).status_code == 200

    again = await refresh(client, pair["refresh_token"])
    assert again.status_code == 200, again.text
    assert (await me(client, again.json()["access_token"])).status_code == 200


async def test_reusing_a_spent_refresh_token_revokes_the_whole_session(client, container):
    customer = await factories.customer(container)
    signed = await factories.account(client, container, tenant_id=customer.id)
    pair = (await refresh(client, signed.refresh_token)).json()

    reuse = await refresh(client, signed.refresh_token)

    assert_problem(reuse, 401)
    assert_problem(await refresh(client, pair["refresh_token"]), 401)
    assert_problem(await me(client, pair["access_token"]), 401)
    assert_problem(await me(client, signed.access_token), 401)


async def test_unknown_refresh_token_is_refused(client, container):
    r = await refresh(client, "not-a-token-we-issued")
    assert_problem(r, 401)


# --- Lockout -----------------------------------------------------------------------------------


async def test_wrong_passwords_lock_the_account_even_against_the_right_password(client, container):
    customer = await factories.customer(container)
    user = await factories.user(container, tenant_id=customer.id)
    threshold = container.settings.security.lockout_threshold

    for _ in range(threshold):
        assert_problem(await login(client, user.email, "Wrong-Password-123"), 401)

    r = await login(client, user.email)
    assert_problem(r, 423)
    retry_after = int(r.headers["Retry-After"])
    assert 1 <= retry_after <= container.settings.security.lockout_base_s + 1


async def test_fewer_wrong_passwords_than_the_threshold_do_not_lock(client, container):
    customer = await factories.customer(container)
    user = await factories.user(container, tenant_id=customer.id)

    for _ in range(container.settings.security.lockout_threshold - 1):
        await login(client, user.email, "Wrong-Password-123")

    assert (await login(client, user.email)).status_code == 200


async def test_wrong_mfa_codes_count_towards_lockout(tmp_path, sqlite_url):
    async with serve(tmp_path, sqlite_url, security={"lockout_threshold": 3}) as (container, client):
        customer = await factories.customer(container)
        signed = await factories.account(client, container, tenant_id=customer.id)
        challenge = (await login(client, signed.user.email)).json()
        bad = wrong_code(signed.authenticator.secret)

        assert_problem(await login(client, signed.user.email, "Wrong-Password-123"), 401)
        assert_problem(await mfa(client, challenge["mfa_token"], bad), 401)
        assert_problem(await mfa(client, challenge["mfa_token"], bad), 401)

        r = await login(client, signed.user.email)
        assert_problem(r, 423)
        assert int(r.headers["Retry-After"]) >= 1
        # The still-valid challenge cannot be finished either.
        assert_problem(await mfa(client, challenge["mfa_token"], signed.authenticator.code()), 423)


async def test_admin_unlock_lifts_the_lockout(client, container):
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    user = await factories.user(container, tenant_id=customer.id)
    for _ in range(container.settings.security.lockout_threshold):
        await login(client, user.email, "Wrong-Password-123")
    assert (await login(client, user.email)).status_code == 423
    shown = await client.get(f"/api/v1/users/{user.id}", headers=admin.headers)
    assert shown.json()["locked_until"] is not None

    r = await client.post(f"/api/v1/users/{user.id}/unlock", headers=admin.headers)

    assert r.status_code == 200, r.text
    assert r.json()["locked_until"] is None
    assert (await login(client, user.email)).status_code == 200


# --- JWT integrity -----------------------------------------------------------------------------


def _claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_a_correctly_signed_copy_of_the_access_token_is_accepted(client, container, settings):
    """Control for the tampering tests below: re-signing the same claims with the real key works."""
    customer = await factories.customer(container)
    signed = await factories.account(client, container, tenant_id=customer.id)
    token = jwt.encode(_claims_of(signed.access_token), settings.security.jwt_secret, algorithm="HS256")

    assert (await me(client, token)).status_code == 200


async def test_expired_access_token_is_refused(client, container, settings):
    customer = await factories.customer(container)
    signed = await factories.account(client, container, tenant_id=customer.id)
    claims = _claims_of(signed.access_token)
    past = datetime.now(UTC) - timedelta(minutes=30)
    claims.update(iat=past, exp=past + timedelta(seconds=60))
    token = jwt.encode(claims, settings.security.jwt_secret, algorithm="HS256")

    body = assert_problem(await me(client, token), 401)
    assert "expired" in body["detail"].lower()


def _flip_signature_char(token: str, _secret: str) -> str:
    head, payload, sig = token.split(".")
    i = len(sig) // 2  # a middle character: the last one may only carry padding bits
    return f"{head}.{payload}.{sig[:i]}{'A' if sig[i] != 'A' else 'B'}{sig[i + 1 :]}"


def _escalate_role_keep_signature(token: str, _secret: str) -> str:
    head, _, sig = token.split(".")
    claims = _claims_of(token)
    claims["role"] = Role.ADMIN.value
    return f"{head}.{_b64(claims)}.{sig}"


def _sign_with_another_key(token: str, _secret: str) -> str:
    return jwt.encode(_claims_of(token), "another-key-of-sufficient-length-0123456789", algorithm="HS256")


def _alg_none(token: str, _secret: str) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims_of(token))}."


def _other_token_type(token: str, secret: str) -> str:
    claims = _claims_of(token)
    claims["typ"] = "mfa"
    return jwt.encode(claims, secret, algorithm="HS256")


def _other_issuer(token: str, secret: str) -> str:
    claims = _claims_of(token)
    claims["iss"] = "someone-else"
    return jwt.encode(claims, secret, algorithm="HS256")


@pytest.mark.parametrize(
    "tamper",
    [
        _flip_signature_char,
        _escalate_role_keep_signature,
        _sign_with_another_key,
        _alg_none,
        _other_token_type,
        _other_issuer,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
async def test_tampered_access_token_is_refused(client, container, settings, tamper):
    customer = await factories.customer(container)
    signed = await factories.account(client, container, tenant_id=customer.id)
    token = tamper(signed.access_token, settings.security.jwt_secret)
    assert token != signed.access_token

    assert_problem(await me(client, token), 401)
    assert_problem(await client.get("/api/v1/users", headers=bearer(token)), 401)


async def test_request_without_a_bearer_token_is_refused(client):
    assert_problem(await client.get("/api/v1/auth/me"), 401)


# --- Logout and sessions -----------------------------------------------------------------------


async def test_logout_stops_the_access_token_at_once_and_refuses_its_refresh_token(client, container):
    customer = await factories.customer(container)
    signed = await factories.account(client, container, tenant_id=customer.id)
    other = await factories.sign_in(client, signed.user, authenticator=signed.authenticator)

    r = await client.post("/api/v1/auth/logout", headers=signed.headers)

    assert r.status_code == 204
    assert_problem(await me(client, signed.access_token), 401)
    assert_problem(await refresh(client, signed.refresh_token), 401)
    # Only that session ended: the user's other device is still signed in.
    assert (await me(client, other.access_token)).status_code == 200


async def test_sessions_list_flags_the_current_session(client, container):
    customer = await factories.customer(container)
    first = await factories.account(client, container, tenant_id=customer.id)
    second = await factories.sign_in(client, first.user, authenticator=first.authenticator)

    r = await client.get("/api/v1/auth/sessions", headers=second.headers)

    assert r.status_code == 200
    flags = {s["id"]: s["current"] for s in r.json()}
    assert flags == {second.session_id: True, first.session_id: False}
    assert all(s["ip"] == "127.0.0.1" for s in r.json())


async def test_revoking_another_of_my_sessions_signs_that_device_out(client, container):
    customer = await factories.customer(container)
    first = await factories.account(client, container, tenant_id=customer.id)
    second = await factories.sign_in(client, first.user, authenticator=first.authenticator)

    r = await client.delete(f"/api/v1/auth/sessions/{first.session_id}", headers=second.headers)

    assert r.status_code == 204
    assert_problem(await me(client, first.access_token), 401)
    assert_problem(await refresh(client, first.refresh_token), 401)
    assert (await me(client, second.access_token)).status_code == 200
    listed = (await client.get("/api/v1/auth/sessions", headers=second.headers)).json()
    assert [s["id"] for s in listed] == [second.session_id]


async def test_revoking_someone_elses_session_is_not_found_and_leaves_it_working(client, container):
    customer = await factories.customer(container)
    mine = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    theirs = await factories.account(client, container, tenant_id=customer.id)

    r = await client.delete(f"/api/v1/auth/sessions/{theirs.session_id}", headers=mine.headers)

    assert_problem(r, 404)
    assert (await me(client, theirs.access_token)).status_code == 200


# --- Password change ---------------------------------------------------------------------------


async def test_password_change_with_wrong_current_password_is_refused(client, container):
    customer = await factories.customer(container)
    signed = await factories.account(client, container, tenant_id=customer.id)

    r = await client.post(
        "/api/v1/auth/password",
        headers=signed.headers,
        json={"current_password": "Not-My-Password-1", "new_password": "Another-Strong-Pass-42"},
    )

    assert_problem(r, 401)
    assert (await login(client, signed.user.email)).status_code == 200  # old password still works


async def test_password_change_to_a_weak_password_is_refused(client, container):
    customer = await factories.customer(container)
    signed = await factories.account(client, container, tenant_id=customer.id)

    r = await client.post(
        "/api/v1/auth/password",
        headers=signed.headers,
        json={"current_password": factories.PASSWORD, "new_password": "short"},
    )

    assert_problem(r, 422)
    assert (await login(client, signed.user.email)).status_code == 200


async def test_password_change_signs_other_sessions_out_but_keeps_the_current_one(client, container):
    customer = await factories.customer(container)
    other = await factories.account(client, container, tenant_id=customer.id)
    current = await factories.sign_in(client, other.user, authenticator=other.authenticator)
    new_password = "Another-Strong-Pass-42"

    r = await client.post(
        "/api/v1/auth/password",
        headers=current.headers,
        json={"current_password": factories.PASSWORD, "new_password": new_password},
    )

    assert r.status_code == 204, r.text
    assert (await me(client, current.access_token)).status_code == 200
    assert (await refresh(client, current.refresh_token)).status_code == 200
    assert_problem(await me(client, other.access_token), 401)
    assert_problem(await refresh(client, other.refresh_token), 401)
    assert_problem(await login(client, other.user.email), 401)
    assert (await login(client, other.user.email, new_password)).status_code == 200


# --- IP allowlist ------------------------------------------------------------------------------


async def test_sign_in_from_outside_the_customers_allowlist_is_forbidden(client, container):
    customer = await factories.customer(container, ip_allowlist=["10.0.0.0/8"])
    user = await factories.user(container, tenant_id=customer.id)

    r = await login(client, user.email)

    body = assert_problem(r, 403)
    assert "mfa_token" not in body


async def test_allowlist_set_by_provider_staff_applies_to_the_next_request_of_a_signed_in_user(client, container):
    customer = await factories.customer(container)
    signed = await factories.account(client, container, tenant_id=customer.id)
    staff = await factories.account(client, container, tenant_id=None, role=Role.PROVIDER_ADMIN)
    assert (await me(client, signed.access_token)).status_code == 200  # the access rules are now cached

    r = await client.patch(
        f"/api/v1/customers/{customer.id}", headers=staff.headers, json={"ip_allowlist": ["10.0.0.0/8"]}
    )
    assert r.status_code == 200, r.text

    assert_problem(await me(client, signed.access_token), 403)
    assert_problem(await refresh(client, signed.refresh_token), 403)


async def test_admin_cannot_set_an_allowlist_that_excludes_their_own_address(client, container):
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)

    r = await client.put("/api/v1/account/ip-allowlist", headers=admin.headers, json={"ip_allowlist": ["10.0.0.0/8"]})

    assert_problem(r, 422)
    assert (await me(client, admin.access_token)).status_code == 200


async def test_admin_can_set_an_allowlist_that_includes_their_own_address(client, container):
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)

    r = await client.put(
        "/api/v1/account/ip-allowlist", headers=admin.headers, json={"ip_allowlist": ["127.0.0.0/8", "10.0.0.0/8"]}
    )

    assert r.status_code == 200, r.text
    assert r.json()["ip_allowlist"] == ["127.0.0.0/8", "10.0.0.0/8"]
    assert (await me(client, admin.access_token)).status_code == 200


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(client, container):
    customer = await factories.customer(container, ip_allowlist=["10.0.0.0/8"])
    user = await factories.user(container, tenant_id=customer.id)

    r = await login(client, user.email, headers={"X-Forwarded-For": "10.1.2.3"})

    assert_problem(r, 403)


async def test_x_forwarded_for_from_a_trusted_proxy_is_believed(tmp_path, sqlite_url):
    async with serve(tmp_path, sqlite_url, api={"trusted_proxies": ["127.0.0.1/32"]}) as (container, client):
        customer = await factories.customer(container, ip_allowlist=["10.0.0.0/8"])
        user = await factories.user(container, tenant_id=customer.id)

        inside = await login(client, user.email, headers={"X-Forwarded-For": "10.1.2.3, 127.0.0.1"})
        outside = await login(client, user.email, headers={"X-Forwarded-For": "192.0.2.7"})

    assert inside.status_code == 200, inside.text
    assert_problem(outside, 403)


async def test_x_forwarded_for_entries_added_by_the_client_before_the_proxy_are_not_believed(tmp_path, sqlite_url):
    """A proxy appends the address it saw; whatever stands left of it came from the client and may be forged."""
    async with serve(tmp_path, sqlite_url, api={"trusted_proxies": ["127.0.0.1/32"]}) as (container, client):
        customer = await factories.customer(container, ip_allowlist=["10.0.0.0/8"])
        user = await factories.user(container, tenant_id=customer.id)

        # The client at 192.0.2.7 sent "X-Forwarded-For: 10.1.2.3"; the proxy appended 192.0.2.7.
        spoofed = await login(client, user.email, headers={"X-Forwarded-For": "10.1.2.3, 192.0.2.7"})

    assert_problem(spoofed, 403)


async def test_an_empty_x_forwarded_for_entry_does_not_skip_the_allowlist(tmp_path, sqlite_url):
    async with serve(tmp_path, sqlite_url, api={"trusted_proxies": ["127.0.0.1/32"]}) as (container, client):
        customer = await factories.customer(container, ip_allowlist=["10.0.0.0/8"])
        user = await factories.user(container, tenant_id=customer.id)

        # The client sent "X-Forwarded-For: ," and the proxy appended the address it saw.
        r = await login(client, user.email, headers={"X-Forwarded-For": ", 192.0.2.7"})

    assert_problem(r, 403)


# --- Suspended customers and disabled users ----------------------------------------------------


async def test_users_of_a_suspended_customer_cannot_sign_in_or_make_requests(client, container):
    customer = await factories.customer(container)
    signed = await factories.account(client, container, tenant_id=customer.id)
    staff = await factories.account(client, container, tenant_id=None, role=Role.PROVIDER_ADMIN)
    assert (await me(client, signed.access_token)).status_code == 200

    r = await client.patch(f"/api/v1/customers/{customer.id}", headers=staff.headers, json={"status": "suspended"})
    assert r.status_code == 200, r.text

    assert_problem(await me(client, signed.access_token), 403)
    assert_problem(await login(client, signed.user.email), 403)
    assert_problem(await refresh(client, signed.refresh_token), 403)


async def test_reactivating_a_customer_lets_its_users_back_in(client, container):
    customer = await factories.customer(container)
    signed = await factories.account(client, container, tenant_id=customer.id)
    staff = await factories.account(client, container, tenant_id=None, role=Role.PROVIDER_ADMIN)
    url = f"/api/v1/customers/{customer.id}"
    await client.patch(url, headers=staff.headers, json={"status": "suspended"})

    await client.patch(url, headers=staff.headers, json={"status": "active"})

    assert (await me(client, signed.access_token)).status_code == 200


async def test_disabling_a_user_ends_their_sessions_and_sign_ins(client, container):
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    signed = await factories.account(client, container, tenant_id=customer.id)

    r = await client.patch(f"/api/v1/users/{signed.user.id}", headers=admin.headers, json={"is_active": False})

    assert r.status_code == 200, r.text
    assert r.json()["is_active"] is False
    assert_problem(await me(client, signed.access_token), 401)
    assert_problem(await refresh(client, signed.refresh_token), 401)
    assert_problem(await login(client, signed.user.email), 403)


# --- Rate limits -------------------------------------------------------------------------------


def frozen_limiter() -> MemoryRateLimiter:
    """A real limiter whose clock stands still 20 s before a window ends, so no window rolls over mid-test."""
    return MemoryRateLimiter(clock=lambda: 60 * 1_000_000 - 20.0)


async def test_per_user_rate_limit_answers_429_with_retry_after(tmp_path, sqlite_url):
    async with serve(tmp_path, sqlite_url, rate_limits={"per_user_per_minute": 3}) as (container, client):
        container.rate_limiter = frozen_limiter()
        customer = await factories.customer(container)
        signed = await factories.account(client, container, tenant_id=customer.id)
        neighbour = await factories.account(client, container, tenant_id=customer.id)

        statuses = [(await me(client, signed.access_token)).status_code for _ in range(3)]
        fourth = await me(client, signed.access_token)
        other = await me(client, neighbour.access_token)

    assert statuses == [200, 200, 200]
    assert_problem(fourth, 429)
    assert fourth.headers["Retry-After"] == "21"
    assert other.status_code == 200  # the budget is per user


async def test_per_tenant_rate_limit_is_shared_by_the_customers_users(tmp_path, sqlite_url):
    async with serve(tmp_path, sqlite_url, rate_limits={"per_tenant_per_minute": 3}) as (container, client):
        container.rate_limiter = frozen_limiter()
        customer = await factories.customer(container)
        other_customer = await factories.customer(container)
        first = await factories.account(client, container, tenant_id=customer.id)
        second = await factories.account(client, container, tenant_id=customer.id)
        elsewhere = await factories.account(client, container, tenant_id=other_customer.id)

        statuses = [(await me(client, u.access_token)).status_code for u in (first, second, first)]
        over = await me(client, second.access_token)
        other = await me(client, elsewhere.access_token)

    assert statuses == [200, 200, 200]
    assert_problem(over, 429)
    assert "Retry-After" in over.headers
    assert other.status_code == 200


async def test_sign_in_rate_limit_per_ip_answers_429(tmp_path, sqlite_url):
    async with serve(tmp_path, sqlite_url, rate_limits={"sign_in_per_ip_per_minute": 2}) as (container, client):
        container.rate_limiter = frozen_limiter()
        customer = await factories.customer(container)
        user = await factories.user(container, tenant_id=customer.id)

        first, second, third = [await login(client, user.email) for _ in range(3)]

    assert (first.status_code, second.status_code) == (200, 200)
    assert_problem(third, 429)
    assert int(third.headers["Retry-After"]) >= 1


async def test_per_ip_rate_limit_middleware_answers_429_and_spares_other_addresses(tmp_path, sqlite_url):
    container = build_container(make_settings(tmp_path, sqlite_url, rate_limits={"per_ip_per_minute": 3}))
    container.rate_limiter = frozen_limiter()
    app = create_app(container)
    here = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    there = httpx.ASGITransport(app=app, client=("127.0.0.2", 50000))
    try:
        async with httpx.AsyncClient(transport=here, base_url="http://testserver") as client:
            statuses = [(await client.get("/api/v1/auth/me")).status_code for _ in range(3)]
            fourth = await client.get("/api/v1/auth/me")
        async with httpx.AsyncClient(transport=there, base_url="http://testserver") as other:
            elsewhere = await other.get("/api/v1/auth/me")
    finally:
        await container.close()

    assert statuses == [401, 401, 401]
    body = assert_problem(fourth, 429)
    assert "127.0.0.1" in body["detail"]
    assert fourth.headers["Retry-After"] == "21"
    assert elsewhere.status_code == 401


async def test_unknown_email_is_refused_like_a_wrong_password(client, container):
    customer = await factories.customer(container)
    user = await factories.user(container, tenant_id=customer.id)

    unknown = await login(client, f"nobody-{uuid.uuid4().hex[:6]}@example.com")
    wrong = await login(client, user.email, "Wrong-Password-123")

    assert_problem(unknown, 401)
    assert_problem(wrong, 401)
    assert unknown.json()["detail"] == wrong.json()["detail"]


# --- Further lockout, MFA and account rules from docs/security.md ------------------------------


async def _expire_lock(container: Container, user_id: uuid.UUID) -> None:
    """Let the current lock run out (as if its time had passed), keeping the lock count."""
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        user = await uow.get(User, user_id)
        user.locked_until = datetime.now(UTC) - timedelta(seconds=1)
        await uow.commit()


async def test_each_further_lock_doubles_up_to_the_maximum(tmp_path, sqlite_url):
    security = {"lockout_threshold": 1, "lockout_base_s": 60, "lockout_max_s": 150}
    async with serve(tmp_path, sqlite_url, security=security) as (container, client):
        customer = await factories.customer(container)
        user = await factories.user(container, tenant_id=customer.id)
        waits = []
        for _ in range(3):
            await login(client, user.email, "Wrong-Password-123")
            waits.append(int((await login(client, user.email)).headers["Retry-After"]))
            await _expire_lock(container, user.id)

    assert 55 <= waits[0] <= 61
    assert 115 <= waits[1] <= 121
    assert 145 <= waits[2] <= 151  # 240 s capped at lockout_max_s


async def test_successful_sign_in_resets_the_failure_count(tmp_path, sqlite_url):
    async with serve(tmp_path, sqlite_url, security={"lockout_threshold": 3}) as (container, client):
        customer = await factories.customer(container)
        signed = await factories.account(client, container, tenant_id=customer.id)
        for _ in range(2):
            await login(client, signed.user.email, "Wrong-Password-123")
        await factories.sign_in(client, signed.user, authenticator=signed.authenticator)

        for _ in range(2):
            await login(client, signed.user.email, "Wrong-Password-123")
        r = await login(client, signed.user.email)

    assert r.status_code == 200, r.text


async def test_expired_mfa_challenge_is_refused(client, container, settings):
    customer = await factories.customer(container)
    user = await factories.user(container, tenant_id=customer.id)
    challenge = (await login(client, user.email)).json()
    claims = _claims_of(challenge["mfa_token"])
    past = datetime.now(UTC) - timedelta(minutes=30)
    claims.update(iat=past, exp=past + timedelta(seconds=300))
    stale = jwt.encode(claims, settings.security.jwt_secret, algorithm="HS256")

    r = await mfa(client, stale, pyotp.TOTP(challenge["secret"]).now())

    assert_problem(r, 401)


async def test_an_access_token_is_refused_as_an_mfa_challenge(client, container):
    customer = await factories.customer(container)
    signed = await factories.account(client, container, tenant_id=customer.id)

    r = await mfa(client, signed.access_token, signed.authenticator.code())

    assert_problem(r, 401)


async def test_renewing_recovery_codes_retires_the_old_ones(client, container):
    customer = await factories.customer(container)
    signed = await factories.account(client, container, tenant_id=customer.id)

    r = await client.post(
        "/api/v1/auth/recovery-codes", headers=signed.headers, json={"code": signed.authenticator.code()}
    )

    assert r.status_code == 200, r.text
    fresh = r.json()["recovery_codes"]
    assert len(fresh) == 10 and not set(fresh) & set(signed.recovery_codes)
    old = await mfa(client, (await login(client, signed.user.email)).json()["mfa_token"], signed.recovery_codes[0])
    assert_problem(old, 401)
    new = await mfa(client, (await login(client, signed.user.email)).json()["mfa_token"], fresh[0])
    assert new.status_code == 200, new.text


async def test_renewing_recovery_codes_needs_a_valid_totp_code(client, container):
    customer = await factories.customer(container)
    signed = await factories.account(client, container, tenant_id=customer.id)

    r = await client.post(
        "/api/v1/auth/recovery-codes", headers=signed.headers, json={"code": wrong_code(signed.authenticator.secret)}
    )

    assert_problem(r, 401)
    still = await mfa(client, (await login(client, signed.user.email)).json()["mfa_token"], signed.recovery_codes[0])
    assert still.status_code == 200


async def test_mfa_reset_signs_the_user_out_and_makes_them_enrol_again(client, container):
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    signed = await factories.account(client, container, tenant_id=customer.id)

    r = await client.post(f"/api/v1/users/{signed.user.id}/mfa-reset", headers=admin.headers)

    assert r.status_code == 200, r.text
    assert r.json()["mfa_enrolled"] is False
    assert_problem(await me(client, signed.access_token), 401)
    assert_problem(await refresh(client, signed.refresh_token), 401)
    challenge = (await login(client, signed.user.email)).json()
    assert challenge["enrollment_required"] is True
    assert challenge["secret"] != signed.authenticator.secret
    # The lost phone's codes are worthless now.
    assert_problem(await mfa(client, challenge["mfa_token"], signed.authenticator.code()), 401)


async def test_deleting_a_user_signs_them_out_everywhere(client, container):
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    signed = await factories.account(client, container, tenant_id=customer.id)

    r = await client.delete(f"/api/v1/users/{signed.user.id}", headers=admin.headers)

    assert r.status_code == 204, r.text
    assert_problem(await me(client, signed.access_token), 401)
    assert_problem(await refresh(client, signed.refresh_token), 401)
    assert_problem(await login(client, signed.user.email), 401)


async def test_users_of_a_closed_customer_cannot_sign_in_or_make_requests(client, container):
    customer = await factories.customer(container)
    signed = await factories.account(client, container, tenant_id=customer.id)
    staff = await factories.account(client, container, tenant_id=None, role=Role.PROVIDER_ADMIN)
    assert (await me(client, signed.access_token)).status_code == 200

    assert (await client.delete(f"/api/v1/customers/{customer.id}", headers=staff.headers)).status_code == 204

    assert_problem(await me(client, signed.access_token), 403)
    assert_problem(await login(client, signed.user.email), 403)


async def test_a_demoted_admin_loses_admin_rights_on_their_next_request(client, container):
    """The role in an unexpired access token must not outlive a demotion (like disabling, it applies at once)."""
    customer = await factories.customer(container)
    boss = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    demoted = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    assert (await client.get("/api/v1/users", headers=demoted.headers)).status_code == 200

    r = await client.patch(f"/api/v1/users/{demoted.user.id}", headers=boss.headers, json={"role": "viewer"})
    assert r.status_code == 200, r.text

    after = await client.post(
        "/api/v1/users",
        headers=demoted.headers,
        json={"email": f"sneaky-{uuid.uuid4().hex[:6]}@example.com", "role": "admin", "password": factories.PASSWORD},
    )
    assert after.status_code in (401, 403), f"a demoted Admin still created an Admin: {after.status_code}"
