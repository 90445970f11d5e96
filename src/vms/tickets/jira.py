"""Jira issues through the REST API v2 (`/rest/api/2/issue`), Cloud and Data Center alike.

Written from Atlassian's public REST reference: POST /issue with `fields` answers 201
`{"id", "key", "self"}`; GET /issue/{key}?fields=status reads the status and its category (`new`,
`indeterminate`, `done`), which maps onto ours whatever the project's workflow calls its states.
Errors arrive as `{"errorMessages": [...], "errors": {field: message}}`.

Our reference travels as a label (`vms-event-<id>`), which is how a retry finds an issue an earlier,
lost answer already opened. Projects whose create screen has no priority field refuse one, so a
refusal naming `priority` is retried once without it (the issue gets the project's default).
"""

from __future__ import annotations

from typing import Any

from vms.kernel.errors import TicketingRejected
from vms.kernel.priority import Priority
from vms.tickets.models import TicketStatus
from vms.tickets.systems import RemoteApi, RemoteTicket, TicketDraft

PRIORITY_NAMES: dict[Priority, str] = {
    Priority.CRITICAL: "Highest",
    Priority.HIGH: "High",
    Priority.MEDIUM: "Medium",
    Priority.STANDARD: "Low",
}
CATEGORIES: dict[str, TicketStatus] = {
    "new": TicketStatus.OPEN,
    "indeterminate": TicketStatus.IN_PROGRESS,
    "done": TicketStatus.CLOSED,
}


class Jira:
    """Issues in one Jira project.

    Options: `project_key` (required, e.g. SEC), `issue_type` (default Task).
    """

    name = "Jira"

    def __init__(self, api: RemoteApi, *, options: dict[str, Any]) -> None:
        self.api = api
        self.project_key = str(options.get("project_key") or "")
        self.issue_type = str(options.get("issue_type") or "Task")

    async def create(self, draft: TicketDraft) -> RemoteTicket:
        """Open an issue."""
        fields: dict[str, Any] = {
            "project": {"key": self.project_key},
            "issuetype": {"name": self.issue_type},
            "summary": draft.title[:255],
            "description": draft.body(),
            "labels": ["vms", draft.reference],
            "priority": {"name": PRIORITY_NAMES[draft.priority]},
        }
        try:
            doc = await self.api.call("POST", "/rest/api/2/issue", what="creating the issue", json={"fields": fields})
        except TicketingRejected as exc:
            if "priority" not in exc.detail.lower():
                raise
            fields.pop("priority")
            doc = await self.api.call("POST", "/rest/api/2/issue", what="creating the issue", json={"fields": fields})
        key = str(doc.get("key") or "") if isinstance(doc, dict) else ""
        if not key:
            raise TicketingRejected("Jira answered without an issue key; is the base URL the site's?")
        return RemoteTicket(
            external_id=key, key=key, url=self._browse(key), status=TicketStatus.OPEN, status_text="Created"
        )

    async def find(self, reference: str) -> RemoteTicket | None:
        """The issue labelled `reference`, if the site's search answers."""
        doc = await self.api.call(
            "GET",
            "/rest/api/2/search",
            what="looking up the issue",
            params={"jql": f'labels = "{reference}"', "fields": "status", "maxResults": "1"},
            ok=(200,),
        )
        issues = doc.get("issues") if isinstance(doc, dict) else None
        return self._remote(issues[0]) if isinstance(issues, list) and issues else None

    async def fetch(self, external_id: str) -> RemoteTicket:
        """The issue's current status."""
        doc = await self.api.call(
            "GET", f"/rest/api/2/issue/{external_id}", what="reading the issue", params={"fields": "status"}, ok=(200,)
        )
        if not isinstance(doc, dict):
            raise TicketingRejected("Jira answered without the issue; is the base URL the site's?")
        return self._remote(doc)

    async def check(self) -> str:
        """Who we are signed in as, and whether the project exists for us."""
        me = await self.api.call("GET", "/rest/api/2/myself", what="the connection test", ok=(200,))
        who = (me.get("emailAddress") or me.get("displayName") or me.get("name")) if isinstance(me, dict) else None
        await self.api.call(
            "GET", f"/rest/api/2/project/{self.project_key}", what=f"reading project {self.project_key}", ok=(200,)
        )
        user = who or "the configured user"
        return f"Connected to Jira at {self.api.base_url} as {user}; project {self.project_key} is there."

    def _remote(self, issue: dict[str, Any]) -> RemoteTicket:
        key = str(issue.get("key") or "")
        status = (issue.get("fields") or {}).get("status") or {}
        category = (status.get("statusCategory") or {}).get("key", "indeterminate")
        return RemoteTicket(
            external_id=key,
            key=key,
            url=self._browse(key),
            status=CATEGORIES.get(str(category), TicketStatus.IN_PROGRESS),
            status_text=str(status.get("name") or category),
        )

    def _browse(self, key: str) -> str:
        return f"{self.api.base_url}/browse/{key}"
