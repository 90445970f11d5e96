"""Roles and the permission matrix (documented in docs/security.md; a test keeps the two equal).

Provider staff run the platform; Admin, Supervisor and Viewer belong to one customer.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a user is, which decides what they may do."""

    PROVIDER_ADMIN = "provider_admin"
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    VIEWER = "viewer"


CUSTOMER_ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.VIEWER)


class Permission(StrEnum):
    """One thing a user may be allowed to do."""

    CUSTOMER_MANAGE = "customer:manage"  # create customers, set licenses (provider)
    PLATFORM_OPS = "platform:ops"  # system-wide health, statistics, configuration defaults (provider)
    TENANT_SETTINGS = "tenant:settings"  # the customer's own security settings (IP allowlist)
    USER_READ = "user:read"
    USER_MANAGE = "user:manage"
    CAMERA_READ = "camera:read"
    CAMERA_WRITE = "camera:write"
    CAMERA_CONTROL = "camera:control"  # PTZ
    LIVE_VIEW = "live:view"
    PLAYBACK = "playback:view"
    EXPORT = "video:export"
    EVENT_READ = "event:read"
    EVENT_ACT = "event:act"  # acknowledge, resolve, notes, tags
    TICKET_WRITE = "ticket:write"
    CONFIG_READ = "config:read"
    CONFIG_WRITE = "config:write"
    AUDIT_READ = "audit:read"


P = Permission
_VIEWER = frozenset({P.CAMERA_READ, P.LIVE_VIEW, P.PLAYBACK, P.EVENT_READ})
_SUPERVISOR = _VIEWER | {
    P.USER_READ,
    P.CAMERA_WRITE,
    P.CAMERA_CONTROL,
    P.EXPORT,
    P.EVENT_ACT,
    P.TICKET_WRITE,
    P.CONFIG_READ,
}
_ADMIN = _SUPERVISOR | {P.USER_MANAGE, P.CONFIG_WRITE, P.AUDIT_READ, P.TENANT_SETTINGS}
_PROVIDER = frozenset({P.CUSTOMER_MANAGE, P.PLATFORM_OPS, P.AUDIT_READ, P.CONFIG_READ, P.CONFIG_WRITE})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.SUPERVISOR: frozenset(_SUPERVISOR),
    Role.ADMIN: frozenset(_ADMIN),
    Role.PROVIDER_ADMIN: _PROVIDER,
}
