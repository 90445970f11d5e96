"""The `config-changes` topic: announcing a change, and what every process runs to keep its cached
configuration right (the listener and the background refresher).

A change is announced through the transactional outbox (vms.outbox): its message is staged in the
change's own transaction, so a process that dies right after the commit still announces it (the
relay of any process delivers it). After the commit the writer drops its own entries at once and
drains the outbox, so other processes hear of it within milliseconds, as before.

Each process consumes with a consumer group of its own, so every process gets every change
(fan-out), whether its cache is in-process or Redis. On a change it drops the node's keys, and
drops them once more a moment later: a request that read the database just before the commit
may write the old value back just after the first drop.

>>> stage_change(uow, ConfigChange.node_changed(node))
>>> await uow.commit()
>>> await after_commit(config_cache=container.config, relay=container.outbox, change=change)
>>> asyncio.create_task(keep_config_fresh(bus=container.bus, config_cache=container.config, unit_of_work=...))
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
import weakref
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Literal

import structlog
from pydantic import BaseModel, Field, ValidationError

from vms import outbox
from vms.config import service
from vms.config.cache import ConfigCache
from vms.config.nodes import CONFIG_PREFIX, MODEL_PREFIX, NodeRef
from vms.config.registry import Level
from vms.kernel.topics import CONFIG_CHANGES, PARTITIONS
from vms.messaging import run_consumer
from vms.outbox import OutboxRelay
from vms.ports import Bus, BusMessage
from vms.uow import UnitOfWork

log = structlog.get_logger(__name__)
ORIGIN = f"{socket.gethostname()}-{os.getpid()}"
REPLAY_WINDOW_S = 60.0  # a new process skips older changes: nothing it caches can predate them
SETTLE_S = 0.5  # the second drop, after in-flight reads of the old value have written it back
PUBLISH_ATTEMPTS = 3  # a transient bus error (a locked embedded log, a Kafka leader change) gets retried
KEYS_PER_MESSAGE = 2_000  # keeps a customer-wide refresh far below Kafka's 1 MiB message limit
_topic_ready: weakref.WeakSet[object] = weakref.WeakSet()


class ConfigChange(BaseModel):
    """A message on `config-changes`: which node changed (or what to refresh) and the cache keys to drop."""

    kind: Literal["changed", "refresh"]
    level: Level | None = None
    tenant_id: uuid.UUID | None = None
    node_id: uuid.UUID | None = None
    prefixes: list[str] = Field(default_factory=list)
    keys: list[str] = Field(default_factory=list)
    origin: str = ORIGIN
    at: float = Field(default_factory=time.time)

    @classmethod
    def node_changed(cls, node: NodeRef) -> ConfigChange:
        """A node's overrides changed; a system change also changes every model's requirements."""
        system = node.level is Level.SYSTEM
        return cls(
            kind="changed",
            level=node.level,
            tenant_id=node.tenant_id,
            node_id=None if system else node.node_id,
            prefixes=[node.cache_prefix, *([MODEL_PREFIX] if system else [])],
        )

    @classmethod
    def nodes_changed(cls, nodes: list[NodeRef]) -> ConfigChange:
        """Many nodes of one customer changed at once (patch_many): their exact keys, one message per
        few thousand, instead of a key scan per node."""
        tenants = {node.tenant_id for node in nodes}
        tenant_id = tenants.pop() if len(tenants) == 1 else None
        return cls(kind="changed", tenant_id=tenant_id, keys=[node.cache_key for node in nodes])

    @classmethod
    def refresh(cls, *, tenant_id: uuid.UUID | None, prefixes: list[str], keys: list[str]) -> ConfigChange:
        """A manual refresh: a customer's keys, or (tenant_id None) every config key."""
        if tenant_id is None:
            return cls(kind="refresh", prefixes=[CONFIG_PREFIX])
        return cls(kind="refresh", level=Level.CUSTOMER, tenant_id=tenant_id, prefixes=prefixes, keys=keys)

    def messages(self) -> list[ConfigChange]:
        """This change split into messages of bounded size."""
        if len(self.keys) <= KEYS_PER_MESSAGE:
            return [self]
        return [
            self.model_copy(
                update={"keys": self.keys[i : i + KEYS_PER_MESSAGE], "prefixes": [] if i else self.prefixes}
            )
            for i in range(0, len(self.keys), KEYS_PER_MESSAGE)
        ]


def stage_change(uow: UnitOfWork, change: ConfigChange) -> None:
    """Stage the change's messages in the unit of work that saves it; they go out after its commit."""
    for message in change.messages():
        outbox.stage_publish(
            uow,
            CONFIG_CHANGES,
            key=str(change.tenant_id or "system"),
            value=message.model_dump_json().encode(),
            headers={"tenant-id": str(change.tenant_id or "")},
        )


