"""Sign-in end to end through the API: password, mandatory MFA enrolment, tokens."""

from __future__ import annotations

import pyotp

from tests import factories
from vms.auth.permissions import Role


async def test_first_sign_in_enrols_mfa_and_returns_recovery_codes_once(client, container):
    customer = await factories.customer(container)
    user = await factories.user(container, tenant_id=customer.id, role=Role.ADMIN)

    r = await client.post("/api/v1/auth/login", json={"email": user.email, "password": factories.PASSWORD})
    challenge = r.json()
    assert r.status_code == 200
    assert challenge["enrollment_required"] is True
    assert challenge["otpauth_uri"].startswith("otpauth://totp/")
    assert "access_token" not in challenge

    code = pyotp.TOTP(challenge["secret"]).now()
    r = await client.post("/api/v1/auth/mfa", json={"mfa_token": challenge["mfa_token"], "code": code})
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert len(tokens["recovery_codes"]) == 10

    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["mfa_enrolled"] is True

    # Second sign-in: no enrolment, no secret shown again, no recovery codes.
    r = await client.post("/api/v1/auth/login", json={"email": user.email, "password": factories.PASSWORD})
    assert r.json()["enrollment_required"] is False
    assert r.json()["secret"] is None
