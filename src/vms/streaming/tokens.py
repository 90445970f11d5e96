"""Short-lived signed media tokens: the credential a <video> element can carry.

Browsers' video elements (and ffmpeg, VLC, hls.js without custom loaders) cannot send an
`Authorization` header, so media URLs (HLS playlists and segments, thumbnails, export downloads,
event clips) carry `?token=…`, or for HLS a path segment `…/hls/t/<token>/…` that every relative
URI in a playlist inherits (playback_api.py). A token names who may fetch what, until when:

    v1.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>

Claims: user, tenant, session, role, camera, a path scope (the URL prefix it opens) and an expiry.
The HMAC key is derived from `security.jwt_secret` with a fixed label, so a media token can never
be replayed as an access token (or the other way round) even though one secret is configured.
Tokens are not JWTs on purpose: they are shorter (they sit in every media URL handed out) and
there is no algorithm header to negotiate. Refusals (expired, tampered, other camera, other
path) are all 403: the caller holds a credential, it just does not open this.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from vms.kernel.clock import utcnow
from vms.kernel.errors import Forbidden

VERSION = "v1"
_LABEL = b"vms-media-token-v1"


class MediaTokenRefused(Forbidden):
    """A media token that is malformed, tampered, expired or for another camera or path."""

    title = "Media token refused"


@dataclass(frozen=True, slots=True)
class MediaClaims:
    """What a verified media token allows."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    session_id: uuid.UUID | None
    camera_id: uuid.UUID
    role: str | None  # the holder's role when the token was issued (permissions are checked again on use)
    scope: str  # URL path prefix the token opens, e.g. /api/v1/cameras/<id>/hls/
    expires_at: datetime

    def allows(self, path: str) -> bool:
        """Whether the token opens `path` (a prefix match on the URL path)."""
        return path.startswith(self.scope)


class MediaTokens:
    """Issues and verifies media tokens with one secret.

    >>> tokens = MediaTokens(secret="x" * 32)
    >>> t = tokens.issue(user_id=u, tenant_id=t_id, camera_id=c, scope="/api/v1/cameras/c/hls/", ttl_s=300)
    >>> tokens.verify(t, camera_id=c, path="/api/v1/cameras/c/hls/live/main.m3u8").user_id == u
    True
    """

    def __init__(self, *, secret: str) -> None:
        self._key = hmac.new(secret.encode(), _LABEL, hashlib.sha256).digest()

    def issue(
        self,
        *,
        user_id: uuid.UUID,
        tenant_id: uuid.UUID,
        camera_id: uuid.UUID,
        scope: str,
        ttl_s: float | None = None,
        expires_at: datetime | None = None,
        session_id: uuid.UUID | None = None,
        role: str | None = None,
        now: datetime | None = None,
    ) -> str:
        """A token for `scope` of one camera, valid for `ttl_s` seconds or until `expires_at`."""
        if expires_at is None:
            if ttl_s is None:
                raise ValueError("Give ttl_s or expires_at.")
            expires_at = (now or utcnow()) + timedelta(seconds=ttl_s)
        claims = {
            "u": user_id.hex,
            "t": tenant_id.hex,
            "c": camera_id.hex,
            "p": scope,
            "e": int(expires_at.timestamp()),
        }
        if session_id is not None:
            claims["s"] = session_id.hex
        if role is not None:
            claims["r"] = role
        body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        return f"{VERSION}.{body}.{self._sign(body)}"

    def verify(
        self, token: str, *, camera_id: uuid.UUID | None = None, path: str | None = None, now: datetime | None = None
    ) -> MediaClaims:
        """Check signature, expiry, camera and path; MediaTokenRefused (403) on any failure."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != VERSION:
            raise MediaTokenRefused("The media token is malformed; ask the API for a new media URL.")
        _, body, signature = parts
        # Constant-time comparison: the signature check must not leak how many bytes matched.
        if not hmac.compare_digest(signature, self._sign(body)):
            raise MediaTokenRefused("The media token's signature does not match; ask the API for a new media URL.")
        try:
            raw = json.loads(_unb64(body))
            claims = MediaClaims(
                user_id=uuid.UUID(hex=raw["u"]),
                tenant_id=uuid.UUID(hex=raw["t"]),
                session_id=uuid.UUID(hex=raw["s"]) if raw.get("s") else None,
                camera_id=uuid.UUID(hex=raw["c"]),
                role=str(raw["r"]) if raw.get("r") else None,
                scope=str(raw["p"]),
                expires_at=datetime.fromtimestamp(int(raw["e"]), UTC),
            )
        except (ValueError, KeyError, TypeError) as exc:  # signed by us yet unreadable: an old format
            raise MediaTokenRefused("The media token is malformed; ask the API for a new media URL.") from exc
        if (now or utcnow()) >= claims.expires_at:
            raise MediaTokenRefused("The media token has expired; ask the API for a new media URL.")
        if camera_id is not None and claims.camera_id != camera_id:
            raise MediaTokenRefused("The media token is for another camera.")
        if path is not None and not claims.allows(path):
            raise MediaTokenRefused("The media token does not open this URL.")
        return claims

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc
