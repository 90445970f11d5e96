"""Routes: sign-in with mandatory MFA, tokens, sessions; user management."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from vms.api.deps import AppContainer, CurrentClient, CurrentUser, Paging, PublicUoW, UoW, require
from vms.auth import service, tickets, users
from vms.auth.permissions import Permission, Role
from vms.auth.principal import Principal
from vms.auth.schemas import (
    MfaChallenge,
    MfaVerify,
    PasswordChange,
    RecoveryCodes,
    RecoveryCodesRenew,
    Refresh,
    SessionRead,
    SignIn,
    StreamTicket,
    TokenPair,
    UserCreate,
    UserPage,
    UserRead,
    UserUpdate,
)
from vms.kernel.errors import RateLimited
from vms.tenants import service as tenants

router = APIRouter(prefix="/auth", tags=["auth"])
users_router = APIRouter(prefix="/users", tags=["users"])
customer_users = APIRouter(prefix="/customers", tags=["customers"])
UserManager = Annotated[Principal, Depends(require(Permission.USER_MANAGE))]
UserReader = Annotated[Principal, Depends(require(Permission.USER_READ))]


async def _limit_sign_in(container: AppContainer, client: CurrentClient) -> None:
    limit = container.settings.rate_limits.sign_in_per_ip_per_minute
    if limit > 0:
        decision = await container.rate_limiter.hit(f"sign-in:{client.ip}", limit=limit, window_s=60)
        if not decision.allowed:
            wait = int(decision.reset_after_s) + 1
            raise RateLimited(f"Too many sign-in attempts from {client.ip}; retry in {wait} s.", retry_after=wait)


SignInBudget = Depends(_limit_sign_in)


@router.post("/login", response_model=MfaChallenge, dependencies=[SignInBudget])
async def login(body: SignIn, uow: PublicUoW, container: AppContainer, client: CurrentClient) -> MfaChallenge:
    """Step 1 of sign-in: email and password. Answers with an MFA challenge, never a token."""
    try:
        return await service.sign_in(uow=uow, kit=container.identity, data=body, client=client)
    finally:
        await uow.commit()  # failed attempts count towards lockout even though this request fails


@router.post("/mfa", response_model=TokenPair, dependencies=[SignInBudget])
async def verify_mfa(body: MfaVerify, uow: PublicUoW, container: AppContainer, client: CurrentClient) -> TokenPair:
    """Step 2: a TOTP or recovery code. First sign-in completes enrolment and returns recovery codes once."""
    try:
        return await service.verify_mfa(uow=uow, kit=container.identity, data=body, client=client)
    finally:
        await uow.commit()  # failed codes count towards lockout


@router.post("/refresh", response_model=TokenPair, dependencies=[SignInBudget])
async def refresh(body: Refresh, uow: PublicUoW, container: AppContainer, client: CurrentClient) -> TokenPair:
    """Exchange a refresh token for a new pair; a reused token revokes its session."""
    try:
        return await service.refresh(uow=uow, kit=container.identity, token=body.refresh_token, client=client)
    finally:
        await uow.commit()  # a detected reuse must stay revoked


@router.post("/stream-ticket", response_model=StreamTicket)
async def issue_stream_ticket(user: CurrentUser, container: AppContainer) -> StreamTicket:
    """A one-time, 30-second ticket to open an event stream from a browser (which cannot send headers there)."""
    ticket = await tickets.issue(container.cache, user)
    return StreamTicket(ticket=ticket, expires_in_s=tickets.TICKET_TTL_S)


@router.post("/logout", status_code=204)
async def logout(uow: UoW, user: CurrentUser, container: AppContainer) -> Response:
    """Sign this session out; its access and refresh tokens stop working at once."""
    await service.sign_out(uow=uow, kit=container.identity, principal=user)
    return Response(status_code=204)


@router.get("/me", response_model=UserRead)
async def me(uow: UoW, user: CurrentUser) -> UserRead:
    """The signed-in user."""
    return await users.get_user(uow=uow, user_id=user.user_id)


@router.get("/sessions", response_model=list[SessionRead])
async def list_sessions(uow: UoW, user: CurrentUser) -> list[SessionRead]:
    """The caller's signed-in devices."""
    return await service.list_sessions(uow=uow, principal=user)


