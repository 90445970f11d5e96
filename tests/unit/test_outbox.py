"""The transactional outbox: rows commit with their change, the relay delivers them in order after
the commit, a failed delivery stays pending and goes later, redeliveries are deduplicated by the
consumers, and one relay delivers at a time."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import make_settings
from tests.migration_check import diffs_touching, read_schema
from vms import outbox
from vms.adapters.sql.engine import make_engine
from vms.kernel.tenancy import TenantScope
from vms.messaging import RetryPolicy, handle_one
from vms.outbox import OutboxLease, OutboxMessage, OutboxRelay
from vms.ports import BusMessage
from vms.settings import Settings
from vms.uow import Actor

TOPIC = "config-changes"


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path) -> Settings:
    """The outbox on embedded SQLite and on PostgreSQL (the lease and the id order differ by engine)."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    return make_settings(tmp_path, str(url))


AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class FlakyBus:
    """The container's real bus, refusing to publish while `down` (a broker outage)."""

    def __init__(self, bus):
        self.bus = bus
        self.down = False
        self.refused = 0

    async def ensure_topics(self, topics: Mapping[str, int]) -> None:
        await self.bus.ensure_topics(topics)

    async def publish(self, topic, *, key, value, headers=None):
        if self.down:
            self.refused += 1
            raise ConnectionError("broker unreachable")
        await self.bus.publish(topic, key=key, value=value, headers=headers)


async def stage(container, *values: bytes, commit: bool = True) -> None:
    """One unit of work staging a message per value."""
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        for value in values:
            outbox.stage_publish(uow, TOPIC, key="k", value=value, headers={"tenant-id": ""})
        if commit:
            await uow.commit()
        else:
            await uow.rollback()


async def read_topic(container, count: int, group: str = "test-reader") -> list[BusMessage]:
    found: list[BusMessage] = []
    async with contextlib.aclosing(container.bus.consume([TOPIC], group=group)) as stream:
        async with asyncio.timeout(10):
            async for message in stream:
                found.append(message)
                if len(found) == count:
                    break
    return found


async def states(container) -> list[tuple[str, int]]:
    async with container.sessions() as session:
        rows = await session.execute(select(OutboxMessage.state, OutboxMessage.attempts).order_by(OutboxMessage.id))
        return [(state, attempts) for state, attempts in rows.all()]


def relay_for(container, bus=None, **options) -> OutboxRelay:
    return OutboxRelay(container.sessions, bus=bus or container.bus, documents=container.documents, **options)


async def test_staged_messages_go_out_after_the_commit_in_order_and_are_marked_sent(container):
    await stage(container, b"one", b"two")
    await stage(container, b"three")
    assert await container.outbox.pending() == 3
    assert await container.outbox.drain() == 3
    messages = await read_topic(container, 3)
    assert [m.value for m in messages] == [b"one", b"two", b"three"]
    assert all(m.headers["message-id"] and m.headers["tenant-id"] == "" for m in messages)
    assert await states(container) == [("sent", 0)] * 3
    assert await container.outbox.drain() == 0  # nothing is delivered twice by a healthy relay


async def test_a_rolled_back_unit_of_work_stages_nothing(container):
    await stage(container, b"never", commit=False)
    assert await states(container) == []
    assert await container.outbox.drain() == 0


async def test_a_publish_failure_leaves_the_row_pending_and_a_later_drain_delivers_it_in_order(container):
    flaky = FlakyBus(container.bus)
    relay = relay_for(container, flaky)
    await stage(container, b"first", b"second")
    flaky.down = True
    assert await relay.drain() == 0
    assert relay.failing
    assert await states(container) == [("pending", 1), ("pending", 0)]  # the second waits behind the first
    async with container.sessions() as session:
        error = (await session.execute(select(OutboxMessage.last_error).order_by(OutboxMessage.id))).scalars().first()
    assert error == "ConnectionError: broker unreachable"

    await stage(container, b"third")  # staged during the outage
    flaky.down = False
    assert await relay.drain() == 3
    assert not relay.failing
    assert [m.value for m in await read_topic(container, 3)] == [b"first", b"second", b"third"]
    assert [state for state, _ in await states(container)] == ["sent"] * 3


