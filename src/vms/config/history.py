"""Configuration history documents: every saved version of a node, mirrored to the document store.

The SQL version rows stay the source of truth (versions, diffs and rollback read them); the
documents carry the same facts in one self-contained, per-tenant record for auditors, exports and
tools that read MongoDB: who, when, why, which node, the full values after the change and the
change itself. They are staged in the change's own transaction (vms.outbox), so a crash after the
commit cannot lose one.

Values are a list of {key, value} pairs rather than an object keyed by the dotted parameter
keys, which MongoDB does not accept as field names.

>>> docs = await history.find(documents=container.documents, tenant_id=t, node=NodeRef.site(t, s))
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from vms import outbox
from vms.config.nodes import NodeRef
from vms.config.registry import Level
from vms.config.schemas import OverrideChange
from vms.ports import DocumentStore, StoredDocument
from vms.uow import UnitOfWork

COLLECTION = "config_history"


def document_id(node: NodeRef, version: int) -> str:
    """`camera:{id}:v3`, `system:v12`: one document per version of a node."""
    return f"{node.resource_id}:v{version}"


def stage(
    uow: UnitOfWork,
    *,
    node: NodeRef,
    version: int,
    action: str,
    reason: str,
    at: datetime,
    values: dict[str, Any],
    changes: Sequence[OverrideChange],
    rolled_back_to: int | None,
) -> None:
    """Stage the history document of a version in the unit of work that saves the version."""
    body = {
        "tenant_id": None if node.tenant_id is None else str(node.tenant_id),
        "node": node.resource_id,
        "level": node.level.value,
        "node_id": None if node.level is Level.SYSTEM else str(node.node_id),
        "version": version,
        "action": action,
        "reason": reason,
        "actor_id": None if uow.actor.user_id is None else str(uow.actor.user_id),
        "actor": uow.actor.email,
        "request_id": uow.actor.request_id,
        "at": at.isoformat(),
        "rolled_back_to": rolled_back_to,
        "values": [{"key": key, "value": value} for key, value in sorted(values.items())],
        "changes": [change.model_dump(mode="json") for change in changes],
    }
    outbox.stage_document(uow, COLLECTION, document_id(node, version), body, tenant_id=node.tenant_id, at=at)


async def find(
    *,
    documents: DocumentStore,
    tenant_id: uuid.UUID | None,
    node: NodeRef | None = None,
    level: Level | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
) -> list[StoredDocument]:
    """A customer's (None: the system's) history documents, newest first, optionally of one node or level."""
    where: dict[str, str | int | bool | None] = {}
    if node is not None:
        where["node"] = node.resource_id
    if level is not None:
        where["level"] = level.value
    return await documents.find(COLLECTION, tenant_id=tenant_id, where=where, since=since, until=until, limit=limit)
