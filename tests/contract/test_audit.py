"""Audit port contract: the SQL append-only table and MongoDB (FerretDB in tests) pass one suite.

Each MongoDB test works in its own randomly named database and drops it afterwards, so tests can
share one server with each other and with anything else using it. The SQL side's database-level
refusal of UPDATE/DELETE is proven in test_sql.py and not repeated here.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from tests.conftest import engine_url, make_settings
from vms.adapters.audit.mongo import MongoAuditStore
from vms.adapters.audit.sql import SqlAuditStore
from vms.adapters.sql.engine import make_engine, make_sessionmaker, open_session
from vms.bootstrap import build_container
from vms.kernel.errors import Conflict, ServiceUnavailable
from vms.kernel.tenancy import TenantScope
from vms.ports import AuditEntry, AuditQuery, AuditStore
from vms.tenants.models import Tenant
from vms.uow import Actor, UnitOfWork

pytestmark = pytest.mark.engines

START = datetime(2026, 1, 1, tzinfo=UTC)


class Harness:
    """One kind's audit store plus a SQL session factory for units of work around it."""

    def __init__(self, kind: str, store: AuditStore, sessions: Any) -> None:
        self.kind = kind
        self.store = store
        self.sessions = sessions

    def unit_of_work(self) -> UnitOfWork:
        """A platform-scoped unit of work writing its audit records to this store."""
        session = open_session(self.sessions, TenantScope.platform())
        return UnitOfWork(session=session, scope=TenantScope.platform(), actor=ACTOR, audit_store=self.store)


ACTOR = Actor(user_id=uuid.uuid4(), email="auditor@example.com", request_id="req-1", ip="127.0.0.1")


@pytest.fixture(params=["sql", "mongo"])
async def audit(request: pytest.FixtureRequest, sqlite_url: str) -> AsyncIterator[Harness]:
    """The SQL store on a fresh migrated SQLite, or the MongoDB store in a throwaway database.

    Both kinds get the SQLite database too: units of work need a SQL transaction either way.
    """
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    try:
        if request.param == "sql":
            yield Harness("sql", SqlAuditStore(sessions), sessions)
            return
        url, database = engine_url("VMS_TEST_MONGO_URL"), _database_name()
        store = MongoAuditStore.from_url(url, database)
        try:
            yield Harness("mongo", store, sessions)
        finally:
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
    assert public <= {"transactional", "append", "query", "ping", "close", "from_url"}


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
@pytest.mark.parametrize("audit", ["mongo"], indirect=True)
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