async def test_a_row_failing_past_the_limit_is_parked_and_later_rows_go(container):
    flaky = FlakyBus(container.bus)
    relay = relay_for(container, flaky, park_after=2)
    await stage(container, b"poison")
    flaky.down = True
    await relay.drain()
    await stage(container, b"fine")
    await relay.drain()  # the second failure parks it, and the next row is tried (and fails once) ...
    flaky.down = False
    assert await relay.drain() == 1  # ... and goes once the bus is back
    assert await states(container) == [("parked", 2), ("sent", 1)]
    assert [m.value for m in await read_topic(container, 1)] == [b"fine"]


async def test_a_redelivery_after_a_crash_carries_the_same_id_and_consumers_handle_it_once(container):
    await stage(container, b"drop-cache")
    assert await container.outbox.drain() == 1
    # The relay died after publishing but before marking the row sent: it is pending again.
    async with container.sessions() as session:
        await session.execute(update(OutboxMessage).values(state="pending", sent_at=None))
        await session.commit()
    assert await container.outbox.drain() == 1
    first, second = await read_topic(container, 2)
    assert first.value == second.value and first.message_id == second.message_id

    handled: list[bytes] = []

    async def handler(message: BusMessage) -> None:
        handled.append(message.value)

    for message in (first, second):
        await handle_one(
            message,
            bus=container.bus,
            group="cache-dropper",
            handler=handler,
            seen=container.cache,
            retry=RetryPolicy(),
            dedupe_ttl_s=60,
        )
    assert handled == [b"drop-cache"]


async def test_one_relay_delivers_at_a_time_and_a_dead_holder_s_lease_expires(container):
    other = relay_for(container, lease_s=30)
    await stage(container, b"x")
    async with container.sessions() as session:  # another process's relay holds the lease
        await session.execute(
            update(OutboxLease).values(holder="elsewhere", expires_at=datetime.now(UTC) + timedelta(seconds=30))
        )
        await session.commit()
    assert await other.drain() == 0
    assert await other.pending() == 1
    async with container.sessions() as session:  # ... and died: its lease runs out
        await session.execute(update(OutboxLease).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        await session.commit()
    assert await other.drain() == 1
    async with container.sessions() as session:
        lease = await session.get(OutboxLease, "relay")
    assert lease is not None and lease.holder is None  # released after draining


async def test_the_relay_loop_delivers_what_a_commit_wakes_it_for(container):
    await container.bus.ensure_topics({TOPIC: 1})
    task = asyncio.create_task(relay_for(container, poll_s=30).run())  # polls far too rarely to matter
    try:
        await asyncio.sleep(0.05)
        await stage(container, b"prompt")  # the commit wakes this process's relays
        [message] = await read_topic(container, 1)
        assert message.value == b"prompt"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_documents_are_upserted_once_with_the_newest_body_of_a_batch(container):
    tenant = uuid.uuid4()
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        for status in ("NEW", "ACKNOWLEDGED", "RESOLVED"):
            outbox.stage_document(uow, "things", "t1", {"status": status}, tenant_id=tenant, at=AT)
        await uow.commit()
    assert await container.outbox.drain() == 3
    stored = await container.documents.get("things", "t1")
    assert stored is not None and stored.body == {"status": "RESOLVED"} and stored.tenant_id == tenant
    assert stored.at == AT


async def test_sent_rows_are_purged_after_the_keep_time(container):
    relay = relay_for(container, keep_sent_s=3600)
    await stage(container, b"old", b"new")
    await relay.drain()
    async with container.sessions() as session:
        first = (await session.execute(select(OutboxMessage.id).order_by(OutboxMessage.id))).scalars().first()
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == first)
            .values(sent_at=datetime.now(UTC) - timedelta(hours=2))
        )
        await session.commit()
    assert await relay.purge_sent() == 1
    assert await states(container) == [("sent", 0)]


async def test_the_outbox_and_document_tables_match_their_models(any_database_url):
    """Migration 0014 builds exactly what the models declare, on SQLite and PostgreSQL."""
    schema = await read_schema(any_database_url)
    engine = make_engine(any_database_url)
    try:
        async with engine.connect() as conn:
            lease = (await conn.execute(select(OutboxLease.name, OutboxLease.holder))).all()
    finally:
        await engine.dispose()
    ours = {"outbox", "outbox_lease", "documents"}
    assert ours <= schema.tables
    assert diffs_touching(schema.diffs, quoted=ours) == []
    assert [tuple(row) for row in lease] == [("relay", None)]  # the row relays take turns on
