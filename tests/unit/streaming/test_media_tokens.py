"""Signed media tokens: bound to user, tenant, camera, URL scope and expiry; anything else is refused (403)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from vms.kernel.clock import utcnow
from vms.streaming.tokens import MediaTokenRefused, MediaTokens

SECRET = "s" * 40
CAM = uuid.uuid4()
SCOPE = f"/api/v1/cameras/{CAM}/hls/"


def issue(tokens: MediaTokens, **overrides):
    values = {"user_id": uuid.uuid4(), "tenant_id": uuid.uuid4(), "camera_id": CAM, "scope": SCOPE, "ttl_s": 60}
    return tokens.issue(**(values | overrides)), values


def test_a_token_opens_its_camera_under_its_scope_and_says_who_it_is():
    tokens = MediaTokens(secret=SECRET)
    session = uuid.uuid4()
    token, values = issue(tokens, session_id=session)
    claims = tokens.verify(token, camera_id=CAM, path=SCOPE + "live/main.m3u8")
    assert (claims.user_id, claims.tenant_id, claims.camera_id, claims.session_id) == (
        values["user_id"],
        values["tenant_id"],
        CAM,
        session,
    )
    assert claims.expires_at - utcnow() <= timedelta(seconds=61)


def test_an_expired_token_is_refused():
    tokens = MediaTokens(secret=SECRET)
    token, _ = issue(tokens, ttl_s=30)
    tokens.verify(token, now=utcnow() + timedelta(seconds=25))
    with pytest.raises(MediaTokenRefused, match="expired") as refused:
        tokens.verify(token, now=utcnow() + timedelta(seconds=31))
    assert refused.value.status == 403


@pytest.mark.parametrize("part", [1, 2])
def test_a_tampered_token_is_refused(part: int):
    tokens = MediaTokens(secret=SECRET)
    token, _ = issue(tokens)
    pieces = token.split(".")
    piece = pieces[part]
    pieces[part] = piece[:-3] + ("A" if piece[-3] != "A" else "B") + piece[-2:]
    with pytest.raises(MediaTokenRefused, match="signature"):
        tokens.verify(".".join(pieces))


def test_a_token_with_an_extended_expiry_but_the_old_signature_is_refused():
    import base64
    import json

    tokens = MediaTokens(secret=SECRET)
    token, _ = issue(tokens)
    version, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["e"] += 86_400
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(MediaTokenRefused):
        tokens.verify(f"{version}.{forged}.{signature}")


def test_a_token_of_another_secret_is_refused():
    token, _ = issue(MediaTokens(secret="x" * 40))
    with pytest.raises(MediaTokenRefused):
        MediaTokens(secret=SECRET).verify(token)


def test_another_camera_or_path_is_refused():
    tokens = MediaTokens(secret=SECRET)
    token, _ = issue(tokens)
    with pytest.raises(MediaTokenRefused, match="another camera"):
        tokens.verify(token, camera_id=uuid.uuid4())
    with pytest.raises(MediaTokenRefused, match="does not open"):
        tokens.verify(token, path=f"/api/v1/cameras/{uuid.uuid4()}/hls/live/main.m3u8")
    with pytest.raises(MediaTokenRefused, match="does not open"):
        tokens.verify(token, path="/api/v1/exports/1/download")


@pytest.mark.parametrize("garbage", ["", "abc", "v1.x.y", "v2.a.b", "v1..", "v1.!!!.sig", "v1." + "A" * 500 + ".x"])
def test_garbage_is_refused_not_crashed_on(garbage: str):
    with pytest.raises(MediaTokenRefused):
        MediaTokens(secret=SECRET).verify(garbage)


def test_a_validly_signed_but_unreadable_body_is_refused():
    tokens = MediaTokens(secret=SECRET)
    body = "bm90LWpzb24"  # "not-json"
    with pytest.raises(MediaTokenRefused, match="malformed"):
        tokens.verify(f"v1.{body}.{tokens._sign(body)}")
