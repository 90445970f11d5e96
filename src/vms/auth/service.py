"""Signing in (password, then mandatory MFA), token refresh with rotation, sessions, lockout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from vms.auth.mfa import (
    hash_recovery_code,
    new_recovery_codes,
    new_totp_secret,
    provisioning_uri,
    verify_totp,
)
from vms.auth.models import AuthSession, RefreshToken, User
from vms.auth.passwords import Passwords
from vms.auth.permissions import Role
from vms.auth.principal import Principal
from vms.auth.schemas import MfaChallenge, MfaVerify, PasswordChange, SessionRead, SignIn, TokenPair
from vms.auth.tokens import AccessClaims, TokenSigner, hash_refresh_token, new_refresh_token
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.crypto import SecretBox
from vms.kernel.errors import AccountLocked, Forbidden, InvalidCredentials, NotFound, Unauthenticated
from vms.ports import Cache
from vms.tenants import service as tenants
from vms.uow import UnitOfWork

REVOKED_PREFIX = "auth:revoked-session:"


@dataclass(frozen=True, slots=True)
class IdentityKit:
    """What the identity services need, built once by bootstrap from settings."""

    passwords: Passwords
    signer: TokenSigner
    secrets: SecretBox
    cache: Cache
    mfa_issuer: str
    refresh_ttl_s: int
    lockout_threshold: int
    lockout_base_s: int
    lockout_max_s: int


@dataclass(frozen=True, slots=True)
class Client:
    """Where a request comes from, for allowlists and the session list."""

    ip: str | None
    user_agent: str | None = None


async def sign_in(*, uow: UnitOfWork, kit: IdentityKit, data: SignIn, client: Client) -> MfaChallenge:
    """Check email and password and return an MFA challenge (never a token).

    Failed attempts are recorded on the user; the caller commits them even when this raises.
    """
    user = await _user_by_email(uow, str(data.email))
    if user is None:
        kit.passwords.verify(kit.passwords.dummy_hash, data.password)  # same timing as a wrong password
        raise InvalidCredentials("Wrong email or password.")
    _ensure_not_locked(user)
    if not kit.passwords.verify(user.password_hash, data.password):
        _record_failure(user, kit)
        raise InvalidCredentials("Wrong email or password.")
    await _ensure_may_sign_in(uow, user, client)
    enrolling = user.mfa_enrolled_at is None
    if enrolling and user.totp_secret is None:
        user.totp_secret = kit.secrets.encrypt(new_totp_secret())
    secret = kit.secrets.decrypt(user.totp_secret) if enrolling and user.totp_secret else None
    return MfaChallenge(
        mfa_token=kit.signer.issue_challenge(user.id),
        enrollment_required=enrolling,
        otpauth_uri=provisioning_uri(secret, email=user.email, issuer=kit.mfa_issuer) if secret else None,
        secret=secret,
    )


async def verify_mfa(*, uow: UnitOfWork, kit: IdentityKit, data: MfaVerify, client: Client) -> TokenPair:
    """Check the second factor and open a session; completes enrolment on first sign-in."""
    user = await uow.session.get(User, kit.signer.verify_challenge(data.mfa_token))
    if user is None or user.totp_secret is None:
        raise InvalidCredentials("Sign in again.")
    _ensure_not_locked(user)
    await _ensure_may_sign_in(uow, user, client)
    enrolling = user.mfa_enrolled_at is None
    step = verify_totp(kit.secrets.decrypt(user.totp_secret), data.code, last_step=user.totp_last_step)
    code_hash = hash_recovery_code(data.code)
    if step is not None:
        user.totp_last_step = step
    elif not enrolling and code_hash in user.recovery_code_hashes:
        user.recovery_code_hashes = [h for h in user.recovery_code_hashes if h != code_hash]
    else:
        _record_failure(user, kit)
        raise InvalidCredentials("The code is wrong, expired or already used.")
    recovery_codes = None
    if enrolling:
        user.mfa_enrolled_at = utcnow()
        recovery_codes, user.recovery_code_hashes = new_recovery_codes()
    user.failed_sign_ins, user.lock_count, user.locked_until = 0, 0, None
    user.last_sign_in_at = utcnow()
    session = AuthSession(
        tenant_id=user.tenant_id,
        user_id=user.id,
        last_used_at=utcnow(),
        expires_at=utcnow() + timedelta(seconds=kit.refresh_ttl_s),
        ip=client.ip,
        user_agent=(client.user_agent or "")[:400] or None,
    )
    uow.add(session)
    await uow.flush()
    uow.audit(
        "sign_in",
        "session",
        session.id,
        new={"user_id": str(user.id), "ip": client.ip},
        tenant_id=user.tenant_id,
    )
    pair = await _issue_tokens(uow, kit, user, session)
    return pair.model_copy(update={"recovery_codes": recovery_codes})


async def refresh(*, uow: UnitOfWork, kit: IdentityKit, token: str, client: Client) -> TokenPair:
    """Exchange a refresh token for a new pair. Reusing a spent token revokes its whole session.

    The caller commits even when this raises, so a detected reuse stays revoked.
    """
    row = (
        await uow.session.execute(select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(token)))
    ).scalar_one_or_none()
    if row is None:
        raise Unauthenticated("Unknown refresh token; sign in again.")
    session = await uow.session.get(AuthSession, row.session_id)
    if session is None or session.revoked_at is not None:
        raise Unauthenticated("This session has been signed out; sign in again.")
    if row.used_at is not None:
        await _revoke(uow, kit, session, reason="refresh_token_reuse")
        raise Unauthenticated("This refresh token was already used; the session was revoked for safety.")
    if as_utc(row.expires_at) <= utcnow():
        raise Unauthenticated("The refresh token has expired; sign in again.")
    user = await uow.session.get(User, session.user_id)
    if user is None:
        raise Unauthenticated("Sign in again.")
    await _ensure_may_sign_in(uow, user, client)
    row.used_at = utcnow()
    session.last_used_at = utcnow()
    return await _issue_tokens(uow, kit, user, session)


async def sign_out(*, uow: UnitOfWork, kit: IdentityKit, principal: Principal) -> None:
    """Revoke the caller's current session."""
    session = await uow.session.get(AuthSession, principal.session_id)
    if session is not None and session.revoked_at is None:
        await _revoke(uow, kit, session, reason="sign_out")