@router.delete("/sessions/{session_id}", status_code=204)
async def revoke_session(session_id: uuid.UUID, uow: UoW, user: CurrentUser, container: AppContainer) -> Response:
    """Sign one of the caller's devices out."""
    await service.revoke_session(uow=uow, kit=container.identity, principal=user, session_id=session_id)
    return Response(status_code=204)


@router.post("/password", status_code=204)
async def change_password(body: PasswordChange, uow: UoW, user: CurrentUser, container: AppContainer) -> Response:
    """Change one's password; other devices are signed out."""
    try:
        await service.change_password(uow=uow, kit=container.identity, principal=user, data=body)
    finally:
        await uow.commit()  # a wrong current password counts towards lockout
    return Response(status_code=204)


@router.post("/recovery-codes", response_model=RecoveryCodes)
async def renew_recovery_codes(
    body: RecoveryCodesRenew, uow: UoW, user: CurrentUser, container: AppContainer
) -> RecoveryCodes:
    """Replace the recovery codes (needs a current TOTP code)."""
    codes = await service.renew_recovery_codes(uow=uow, kit=container.identity, principal=user, code=body.code)
    return RecoveryCodes(recovery_codes=codes)


@users_router.get("", response_model=UserPage)
async def list_users(
    uow: UoW,
    user: UserReader,
    page: Paging,
    q: Annotated[str | None, Query(max_length=200, description="Text in email or name.")] = None,
    role: Role | None = None,
) -> UserPage:
    """Users of the caller's customer."""
    items, total = await users.list_users(uow=uow, query=q, role=role, limit=page.limit, offset=page.offset)
    return UserPage(items=items, total=total, limit=page.limit, offset=page.offset)


@users_router.post("", status_code=201, response_model=UserRead)
async def create_user(body: UserCreate, uow: UoW, user: UserManager, container: AppContainer) -> UserRead:
    """Add a user to the caller's customer (they enrol MFA at first sign-in)."""
    await tenants.ensure_license_active(uow=uow, tenant_id=user.tenant)
    return await users.create_user(uow=uow, kit=container.identity, tenant_id=user.tenant, data=body)


@users_router.get("/{user_id}", response_model=UserRead)
async def get_user(user_id: uuid.UUID, uow: UoW, user: UserReader) -> UserRead:
    """One user of the caller's customer."""
    return await users.get_user(uow=uow, user_id=user_id)


@users_router.patch("/{user_id}", response_model=UserRead)
async def update_user(
    user_id: uuid.UUID, body: UserUpdate, uow: UoW, user: UserManager, container: AppContainer
) -> UserRead:
    """Change a user's name, role or active flag."""
    return await users.update_user(uow=uow, kit=container.identity, actor=user, user_id=user_id, data=body)


@users_router.delete("/{user_id}", status_code=204)
async def delete_user(user_id: uuid.UUID, uow: UoW, user: UserManager, container: AppContainer) -> Response:
    """Remove a user; they are signed out everywhere."""
    await users.delete_user(uow=uow, kit=container.identity, actor=user, user_id=user_id)
    return Response(status_code=204)


@users_router.post("/{user_id}/mfa-reset", response_model=UserRead)
async def reset_user_mfa(user_id: uuid.UUID, uow: UoW, user: UserManager, container: AppContainer) -> UserRead:
    """Forget a user's authenticator (lost phone); they enrol again at next sign-in."""
    return await users.reset_mfa(uow=uow, kit=container.identity, user_id=user_id)


@users_router.post("/{user_id}/unlock", response_model=UserRead)
async def unlock_user(user_id: uuid.UUID, uow: UoW, user: UserManager) -> UserRead:
    """Lift a sign-in lockout early."""
    return await users.unlock(uow=uow, user_id=user_id)


@customer_users.post("/{customer_id}/users", status_code=201, response_model=UserRead)
async def create_customer_user(
    customer_id: uuid.UUID,
    body: UserCreate,
    uow: UoW,
    _: Annotated[Principal, Depends(require(Permission.CUSTOMER_MANAGE))],
    container: AppContainer,
) -> UserRead:
    """Provider staff: add a user (typically the first Admin) to a customer."""
    await tenants.get_customer(uow=uow, tenant_id=customer_id)
    return await users.create_user(uow=uow, kit=container.identity, tenant_id=customer_id, data=body)
