"""Document store contract: the SQL table (on SQLite and PostgreSQL) and MongoDB (FerretDB in tests)
pass one suite.

Each MongoDB test works in its own randomly named database and drops it afterwards, so tests can
share one server with each other and with anything else using it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from tests.conftest import engine_url
from vms.adapters.documents.mongo import MongoDocumentStore
from vms.adapters.documents.sql import SqlDocumentStore
from vms.adapters.sql.engine import make_engine, make_sessionmaker
from vms.kernel.errors import ServiceUnavailable
from vms.ports import DocumentStore

pytestmark = pytest.mark.engines

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EVENTS = "event_metadata"


@pytest.fixture(params=["sql", "postgres", "mongo"])
def documents_kind(request: pytest.FixtureRequest, sqlite_url: str) -> tuple[str, str]:
    """Which store, and the SQL database for the SQL kinds (SQLite, or PostgreSQL for "postgres")."""
    if request.param == "postgres":
        return request.param, str(request.getfixturevalue("postgres_url"))
    return request.param, sqlite_url


@pytest.fixture
async def store(documents_kind: tuple[str, str]) -> AsyncIterator[DocumentStore]:
    """The SQL store on a fresh migrated database, or the MongoDB store in a throwaway database."""
    kind, database_url = documents_kind
    if kind in ("sql", "postgres"):
        engine = make_engine(database_url)
        try:
            yield SqlDocumentStore(make_sessionmaker(engine))
        finally:
            await engine.dispose()
        return
    url, database = engine_url("VMS_TEST_MONGO_URL"), f"vms_documents_test_{uuid.uuid4().hex[:12]}"
    mongo = MongoDocumentStore.from_url(url, database)
    try:
        yield mongo
    finally:
        await mongo.close()
        admin: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
        await admin.drop_database(database)
        await admin.close()


def _event(n: int, **fields: Any) -> dict[str, Any]:
    return {"eventId": f"e{n}", "eventType": "fire_smoke", "status": "NEW", "confidence": 0.5 + n / 100, **fields}


async def test_a_document_reads_back_exactly_with_its_owner_and_time(store):
    tenant = uuid.uuid4()
    body = {
        "eventId": "e1",
        "name": "入口 北 📷",
        "enabled": True,
        "confidence": 0.875,
        "note": None,
        "big": 2**53 + 1,
        "huge": 2**70,  # beyond BSON's int64
        "tags": ["a", "b", "ü"],
        "polygon": [[0.1, 0.2], [0.9, 0.95], [0.5, 0.1]],  # nested arrays: FerretDB 1.x refuses them as they are
        "detectionMetadata": {"boundingBox": [1, 2, 3, 4], "objectClass": "person", "deeper": {"x": [None, False]}},
        "values": {"models.fire_smoke.confidence_threshold": 0.7, "$set": {"a.b": 1}},  # keys MongoDB refuses
        "weird key": "spaces",
        "list_of_objects": [{"k": [1, 2]}, {"k": []}],
    }
    at = datetime(2026, 5, 17, 10, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    await store.upsert(EVENTS, "e1", body, tenant_id=tenant, at=at)
    found = await store.get(EVENTS, "e1")
    assert found is not None
    assert found.body == body
    assert found.tenant_id == tenant
    assert found.at == at and found.at.utcoffset() == timedelta(0)
    assert await store.get(EVENTS, "missing") is None
    assert await store.get("other_collection", "e1") is None


async def test_upsert_replaces_the_whole_document(store):
    tenant = uuid.uuid4()
    await store.upsert(EVENTS, "e1", _event(1, tags=["x"]), tenant_id=tenant, at=START)
    await store.upsert(EVENTS, "e1", {"eventId": "e1", "status": "ACKNOWLEDGED"}, tenant_id=tenant, at=START)
    found = await store.get(EVENTS, "e1")
    assert found is not None and found.body == {"eventId": "e1", "status": "ACKNOWLEDGED"}
    assert [d.id for d in await store.find(EVENTS, tenant_id=tenant)] == ["e1"]


async def test_find_is_per_tenant_newest_first_with_a_time_window_and_limit(store):
    a, b = uuid.uuid4(), uuid.uuid4()
    for n in range(5):
        await store.upsert(EVENTS, f"a{n}", _event(n), tenant_id=a, at=START + timedelta(minutes=n))
    await store.upsert(EVENTS, "b0", _event(9), tenant_id=b, at=START + timedelta(minutes=2))
    await store.upsert(EVENTS, "p0", _event(8), tenant_id=None, at=START)

    assert [d.id for d in await store.find(EVENTS, tenant_id=a)] == ["a4", "a3", "a2", "a1", "a0"]
    assert [d.id for d in await store.find(EVENTS, tenant_id=a, newest_first=False, limit=2)] == ["a0", "a1"]
    window = await store.find(
        EVENTS, tenant_id=a, since=START + timedelta(minutes=1), until=START + timedelta(minutes=3)
    )
    assert [d.id for d in window] == ["a2", "a1"]  # since inclusive, until exclusive
    assert [d.id for d in await store.find(EVENTS, tenant_id=b)] == ["b0"]
    assert [d.id for d in await store.find(EVENTS, tenant_id=None)] == ["p0"]  # the platform's own
    assert await store.find(EVENTS, tenant_id=uuid.uuid4()) == []
    assert await store.find(EVENTS, tenant_id=a, limit=0) == []


async def test_documents_one_microsecond_apart_keep_their_order_and_ties_order_by_id(store):
    tenant = uuid.uuid4()
    first = datetime(2026, 2, 3, 4, 5, 6, 7001, tzinfo=UTC)
    await store.upsert(EVENTS, "late", _event(1), tenant_id=tenant, at=first + timedelta(microseconds=1))
    await store.upsert(EVENTS, "early", _event(2), tenant_id=tenant, at=first)
    await store.upsert(EVENTS, "b-tie", _event(3), tenant_id=tenant, at=first)
    found = await store.find(EVENTS, tenant_id=tenant, newest_first=False)
    assert [d.id for d in found] == ["b-tie", "early", "late"]
    assert found[2].at == first + timedelta(microseconds=1)


async def test_where_matches_top_level_fields_by_type_and_value(store):
    tenant = uuid.uuid4()
    docs = {
        "s1": {"status": "NEW", "n": 5, "flag": True, "cam": "c1"},
        "s2": {"status": "RESOLVED", "n": 6, "flag": False, "cam": "c1"},
        "s3": {"status": "NEW", "n": "5", "flag": 1, "cam": None},
        "s4": {"status": "NEW", "n": 5},
    }
    for i, (doc_id, body) in enumerate(docs.items()):
        await store.upsert(EVENTS, doc_id, body, tenant_id=tenant, at=START + timedelta(seconds=i))

    async def ids(**where: Any) -> list[str]:
        return sorted(d.id for d in await store.find(EVENTS, tenant_id=tenant, where=where))

    assert await ids(status="NEW") == ["s1", "s3", "s4"]
    assert await ids(status="NEW", cam="c1") == ["s1"]
    assert await ids(n=5) == ["s1", "s4"]  # the string "5" is not the number 5
    assert await ids(n="5") == ["s3"]
    assert await ids(flag=True) == ["s1"]  # 1 is not true
    assert await ids(flag=False) == ["s2"]
    assert await ids(cam=None) == ["s3", "s4"]  # null or missing
    assert await ids(status="GONE") == []


async def test_where_refuses_field_names_that_are_not_plain(store):
    with pytest.raises(ValueError, match="field names"):
        await store.find(EVENTS, tenant_id=None, where={"a.b": 1})
    with pytest.raises(ValueError, match="field names"):
        await store.find(EVENTS, tenant_id=None, where={"$where": "1"})


async def test_ping_answers_when_up(store):
    await store.ping()


async def test_an_unreachable_mongo_is_service_unavailable():
    # A port nothing listens on, with a short server-selection timeout.
    mongo = MongoDocumentStore.from_url("mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200", "vms")
    try:
        with pytest.raises(ServiceUnavailable):
            await mongo.upsert(EVENTS, "e1", {"x": 1}, tenant_id=None, at=START)
        with pytest.raises(ServiceUnavailable):
            await mongo.find(EVENTS, tenant_id=None)
        with pytest.raises(ServiceUnavailable):
            await mongo.ping()
    finally:
        await mongo.close()