async def list_sessions(*, uow: UnitOfWork, principal: Principal) -> list[SessionRead]:
    """The caller's open sessions, newest first."""
    rows = (
        await uow.session.execute(
            select(AuthSession)
            .where(AuthSession.user_id == principal.user_id, AuthSession.revoked_at.is_(None))
            .where(AuthSession.expires_at > utcnow())
            .order_by(AuthSession.last_used_at.desc())
        )
    ).scalars()
    return [
        SessionRead.model_validate(row, from_attributes=True).model_copy(
            update={"current": row.id == principal.session_id}
        )
        for row in rows
    ]


async def revoke_session(*, uow: UnitOfWork, kit: IdentityKit, principal: Principal, session_id: uuid.UUID) -> None:
    """Sign one of the caller's own devices out."""
    session = await uow.session.get(AuthSession, session_id)
    if session is None or session.user_id != principal.user_id or session.revoked_at is not None:
        raise NotFound(f"Session {session_id} not found.")
    await _revoke(uow, kit, session, reason="revoked_by_user")


async def revoke_all_sessions(
    *, uow: UnitOfWork, kit: IdentityKit, user_id: uuid.UUID, reason: str, keep: uuid.UUID | None = None
) -> None:
    """Sign a user out everywhere (except session `keep`)."""
    rows = (
        await uow.session.execute(
            select(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        )
    ).scalars()
    for session in rows:
        if session.id != keep:
            await _revoke(uow, kit, session, reason=reason)


async def change_password(*, uow: UnitOfWork, kit: IdentityKit, principal: Principal, data: PasswordChange) -> None:
    """Change the caller's password; other sessions are signed out."""
    user = await uow.get(User, principal.user_id, what="User")
    _ensure_not_locked(user)
    if not kit.passwords.verify(user.password_hash, data.current_password):
        _record_failure(user, kit)  # a stolen access token must not allow unlimited guessing
        raise InvalidCredentials("The current password is wrong.")
    kit.passwords.check_policy(data.new_password, email=user.email)
    user.password_hash = kit.passwords.hash(data.new_password)
    user.password_changed_at = utcnow()
    await revoke_all_sessions(uow=uow, kit=kit, user_id=user.id, reason="password_changed", keep=principal.session_id)
    uow.audit("change_password", "user", user.id)


async def renew_recovery_codes(*, uow: UnitOfWork, kit: IdentityKit, principal: Principal, code: str) -> list[str]:
    """New recovery codes after proving possession of the authenticator."""
    user = await uow.get(User, principal.user_id, what="User")
    step = verify_totp(kit.secrets.decrypt(user.totp_secret or ""), code, last_step=user.totp_last_step)
    if step is None:
        raise InvalidCredentials("The code is wrong, expired or already used.")
    user.totp_last_step = step
    codes, user.recovery_code_hashes = new_recovery_codes()
    uow.audit("renew_recovery_codes", "user", user.id)
    return codes


async def is_session_revoked(cache: Cache, session_id: uuid.UUID) -> bool:
    """Whether a session was signed out while its access tokens may still be unexpired."""
    return await cache.get(REVOKED_PREFIX + str(session_id)) is not None


async def _issue_tokens(uow: UnitOfWork, kit: IdentityKit, user: User, session: AuthSession) -> TokenPair:
    token, token_hash = new_refresh_token()
    uow.add(RefreshToken(session_id=session.id, token_hash=token_hash, expires_at=session.expires_at))
    access = kit.signer.issue_access(
        AccessClaims(
            user_id=user.id,
            email=user.email,
            role=Role(user.role),
            tenant_id=user.tenant_id,
            session_id=session.id,
            scope=frozenset(uuid.UUID(node) for node in user.scope_node_ids),
        )
    )
    return TokenPair(
        access_token=access, refresh_token=token, expires_in=kit.signer.access_ttl_s, session_id=session.id
    )


async def _revoke(uow: UnitOfWork, kit: IdentityKit, session: AuthSession, *, reason: str) -> None:
    session.revoked_at = utcnow()
    session.revoke_reason = reason
    await uow.session.execute(
        update(RefreshToken)
        .where(RefreshToken.session_id == session.id, RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    # Access tokens of this session stay valid until they expire; the revocation list closes that gap.
    await kit.cache.set(REVOKED_PREFIX + str(session.id), reason.encode(), ttl_s=kit.signer.access_ttl_s + 60)
    uow.audit("revoke", "session", session.id, new={"reason": reason}, tenant_id=session.tenant_id)


async def _user_by_email(uow: UnitOfWork, email: str) -> User | None:
    return (await uow.session.execute(select(User).where(User.email == email.lower()))).scalar_one_or_none()


async def _ensure_may_sign_in(uow: UnitOfWork, user: User, client: Client) -> None:
    if not user.is_active:
        raise Forbidden("This account is disabled; ask your administrator.")
    if user.tenant_id is not None:
        tenant = await tenants.ensure_tenant_active(uow=uow, tenant_id=user.tenant_id)
        if not tenants.ip_allowed(client.ip or "", tenant.ip_allowlist):  # no usable address: closed
            raise Forbidden(f"Sign-in from {client.ip} is not allowed for this customer (IP allowlist).")


def _ensure_not_locked(user: User) -> None:
    if user.locked_until is not None and as_utc(user.locked_until) > utcnow():
        wait = int((as_utc(user.locked_until) - utcnow()).total_seconds()) + 1
        raise AccountLocked(f"Too many failed sign-ins; try again in {wait} seconds.", retry_after=wait)


def _record_failure(user: User, kit: IdentityKit) -> None:
    user.failed_sign_ins += 1
    if user.failed_sign_ins >= kit.lockout_threshold:
        user.lock_count += 1
        seconds = min(kit.lockout_base_s * 2 ** (user.lock_count - 1), kit.lockout_max_s)
        user.locked_until = utcnow() + timedelta(seconds=seconds)
        user.failed_sign_ins = 0
