"""User management by a customer's Admin (and provider staff for a customer's first Admin)."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select

from vms.auth.models import User
from vms.auth.permissions import CUSTOMER_ROLES, Role
from vms.auth.principal import Principal
from vms.auth.schemas import UserCreate, UserRead, UserUpdate
from vms.auth.service import IdentityKit, revoke_all_sessions
from vms.cameras import hierarchy
from vms.kernel.clock import as_utc
from vms.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from vms.kernel.paging import LIKE_ESCAPE, contains_pattern
from vms.uow import UnitOfWork


async def create_user(*, uow: UnitOfWork, kit: IdentityKit, tenant_id: uuid.UUID | None, data: UserCreate) -> UserRead:
    """Create a user; customer users get customer roles only, provider staff have no tenant."""
    if tenant_id is not None and data.role not in CUSTOMER_ROLES:
        raise Forbidden("Customer users can be Admin, Supervisor or Viewer.")
    if tenant_id is None and data.role is not Role.PROVIDER_ADMIN:
        raise Forbidden("Users without a customer must be provider staff.")
    email = str(data.email).lower()
    if (await uow.session.execute(select(User.id).where(User.email == email))).first():
        raise Conflict(f"A user with email {email} already exists.")
    kit.passwords.check_policy(data.password, email=email)
    scope = await _checked_scope(uow, role=data.role, node_ids=data.scope_node_ids)
    user = User(
        tenant_id=tenant_id,
        email=email,
        full_name=data.full_name,
        role=data.role.value,
        password_hash=kit.passwords.hash(data.password),
        scope_node_ids=scope,
    )
    uow.add(user)
    await uow.flush()
    read = user_read(user)
    uow.audit("create", "user", user.id, new=read, tenant_id=tenant_id)
    return read


async def list_users(
    *, uow: UnitOfWork, query: str | None, role: Role | None, limit: int, offset: int
) -> tuple[list[UserRead], int]:
    """Users of the unit of work's tenant, filtered by text and role, by email."""
    stmt = select(User).order_by(User.email)
    if uow.tenant_id is not None:
        stmt = stmt.where(User.tenant_id == uow.tenant_id)
    if query:
        like = contains_pattern(query)
        stmt = stmt.where(
            or_(User.email.ilike(like, escape=LIKE_ESCAPE), User.full_name.ilike(like, escape=LIKE_ESCAPE))
        )
    if role:
        stmt = stmt.where(User.role == role.value)
    users, total = await uow.page(stmt, limit=limit, offset=offset)
    return [user_read(u) for u in users], total


async def get_user(*, uow: UnitOfWork, user_id: uuid.UUID) -> UserRead:
    """One user of the tenant."""
    return user_read(await uow.get(User, user_id, what="User"))


async def update_user(
    *, uow: UnitOfWork, kit: IdentityKit, actor: Principal, user_id: uuid.UUID, data: UserUpdate
) -> UserRead:
    """Change a user's name, role or active flag; disabling signs them out everywhere."""
    user = await uow.get(User, user_id, what="User")
    before = user_read(user)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if user.id == actor.user_id and ({"role", "is_active"} & changes.keys()):
        raise Conflict("You cannot change your own role or disable yourself; ask another Admin.")
    if "role" in changes and Role(changes["role"]) not in CUSTOMER_ROLES:
        raise Forbidden("Customer users can be Admin, Supervisor or Viewer.")
    role = Role(changes.get("role", user.role))
    node_ids = changes.pop("scope_node_ids", [uuid.UUID(node) for node in user.scope_node_ids])
    changes["scope_node_ids"] = await _checked_scope(uow, role=role, node_ids=node_ids)
    for key, value in changes.items():
        setattr(user, key, value.value if isinstance(value, Role) else value)
    if changes.get("is_active") is False:
        await revoke_all_sessions(uow=uow, kit=kit, user_id=user.id, reason="user_disabled")
    elif "role" in changes and changes["role"] != before.role:
        # Access tokens carry the role: sign the user out so the new role applies at once.
        await revoke_all_sessions(uow=uow, kit=kit, user_id=user.id, reason="role_changed")
    elif set(changes["scope_node_ids"]) != {str(node) for node in before.scope_node_ids}:
        # ... and the scope, likewise.
        await revoke_all_sessions(uow=uow, kit=kit, user_id=user.id, reason="scope_changed")
    after = user_read(user)
    uow.audit("update", "user", user.id, old=before, new=after)
    return after


async def delete_user(*, uow: UnitOfWork, kit: IdentityKit, actor: Principal, user_id: uuid.UUID) -> None:
    """Remove a user and sign them out."""
    user = await uow.get(User, user_id, what="User")
    if user.id == actor.user_id:
        raise Conflict("You cannot delete yourself; ask another Admin.")
    before = user_read(user)
    await revoke_all_sessions(uow=uow, kit=kit, user_id=user.id, reason="user_deleted")
    await uow.delete(user)
    uow.audit("delete", "user", user.id, old=before)


async def reset_mfa(*, uow: UnitOfWork, kit: IdentityKit, user_id: uuid.UUID) -> UserRead:
    """Forget a user's authenticator (lost phone): they enrol again at next sign-in."""
    user = await uow.get(User, user_id, what="User")
    user.totp_secret, user.mfa_enrolled_at, user.recovery_code_hashes, user.totp_last_step = None, None, [], 0
    await revoke_all_sessions(uow=uow, kit=kit, user_id=user.id, reason="mfa_reset")
    uow.audit("reset_mfa", "user", user.id)
    return user_read(user)


async def unlock(*, uow: UnitOfWork, user_id: uuid.UUID) -> UserRead:
    """Lift a sign-in lockout early."""
    user = await uow.get(User, user_id, what="User")
    user.locked_until, user.failed_sign_ins, user.lock_count = None, 0, 0
    uow.audit("unlock", "user", user.id)
    return user_read(user)


async def _checked_scope(uow: UnitOfWork, *, role: Role, node_ids: list[uuid.UUID]) -> list[str]:
    """The scope to store: existing nodes of the customer, and only for Supervisors and Viewers."""
    if not node_ids:
        return []
    if role not in (Role.SUPERVISOR, Role.VIEWER):
        raise ValidationFailed(
            "Only Supervisors and Viewers can be limited to part of the site tree; Admins manage the whole customer."
        )
    for node_id in node_ids:
        try:
            await hierarchy.get_node(uow=uow, node_id=node_id)
        except NotFound:
            raise ValidationFailed(
                f"scope_node_ids: node {node_id} is not a site, building, floor or zone of this customer."
            ) from None
    return sorted({str(node) for node in node_ids})


def user_read(user: User) -> UserRead:
    """The API view of a user."""
    return UserRead(
        id=user.id,
        tenant_id=user.tenant_id,
        email=user.email,
        full_name=user.full_name,
        role=Role(user.role),
        is_active=user.is_active,
        mfa_enrolled=user.mfa_enrolled_at is not None,
        scope_node_ids=[uuid.UUID(node) for node in user.scope_node_ids],
        locked_until=as_utc(user.locked_until) if user.locked_until else None,
        last_sign_in_at=as_utc(user.last_sign_in_at) if user.last_sign_in_at else None,
        created_at=as_utc(user.created_at),
    )
