"""Escalating an event opens one ticket (built-in), which supervisors work and every event reader sees."""

from __future__ import annotations

import uuid

from tests import factories
from tests.unit.events.test_clips import START, add_event
from vms.auth.permissions import Role


async def test_an_event_escalates_to_one_ticket_that_supervisors_work(client, container):
    customer = await factories.customer(container)
    supervisor = await factories.account(client, container, tenant_id=customer.id, role=Role.SUPERVISOR)
    viewer = await factories.account(client, container, tenant_id=customer.id, role=Role.VIEWER)
    event_id = await add_event(container, customer.id, uuid.uuid4(), START)

    assert (await client.post(f"/api/v1/events/{event_id}/ticket", json={}, headers=viewer.headers)).status_code == 403
    r = await client.post(
        f"/api/v1/events/{event_id}/ticket", json={"description": "Check the back door"}, headers=supervisor.headers
    )
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert ticket["event_id"] == str(event_id)
    assert ticket["priority"] == "HIGH" and ticket["status"] == "open" and ticket["system"] == "builtin"
    assert "Intrusion" in ticket["title"] and "2026-11-20 09:00:00" in ticket["title"]
    again = await client.post(f"/api/v1/events/{event_id}/ticket", json={}, headers=supervisor.headers)
    assert again.status_code == 200 and again.json()["id"] == ticket["id"]  # escalating twice is a no-op

    event = (await client.get(f"/api/v1/events/{event_id}", headers=viewer.headers)).json()
    assert event["ticketId"] == ticket["id"]
    listed = (await client.get("/api/v1/tickets", params={"status": "open"}, headers=viewer.headers)).json()
    assert [t["id"] for t in listed["items"]] == [ticket["id"]]

    assert (
        await client.patch(f"/api/v1/tickets/{ticket['id']}", json={"status": "closed"}, headers=viewer.headers)
    ).status_code == 403
    closed = await client.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"status": "closed", "assignee": "guard 7"}, headers=supervisor.headers
    )
    assert closed.status_code == 200 and closed.json()["status"] == "closed" and closed.json()["assignee"] == "guard 7"
    assert (await client.get("/api/v1/tickets", params={"status": "open"}, headers=viewer.headers)).json()["total"] == 0


async def test_tickets_of_another_customer_are_not_found_and_bad_input_is_refused(client, container):
    customer, other = await factories.customer(container), await factories.customer(container)
    supervisor = await factories.account(client, container, tenant_id=customer.id, role=Role.SUPERVISOR)
    stranger = await factories.account(client, container, tenant_id=other.id, role=Role.SUPERVISOR)
    event_id = await add_event(container, customer.id, uuid.uuid4(), START)
    ticket = (await client.post(f"/api/v1/events/{event_id}/ticket", json={}, headers=supervisor.headers)).json()

    assert (await client.get(f"/api/v1/tickets/{ticket['id']}", headers=stranger.headers)).status_code == 404
    assert (
        await client.post(f"/api/v1/events/{event_id}/ticket", json={}, headers=stranger.headers)
    ).status_code == 404
    assert (await client.get("/api/v1/tickets", headers=stranger.headers)).json()["total"] == 0
    for bad in ({"status": "done"}, {"colour": "red"}, {"description": "x" * 9000}):
        r = await client.patch(f"/api/v1/tickets/{ticket['id']}", json=bad, headers=supervisor.headers)
        assert r.status_code == 422, bad
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.post(f"/api/v1/events/{event_id}/ticket", json={"priority": "URGENT"}, headers=supervisor.headers)
    assert r.status_code == 422
