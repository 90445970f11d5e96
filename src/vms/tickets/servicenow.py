"""ServiceNow incidents through the Table API (`/api/now/table/incident`).

Written from ServiceNow's public REST API reference: POST creates a record and answers
`{"result": {...}}` with its `sys_id` and `number`; GET reads it; `sysparm_query` filters lists.
Errors arrive as `{"error": {"message", "detail"}, "status": "failure"}`. Priority is not written
directly: ServiceNow derives it from urgency × impact, so our priority maps onto those two (CRITICAL →
1/1 = P1, HIGH → 1/2 = P2, MEDIUM → 2/2 = P3, STANDARD → 2/3 = P4 with the default matrix).

Our reference travels in `correlation_id` (the field ServiceNow provides for links to other
systems), which is how a retry finds an incident an earlier, lost answer already opened.
"""

from __future__ import annotations

from typing import Any

from vms.kernel.errors import TicketingRejected
from vms.kernel.priority import Priority
from vms.tickets.models import TicketStatus
from vms.tickets.systems import RemoteApi, RemoteTicket, TicketDraft

TABLE = "/api/now/table/incident"
FIELDS = "sys_id,number,state"
URGENCY_IMPACT: dict[Priority, tuple[str, str]] = {
    Priority.CRITICAL: ("1", "1"),
    Priority.HIGH: ("1", "2"),
    Priority.MEDIUM: ("2", "2"),
    Priority.STANDARD: ("2", "3"),
}
# Incident states of the base system: 1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed, 8 Canceled.
STATES: dict[str, tuple[str, TicketStatus]] = {
    "1": ("New", TicketStatus.OPEN),
    "2": ("In Progress", TicketStatus.IN_PROGRESS),
    "3": ("On Hold", TicketStatus.IN_PROGRESS),
    "6": ("Resolved", TicketStatus.CLOSED),
    "7": ("Closed", TicketStatus.CLOSED),
    "8": ("Canceled", TicketStatus.CLOSED),
}


class ServiceNow:
    """Incidents in one ServiceNow instance.

    Options: `caller` (caller_id: a user's sys_id or user name), `assignment_group`, `category`.
    """

    name = "ServiceNow"

    def __init__(self, api: RemoteApi, *, options: dict[str, Any]) -> None:
        self.api = api
        self.options = options

    async def create(self, draft: TicketDraft) -> RemoteTicket:
        """Open an incident."""
        urgency, impact = URGENCY_IMPACT[draft.priority]
        record: dict[str, str] = {
            "short_description": draft.title[:160],
            "description": draft.body(),
            "urgency": urgency,
            "impact": impact,
            "correlation_id": draft.reference,
            "correlation_display": "VMS Platform",
        }
        for option, field in (
            ("caller", "caller_id"),
            ("assignment_group", "assignment_group"),
            ("category", "category"),
        ):
            if self.options.get(option):
                record[field] = str(self.options[option])
        doc = await self.api.call(
            "POST", TABLE, what="creating the incident", json=record, params={"sysparm_fields": FIELDS}
        )
        return self._remote(_result(doc, "creating the incident"))

    async def find(self, reference: str) -> RemoteTicket | None:
        """The incident whose correlation_id is `reference`."""
        doc = await self.api.call(
            "GET",
            TABLE,
            what="looking up the incident",
            params={"sysparm_query": f"correlation_id={reference}", "sysparm_limit": "1", "sysparm_fields": FIELDS},
            ok=(200,),
        )
        rows = doc.get("result") if isinstance(doc, dict) else None
        return self._remote(rows[0]) if isinstance(rows, list) and rows else None

    async def fetch(self, external_id: str) -> RemoteTicket:
        """The incident's current state."""
        doc = await self.api.call(
            "GET", f"{TABLE}/{external_id}", what="reading the incident", params={"sysparm_fields": FIELDS}, ok=(200,)
        )
        return self._remote(_result(doc, "reading the incident"))

    async def check(self) -> str:
        """Read one incident row: proves the URL, the credentials and the rights on the table."""
        await self.api.call(
            "GET",
            TABLE,
            what="the connection test",
            params={"sysparm_limit": "1", "sysparm_fields": "sys_id"},
            ok=(200,),
        )
        return f"Connected to ServiceNow at {self.api.base_url}; the incident table is readable."

    def _remote(self, row: dict[str, Any]) -> RemoteTicket:
        sys_id, number = str(row.get("sys_id") or ""), str(row.get("number") or "")
        if not sys_id:
            raise TicketingRejected("ServiceNow answered without a sys_id; is the base URL the instance's?")
        text, status = STATES.get(str(row.get("state") or "1"), (f"State {row.get('state')}", TicketStatus.IN_PROGRESS))
        return RemoteTicket(
            external_id=sys_id,
            key=number or sys_id,
            url=f"{self.api.base_url}/incident.do?sys_id={sys_id}",
            status=status,
            status_text=text,
        )


def _result(doc: Any, what: str) -> dict[str, Any]:
    result = doc.get("result") if isinstance(doc, dict) else None
    if not isinstance(result, dict):
        raise TicketingRejected(f"ServiceNow answered {what} without a record; is the base URL the instance's?")
    return result
