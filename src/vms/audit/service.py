"""Reading the audit log and checking its hash chains; writing happens through `UnitOfWork.audit` in every domain."""

from __future__ import annotations

import dataclasses
import uuid

from vms.audit.chain import ChainVerifier, chain_of
from vms.audit.schemas import AuditChainReport
from vms.auth.principal import Principal
from vms.kernel.errors import Forbidden
from vms.ports import AuditEntry, AuditQuery, AuditStore

VERIFY_PAGE = 500  # links read per round trip; memory stays at one page whatever the chain's length


async def search(
    *, store: AuditStore, principal: Principal, query: AuditQuery, limit: int, offset: int
) -> tuple[list[AuditEntry], int]:
    """Audit records the caller may see: their own customer's, or any for provider staff."""
    if principal.tenant_id is not None:
        query = dataclasses.replace(query, tenant_id=principal.tenant_id)
    return await store.query(query, limit=limit, offset=offset)


async def verify_chain(
    *,
    store: AuditStore,
    principal: Principal,
    customer_id: uuid.UUID | None,
    key: bytes | None,
    page_size: int = VERIFY_PAGE,
) -> AuditChainReport:
    """Walk one tenant's chain from seq 1 to its head and report the first broken link.

    Customer staff check their own customer's chain; provider staff name a customer, or check the
    platform chain (records of provider actions) by naming none.
    """
    tenant = customer_id
    if principal.tenant_id is not None:
        if customer_id is not None and customer_id != principal.tenant_id:
            raise Forbidden("You can verify only your own customer's audit log.")
        tenant = principal.tenant_id
    verifier = ChainVerifier(chain=chain_of(tenant), key=key)
    while not verifier.done:
        links = await store.read_chain(tenant, after_seq=verifier.last_seq, limit=page_size)
        verifier.feed(links)
        if len(links) < page_size:
            break
    return verifier.report(unchained=await store.count_unchained(tenant))
