"""Who a unit of work acts for. The SQL session reads this to apply the tenant filter.

`TenantScope.of(tenant)` limits every query to that customer's rows; `TenantScope.platform()`
is for provider staff and system tasks (sign-in, migrations) that span tenants on purpose.

A user scoped to part of the site tree (a Supervisor for one site) narrows it further with
`within(...)`: the cameras under their nodes, the nodes they may see and where they may place
cameras. The same guard in `kernel.orm` then hides every other camera's rows — cameras,
recordings, events, exports, tickets — so no route can forget the check.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from vms.kernel.ids import TenantId


@dataclass(frozen=True, slots=True, eq=False)  # compared and hashed by identity: `cameras` is mutable
class CameraScope:
    """The part of a customer a scoped user works in.

    `cameras` is a set the unit of work extends when the user adds a camera, so the new camera
    stays visible to the rest of the same request.
    """

    cameras: set[uuid.UUID] = field(default_factory=set)
    nodes: frozenset[uuid.UUID] = frozenset()  # visible: their subtrees and the path above them
    placeable: frozenset[uuid.UUID] = frozenset()  # their subtrees: where their cameras may go


@dataclass(frozen=True, slots=True)
class TenantScope:
    """The tenant a session is confined to, or none for platform-wide work; optionally part of it."""

    tenant_id: TenantId | None
    part: CameraScope | None = None  # None: the whole customer

    @classmethod
    def of(cls, tenant_id: TenantId) -> TenantScope:
        """Confine to one customer."""
        return cls(tenant_id)

    @classmethod
    def platform(cls) -> TenantScope:
        """Span all customers (provider staff, sign-in, system jobs)."""
        return cls(None)

    def within(self, part: CameraScope) -> TenantScope:
        """The same customer, narrowed to part of its site tree."""
        if self.tenant_id is None:
            raise ValueError("Only a customer scope can be narrowed to part of its site tree.")
        return TenantScope(self.tenant_id, part)
