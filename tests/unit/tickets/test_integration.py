"""A customer's tracker through the API: the Admin configures it (secret write-only), a Supervisor's
escalation opens the remote ticket, outages and refusals never lose the escalation, the ticket sync
delivers later without duplicates and keeps status in step, and nothing crosses customers."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.simulators.ticketing import JiraSimulator, ServiceNowSimulator
from tests.unit.events.test_clips import START, add_event
from vms.auth.permissions import Role
from vms.kernel.clock import as_utc
from vms.kernel.tenancy import TenantScope
from vms.tickets import integration
from vms.tickets.models import TicketIntegration
from vms.tickets.sync import TicketSync
from vms.tickets.systems import RetryPolicy
from vms.uow import Actor

FAST = RetryPolicy(attempts=3, backoff_s=0.01, max_wait_s=2.0, timeout_s=5.0, connect_timeout_s=1.0)
SECRET = "sn-pa55word-that-must-never-leak"


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(integration, "DEFAULT_POLICY", FAST)


async def people(client, container):
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    supervisor = await factories.account(client, container, tenant_id=customer.id, role=Role.SUPERVISOR)
    return customer, admin, supervisor


def servicenow(base_url: str, secret: str = SECRET, **extra: object) -> dict[str, object]:
    return {"system": "servicenow", "base_url": base_url, "username": "vms", "secret": secret, **extra}


async def test_admin_configures_servicenow_and_an_escalation_opens_an_incident(client, container):
    customer, admin, supervisor = await people(client, container)
    camera = await factories.camera(container, tenant_id=customer.id, name="Loading bay")
    event_id = await add_event(container, customer.id, camera.id, START)
    async with ServiceNowSimulator("vms", SECRET) as now:
        body = servicenow(now.base_url, caller="guard.desk", console_url="https://vms.example.com")
        assert (
            await client.put("/api/v1/tickets/integration", json=body, headers=supervisor.headers)
        ).status_code == 403
        r = await client.put("/api/v1/tickets/integration", json=body, headers=admin.headers)
        assert r.status_code == 200, r.text
        assert r.json()["has_secret"] is True and r.json()["caller"] == "guard.desk" and "secret" not in r.json()
        shown = await client.get("/api/v1/tickets/integration", headers=admin.headers)
        assert SECRET not in shown.text and SECRET not in r.text and shown.json()["system"] == "servicenow"
        async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
            row = (await uow.session.execute(select(TicketIntegration))).scalar_one()
            assert SECRET not in row.secret_sealed and container.identity.secrets.decrypt(row.secret_sealed) == SECRET

        test = await client.post("/api/v1/tickets/integration/test", headers=admin.headers)
        assert test.status_code == 200 and "incident table is readable" in test.json()["message"]
        wrong = await client.post(
            "/api/v1/tickets/integration/test", json=servicenow(now.base_url, "wrong"), headers=admin.headers
        )
        assert wrong.status_code == 422 and "ServiceNow refused the credentials" in wrong.json()["detail"]
        nowhere = await client.post(
            "/api/v1/tickets/integration/test", json=servicenow("http://127.0.0.1:9"), headers=admin.headers
        )  # nothing listens there: the settings under test are wrong, a 422 that says so
        assert nowhere.status_code == 422 and nowhere.json()["title"] == "Ticket system unreachable"

        r = await client.post(
            f"/api/v1/events/{event_id}/ticket", json={"description": "Door forced"}, headers=supervisor.headers
        )
        assert r.status_code == 201, r.text
        ticket = r.json()
        assert ticket["system"] == "servicenow" and ticket["external_key"] == "INC0010001"
        assert ticket["external_url"] == f"{now.base_url}/incident.do?sys_id={ticket['external_id']}"
        assert ticket["sync_error"] is None and ticket["external_status"] == "New"
        incident = now.incidents[ticket["external_id"]]
        assert (incident["urgency"], incident["impact"], incident["caller_id"]) == ("1", "2", "guard.desk")  # HIGH
        assert incident["correlation_id"] == f"vms-event-{event_id}"
        assert "Door forced" in incident["description"] and "Camera: Loading bay" in incident["description"]
        assert f"https://vms.example.com/events?event={event_id}" in incident["description"]

        again = await client.post(f"/api/v1/events/{event_id}/ticket", json={}, headers=supervisor.headers)
        assert again.status_code == 200 and again.json()["id"] == ticket["id"] and len(now.incidents) == 1

        now.set_state(ticket["external_id"], "2")  # an agent picks it up in ServiceNow
        synced = await client.post(f"/api/v1/tickets/{ticket['id']}/sync", headers=supervisor.headers)
        assert synced.status_code == 200
        assert synced.json()["status"] == "in_progress" and synced.json()["external_status"] == "In Progress"


async def test_a_jira_outage_keeps_the_escalation_and_the_sync_delivers_it_once(client, container):
    customer, admin, supervisor = await people(client, container)
    event_id = await add_event(container, customer.id, uuid.uuid4(), START)
    async with JiraSimulator("ops@example.com", "jira-token") as jira:
        body = {
            "system": "jira",
            "base_url": jira.base_url,
            "username": "ops@example.com",
            "secret": "jira-token",
            "project_key": "SEC",
        }
        assert (await client.put("/api/v1/tickets/integration", json=body, headers=admin.headers)).status_code == 200
        jira.fail_next(503, 503, 503)
        r = await client.post(f"/api/v1/events/{event_id}/ticket", json={}, headers=supervisor.headers)
        assert r.status_code == 201, r.text  # the escalation stands
        pending = r.json()
        assert pending["system"] == "jira" and pending["external_id"] is None and not jira.issues
        assert "HTTP 503" in pending["sync_error"] and pending["next_sync_at"] is not None
        listed = (await client.get("/api/v1/tickets", headers=supervisor.headers)).json()
        assert [t["id"] for t in listed["items"]] == [pending["id"]]

        syncer = TicketSync(container, policy=FAST)
        due = as_utc(__import__("datetime").datetime.fromisoformat(pending["next_sync_at"]))
        assert await syncer.sync_due(now=due - timedelta(seconds=1)) == 0  # not yet due: backoff is respected
        await syncer.sync_due(now=due + timedelta(seconds=1))
        delivered = (await client.get(f"/api/v1/tickets/{pending['id']}", headers=supervisor.headers)).json()
        assert delivered["external_key"] == "SEC-1" and delivered["sync_error"] is None and syncer.delivered == 1
        assert delivered["external_url"] == f"{jira.base_url}/browse/SEC-1"

        jira.transition("SEC-1", "Done")  # closed in Jira: the next refresh closes ours
        await syncer.sync_due(now=due + timedelta(minutes=10))
        closed = (await client.get(f"/api/v1/tickets/{pending['id']}", headers=supervisor.headers)).json()
        assert closed["status"] == "closed" and closed["external_status"] == "Done" and len(jira.issues) == 1


async def test_a_retry_finds_the_issue_an_earlier_lost_answer_opened(client, container):
    customer, admin, supervisor = await people(client, container)
    event_id = await add_event(container, customer.id, uuid.uuid4(), START)
    async with JiraSimulator("ops@example.com", "jira-token") as jira:
        body = {"system": "jira", "base_url": jira.base_url, "username": "ops@example.com", "secret": "jira-token"}
        body["project_key"] = "SEC"
        await client.put("/api/v1/tickets/integration", json=body, headers=admin.headers)
        jira.fail_next(500, 500, 500)
        ticket = (await client.post(f"/api/v1/events/{event_id}/ticket", json={}, headers=supervisor.headers)).json()
        assert ticket["external_id"] is None
        # As if Jira had opened the issue but the answer was lost: it carries our reference label.
        jira.issues["SEC-1"] = {
            "id": "10000",
            "key": "SEC-1",
            "fields": {"labels": ["vms", f"vms-event-{event_id}"]},
            "status": "To Do",
        }
        r = await client.post(f"/api/v1/tickets/{ticket['id']}/sync", headers=supervisor.headers)
        assert r.status_code == 200 and r.json()["external_key"] == "SEC-1" and len(jira.issues) == 1


async def test_refused_credentials_are_recorded_and_fixing_them_releases_the_queue(client, container):
    customer, admin, supervisor = await people(client, container)
    event_id = await add_event(container, customer.id, uuid.uuid4(), START)
    async with ServiceNowSimulator("vms", SECRET) as now:
        await client.put("/api/v1/tickets/integration", json=servicenow(now.base_url, "expired"), headers=admin.headers)
        ticket = (await client.post(f"/api/v1/events/{event_id}/ticket", json={}, headers=supervisor.headers)).json()
        assert ticket["external_id"] is None and "ServiceNow refused the credentials" in ticket["sync_error"]
        assert not now.incidents

        fixed = await client.put("/api/v1/tickets/integration", json=servicenow(now.base_url), headers=admin.headers)
        assert fixed.status_code == 200
        assert await TicketSync(container, policy=FAST).sync_due() == 1  # due at once, not after the backoff
        delivered = (await client.get(f"/api/v1/tickets/{ticket['id']}", headers=supervisor.headers)).json()
        assert delivered["external_key"] == "INC0010001" and delivered["sync_error"] is None


async def test_integrations_are_the_admins_and_never_cross_customers(client, container):
    customer, admin, supervisor = await people(client, container)
    viewer = await factories.account(client, container, tenant_id=customer.id, role=Role.VIEWER)
    other = await factories.customer(container)
    stranger = await factories.account(client, container, tenant_id=other.id, role=Role.ADMIN)
    event_id = await add_event(container, customer.id, uuid.uuid4(), START)
    async with ServiceNowSimulator("vms", SECRET) as now:
        await client.put("/api/v1/tickets/integration", json=servicenow(now.base_url), headers=admin.headers)
        ticket = (await client.post(f"/api/v1/events/{event_id}/ticket", json={}, headers=supervisor.headers)).json()

    for user in (viewer, supervisor):
        assert (await client.get("/api/v1/tickets/integration", headers=user.headers)).status_code == 403
        assert (await client.post("/api/v1/tickets/integration/test", headers=user.headers)).status_code == 403
    assert (await client.post(f"/api/v1/tickets/{ticket['id']}/sync", headers=viewer.headers)).status_code == 403
    theirs = await client.get("/api/v1/tickets/integration", headers=stranger.headers)
    assert theirs.json() == {**theirs.json(), "system": "builtin", "base_url": None, "has_secret": False}
    assert (await client.post(f"/api/v1/tickets/{ticket['id']}/sync", headers=stranger.headers)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"system": "jira", "base_url": "https://acme.atlassian.net", "username": "a@b.c", "secret": "t"},  # no project
        {"system": "servicenow", "base_url": "https://acme.service-now.com", "username": "vms"},  # no secret
        {"system": "servicenow", "base_url": "not a url", "username": "vms", "secret": "s"},
        {"system": "servicenow", "base_url": "ftp://acme", "username": "vms", "secret": "s"},
        {"system": "servicenow", "base_url": "https://acme.service-now.com", "secret": "s"},  # basic without user
        {"system": "zendesk"},
        {"system": "builtin", "password": "x"},
    ],
)
async def test_incomplete_or_malformed_integrations_are_refused(client, container, body):
    _, admin, _ = await people(client, container)
    r = await client.put("/api/v1/tickets/integration", json=body, headers=admin.headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/api/v1/tickets/integration", headers=admin.headers)).json()["system"] == "builtin"


async def test_moving_to_another_tracker_drops_the_old_secret(client, container):
    _, admin, _ = await people(client, container)
    await client.put("/api/v1/tickets/integration", json=servicenow("https://a.service-now.com"), headers=admin.headers)
    kept = await client.put(
        "/api/v1/tickets/integration",
        json={"system": "servicenow", "base_url": "https://a.service-now.com", "username": "vms2"},
        headers=admin.headers,
    )
    assert kept.status_code == 200 and kept.json()["has_secret"] is True and kept.json()["username"] == "vms2"
    moved = await client.put(
        "/api/v1/tickets/integration",
        json={"system": "servicenow", "base_url": "https://evil.example.com", "username": "vms"},
        headers=admin.headers,
    )
    assert moved.status_code == 422 and "needs a secret" in moved.json()["detail"]