async def after_commit(*, config_cache: ConfigCache, relay: OutboxRelay, change: ConfigChange) -> int:
    """After the commit of a staged change: drop this process's entries, then deliver the staged
    messages now instead of at the relay's next poll. Returns the keys dropped here.

    A bus that is down costs freshness, not the change: the message stays in the outbox and the
    relay delivers it when the bus is back; meanwhile other processes' entries expire (the TTL).
    """
    dropped = await config_cache.invalidate(prefixes=change.prefixes, keys=change.keys)
    try:
        await relay.drain()
    except Exception as exc:  # the database blinked after our commit: the relay loop delivers it later
        log.warning("config change saved; its announcement waits in the outbox", error=str(exc))
    return dropped


async def announce(*, bus: Bus, config_cache: ConfigCache, change: ConfigChange) -> int:
    """Drop this process's entries at once, then tell every process (itself included), straight on
    the bus: for what no transaction saved (a manual refresh). Saved changes go through the outbox
    (`stage_change`). Returns the keys dropped here.

    A bus that is down costs freshness: other processes drop the entries when they expire (the TTL).
    """
    dropped = await config_cache.invalidate(prefixes=change.prefixes, keys=change.keys)
    for attempt in range(1, PUBLISH_ATTEMPTS + 1):
        try:
            await ensure_topic(bus)
            for message in change.messages():  # a retry may repeat a message: dropping twice is harmless
                await bus.publish(
                    CONFIG_CHANGES,
                    key=str(change.tenant_id or "system"),
                    value=message.model_dump_json().encode(),
                    headers={"tenant-id": str(change.tenant_id or "")},
                )
            break
        except Exception as exc:  # any bus failure: the change is committed and must still be reported as done
            if attempt < PUBLISH_ATTEMPTS:
                await asyncio.sleep(0.05 * 2 ** (attempt - 1))
                continue
            log.warning(
                "config change saved but not announced; other processes see it when their cache expires",
                error=str(exc),
                level=change.level,
                node_id=str(change.node_id or ""),
            )
    return dropped


async def ensure_topic(bus: Bus) -> None:
    """Create `config-changes` once per bus."""
    if bus not in _topic_ready:
        await bus.ensure_topics({CONFIG_CHANGES: PARTITIONS[CONFIG_CHANGES]})
        _topic_ready.add(bus)


def process_group() -> str:
    """A consumer group of this process alone, so it receives every change."""
    return f"config-cache-{ORIGIN}-{uuid.uuid4().hex[:8]}"


async def run_config_listener(
    *, bus: Bus, config_cache: ConfigCache, group: str | None = None, settle_s: float = SETTLE_S
) -> None:
    """Drop cache entries named by every change on `config-changes` until cancelled; restarts after failures."""
    group = group or process_group()
    since = time.time() - REPLAY_WINDOW_S
    settling: set[asyncio.Task[None]] = set()

    async def settle(change: ConfigChange) -> None:
        await asyncio.sleep(settle_s)
        await config_cache.invalidate(prefixes=change.prefixes, keys=change.keys)

    async def on_change(message: BusMessage) -> None:
        try:
            change = ConfigChange.model_validate_json(message.value)
        except ValidationError:
            log.warning("unreadable config change skipped", offset=message.offset)
            return
        if change.at < since:
            return
        await config_cache.invalidate(prefixes=change.prefixes, keys=change.keys)
        task = asyncio.create_task(settle(change))
        settling.add(task)
        task.add_done_callback(settling.discard)

    backoff = 0.1
    try:
        while True:
            started = time.monotonic()
            try:
                await ensure_topic(bus)
                await run_consumer(
                    bus, [CONFIG_CHANGES], group=group, handler=on_change, seen=config_cache.cache, dedupe_ttl_s=3600
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bus or cache outage must not end invalidation for good
                if time.monotonic() - started > 60:
                    backoff = 0.1  # it had been running fine: a new outage starts the backoff over
                log.warning("config listener stopped; restarting", error=str(exc), retry_in_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
    finally:
        for task in list(settling):
            task.cancel()


async def run_config_refresher(
    *,
    config_cache: ConfigCache,
    unit_of_work: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
    interval_s: float | None = None,
) -> None:
    """Reload critical keys in use before they expire, and deliver owed invalidations, until cancelled."""
    while True:
        await asyncio.sleep(interval_s or config_cache.refresh_interval_s)
        try:
            await config_cache.retry_pending()
            if config_cache.tracked:
                async with unit_of_work() as uow:
                    await service.refresh_due(uow=uow, config_cache=config_cache)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a database blip: try again next round; reads still fall back
            log.warning("config refresh failed", error=str(exc))


async def keep_config_fresh(
    *, bus: Bus, config_cache: ConfigCache, unit_of_work: Callable[[], AbstractAsyncContextManager[UnitOfWork]]
) -> None:
    """The listener and the refresher together; every process runs this once, until cancelled."""
    async with asyncio.TaskGroup() as group:
        group.create_task(run_config_listener(bus=bus, config_cache=config_cache))
        group.create_task(run_config_refresher(config_cache=config_cache, unit_of_work=unit_of_work))
