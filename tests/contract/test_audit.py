"""Audit port contract: the SQL append-only table and MongoDB (FerretDB in tests) pass one suite.

Each MongoDB test works in its own randomly named database and drops it afterwards, so tests can
share one server with each other and with anything else using it. The SQL side's database-level
refusal of UPDATE/DELETE is proven in test_sql.py and not repeated here. The SQL store runs on
SQLite ("sql") and on PostgreSQL ("postgres"): the hash chain's concurrency differs between them.

Tampering tests edit the stored rows the way an intruder with database access would: on SQL by
lifting the append-only triggers inside the tampering transaction, on MongoDB with plain updates.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from sqlalchemy import delete, insert, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import engine_url, make_settings
from vms import migrations
from vms.adapters.audit.mongo import MongoAuditStore
from vms.adapters.audit.sql import SqlAuditStore
from vms.adapters.sql.engine import make_engine, make_sessionmaker, open_session
from vms.audit import service
from vms.audit.chain import GENESIS, chain_of, link
from vms.audit.models import AuditRecord
from vms.audit.schemas import AuditChainReport
from vms.auth.permissions import Role
from vms.auth.principal import Principal
from vms.bootstrap import build_container
from vms.kernel.errors import Conflict, ServiceUnavailable
from vms.kernel.tenancy import TenantScope
from vms.ports import AuditEntry, AuditLink, AuditQuery, AuditStore
from vms.tenants.models import Tenant
from vms.uow import Actor, UnitOfWork

pytestmark = pytest.mark.engines

START = datetime(2026, 1, 1, tzinfo=UTC)


class Harness:
    """One kind's audit store plus a SQL session factory for units of work around it.

    `engine` (the SQL kinds) or `mongo` (the MongoDB kind) reach the stored records directly,
    around the store, for the tampering tests.
    """

    def __init__(
        self,
        kind: str,
        store: AuditStore,
        sessions: Any,
        *,
        engine: AsyncEngine | None = None,
        mongo: Any = None,
    ) -> None:
        self.kind = kind
        self.store = store
        self.sessions = sessions
        self.engine = engine
        self.mongo = mongo

    def unit_of_work(self) -> UnitOfWork:
        """A platform-scoped unit of work writing its audit records to this store."""
        session = open_session(self.sessions, TenantScope.platform())
        return UnitOfWork(session=session, scope=TenantScope.platform(), actor=ACTOR, audit_store=self.store)

    async def tamper(self, record_id: uuid.UUID, **changes: Any) -> None:
        """Overwrite stored fields of one record, as an intruder with database access would."""
        if self.mongo is not None:
            result = await self.mongo.update_one({"_id": str(record_id)}, {"$set": changes})
            assert result.matched_count == 1
            return
        await self._sql_around_triggers(update(AuditRecord).where(AuditRecord.id == record_id).values(**changes))

    async def remove(self, record_id: uuid.UUID) -> None:
        """Delete one stored record around the store."""
        if self.mongo is not None:
            result = await self.mongo.delete_one({"_id": str(record_id)})
            assert result.deleted_count == 1
            return
        await self._sql_around_triggers(delete(AuditRecord).where(AuditRecord.id == record_id))

    async def insert_unlinked(self, entry: AuditEntry) -> None:
        """Store a record without a chain link, as a raw INSERT around the store would."""
        if self.mongo is not None:
            at_us = (entry.at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
            document = {
                **entry.model_dump(mode="json", exclude={"id", "old_value", "new_value"}),
                "_id": str(entry.id),
                "at": entry.at,
                "at_us": at_us,
            }
            await self.mongo.insert_one(document)
            return
        assert self.engine is not None
        async with self.engine.begin() as conn:
            await conn.execute(insert(AuditRecord).values(**entry.model_dump()))

    async def _sql_around_triggers(self, statement: Any) -> None:
        assert self.engine is not None
        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # The test user owns the table, as an intruder with the app's credentials might.
                await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
                result = await conn.execute(statement)
                await conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
            else:
                await conn.execute(text("DROP TRIGGER audit_log_no_update"))
                await conn.execute(text("DROP TRIGGER audit_log_no_delete"))
                result = await conn.execute(statement)
                for verb in ("UPDATE", "DELETE"):
                    await conn.execute(
                        text(
                            f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
                        )
                    )
            assert result.rowcount == 1


ACTOR = Actor(user_id=uuid.uuid4(), email="auditor@example.com", request_id="req-1", ip="127.0.0.1")


@pytest.fixture(params=["sql", "postgres", "mongo"])
def audit_kind(request: pytest.FixtureRequest, sqlite_url: str) -> tuple[str, str]:
    """Which store, and the SQL database beside it: SQLite, or PostgreSQL for the "postgres" kind.

    A plain fixture, so that it may ask for the PostgreSQL database (whose template fixture runs
    its own event loop) by name; the MongoDB kind gets SQLite, since units of work need SQL either way.
    """
    if request.param == "postgres":
        return request.param, str(request.getfixturevalue("postgres_url"))
    return request.param, sqlite_url


@pytest.fixture
async def audit(audit_kind: tuple[str, str]) -> AsyncIterator[Harness]:
    """The SQL store on a fresh migrated SQLite or PostgreSQL, or the MongoDB store in a throwaway database."""
    kind, database_url = audit_kind
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        if kind in ("sql", "postgres"):
            yield Harness(kind, SqlAuditStore(sessions), sessions, engine=engine)
            return
        url, database = engine_url("VMS_TEST_MONGO_URL"), _database_name()
        store = MongoAuditStore.from_url(url, database)
        raw: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
        try:
            yield Harness("mongo", store, sessions, mongo=raw[database]["audit_log"])
        finally:
            await raw.close()
            await store.close()
            admin: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
            await admin.drop_database(database)
            await admin.close()
    finally:
        await engine.dispose()


def _database_name() -> str:
    return f"vms_audit_test_{uuid.uuid4().hex[:12]}"


def _entry(
    *,
    at: datetime,
    tenant: uuid.UUID | None = None,
    resource_type: str = "camera",
    resource_id: str | None = None,
    action: str = "create",
    actor_id: uuid.UUID | None = None,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry(
        id=uuid.uuid4(),
        at=at,
        tenant_id=tenant,
        actor_id=actor_id,
        actor="contract-test",
        action=action,
        resource_type=resource_type,
        resource_id=resource_id or str(uuid.uuid4()),
        old_value=old,
        new_value=new,
        request_id="req-42",
        ip="10.0.0.7",
    )


def _ids(found: list[AuditEntry]) -> list[uuid.UUID]:
    return [entry.id for entry in found]


async def _everything(store: AuditStore) -> list[AuditEntry]:
    found, _ = await store.query(AuditQuery(tenant_id=None), limit=1000, offset=0)
    return found


# --- append and read back -----------------------------------------------------------------------


async def test_appended_records_read_back_newest_first_and_unchanged(audit):
    entries = [_entry(at=START + timedelta(minutes=i)) for i in range(3)]
    await audit.store.append(entries, session=None)
    found, total = await audit.store.query(AuditQuery(tenant_id=None), limit=50, offset=0)
    assert total == 3
    assert found == list(reversed(entries))


async def test_appending_nothing_is_allowed(audit):
    await audit.store.append([], session=None)
    assert await _everything(audit.store) == []


async def test_old_and_new_values_round_trip_with_nesting_unicode_and_awkward_keys(audit):
    old = {"name": "Eingang Nord", "limits": {"fps": 15, "zones": [{"id": 1, "points": [[0.1, 0.2], [0.9, 0.95]]}]}}
    new = {
        "name": "入口 北 📷",
        "enabled": True,
        "threshold": 0.75,
        "note": None,
        "big": 2**53 + 1,
        "huge": 2**70,  # beyond BSON's int64
        "tags": ["a", "b", "ü"],
        "deep": {"er": {"still": {"deeper": [None, False, "x"]}}},
        # MongoDB refuses such keys as they are; the adapter must still give them back verbatim.
        "fire_smoke.threshold": 0.5,
        "$set": {"a.b": 1, "100%": "%2E", "%24x": "$"},
    }
    entry = _entry(at=START, old=old, new=new)
    await audit.store.append([entry], session=None)
    [found] = await _everything(audit.store)
    assert found.old_value == old
    assert found.new_value == new
    assert found == entry


async def test_times_come_back_timezone_aware_utc_to_the_microsecond(audit):
    at = datetime(2026, 5, 17, 10, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    await audit.store.append([_entry(at=at)], session=None)
    [found] = await _everything(audit.store)
    assert found.at == at
    assert found.at.utcoffset() == timedelta(0)
    assert found.at == datetime(2026, 5, 17, 8, 30, 15, 123456, tzinfo=UTC)


async def test_records_one_microsecond_apart_keep_their_order(audit):
    first = _entry(at=datetime(2026, 2, 3, 4, 5, 6, 7001, tzinfo=UTC))
    second = _entry(at=first.at + timedelta(microseconds=1))
    await audit.store.append([first, second], session=None)
    assert _ids(await _everything(audit.store)) == [second.id, first.id]


# --- filters and pages --------------------------------------------------------------------------


@pytest.fixture
async def planned(audit: Harness) -> dict[str, Any]:
    """Eight records an hour apart over two tenants, a platform record, two actors, two resources."""
    t1, t2 = uuid.uuid4(), uuid.uuid4()
    alice, bob = uuid.uuid4(), uuid.uuid4()
    plan = [
        (t1, "camera", "cam-1", "create", alice),
        (t1, "camera", "cam-1", "update", alice),
        (t2, "camera", "cam-2", "create", bob),
        (t1, "user", "user-1", "create", alice),
        (t1, "camera", "cam-1", "delete", bob),
        (t2, "user", "user-2", "update", bob),
        (None, "customer", str(t1), "update", None),
        (t1, "camera", "cam-3", "create", alice),
    ]
    entries = [
        _entry(at=START + timedelta(hours=i), tenant=t, resource_type=rt, resource_id=rid, action=ac, actor_id=who)
        for i, (t, rt, rid, ac, who) in enumerate(plan)
    ]
    await audit.store.append(entries, session=None)
    return {"t1": t1, "t2": t2, "alice": alice, "bob": bob, "e": entries}


async def _query(audit: Harness, **filters: Any) -> tuple[list[uuid.UUID], int]:
    filters.setdefault("tenant_id", None)
    found, total = await audit.store.query(AuditQuery(**filters), limit=50, offset=0)
    return _ids(found), total


async def test_tenant_none_reads_every_record_newest_first(audit, planned):
    e = planned["e"]
    assert await _query(audit) == ([x.id for x in reversed(e)], 8)


async def test_filter_by_tenant(audit, planned):
    e = planned["e"]
    assert await _query(audit, tenant_id=planned["t1"]) == ([e[7].id, e[4].id, e[3].id, e[1].id, e[0].id], 5)
    assert await _query(audit, tenant_id=planned["t2"]) == ([e[5].id, e[2].id], 2)
    assert await _query(audit, tenant_id=uuid.uuid4()) == ([], 0)


async def test_filter_by_resource_type_and_id(audit, planned):
    e = planned["e"]
    assert await _query(audit, resource_type="user") == ([e[5].id, e[3].id], 2)
    assert await _query(audit, resource_type="camera", resource_id="cam-1") == ([e[4].id, e[1].id, e[0].id], 3)
    assert await _query(audit, resource_id=str(planned["t1"])) == ([e[6].id], 1)


async def test_filter_by_actor_and_action(audit, planned):
    e = planned["e"]
    assert await _query(audit, actor_id=planned["bob"]) == ([e[5].id, e[4].id, e[2].id], 3)
    assert await _query(audit, action="update") == ([e[6].id, e[5].id, e[1].id], 3)
    assert await _query(audit, tenant_id=planned["t1"], actor_id=planned["alice"], action="create") == (
        [e[7].id, e[3].id, e[0].id],
        3,
    )


async def test_since_is_inclusive_and_until_exclusive(audit, planned):
    e = planned["e"]
    window = {"since": START + timedelta(hours=2), "until": START + timedelta(hours=5)}
    assert await _query(audit, **window) == ([e[4].id, e[3].id, e[2].id], 3)
    assert await _query(audit, since=START + timedelta(hours=6)) == ([e[7].id, e[6].id], 2)
    assert await _query(audit, until=START + timedelta(hours=1)) == ([e[0].id], 1)
    # The same instant written in another offset selects the same records.
    plus_two = timezone(timedelta(hours=2))
    assert await _query(audit, since=(START + timedelta(hours=6)).astimezone(plus_two)) == ([e[7].id, e[6].id], 2)
    # One microsecond after a record's time leaves it out.
    assert await _query(audit, since=e[7].at + timedelta(microseconds=1)) == ([], 0)


async def test_pages_cover_everything_once_and_report_the_total(audit, planned):
    e = planned["e"]
    seen: list[uuid.UUID] = []
    for offset in (0, 3, 6):
        found, total = await audit.store.query(AuditQuery(tenant_id=None), limit=3, offset=offset)
        assert total == 8
        seen += _ids(found)
    assert seen == [x.id for x in reversed(e)]
    found, total = await audit.store.query(AuditQuery(tenant_id=planned["t1"]), limit=2, offset=4)
    assert (_ids(found), total) == ([e[0].id], 5)
    found, total = await audit.store.query(AuditQuery(tenant_id=None), limit=10, offset=100)
    assert (found, total) == ([], 8)


# --- append-only ----------------------------------------------------------------------------------


async def test_the_store_offers_no_way_to_change_or_remove_records(audit):
    public = {name for name in dir(audit.store) if not name.startswith("_")}
    assert public <= {"transactional", "append", "query", "read_chain", "count_unchained", "ping", "close", "from_url"}


async def test_appending_an_existing_id_again_never_replaces_the_record(audit):
    original = _entry(at=START, action="create", new={"name": "original"})
    await audit.store.append([original], session=None)
    forged = original.model_copy(update={"action": "delete", "new_value": {"name": "forged"}})
    with pytest.raises(Conflict):
        await audit.store.append([forged], session=None)
    assert await _everything(audit.store) == [original]


# --- through the unit of work ---------------------------------------------------------------------


async def test_records_of_a_committed_unit_of_work_are_written_with_its_actor(audit):
    uow = audit.unit_of_work()
    try:
        tenant = Tenant(name="Committed")
        uow.add(tenant)
        await uow.flush()
        uow.audit("create", "customer", tenant.id, new={"name": "Committed"}, tenant_id=tenant.id)
        uow.audit("update", "customer", tenant.id, old={"name": "Committed"}, new={"name": "Renamed", "password": "x"})
        await uow.commit()
    finally:
        await uow.session.close()
    # Sorted by action: both were stamped within microseconds, and their order is tested above.
    found = sorted(await _everything(audit.store), key=lambda f: f.action)
    assert [(f.action, f.resource_id, f.tenant_id) for f in found] == [
        ("create", str(tenant.id), tenant.id),
        ("update", str(tenant.id), None),
    ]
    assert {(f.actor_id, f.actor, f.request_id, f.ip) for f in found} == {
        (ACTOR.user_id, ACTOR.email, ACTOR.request_id, ACTOR.ip)
    }
    assert found[1].new_value == {"name": "Renamed", "password": "***"}


async def test_records_of_a_rolled_back_unit_of_work_are_never_written(audit):
    uow = audit.unit_of_work()
    try:
        uow.add(Tenant(name="Rolled back"))
        uow.audit("create", "customer", "rolled-back")
        await uow.flush()
        await uow.rollback()
        await uow.commit()  # nothing left to write
    finally:
        await uow.session.close()
    assert await _everything(audit.store) == []


async def test_a_unit_of_work_whose_commit_conflicts_writes_no_record(audit):
    uow = audit.unit_of_work()
    try:
        uow.add(Tenant(name="Taken"))
        await uow.commit()
        uow.add(Tenant(name="Taken"))
        uow.audit("create", "customer", "duplicate")
        with pytest.raises(Conflict):
            await uow.commit()
    finally:
        await uow.session.close()
    assert await _everything(audit.store) == []


# The SQL store writes inside the transaction instead; test_sql.py covers that.
@pytest.mark.parametrize("audit_kind", ["mongo"], indirect=True)
async def test_the_mongo_store_writes_only_after_the_sql_commit(audit):
    assert audit.store.transactional is False
    uow = audit.unit_of_work()
    try:
        uow.audit("create", "customer", "pending")
        await uow.flush()
        assert await _everything(audit.store) == []  # staged, not yet written
        await uow.commit()
    finally:
        await uow.session.close()
    assert [f.resource_id for f in await _everything(audit.store)] == ["pending"]


async def test_ping_succeeds_while_the_store_is_reachable(audit):
    await audit.store.ping()


# --- MongoDB down ---------------------------------------------------------------------------------


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def unreachable() -> AsyncIterator[MongoAuditStore]:
    """A MongoDB store pointed at a port nothing listens on."""
    store = MongoAuditStore.from_url(f"mongodb://127.0.0.1:{_unused_port()}/", _database_name(), timeout_s=0.3)
    yield store
    await store.close()


async def test_unreachable_mongo_append_is_service_unavailable(unreachable):
    with pytest.raises(ServiceUnavailable):
        await unreachable.append([_entry(at=START)], session=None)


async def test_unreachable_mongo_query_is_service_unavailable(unreachable):
    with pytest.raises(ServiceUnavailable):
        await unreachable.query(AuditQuery(tenant_id=None), limit=10, offset=0)


async def test_unreachable_mongo_ping_is_service_unavailable(unreachable):
    with pytest.raises(ServiceUnavailable):
        await unreachable.ping()


def test_a_timeout_in_the_url_wins_over_the_default():
    store = MongoAuditStore.from_url("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1234", "x", timeout_s=9)
    assert store._client.options.server_selection_timeout == pytest.approx(1.234)


async def test_settings_choose_the_mongo_store_and_the_container_closes_it(tmp_path, sqlite_url):
    settings = make_settings(
        tmp_path, sqlite_url, audit={"kind": "mongo", "mongo_url": "mongodb://127.0.0.1:1/", "mongo_database": "a"}
    )
    container = build_container(settings)
    try:
        assert isinstance(container.audit_store, MongoAuditStore)
        assert container.audit_store.transactional is False
    finally:
        await container.close()
    default = build_container(make_settings(tmp_path, sqlite_url))
    try:
        assert isinstance(default.audit_store, SqlAuditStore)
    finally:
        await default.close()


# --- the hash chain -------------------------------------------------------------------------------

PROVIDER = Principal(
    user_id=uuid.uuid4(), email="staff@example.com", role=Role.PROVIDER_ADMIN, tenant_id=None, session_id=uuid.uuid4()
)


async def _verify(audit: Harness, tenant: uuid.UUID | None, *, page_size: int = 500) -> AuditChainReport:
    return await service.verify_chain(
        store=audit.store, principal=PROVIDER, customer_id=tenant, key=None, page_size=page_size
    )


async def _chain(audit: Harness, tenant: uuid.UUID | None) -> list[AuditLink]:
    return await audit.store.read_chain(tenant, after_seq=0, limit=10_000)


async def _five(audit: Harness, tenant: uuid.UUID) -> list[AuditEntry]:
    entries = [_entry(at=START + timedelta(minutes=i), tenant=tenant, new={"n": i}) for i in range(5)]
    await audit.store.append(entries, session=None)
    return entries


async def test_each_tenant_gets_its_own_gap_free_chain_of_linked_records(audit):
    t1, t2 = uuid.uuid4(), uuid.uuid4()
    plan = [t1, t2, None, t1, t1, None, t2, t1]
    entries = [_entry(at=START + timedelta(seconds=i), tenant=t, new={"i": i}) for i, t in enumerate(plan)]
    await audit.store.append(entries[:3], session=None)
    for entry in entries[3:]:
        await audit.store.append([entry], session=None)

    for tenant in (t1, t2, None):
        links = await _chain(audit, tenant)
        expected = [e for e in entries if e.tenant_id == tenant]
        assert [x.entry for x in links] == expected
        assert [x.seq for x in links] == list(range(1, len(expected) + 1))
        assert {x.chain for x in links} == {chain_of(tenant)}
        assert [x.prev_hash for x in links] == [GENESIS] + [x.hash for x in links[:-1]]
        # Each stored link is exactly what the chain function computes from the record read back.
        assert links == [link(x.entry, seq=x.seq, prev_hash=x.prev_hash, key=None) for x in links]
        report = await _verify(audit, tenant)
        assert (report.ok, report.records_checked, report.broken) == (True, len(expected), None)
        assert (report.head_seq, report.head_hash) == (links[-1].seq, links[-1].hash)
        assert report.chain == chain_of(tenant)

    # A tenant without records has an empty chain, which holds.
    nobody = uuid.uuid4()
    assert await _verify(audit, nobody) == AuditChainReport(
        chain=str(nobody),
        ok=True,
        records_checked=0,
        unchained=0,
        head_seq=None,
        head_hash=None,
        first_keyed_seq=None,
        broken=None,
    )


async def test_read_chain_pages_in_seq_order(audit):
    tenant = uuid.uuid4()
    entries = await _five(audit, tenant)
    first = await audit.store.read_chain(tenant, after_seq=0, limit=2)
    rest = await audit.store.read_chain(tenant, after_seq=2, limit=10)
    assert [x.seq for x in first + rest] == [1, 2, 3, 4, 5]
    assert [x.entry.id for x in first + rest] == [e.id for e in entries]
    assert await audit.store.read_chain(tenant, after_seq=5, limit=10) == []
    # Verification reads page by page and still sees the whole chain.
    report = await _verify(audit, tenant, page_size=2)
    assert (report.ok, report.records_checked, report.head_seq) == (True, 5, 5)


async def test_concurrent_appends_stay_gap_free_and_verifiable(audit):
    tenant = uuid.uuid4()
    direct = [_entry(at=START + timedelta(milliseconds=i), tenant=tenant) for i in range(24)]

    async def through_a_unit_of_work(i: int) -> None:
        uow = audit.unit_of_work()
        try:
            uow.add(Tenant(name=f"Concurrent {i} {uuid.uuid4().hex[:6]}"))
            uow.audit("create", "customer", f"concurrent-{i}", tenant_id=tenant)
            await uow.commit()
        finally:
            await uow.session.close()

    await asyncio.gather(
        *(audit.store.append([entry], session=None) for entry in direct),
        *(through_a_unit_of_work(i) for i in range(8)),
    )

    links = await _chain(audit, tenant)
    assert [x.seq for x in links] == list(range(1, 33))
    assert {x.entry.id for x in links} >= {e.id for e in direct}
    assert sorted(x.entry.resource_id for x in links if x.entry.resource_type == "customer") == sorted(
        f"concurrent-{i}" for i in range(8)
    )
    report = await _verify(audit, tenant)
    assert (report.ok, report.records_checked, report.broken) == (True, 32, None)


async def test_two_stores_appending_at_once_stay_gap_free(audit):
    # Two stores on one database behave like two processes: nothing in-process serialises them,
    # only the unique (chain, seq) index does.
    tenant = uuid.uuid4()
    if isinstance(audit.store, MongoAuditStore):
        twin: AuditStore = MongoAuditStore(
            AsyncMongoClient(engine_url("VMS_TEST_MONGO_URL"), tz_aware=True),
            audit.mongo.database.name,
        )
    else:
        assert audit.engine is not None
        twin_engine = make_engine(audit.engine.url.render_as_string(hide_password=False))
        twin = SqlAuditStore(make_sessionmaker(twin_engine))
    try:
        entries = [_entry(at=START + timedelta(milliseconds=i), tenant=tenant) for i in range(30)]
        await asyncio.gather(
            *((audit.store if i % 2 else twin).append([entry], session=None) for i, entry in enumerate(entries))
        )
    finally:
        if isinstance(twin, MongoAuditStore):
            await twin.close()
        else:
            await twin_engine.dispose()
    links = await _chain(audit, tenant)
    assert [x.seq for x in links] == list(range(1, 31))
    assert {x.entry.id for x in links} == {e.id for e in entries}
    report = await _verify(audit, tenant)
    assert (report.ok, report.records_checked) == (True, 30)


async def test_an_edited_record_is_reported_at_its_seq(audit):
    tenant = uuid.uuid4()
    entries = await _five(audit, tenant)
    assert (await _verify(audit, tenant)).ok

    await audit.tamper(entries[2].id, action="delete")

    report = await _verify(audit, tenant)
    assert report.ok is False
    assert report.broken is not None
    assert (report.broken.seq, report.broken.id, report.broken.reason) == (3, entries[2].id, "edited")
    links = await _chain(audit, tenant)
    assert report.broken.found == links[2].hash  # the stored hash, unchanged by the edit
    assert report.broken.expected != report.broken.found
    assert report.records_checked == 3
    # Other tenants' chains are untouched by it.
    other = uuid.uuid4()
    await _five(audit, other)
    assert (await _verify(audit, other)).ok


async def test_an_edited_value_or_time_is_reported_too(audit):
    tenant = uuid.uuid4()
    entries = await _five(audit, tenant)
    # One microsecond later: the canonical time keeps every microsecond, on every store.
    later = entries[3].at + timedelta(microseconds=1)
    if audit.mongo is None:
        await audit.tamper(entries[3].id, at=later)
    else:
        await audit.tamper(entries[3].id, at_us=(later - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1))
    report = await _verify(audit, tenant)
    assert report.broken is not None
    assert (report.broken.seq, report.broken.reason) == (4, "edited")


async def test_a_deleted_record_is_reported_as_missing(audit):
    tenant = uuid.uuid4()
    entries = await _five(audit, tenant)
    await audit.remove(entries[1].id)

    report = await _verify(audit, tenant)
    assert report.ok is False
    assert report.broken is not None
    assert (report.broken.seq, report.broken.id, report.broken.reason) == (3, entries[2].id, "missing")
    assert (report.broken.expected, report.broken.found) == ("2", "3")


async def test_a_record_rewritten_with_a_fresh_hash_breaks_the_next_link(audit):
    tenant = uuid.uuid4()
    entries = await _five(audit, tenant)
    links = await _chain(audit, tenant)
    forged = entries[1].model_copy(update={"action": "delete"})
    relinked = link(forged, seq=2, prev_hash=links[0].hash, key=None)
    await audit.tamper(entries[1].id, action="delete", hash=relinked.hash)

    report = await _verify(audit, tenant)
    assert report.broken is not None
    assert (report.broken.seq, report.broken.id, report.broken.reason) == (3, entries[2].id, "reordered")
    assert (report.broken.expected, report.broken.found) == (relinked.hash, links[1].hash)


async def test_a_record_inserted_around_the_store_is_reported_as_unchained(audit):
    tenant = uuid.uuid4()
    # Two before the store's first write (as records predating the chain would be: on MongoDB the
    # chain's unique index is built then, and must not trip over them), one after.
    for minutes in (1, 2):
        await audit.insert_unlinked(_entry(at=START - timedelta(minutes=minutes), tenant=tenant))
    await _five(audit, tenant)
    await audit.insert_unlinked(_entry(at=START + timedelta(hours=1), tenant=tenant))
    report = await _verify(audit, tenant)
    assert (report.ok, report.unchained, report.records_checked, report.broken) == (False, 3, 5, None)
    assert (await _verify(audit, uuid.uuid4())).unchained == 0


async def test_a_keyed_store_writes_links_only_the_key_verifies(audit):
    tenant = uuid.uuid4()
    if isinstance(audit.store, SqlAuditStore):
        keyed: AuditStore = SqlAuditStore(audit.sessions, chain_key=b"k" * 32)
    else:
        keyed = MongoAuditStore(audit.store._client, audit.mongo.database.name, chain_key=b"k" * 32)
    await keyed.append([_entry(at=START, tenant=tenant), _entry(at=START, tenant=tenant)], session=None)
    links = await _chain(audit, tenant)
    assert {x.alg for x in links} == {"hmac-sha256"}

    async def verify(key: bytes | None) -> AuditChainReport:
        return await service.verify_chain(store=keyed, principal=PROVIDER, customer_id=tenant, key=key)

    right = await verify(b"k" * 32)
    assert (right.ok, right.records_checked, right.first_keyed_seq) == (True, 2, 1)
    wrong = await verify(b"w" * 32)
    assert wrong.broken is not None
    assert (wrong.broken.seq, wrong.broken.reason) == (1, "edited")
    none = await verify(None)
    assert none.broken is not None
    assert (none.broken.seq, none.broken.reason) == (1, "unverifiable")


# PostgreSQL only: SQLite has one writer, so no other transaction can take the seq in between there,
# and the MongoDB store writes after the SQL commit, outside the caller's transaction.
@pytest.mark.parametrize("audit_kind", ["postgres"], indirect=True)
async def test_a_unit_of_work_retrying_its_audit_link_keeps_its_own_change(audit):
    # Another transaction holds seq 1 uncommitted, written without the chain's advisory lock (as a
    # writer that does not take it would): the unit of work reads an empty chain, its insert of
    # seq 1 waits for that transaction, fails once it commits, and is retried as seq 2 inside a
    # savepoint, which must not cost the unit of work its own change.
    rival = open_session(audit.sessions, TenantScope.platform())
    uow = audit.unit_of_work()
    name = f"Kept {uuid.uuid4().hex[:6]}"
    try:
        first = link(_entry(at=START, resource_id="rival"), seq=1, prev_hash=GENESIS, key=None)
        chain_fields = {"chain": first.chain, "seq": 1, "prev_hash": GENESIS, "hash": first.hash, "alg": first.alg}
        await rival.execute(insert(AuditRecord).values(**first.entry.model_dump(), **chain_fields))
        uow.add(Tenant(name=name))
        uow.audit("create", "customer", "kept")
        committing = asyncio.create_task(uow.commit())
        await asyncio.sleep(0.5)
        assert not committing.done()  # blocked on the rival's seq 1
        await rival.commit()
        await committing
    finally:
        await rival.close()
        await uow.session.close()
    links = await _chain(audit, None)
    assert [(x.seq, x.entry.resource_id) for x in links] == [(1, "rival"), (2, "kept")]
    assert (await _verify(audit, None)).ok
    async with audit.sessions() as session:
        assert (await session.execute(text("SELECT count(*) FROM tenants WHERE name = :n"), {"n": name})).scalar() == 1


# --- the migration chains what was there before --------------------------------------------------


async def test_the_migration_chains_existing_records_and_keeps_the_log_append_only(any_database_url):
    await asyncio.to_thread(migrations.downgrade, any_database_url, "0006")
    t1 = uuid.uuid4()
    legacy = [
        _entry(at=START + timedelta(minutes=minute), tenant=tenant, resource_id=f"cam-{minute}", new={"nested": [[1]]})
        for minute, tenant in [(3, t1), (1, None), (2, t1), (0, t1)]
    ]
    engine = make_engine(any_database_url)
    try:
        async with engine.begin() as conn:
            # Only the columns revision 0006 has.
            await conn.execute(insert(AuditRecord), [entry.model_dump() for entry in legacy])
        await asyncio.to_thread(migrations.upgrade, any_database_url, "head")

        store = SqlAuditStore(make_sessionmaker(engine))
        links = await store.read_chain(t1, after_seq=0, limit=10)
        assert [x.entry.resource_id for x in links] == ["cam-0", "cam-2", "cam-3"]  # by time, per tenant
        assert [x.seq for x in links] == [1, 2, 3]
        assert {x.alg for x in links} == {"sha256"}
        for tenant, count in ((t1, 3), (None, 1)):
            report = await service.verify_chain(store=store, principal=PROVIDER, customer_id=tenant, key=None)
            assert (report.ok, report.records_checked) == (True, count)
        # New records continue the chain the migration started.
        await store.append([_entry(at=START + timedelta(hours=1), tenant=t1)], session=None)
        assert [x.seq for x in await store.read_chain(t1, after_seq=0, limit=10)] == [1, 2, 3, 4]
        # And the triggers still refuse to change the log.
        with pytest.raises(Exception, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE audit_log SET action = 'x'"))
        with pytest.raises(Exception, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text("DELETE FROM audit_log"))
    finally:
        await engine.dispose()
