"""Routes: audit log search and hash-chain verification for Admins (their customer) and provider staff (everything)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from vms.api.deps import AppContainer, Paging, require
from vms.audit import service
from vms.audit.schemas import AuditChainReport, AuditPage
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.ports import AuditQuery

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=AuditPage)
async def search_audit(
    container: AppContainer,
    user: Annotated[Principal, Depends(require(Permission.AUDIT_READ))],
    page: Paging,
    resource_type: Annotated[str | None, Query(max_length=64)] = None,
    resource_id: Annotated[str | None, Query(max_length=128)] = None,
    actor_id: uuid.UUID | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    customer_id: Annotated[uuid.UUID | None, Query(description="Provider staff: one customer only.")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditPage:
    """Who changed what and when, newest first."""
    query = AuditQuery(
        tenant_id=customer_id,
        resource_type=resource_type,
        resource_id=resource_id,
        actor_id=actor_id,
        action=action,
        since=since,
        until=until,
    )
    items, total = await service.search(
        store=container.audit_store, principal=user, query=query, limit=page.limit, offset=page.offset
    )
    return AuditPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/verify", response_model=AuditChainReport)
async def verify_audit_chain(
    container: AppContainer,
    user: Annotated[Principal, Depends(require(Permission.AUDIT_READ))],
    customer_id: Annotated[
        uuid.UUID | None,
        Query(description="Provider staff: the customer whose chain to check; none checks the platform chain."),
    ] = None,
) -> AuditChainReport:
    """Check the caller's audit hash chain end to end and report the first broken link, if any."""
    key = container.settings.audit.chain_key.encode() or None
    return await service.verify_chain(store=container.audit_store, principal=user, customer_id=customer_id, key=key)
