"""The ServiceNow and Jira adapters against simulators speaking their REST APIs: round trips, status
mapping, retries on 5xx/429 (Retry-After), and every failure turned into a clear kernel error."""

from __future__ import annotations

import httpx
import pytest

from tests.simulators.ticketing import JiraSimulator, ServiceNowSimulator
from vms.kernel.errors import TicketingCredentialsRefused, TicketingRejected, TicketingUnavailable
from vms.kernel.priority import Priority
from vms.tickets.jira import Jira
from vms.tickets.models import TicketStatus
from vms.tickets.servicenow import ServiceNow
from vms.tickets.systems import RemoteApi, RetryPolicy, TicketDraft, retry_after_s

FAST = RetryPolicy(attempts=3, backoff_s=0.01, max_wait_s=2.0, timeout_s=5.0, connect_timeout_s=1.0)
DRAFT = TicketDraft(
    reference="vms-event-6f1c",
    title="Fire / smoke at 2026-11-20 09:00:00 UTC",
    description="Smoke in the loading bay",
    priority=Priority.CRITICAL,
    event_url="https://vms.example.com/events?event=6f1c",
    camera_name="Loading bay",
    occurred_at="2026-11-20T09:00:00+00:00",
)


def api(base_url: str, auth: httpx.Auth, name: str, policy: RetryPolicy = FAST) -> RemoteApi:
    return RemoteApi(name=name, base_url=base_url, auth=auth, policy=policy)


async def test_servicenow_incident_round_trip_maps_priority_and_state():
    async with ServiceNowSimulator("vms", "s3cret") as now:
        system = ServiceNow(
            api(now.base_url, httpx.BasicAuth("vms", "s3cret"), "ServiceNow"), options={"caller": "guard"}
        )
        remote = await system.create(DRAFT)
        row = now.incidents[remote.external_id]
        assert remote.key == "INC0010001" and remote.status is TicketStatus.OPEN and remote.status_text == "New"
        assert remote.url == f"{now.base_url}/incident.do?sys_id={remote.external_id}"
        assert (row["urgency"], row["impact"], row["caller_id"]) == ("1", "1", "guard")  # CRITICAL → P1
        assert row["short_description"] == DRAFT.title and row["correlation_id"] == DRAFT.reference
        assert "Camera: Loading bay" in row["description"] and DRAFT.event_url in row["description"]

        now.set_state(remote.external_id, "2")
        fetched = await system.fetch(remote.external_id)
        assert fetched.status is TicketStatus.IN_PROGRESS and fetched.status_text == "In Progress"
        now.set_state(remote.external_id, "6")
        assert (await system.fetch(remote.external_id)).status is TicketStatus.CLOSED
        assert (await system.find(DRAFT.reference)).external_id == remote.external_id  # type: ignore[union-attr]
        assert await system.find("vms-event-other") is None
        assert "incident table is readable" in await system.check()
        await system.api.close()


async def test_servicenow_bearer_token_and_refusals():
    async with ServiceNowSimulator("vms", "s3cret", bearer="oauth-token", mandatory_caller=True) as now:
        good = ServiceNow(api(now.base_url, httpx.BasicAuth("x", "y"), "ServiceNow"), options={})
        with pytest.raises(TicketingCredentialsRefused, match="ServiceNow refused the credentials"):
            await good.create(DRAFT)
        assert len(now.requests) == 1  # a refusal is not retried

        from vms.tickets.integration import _Bearer

        bearer = ServiceNow(api(now.base_url, _Bearer("oauth-token"), "ServiceNow"), options={})
        with pytest.raises(TicketingRejected, match="mandatory: Caller"):  # data policy 403 is not an auth problem
            await bearer.create(DRAFT)
        bearer.options = {"caller": "guard"}
        assert (await bearer.create(DRAFT)).key.startswith("INC")
        await good.api.close()
        await bearer.api.close()


async def test_5xx_and_429_are_retried_with_backoff_and_retry_after():
    async with JiraSimulator("ops@example.com", "api-token") as jira:
        system = Jira(
            api(jira.base_url, httpx.BasicAuth("ops@example.com", "api-token"), "Jira"), options={"project_key": "SEC"}
        )
        jira.fail_next(503, 429, retry_after="1")
        remote = await system.create(DRAFT)
        assert remote.key == "SEC-1" and len(jira.requests) == 3  # two failures, then created
        assert jira.issues["SEC-1"]["fields"]["priority"] == {"name": "Highest"}

        jira.fail_next(500, 500, 500)
        with pytest.raises(TicketingUnavailable, match=r"HTTP 500 .*tried 3 times"):
            await system.fetch("SEC-1")

        jira.fail_next(429, retry_after="120")  # longer than a call may wait: left to the ticket sync
        with pytest.raises(TicketingUnavailable, match="asks to wait 120 s"):
            await system.fetch("SEC-1")
        await system.api.close()


async def test_jira_issue_round_trip_status_categories_and_validation_messages():
    async with JiraSimulator("ops@example.com", "api-token", priority_on_screen=False) as jira:
        auth = httpx.BasicAuth("ops@example.com", "api-token")
        system = Jira(api(jira.base_url, auth, "Jira"), options={"project_key": "SEC", "issue_type": "Incident"})
        remote = await system.create(DRAFT)  # priority refused by the screen: retried without it
        issue = jira.issues[remote.key]["fields"]
        assert "priority" not in issue and issue["issuetype"] == {"name": "Incident"}
        assert issue["labels"] == ["vms", DRAFT.reference] and remote.url == f"{jira.base_url}/browse/SEC-1"
        jira.transition("SEC-1", "In Progress")
        assert (await system.fetch("SEC-1")).status is TicketStatus.IN_PROGRESS
        jira.transition("SEC-1", "Done")
        done = await system.fetch("SEC-1")
        assert done.status is TicketStatus.CLOSED and done.status_text == "Done"
        assert (await system.find(DRAFT.reference)).key == "SEC-1"  # type: ignore[union-attr]
        assert "as ops@example.com; project SEC is there" in await system.check()

        wrong = Jira(api(jira.base_url, auth, "Jira"), options={"project_key": "NOPE"})
        with pytest.raises(TicketingRejected, match="project: valid project is required"):
            await wrong.create(DRAFT)
        with pytest.raises(TicketingRejected, match="No project could be found with key 'NOPE'"):
            await wrong.check()
        with pytest.raises(TicketingRejected, match="HTTP 404"):
            await system.fetch("SEC-99")
        await system.api.close()
        await wrong.api.close()


async def test_an_unreachable_tracker_is_unavailable_and_a_non_json_answer_is_named():
    with socket_closed() as port:
        system = ServiceNow(api(f"http://127.0.0.1:{port}", None, "ServiceNow"), options={})  # type: ignore[arg-type]
        with pytest.raises(TicketingUnavailable, match=r"could not be reached .*tried 3 times"):
            await system.create(DRAFT)
        await system.api.close()

    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>Sign in</html>")

    remote = RemoteApi(
        name="Jira", base_url="http://jira.invalid", auth=None, policy=FAST, transport=httpx.MockTransport(html)
    )
    with pytest.raises(TicketingRejected, match="not JSON"):
        await Jira(remote, options={"project_key": "SEC"}).fetch("SEC-1")
    await remote.close()


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_s("7") == 7.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after_s("soon") is None and retry_after_s(None) is None


class socket_closed:
    """A loopback port nothing listens on."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None
