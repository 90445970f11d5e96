"""The edge relay: delivers the edge lane of the outbox (events.edge_staging) to the cloud, in id order.

Event documents go in batches to `POST /api/v1/edge/events`; a clip row streams its MP4 from the
local blob store to `PUT /api/v1/edge/clips/{event_id}`. A row is marked sent only once the cloud
answered 2xx, and a failure stops the drain at that row, so later rows wait behind it and the
cloud sees this edge's changes in the order they committed. While the cloud is unreachable (or
refuses the token) rows just accumulate, bounded by disk; the relay retries with a doubling
wait up to `max_backoff_s`. Delivery is at-least-once and the cloud upserts, so a row sent twice
(a crash before it was marked) changes nothing.

A row the cloud rejects as invalid (422, 413) or whose clip is gone from the local blob store
would block the lane for good, so it is parked with the reason and logged as an error: kept,
never deleted. Any other refusal (401, 404 from a cloud without the route, 5xx) keeps it waiting.

One relay per edge database: run it in one process (the api role of `vms serve`).

>>> relay = EdgeRelay(container.sessions, blobs=container.blobs, settings=settings.edge)
>>> await relay.drain()   # or: asyncio.create_task(relay.run())
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms.events.edge_staging import CLIP, EVENT, KIND, WAITING
from vms.kernel.clock import utcnow
from vms.outbox import PARKED, SENT, OutboxMessage
from vms.ports import BlobStore
from vms.settings import EdgeSettings

log = structlog.get_logger(__name__)
CHUNK = 1_048_576  # bytes read from the blob store per chunk of an upload
# The cloud's verdict on the content itself (invalid, too large). Every other refusal may be cured
# later (a token fixed, a cloud upgraded, an event arrived, a proxy back), so those rows wait.
REJECTED = {413, 422}


class Rejected(Exception):
    """The cloud refused a row for good (its content is invalid)."""


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    target: str
    key: str
    payload: bytes
    meta: dict[str, Any]
    attempts: int


class EdgeRelay:
    """Delivers the edge lane in order: `drain()` now, `run()` until cancelled."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        blobs: BlobStore,
        settings: EdgeSettings,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._sessions = sessions
        self._blobs = blobs
        self._settings = settings
        self._client = httpx.AsyncClient(
            base_url=settings.cloud_url.rstrip("/") + "/api/v1/edge",
            headers={"Authorization": f"Bearer {settings.token}", "X-Edge-Id": settings.edge_id},
            timeout=settings.timeout_s,
            transport=transport,
        )
        self._lock = asyncio.Lock()
        self.failing = False  # the last drain stopped on a failure
        self.delivered = 0  # rows delivered, for metrics and tests

    async def close(self) -> None:
        """Release the HTTP connections."""
        await self._client.aclose()

    async def pending(self) -> int:
        """Rows the cloud does not have yet."""
        async with self._sessions() as session:
            stmt = select(func.count()).select_from(OutboxMessage).where(_waiting())
            return int((await session.execute(stmt)).scalar_one())

    async def run(self) -> None:
        """Drain every `poll_s`; after a failure wait twice as long each time, up to `max_backoff_s`."""
        wait = self._settings.poll_s
        while True:
            await asyncio.sleep(wait)
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the local database itself failed: keep trying
                log.warning("edge relay failed; retrying", error=str(exc))
                self.failing = True
            wait = min(wait * 2, self._settings.max_backoff_s) if self.failing else self._settings.poll_s

    async def drain(self) -> int:
        """Deliver waiting rows until none are left or one fails; returns how many were delivered."""
        delivered = 0
        async with self._lock:
            self.failing = False
            while not self.failing:
                rows = await self._next_rows()
                if not rows:
                    break
                delivered += await self._deliver(rows)
        self.delivered += delivered
        return delivered

    async def _next_rows(self) -> list[_Row]:
        async with self._sessions() as session:
            found = await session.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.target,
                    OutboxMessage.key,
                    OutboxMessage.payload,
                    OutboxMessage.meta,
                    OutboxMessage.attempts,
                )
                .where(_waiting())
                .order_by(OutboxMessage.id)
                .limit(self._settings.batch_size)
            )
            return [_Row(*row) for row in found.all()]

    async def _deliver(self, rows: list[_Row]) -> int:
        """Send `rows` in order: runs of event documents as one batch, clips one by one."""
        delivered = 0
        while rows:
            run = rows[:1] if rows[0].target == CLIP else _leading_events(rows)
            rows = rows[len(run) :]
            try:
                if run[0].target == CLIP:
                    await self._upload_clip(run[0])
                else:
                    await self._post_events(run)
            except Rejected as exc:
                await self._mark(run, state=PARKED, error=str(exc))
                log.error("edge row rejected by the cloud; parked", rows=[r.id for r in run], error=str(exc))
                continue
            except Exception as exc:  # unreachable, 5xx, refused token: the row waits, later rows behind it
                await self._failed(run[0], exc)
                self.failing = True
                return delivered
            await self._mark(run, state=SENT)
            delivered += len(run)
        return delivered

    async def _post_events(self, rows: list[_Row]) -> None:
        newest = {row.key: row for row in rows}  # an event changed twice in a batch is sent once, newest
        body = {"events": [json.loads(row.payload) for row in newest.values()]}
        _check(await self._client.post("/events", json=body))

    async def _upload_clip(self, row: _Row) -> None:
        key = row.meta["blob_key"]
        try:
            size = await self._blobs.size(key)
        except Exception as exc:
            if await self._blobs.exists(key):
                raise
            raise Rejected(f"clip {key} is no longer in the local blob store") from exc
        digest = hashlib.sha256()
        async for chunk in self._chunks(key, size):
            digest.update(chunk)
        headers = {
            "Content-Type": "video/mp4",
            "Content-Length": str(size),
            "X-Content-SHA256": digest.hexdigest(),
        }
        _check(await self._client.put(f"/clips/{row.key}", content=self._chunks(key, size), headers=headers))

    async def _chunks(self, key: str, size: int) -> AsyncIterator[bytes]:
        for first in range(0, size, CHUNK):
            yield await self._blobs.get_range(key, first, min(first + CHUNK, size) - 1)

    async def _mark(self, rows: list[_Row], *, state: str, error: str | None = None) -> None:
        async with self._sessions() as session:
            values: dict[str, Any] = {"state": state, "sent_at": utcnow()} if state == SENT else {"state": state}
            if error is not None:
                values["last_error"] = error[:500]
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_([r.id for r in rows])).values(**values)
            )
            await session.commit()

    async def _failed(self, row: _Row, error: Exception) -> None:
        text = f"{type(error).__name__}: {error}"[:500]
        log.warning("edge delivery failed; will retry", row=row.id, target=row.target, error=text)
        with contextlib.suppress(Exception):  # bookkeeping only; the row stays waiting either way
            async with self._sessions() as session:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id)
                    .values(attempts=row.attempts + 1, last_error=text)
                )
                await session.commit()


def _waiting() -> Any:
    return (OutboxMessage.kind == KIND) & (OutboxMessage.state == WAITING)


def _leading_events(rows: list[_Row]) -> list[_Row]:
    run: list[_Row] = []
    for row in rows:
        if row.target != EVENT:
            break
        run.append(row)
    return run


def _check(response: httpx.Response) -> None:
    """Raise Rejected for a refusal that retrying cannot cure, HTTPStatusError for one it may."""
    if response.is_success:
        return
    if response.status_code in REJECTED:
        raise Rejected(f"{response.status_code}: {response.text[:300]}")
    response.raise_for_status()
