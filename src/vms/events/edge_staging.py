"""On an edge server, every event change and every finished clip waits in the outbox for the cloud.

The rows are written by mapper hooks on the event table, in the flush's own transaction, the way
events.mirror stages its documents: what committed locally is in the outbox, whatever happens
next. They live in the shared `outbox` table (vms.outbox) as their own lane: kind `edge`, state
`edge` while the cloud lacks them. The main relay takes only `pending` rows, so a cloud that is
offline for days never holds up the local bus or document store; the edge relay (edge.relay)
delivers this lane in id order and marks each row `sent`, and the main relay's purge clears
those as it clears its own.

Only engines passed to `install` stage rows: one process may hold an edge's and a cloud's
container (tests), and the cloud's own writes must not be queued for a cloud.

>>> staging.install(container.engine)     # bootstrap does this when VMS_EDGE__CLOUD_URL is set
"""

from __future__ import annotations

import weakref
from typing import Any

from pydantic_core import to_json
from sqlalchemy import event as orm_event
from sqlalchemy import insert
from sqlalchemy import inspect as orm_inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapper, object_session

from vms import outbox
from vms.events import mirror
from vms.events.models import Event
from vms.kernel.clock import utcnow

KIND = "edge"  # OutboxMessage.kind of this lane
WAITING = "edge"  # OutboxMessage.state until the cloud has the row (the main relay takes only "pending")
EVENT, CLIP = "event", "clip"  # OutboxMessage.target: an event document, or a clip to upload
_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def install(engine: AsyncEngine) -> None:
    """Stage an outbox row for the cloud on every event write through `engine` (this server is an edge)."""
    _engines.add(engine.sync_engine)


def uninstall(engine: AsyncEngine) -> None:
    """Stop staging rows for `engine`."""
    _engines.discard(engine.sync_engine)


def _stage(connection: Connection, target: Any, *, clip: bool) -> None:
    meta = {"tenant_id": str(target.tenant_id)}
    rows: list[dict[str, Any]] = [{"target": EVENT, "payload": to_json(mirror.document(target)), "meta": meta}]
    if clip:  # after its document, so the cloud knows the event when the clip arrives
        rows.append({"target": CLIP, "payload": b"", "meta": {**meta, "blob_key": target.clip_key}})
    for row in rows:
        values = {"kind": KIND, "key": str(target.id), "state": WAITING, "attempts": 0, "created_at": utcnow(), **row}
        connection.execute(insert(outbox.OutboxMessage).values(**values))


@orm_event.listens_for(Event, "after_insert")
def _event_created(_mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    if connection.engine in _engines:
        _stage(connection, target, clip=target.clip_key is not None)


@orm_event.listens_for(Event, "after_update")
def _event_changed(_mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    if connection.engine not in _engines:
        return
    session = object_session(target)
    if session is not None and not session.is_modified(target, include_collections=False):
        return  # only touched
    clip_history = orm_inspect(target).attrs.clip_key.history
    _stage(connection, target, clip=target.clip_key is not None and bool(clip_history.added))
