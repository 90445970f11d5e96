"""Tables of the identity domain: users, sign-in sessions and their refresh tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from vms.kernel.orm import Base, HasId, TenantOwned


class User(HasId, TenantOwned, Base):
    """A person who signs in. Provider staff have no tenant; customer users have exactly one."""

    __tablename__ = "users"

    tenant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenants.id"), index=True)  # type: ignore[assignment]
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime | None]
    # MFA: the TOTP seed is encrypted at rest; enrolled_at stays empty until the first code proves the app works.
    totp_secret: Mapped[str | None] = mapped_column(String(512))
    mfa_enrolled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int] = mapped_column(default=0)  # refuses replay of a code already used
    recovery_code_hashes: Mapped[list[str]] = mapped_column(default=list)
    # Lockout: failures since the last success; each lock doubles the next one.
    failed_sign_ins: Mapped[int] = mapped_column(default=0)
    lock_count: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_sign_in_at: Mapped[datetime | None]
    # Tree nodes (sites, buildings, floors, zones) the user is limited to; empty: the whole customer.
    scope_node_ids: Mapped[list[str]] = mapped_column(default=list)


class AuthSession(HasId, TenantOwned, Base):
    """A signed-in device: one refresh-token family. Revoking it signs that device out."""

    __tablename__ = "auth_sessions"

    tenant_id: Mapped[uuid.UUID | None] = mapped_column(index=True)  # type: ignore[assignment]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    last_used_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(String(64))


class RefreshToken(HasId, Base):
    """One refresh token of a session; used once, then replaced (rotation)."""

    __tablename__ = "refresh_tokens"

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
