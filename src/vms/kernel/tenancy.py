"""Who a unit of work acts for. The SQL session reads this to apply the tenant filter.

`TenantScope.of(tenant)` limits every query to that customer's rows; `TenantScope.platform()`
is for provider staff and system tasks (sign-in, migrations) that span tenants on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

from vms.kernel.ids import TenantId


@dataclass(frozen=True, slots=True)
class TenantScope:
    """The tenant a session is confined to, or none for platform-wide work."""

    tenant_id: TenantId | None

    @classmethod
    def of(cls, tenant_id: TenantId) -> TenantScope:
        """Confine to one customer."""
        return cls(tenant_id)

    @classmethod
    def platform(cls) -> TenantScope:
        """Span all customers (provider staff, sign-in, system jobs)."""
        return cls(None)
