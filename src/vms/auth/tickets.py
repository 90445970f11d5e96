"""Stream tickets: how connections that cannot send headers prove who they are.

Browsers open EventSource and WebSocket connections without an `Authorization` header, and an
access token in a URL would end up in proxy and server logs for its whole lifetime. So a signed-in
client first asks for a ticket (an authenticated POST), then opens the stream with `?ticket=…`:
the ticket is random, lives 30 seconds, works once, and names the same user and session as the
access token it was issued for — a later sign-out still ends the session for the stream's checks.

>>> ticket = await issue(cache, principal)
>>> principal = await redeem(cache, ticket)
"""

from __future__ import annotations

import json
import secrets
import uuid

from vms.auth.permissions import Role
from vms.auth.principal import Principal
from vms.kernel.errors import Unauthenticated
from vms.ports import Cache

TICKET_TTL_S = 30
_PREFIX = "stream-ticket:"


async def issue(cache: Cache, principal: Principal) -> str:
    """A one-time ticket for `principal`, valid for TICKET_TTL_S seconds."""
    ticket = secrets.token_urlsafe(24)
    document = {
        "user_id": str(principal.user_id),
        "email": principal.email,
        "role": principal.role.value,
        "tenant_id": str(principal.tenant_id) if principal.tenant_id else None,
        "session_id": str(principal.session_id),
        "scope": sorted(str(node) for node in principal.scope),
    }
    await cache.set(_PREFIX + ticket, json.dumps(document).encode(), ttl_s=TICKET_TTL_S)
    return ticket


async def redeem(cache: Cache, ticket: str) -> Principal:
    """The principal a ticket was issued to; the ticket is used up. Unauthenticated if unknown or expired."""
    key = _PREFIX + ticket
    stored = await cache.get(key) if 16 <= len(ticket) <= 64 else None
    if stored is None:
        raise Unauthenticated("This stream ticket is unknown, used or expired; get one from POST /auth/stream-ticket.")
    await cache.delete(key)
    doc = json.loads(stored)
    return Principal(
        user_id=uuid.UUID(doc["user_id"]),
        email=doc["email"],
        role=Role(doc["role"]),
        tenant_id=uuid.UUID(doc["tenant_id"]) if doc["tenant_id"] else None,  # type: ignore[arg-type]
        session_id=uuid.UUID(doc["session_id"]),
        scope=frozenset(uuid.UUID(node) for node in doc.get("scope", ())),
    )
