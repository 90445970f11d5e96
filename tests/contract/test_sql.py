"""SQL port contract: the same suite on embedded SQLite and on real PostgreSQL.

Covers what every domain relies on without re-testing it: the tenant guard in kernel.orm, the
append-only audit log written in the caller's transaction, constraint errors mapped to
Conflict, migrations that go down and up again, and timezone-aware times.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, inspect, select, text, update
from sqlalchemy.exc import DBAPIError

from tests import factories
from tests.conftest import make_settings
from vms import migrations
from vms.adapters.sql.engine import make_engine
from vms.audit.models import AuditRecord
from vms.auth.models import User
from vms.auth.permissions import Role
from vms.bootstrap import Container, build_container
from vms.kernel.ai_models import AiModel
from vms.kernel.clock import as_utc
from vms.kernel.errors import Conflict, Forbidden
from vms.kernel.tenancy import TenantScope
from vms.ports import AuditEntry, AuditQuery
from vms.tenants import service as tenants
from vms.tenants.models import License, Tenant
from vms.tenants.schemas import CustomerCreate, LicenseWrite
from vms.uow import Actor

pytestmark = pytest.mark.engines

SYSTEM = Actor.system("contract-test")


@pytest.fixture
async def container(tmp_path: Path, any_database_url: str) -> AsyncIterator[Container]:
    """A container on a fresh, migrated database of each engine (overrides the SQLite-only one)."""
    built = build_container(make_settings(tmp_path, any_database_url))
    yield built
    await built.close()


@pytest.fixture
async def two_tenants(container: Container) -> tuple[uuid.UUID, uuid.UUID]:
    """Customers A (two users) and B (one user), plus one provider admin without a tenant."""
    a = await factories.customer(container, name="Tenant A")
    b = await factories.customer(container, name="Tenant B")
    for email in ("a1@example.com", "a2@example.com"):
        await factories.user(container, tenant_id=a.id, email=email)
    await factories.user(container, tenant_id=b.id, email="b1@example.com")
    await factories.user(container, tenant_id=None, role=Role.PROVIDER_ADMIN, email="staff@example.com")
    return a.id, b.id


async def _emails(container: Container, scope: TenantScope) -> set[str]:
    async with container.unit_of_work(scope, SYSTEM) as uow:
        return set((await uow.session.execute(select(User.email))).scalars())


def _user(email: str, tenant_id: uuid.UUID | None) -> User:
    return User(tenant_id=tenant_id, email=email, role=Role.VIEWER.value, password_hash="not-a-real-hash")


# --- the tenant guard ---------------------------------------------------------------------------


async def test_tenant_scope_sees_only_its_own_rows_in_select(container, two_tenants):
    a, b = two_tenants
    assert await _emails(container, TenantScope.of(a)) == {"a1@example.com", "a2@example.com"}
    assert await _emails(container, TenantScope.of(b)) == {"b1@example.com"}


async def test_platform_scope_sees_every_tenant(container, two_tenants):
    assert await _emails(container, TenantScope.platform()) == {
        "a1@example.com",
        "a2@example.com",
        "b1@example.com",
        "staff@example.com",
    }


async def test_tenant_filter_follows_each_session_not_a_cached_statement(container, two_tenants):
    # The filter is a cached lambda; each session must bind its own tenant, in either order.
    a, b = two_tenants
    for _ in range(2):
        assert await _emails(container, TenantScope.of(b)) == {"b1@example.com"}
        assert await _emails(container, TenantScope.of(a)) == {"a1@example.com", "a2@example.com"}


async def test_tenant_scope_counts_only_its_own_rows(container, two_tenants):
    a, _ = two_tenants
    async with container.unit_of_work(TenantScope.of(a), SYSTEM) as uow:
        counted_column = (await uow.session.execute(select(func.count(User.id)))).scalar_one()
        counted_from = (await uow.session.execute(select(func.count()).select_from(User))).scalar_one()
        _, total = await uow.page(select(User), limit=1, offset=0)
    assert counted_column == 2
    assert counted_from == 2
    assert total == 2


async def test_tenant_scope_cannot_load_another_tenants_row_by_id(container, two_tenants):
    a, b = two_tenants
    async with container.unit_of_work(TenantScope.platform(), SYSTEM) as uow:
        b_user = (await uow.session.execute(select(User).where(User.tenant_id == b))).scalar_one()
    async with container.unit_of_work(TenantScope.of(a), SYSTEM) as uow:
        found = (await uow.session.execute(select(User).where(User.id == b_user.id))).scalar_one_or_none()
    assert found is None


async def test_bulk_update_in_tenant_scope_touches_only_its_rows(container, two_tenants):
    a, _ = two_tenants
    async with container.unit_of_work(TenantScope.of(a), SYSTEM) as uow:
        result = await uow.session.execute(update(User).values(full_name="Renamed"))
        await uow.commit()
    assert result.rowcount == 2
    async with container.unit_of_work(TenantScope.platform(), SYSTEM) as uow:
        names = {email: name for email, name in await uow.session.execute(select(User.email, User.full_name))}
    assert names == {
        "a1@example.com": "Renamed",
        "a2@example.com": "Renamed",
        "b1@example.com": "",
        "staff@example.com": "",
    }


async def test_bulk_delete_in_tenant_scope_removes_only_its_rows(container, two_tenants):
    a, _ = two_tenants
    async with container.unit_of_work(TenantScope.of(a), SYSTEM) as uow:
        result = await uow.session.execute(delete(User))
        await uow.commit()
    assert result.rowcount == 2
    assert await _emails(container, TenantScope.platform()) == {"b1@example.com", "staff@example.com"}


async def test_adding_a_row_of_another_tenant_is_refused(container, two_tenants):
    a, b = two_tenants
    async with container.unit_of_work(TenantScope.of(a), SYSTEM) as uow:
        uow.add(_user("intruder@example.com", b))
        with pytest.raises(Forbidden):
            await uow.commit()
    assert "intruder@example.com" not in await _emails(container, TenantScope.platform())


async def test_moving_a_loaded_row_to_another_tenant_is_refused(container, two_tenants):
    a, b = two_tenants
    async with container.unit_of_work(TenantScope.of(a), SYSTEM) as uow:
        row = (await uow.session.execute(select(User).where(User.email == "a1@example.com"))).scalar_one()
        row.tenant_id = b
        with pytest.raises(Forbidden):
            await uow.commit()
    assert await _emails(container, TenantScope.of(b)) == {"b1@example.com"}


async def test_bulk_update_cannot_move_rows_to_another_tenant(container, two_tenants):
    # The WHERE filter confines which rows an UPDATE touches, but not what it writes: setting
    # tenant_id hands tenant A's rows to tenant B without any flush seeing it.
    a, b = two_tenants
    async with container.unit_of_work(TenantScope.of(a), SYSTEM) as uow:
        try:
            await uow.session.execute(update(User).values(tenant_id=b))
            await uow.commit()
        except Forbidden:
            pass
    assert await _emails(container, TenantScope.of(b)) == {"b1@example.com"}
    assert await _emails(container, TenantScope.of(a)) == {"a1@example.com", "a2@example.com"}


async def test_bulk_insert_of_another_tenants_row_is_refused(container, two_tenants):
    # An ORM INSERT statement bypasses the flush, so the before_flush guard never sees it.
    a, b = two_tenants
    async with container.unit_of_work(TenantScope.of(a), SYSTEM) as uow:
        try:
            await uow.session.execute(
                insert(User).values(
                    id=uuid.uuid4(),
                    tenant_id=b,
                    email="bulk-intruder@example.com",
                    role=Role.VIEWER.value,
                    password_hash="x",
                )
            )
            await uow.commit()
        except Forbidden:
            pass
    assert "bulk-intruder@example.com" not in await _emails(container, TenantScope.platform())


async def test_row_added_without_tenant_gets_the_scopes_tenant(container, two_tenants):
    a, _ = two_tenants
    async with container.unit_of_work(TenantScope.of(a), SYSTEM) as uow:
        uow.add(_user("newcomer@example.com", None))
        await uow.commit()
    async with container.unit_of_work(TenantScope.platform(), SYSTEM) as uow:
        row = (await uow.session.execute(select(User).where(User.email == "newcomer@example.com"))).scalar_one()
    assert row.tenant_id == a


# --- the audit log ------------------------------------------------------------------------------


async def _audit_rows(container: Container) -> list[AuditRecord]:
    async with container.sessions() as session:
        return list((await session.execute(select(AuditRecord).order_by(AuditRecord.at))).scalars())


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"], ids=["update", "delete"]
)
async def test_audit_log_refuses_update_and_delete_in_the_database(container, statement):
    customer = await factories.customer(container)
    [before] = await _audit_rows(container)
    assert (before.action, before.resource_id) == ("create", str(customer.id))

    with pytest.raises(DBAPIError, match="append-only"):
        async with container.engine.begin() as conn:
            await conn.execute(text(statement))

    [after] = await _audit_rows(container)
    assert (after.id, after.action, after.resource_type, after.resource_id) == (
        before.id,
        "create",
        "customer",
        str(customer.id),
    )


async def test_audit_log_refuses_orm_updates_too(container):
    await factories.customer(container)
    async with container.unit_of_work(TenantScope.platform(), SYSTEM) as uow:
        with pytest.raises(DBAPIError, match="append-only"):
            await uow.session.execute(update(AuditRecord).values(actor="someone else"))
    [row] = await _audit_rows(container)
    assert row.actor == "test"


async def test_audit_records_of_a_rolled_back_unit_of_work_are_never_written(container):
    async with container.unit_of_work(TenantScope.platform(), SYSTEM) as uow:
        uow.add(Tenant(name="Rolled back"))
        uow.audit("create", "customer", "rolled-back")
        await uow.flush()
        await uow.rollback()
    assert await _audit_rows(container) == []


async def test_audit_record_is_written_once_with_its_change(container):
    async with container.unit_of_work(TenantScope.platform(), SYSTEM) as uow:
        tenant = Tenant(name="Committed")
        uow.add(tenant)
        await uow.flush()
        uow.audit("create", "customer", tenant.id, new={"name": "Committed"}, tenant_id=tenant.id)
        await uow.commit()
    [row] = await _audit_rows(container)
    assert (row.action, row.resource_id, row.tenant_id, row.actor) == (
        "create",
        str(tenant.id),
        tenant.id,
        "contract-test",
    )
    assert row.new_value == {"name": "Committed"}


async def test_audit_append_joins_the_callers_transaction(container):
    # Written through the session, the record and the change commit or vanish together.
    entry = _entry(tenant=None, resource_type="customer", action="create", at=datetime.now(UTC))
    async with container.unit_of_work(TenantScope.platform(), SYSTEM) as uow:
        uow.add(Tenant(name="Joined"))
        await uow.flush()
        await container.audit_store.append([entry], session=uow.session)
        await uow.rollback()
    assert await _audit_rows(container) == []
    async with container.unit_of_work(TenantScope.platform(), SYSTEM) as uow:
        tenant_count = (await uow.session.execute(select(func.count()).select_from(Tenant))).scalar_one()
    assert tenant_count == 0


async def test_a_change_that_conflicts_leaves_no_audit_record(container):
    taken = await factories.customer(container, name="Taken")
    async with container.unit_of_work(TenantScope.platform(), SYSTEM) as uow:
        uow.add(Tenant(name="Taken"))
        uow.audit("create", "customer", "duplicate")
        with pytest.raises(Conflict):
            await uow.commit()
    assert [r.resource_id for r in await _audit_rows(container)] == [str(taken.id)]


def _entry(*, tenant: uuid.UUID | None, resource_type: str, action: str, at: datetime) -> AuditEntry:
    return AuditEntry(
        id=uuid.uuid4(),
        at=at,
        tenant_id=tenant,
        actor_id=None,
        actor="contract-test",
        action=action,
        resource_type=resource_type,
        resource_id=str(uuid.uuid4()),
    )


async def test_audit_query_filters_and_pages_newest_first(container):
    store = container.audit_store
    t1, t2 = uuid.uuid4(), uuid.uuid4()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    plan = [
        (t1, "camera", "create"),
        (t1, "camera", "update"),
        (t2, "camera", "create"),
        (t1, "user", "create"),
        (t1, "camera", "delete"),
        (t2, "user", "update"),
    ]
    entries = [
        _entry(tenant=t, resource_type=rt, action=ac, at=start + timedelta(hours=i))
        for i, (t, rt, ac) in enumerate(plan)
    ]
    await store.append(entries, session=None)

    def ids(found: list[AuditEntry]) -> list[uuid.UUID]:
        return [e.id for e in found]

    everything, total = await store.query(AuditQuery(tenant_id=None), limit=50, offset=0)
    assert total == 6
    assert ids(everything) == [e.id for e in reversed(entries)]
    assert [e.at for e in everything] == sorted((e.at for e in entries), reverse=True)

    found, total = await store.query(AuditQuery(tenant_id=t1), limit=50, offset=0)
    assert (ids(found), total) == ([entries[4].id, entries[3].id, entries[1].id, entries[0].id], 4)

    found, total = await store.query(AuditQuery(tenant_id=t1, resource_type="camera"), limit=50, offset=0)
    assert (ids(found), total) == ([entries[4].id, entries[1].id, entries[0].id], 3)

    found, total = await store.query(AuditQuery(tenant_id=None, action="create"), limit=50, offset=0)
    assert (ids(found), total) == ([entries[3].id, entries[2].id, entries[0].id], 3)

    # since is inclusive, until exclusive: hours 1..3.
    window = AuditQuery(tenant_id=None, since=start + timedelta(hours=1), until=start + timedelta(hours=4))
    found, total = await store.query(window, limit=50, offset=0)
    assert (ids(found), total) == ([entries[3].id, entries[2].id, entries[1].id], 3)

    first, total_first = await store.query(AuditQuery(tenant_id=None), limit=4, offset=0)
    rest, total_rest = await store.query(AuditQuery(tenant_id=None), limit=4, offset=4)
    assert (total_first, total_rest) == (6, 6)
    assert ids(first) + ids(rest) == [e.id for e in reversed(entries)]
    assert len(first) == 4 and len(rest) == 2


async def test_audit_query_reads_back_times_in_utc(container):
    at = datetime(2026, 5, 17, 8, 30, 15, 123456, tzinfo=UTC)
    entry = _entry(tenant=None, resource_type="camera", action="create", at=at)
    await container.audit_store.append([entry], session=None)
    [found], _ = await container.audit_store.query(AuditQuery(tenant_id=None), limit=1, offset=0)
    assert found.at == at
    assert found.at.utcoffset() == timedelta(0)


# --- constraints ----------------------------------------------------------------------------------


async def test_second_customer_with_the_same_name_is_a_conflict(container):
    await factories.customer(container, name="Acme")
    with pytest.raises(Conflict):
        await factories.customer(container, name="Acme")


async def test_second_user_with_the_same_email_is_a_conflict(container):
    customer = await factories.customer(container)
    await factories.user(container, tenant_id=customer.id, email="same@example.com")
    with pytest.raises(Conflict):
        await factories.user(container, tenant_id=customer.id, email="same@example.com")


async def test_unique_constraint_violation_in_the_database_becomes_conflict(container):
    # The services check first, but two requests can race past the check; the constraint decides.
    customer = await factories.customer(container, name="Raced")
    await factories.user(container, tenant_id=customer.id, email="raced@example.com")
    async with container.unit_of_work(TenantScope.platform(), SYSTEM) as uow:
        uow.add(Tenant(name="Raced"))
        with pytest.raises(Conflict):
            await uow.commit()
    async with container.unit_of_work(TenantScope.of(customer.id), SYSTEM) as uow:
        uow.add(_user("raced@example.com", customer.id))
        with pytest.raises(Conflict):
            await uow.commit()
    assert await _emails(container, TenantScope.platform()) == {"raced@example.com"}


# --- migrations -----------------------------------------------------------------------------------


async def _table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def test_migrations_go_down_to_base_and_up_to_head(any_database_url):
    schema = {"tenants", "licenses", "users", "auth_sessions", "refresh_tokens", "audit_log"}
    assert schema <= await _table_names(any_database_url)

    await asyncio.to_thread(migrations.downgrade, any_database_url, "base")
    assert await _table_names(any_database_url) & schema == set()

    await asyncio.to_thread(migrations.upgrade, any_database_url, "head")
    assert schema <= await _table_names(any_database_url)

    # The triggers came back with the table: the log is append-only again.
    engine = make_engine(any_database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(AuditRecord).values(
                    id=uuid.uuid4(),
                    at=datetime.now(UTC),
                    action="create",
                    resource_type="probe",
                    resource_id="1",
                )
            )
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text("DELETE FROM audit_log"))
    finally:
        await engine.dispose()


def test_migrations_build_a_fresh_sqlite_file_from_nothing(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    migrations.upgrade(url)
    migrations.downgrade(url, "base")
    migrations.upgrade(url)
    assert {"tenants", "users", "audit_log"} <= asyncio.run(_table_names(url))


# --- time -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "zone", [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))], ids=str
)
async def test_timezone_aware_datetimes_round_trip(container, zone):
    valid_from = datetime(2026, 3, 1, 9, 30, 0, 250000, tzinfo=zone)
    valid_until = datetime(2027, 3, 1, 23, 45, 59, 999999, tzinfo=zone)
    async with container.unit_of_work(TenantScope.platform(), SYSTEM) as uow:
        customer = await tenants.create_customer(
            uow=uow,
            data=CustomerCreate(
                name="Zoned",
                license=LicenseWrite(
                    camera_limit=1, valid_from=valid_from, valid_until=valid_until, models=[AiModel.MOTION]
                ),
            ),
        )
        await uow.commit()

    async with container.unit_of_work(TenantScope.of(customer.id), SYSTEM) as uow:
        license_ = (await uow.session.execute(select(License))).scalar_one()
        read = await tenants.get_license(uow=uow, tenant_id=customer.id)

    assert as_utc(license_.valid_from) == valid_from
    assert as_utc(license_.valid_until) == valid_until
    assert read.valid_until == valid_until
    assert read.valid_until.utcoffset() == timedelta(0)
    assert read.valid_until.astimezone(UTC).hour == valid_until.astimezone(UTC).hour
