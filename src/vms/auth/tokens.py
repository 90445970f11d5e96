"""JWT access tokens and MFA challenge tokens (HS256), and opaque refresh tokens.

Access tokens are short-lived and carry the session id, so signing out a session takes effect
at once through the revocation list in the cache. Refresh tokens are random strings stored
only as SHA-256 hashes; each use replaces them (rotation).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt

from vms.auth.permissions import Role
from vms.kernel.clock import utcnow
from vms.kernel.errors import Unauthenticated

ISSUER = "vms"
ACCESS = "access"
MFA_CHALLENGE = "mfa"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says about its bearer."""

    user_id: uuid.UUID
    email: str
    role: Role
    tenant_id: uuid.UUID | None
    session_id: uuid.UUID
    scope: frozenset[uuid.UUID] = frozenset()  # tree nodes the user is limited to; empty: the whole customer


class TokenSigner:
    """Issues and verifies the platform's JWTs.

    >>> signer = TokenSigner(secret="x" * 32, access_ttl_s=900, challenge_ttl_s=300)
    >>> signer.verify_access(signer.issue_access(claims)).user_id == claims.user_id
    True
    """

    def __init__(self, *, secret: str, access_ttl_s: int, challenge_ttl_s: int) -> None:
        self._secret = secret
        self.access_ttl_s = access_ttl_s
        self.challenge_ttl_s = challenge_ttl_s

    def issue_access(self, claims: AccessClaims) -> str:
        """A signed access token for `claims`."""
        payload: dict[str, Any] = {
            "typ": ACCESS,
            "sub": str(claims.user_id),
            "email": claims.email,
            "role": claims.role.value,
            "tid": str(claims.tenant_id) if claims.tenant_id else None,
            "sid": str(claims.session_id),
        }
        if claims.scope:
            payload["scp"] = sorted(str(node) for node in claims.scope)
        return self._encode(payload, self.access_ttl_s)

    def verify_access(self, token: str) -> AccessClaims:
        """Decode and check an access token; Unauthenticated if expired, tampered or of another type."""
        payload = self._decode(token, ACCESS)
        try:
            return AccessClaims(
                user_id=uuid.UUID(payload["sub"]),
                email=payload["email"],
                role=Role(payload["role"]),
                tenant_id=uuid.UUID(payload["tid"]) if payload.get("tid") else None,
                session_id=uuid.UUID(payload["sid"]),
                scope=frozenset(uuid.UUID(node) for node in payload.get("scp", ())),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise Unauthenticated("The access token is malformed.") from exc

    def issue_challenge(self, user_id: uuid.UUID) -> str:
        """A token proving the password was right; only the MFA step accepts it."""
        return self._encode({"typ": MFA_CHALLENGE, "sub": str(user_id)}, self.challenge_ttl_s)

    def verify_challenge(self, token: str) -> uuid.UUID:
        """The user a valid MFA challenge token was issued to."""
        payload = self._decode(token, MFA_CHALLENGE)
        try:
            return uuid.UUID(payload["sub"])
        except (KeyError, ValueError) as exc:
            raise Unauthenticated("The MFA challenge is malformed.") from exc

    def _encode(self, claims: dict[str, Any], ttl_s: int) -> str:
        now = utcnow()
        payload = {
            **claims,
            "iss": ISSUER,
            "iat": now,
            "exp": now + timedelta(seconds=ttl_s),
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(payload, self._secret, algorithm="HS256")

    def _decode(self, token: str, expected_type: str) -> dict[str, Any]:
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("The token has expired; sign in again or refresh it.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("The token is invalid.") from exc
        if payload.get("typ") != expected_type:
            raise Unauthenticated("This token cannot be used here.")
        return payload


def new_refresh_token() -> tuple[str, str]:
    """A fresh refresh token and the hash to store for it."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    """SHA-256 is enough: the token has 256 bits of entropy, so there is nothing to brute-force."""
    return hashlib.sha256(token.encode()).hexdigest()
