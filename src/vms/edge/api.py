"""Cloud routes an edge server delivers to (edge.relay): event documents and clips.

An edge authenticates with its own token (`Authorization: Bearer …`) and id (`X-Edge-Id`), not
as a user: see events.edge_ingest for how tokens are kept and checked.
"""

from __future__ import annotations

import re
import uuid
from contextlib import AbstractAsyncContextManager
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request

from vms.api.deps import AppContainer
from vms.edge.schemas import EdgeAccepted, EdgeEventBatch
from vms.events import edge_ingest as ingest
from vms.kernel.errors import Unauthenticated, ValidationFailed
from vms.kernel.ids import TenantId
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor, UnitOfWork

router = APIRouter(prefix="/edge", tags=["edge"])
SHA256 = re.compile(r"^[0-9a-f]{64}$")


async def authenticated_edge(request: Request, container: AppContainer) -> ingest.EdgeIdentity:
    """The calling edge, from `Authorization: Bearer <token>` and `X-Edge-Id`; 401 otherwise.

    A dependency reading the headers itself, so a caller without credentials gets 401 before
    anything about its body is judged."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    edge_id = request.headers.get("x-edge-id", "")
    if scheme.lower() != "bearer" or not edge_id:
        raise Unauthenticated("An edge token and id are required (Authorization: Bearer …, X-Edge-Id).")
    return ingest.authenticate(container.settings.edge, edge_id=edge_id, token=token.strip())


EdgeCaller = Annotated[ingest.EdgeIdentity, Depends(authenticated_edge)]


def _unit_of_work(container: AppContainer, edge: ingest.EdgeIdentity) -> AbstractAsyncContextManager[UnitOfWork]:
    # Closing without a commit (a refusal half-way) discards the whole delivery.
    return container.unit_of_work(TenantScope.of(TenantId(edge.tenant_id)), Actor.system(f"edge:{edge.edge_id}"))


@router.post("/events", response_model=EdgeAccepted, operation_id="edge-deliver_events")
async def deliver_events(edge: EdgeCaller, batch: EdgeEventBatch, container: AppContainer) -> EdgeAccepted:
    """Upsert a batch of an edge's event documents (idempotent by event id)."""
    async with _unit_of_work(container, edge) as uow:
        changed = await ingest.upsert_events(uow=uow, edge=edge, events=batch.events)
        await uow.commit()
    return EdgeAccepted(received=len(batch.events), changed=changed)


@router.put("/clips/{event_id}", response_model=EdgeAccepted, operation_id="edge-deliver_clip")
async def deliver_clip(
    edge: EdgeCaller,
    event_id: uuid.UUID,
    request: Request,
    container: AppContainer,
    sha256: Annotated[str, Header(alias="X-Content-SHA256", description="Hex SHA-256 of the MP4 body.")],
) -> EdgeAccepted:
    """Store an event's MP4 clip, streamed in the body; a repeat with the same SHA-256 is a no-op."""
    if not SHA256.match(sha256):
        raise ValidationFailed("X-Content-SHA256 must be 64 lowercase hex digits.")
    async with _unit_of_work(container, edge) as uow:
        written = await ingest.store_clip(
            uow=uow,
            blobs=container.blobs,
            edge=edge,
            event_id=event_id,
            sha256=sha256,
            body=request.stream(),
            max_bytes=container.settings.edge.max_clip_bytes,
        )
        await uow.commit()
    return EdgeAccepted(received=1, changed=int(written))
