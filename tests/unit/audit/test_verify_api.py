"""GET /api/v1/audit/verify: Admins check their own customer's chain, provider staff any chain."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tests import factories
from vms.auth.permissions import Role

VERIFY = "/api/v1/audit/verify"


@pytest.fixture
async def world(client, container):
    """Customers A and B (with their creation records), an Admin and a Viewer of A, provider staff."""
    a = await factories.customer(container)
    b = await factories.customer(container)
    return {
        "a": a.id,
        "b": b.id,
        "admin": await factories.account(client, container, tenant_id=a.id, role=Role.ADMIN),
        "viewer": await factories.account(client, container, tenant_id=a.id, role=Role.VIEWER),
        "provider": await factories.account(client, container, tenant_id=None, role=Role.PROVIDER_ADMIN),
    }


async def _links(container, tenant):
    return await container.audit_store.read_chain(tenant, after_seq=0, limit=1000)


async def test_an_admin_verifies_their_own_customers_chain(client, container, world):
    r = await client.get(VERIFY, headers=world["admin"].headers)
    assert r.status_code == 200, r.text
    report = r.json()
    links = await _links(container, world["a"])
    assert links  # the customer's creation at least
    assert report["chain"] == str(world["a"])
    assert report["ok"] is True
    assert report["records_checked"] == len(links)
    assert (report["head_seq"], report["head_hash"]) == (links[-1].seq, links[-1].hash)
    assert report["broken"] is None


async def test_an_admin_naming_their_own_customer_gets_the_same_and_another_is_forbidden(client, world):
    own = await client.get(VERIFY, params={"customer_id": str(world["a"])}, headers=world["admin"].headers)
    assert own.status_code == 200
    assert own.json()["chain"] == str(world["a"])
    other = await client.get(VERIFY, params={"customer_id": str(world["b"])}, headers=world["admin"].headers)
    assert other.status_code == 403
    assert other.headers["content-type"].startswith("application/problem+json")


async def test_provider_staff_verify_any_customer_or_the_platform_chain(client, container, world):
    r = await client.get(VERIFY, params={"customer_id": str(world["b"])}, headers=world["provider"].headers)
    assert r.status_code == 200, r.text
    assert (r.json()["chain"], r.json()["ok"]) == (str(world["b"]), True)
    assert r.json()["records_checked"] == len(await _links(container, world["b"]))

    platform = await client.get(VERIFY, headers=world["provider"].headers)
    assert platform.status_code == 200
    assert platform.json()["chain"] == "platform"
    assert platform.json()["records_checked"] == len(await _links(container, None))


async def test_a_viewer_may_not_verify(client, world):
    r = await client.get(VERIFY, headers=world["viewer"].headers)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_without_a_token_it_is_unauthenticated(client):
    assert (await client.get(VERIFY)).status_code == 401


async def test_a_malformed_customer_id_is_a_422_not_a_500(client, world):
    r = await client.get(VERIFY, params={"customer_id": "not-a-uuid"}, headers=world["provider"].headers)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_an_edited_record_shows_as_the_first_broken_link(client, container, world):
    links = await _links(container, world["a"])
    target = links[0]
    async with container.engine.begin() as conn:
        # As an intruder with database access: lift the append-only trigger, edit, put it back.
        await conn.execute(text("DROP TRIGGER audit_log_no_update"))
        await conn.execute(text("UPDATE audit_log SET actor = 'nobody' WHERE id = :id"), {"id": target.entry.id.hex})
        await conn.execute(
            text(
                "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
        )
    r = await client.get(VERIFY, headers=world["admin"].headers)
    assert r.status_code == 200
    report = r.json()
    assert report["ok"] is False
    assert report["broken"]["seq"] == target.seq
    assert report["broken"]["id"] == str(target.entry.id)
    assert report["broken"]["reason"] == "edited"
    assert report["broken"]["found"] == target.hash
    # Customer B's chain is separate and still holds.
    other = await client.get(VERIFY, params={"customer_id": str(world["b"])}, headers=world["provider"].headers)
    assert other.json()["ok"] is True
    assert uuid.UUID(report["broken"]["id"]) == target.entry.id
