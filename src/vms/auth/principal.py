"""The signed-in caller of a request, built from a verified access token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from vms.auth.permissions import ROLE_PERMISSIONS, Permission, Role
from vms.kernel.errors import Forbidden
from vms.kernel.ids import TenantId


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling and what they may do."""

    user_id: uuid.UUID
    email: str
    role: Role
    tenant_id: TenantId | None
    session_id: uuid.UUID
    scope: frozenset[uuid.UUID] = frozenset()  # tree nodes the caller is limited to; empty: the whole customer

    @property
    def permissions(self) -> frozenset[Permission]:
        """Everything this caller's role allows."""
        return ROLE_PERMISSIONS[self.role]

    def can(self, permission: Permission) -> bool:
        """Whether the role allows `permission`."""
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        """Raise Forbidden unless the role allows `permission`."""
        if permission not in self.permissions:
            raise Forbidden(f"Your role ({self.role.value}) may not do this ({permission.value}).")

    @property
    def tenant(self) -> TenantId:
        """The caller's customer; Forbidden for provider staff, who belong to none."""
        if self.tenant_id is None:
            raise Forbidden("This needs a customer account; provider staff act on customers through /customers.")
        return self.tenant_id
