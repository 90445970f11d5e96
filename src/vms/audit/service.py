"""Reading the audit log; writing happens through `UnitOfWork.audit` in every domain."""

from __future__ import annotations

import dataclasses

from vms.auth.principal import Principal
from vms.ports import AuditEntry, AuditQuery, AuditStore


async def search(
    *, store: AuditStore, principal: Principal, query: AuditQuery, limit: int, offset: int
) -> tuple[list[AuditEntry], int]:
    """Audit records the caller may see: their own customer's, or any for provider staff."""
    if principal.tenant_id is not None:
        query = dataclasses.replace(query, tenant_id=principal.tenant_id)
    return await store.query(query, limit=limit, offset=offset)
