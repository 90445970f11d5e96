"""Ticket systems: where a customer's tickets live besides our own table (ServiceNow, Jira).

A ticket system is a per-customer integration, not an engine of the platform, so it lives with the
tickets domain (as the camera prober lives with cameras). The built-in system is the `tickets`
table itself and needs no adapter; an external one implements `TicketSystem`:

>>> system = ServiceNow(RemoteApi(name="ServiceNow", base_url="https://acme.service-now.com",
...                               auth=httpx.BasicAuth("vms", "s3cret")), options={"caller": "vms"})
>>> remote = await system.create(draft)
>>> remote.external_id, remote.key, remote.status
('9d385017c611228701d22104cc95c371', 'INC0010001', <TicketStatus.OPEN: 'open'>)

`RemoteApi` is the one place that talks HTTP to trackers: bounded timeouts, retries with backoff on
5xx and 429 (honouring Retry-After), and the translation of what goes wrong into kernel errors —
401/403 → TicketingCredentialsRefused (422), a refused ticket → TicketingRejected (422, with an
excerpt of the tracker's own message), no answer → TicketingUnavailable (503).
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import structlog

from vms.kernel.errors import TicketingCredentialsRefused, TicketingRejected, TicketingUnavailable
from vms.kernel.priority import Priority
from vms.tickets.models import TicketStatus

log = structlog.get_logger(__name__)
MAX_ANSWER_BYTES = 2 * 1024 * 1024  # a tracker's answer to one ticket call is a few kB
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class TicketDraft:
    """What a remote ticket is written from."""

    reference: str  # our idempotency reference, stored on the remote ticket: "vms-event-<event id>"
    title: str
    description: str
    priority: Priority
    assignee: str | None = None
    event_url: str | None = None
    camera_name: str | None = None
    occurred_at: str | None = None  # ISO-8601 UTC

    def body(self) -> str:
        """The description with the event's particulars, as plain text (both trackers accept it)."""
        lines = [self.description.strip()] if self.description.strip() else []
        facts = [
            ("Camera", self.camera_name),
            ("Occurred", self.occurred_at),
            ("Event", self.event_url),
            ("Assignee (VMS)", self.assignee),
            ("Reference", self.reference),
        ]
        lines += [f"{label}: {value}" for label, value in facts if value]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class RemoteTicket:
    """A ticket as its tracker has it."""

    external_id: str  # the tracker's id for API calls (sys_id, issue id or key)
    key: str  # what people quote (INC0010001, SEC-24)
    url: str  # where a person opens it
    status: TicketStatus  # mapped onto ours
    status_text: str  # the tracker's own word ("In Progress", "Resolved")


class TicketSystem(Protocol):
    """A customer's external tracker.

    >>> remote = await system.create(draft)                      # 201 in the tracker
    >>> await system.find(draft.reference)                       # the same ticket, found again (retries)
    >>> (await system.fetch(remote.external_id)).status          # status sync
    <TicketStatus.IN_PROGRESS: 'in_progress'>
    """

    name: str

    async def create(self, draft: TicketDraft) -> RemoteTicket:
        """Open a ticket; raises TicketingProblem or TicketingUnavailable."""
        ...

    async def find(self, reference: str) -> RemoteTicket | None:
        """The ticket an earlier attempt may already have opened for `reference`, if any."""
        ...

    async def fetch(self, external_id: str) -> RemoteTicket:
        """The ticket's current state."""
        ...

    async def check(self) -> str:
        """A cheap authenticated call; a sentence saying what was reached, or a Ticketing error."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one call tries before giving up (the ticket sync retries much later anyway)."""

    attempts: int = 3
    backoff_s: float = 0.5  # doubled after each try
    max_wait_s: float = 8.0  # a longer Retry-After is not waited for inside a call
    timeout_s: float = 10.0
    connect_timeout_s: float = 3.0


class RemoteApi:
    """HTTP to one tracker: base URL, auth, JSON, bounded timeouts, retries, errors as kernel errors."""

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        auth: httpx.Auth | None,
        headers: dict[str, str] | None = None,
        policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            auth=auth,
            headers={"accept": "application/json", "user-agent": "vms-platform", **(headers or {})},
            timeout=httpx.Timeout(self.policy.timeout_s, connect=self.policy.connect_timeout_s),
            follow_redirects=False,  # a redirect is usually a login page: report it, do not follow it
            trust_env=False,
            transport=transport,
        )

    async def close(self) -> None:
        """Release the connection pool."""
        await self._client.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> Any:
        """Send one request, retrying 5xx/429 and unanswered requests; the decoded JSON answer."""
        policy = self.policy
        wait = policy.backoff_s
        problem = ""
        for attempt in range(1, policy.attempts + 1):
            try:
                response = await self._client.request(method, path, json=json, params=params)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # never sent: always safe to repeat
                problem = f"{self.name} could not be reached for {what} ({type(exc).__name__})"
            except httpx.HTTPError as exc:
                problem = f"{self.name} did not answer {what} ({type(exc).__name__})"
                if method == "POST":
                    # The tracker may have opened the ticket before the answer was lost; repeating now
                    # could open a second one. The ticket sync looks it up by reference first.
                    raise TicketingUnavailable(f"{problem}; the ticket sync checks and retries.") from None
            else:
                if response.status_code in ok:
                    return _json(response, self.name, what)
                if response.status_code not in RETRIED_STATUSES:
                    raise _refusal(response, self.name, what)
                problem = f"{self.name} answered HTTP {response.status_code} to {what}"
                asked = retry_after_s(response.headers.get("retry-after"))
                if asked is not None:
                    if asked > policy.max_wait_s:
                        raise TicketingUnavailable(f"{problem} and asks to wait {asked:g} s; the ticket sync retries.")
                    wait = max(wait, asked)
            if attempt < policy.attempts:
                log.info("ticket system call retried", system=self.name, what=what, problem=problem, wait_s=wait)
                await asyncio.sleep(wait)
                wait *= 2
        raise TicketingUnavailable(f"{problem} (tried {policy.attempts} times).")


def retry_after_s(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def excerpt(text: str, limit: int = 200) -> str:
    """A short single-line piece of a tracker's answer, safe to show."""
    flat = " ".join(text.split())
    return (flat[:limit] + "…") if len(flat) > limit else (flat or "(empty)")


def _json(response: httpx.Response, name: str, what: str) -> Any:
    if len(response.content) > MAX_ANSWER_BYTES:
        raise TicketingRejected(f"{name} sent {len(response.content)} bytes for {what}; that is not a ticket answer.")
    if response.status_code == 204 or not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        raise TicketingRejected(
            f"{name} answered {what} with something that is not JSON (is the URL the tracker's base URL?): "
            f"{excerpt(response.text, 120)}"
        ) from None


def _refusal(response: httpx.Response, name: str, what: str) -> Exception:
    status = response.status_code
    if status == 403 and "data policy" in remote_message(response).lower():
        # ServiceNow refuses a record that breaks a data policy (a mandatory field) with 403.
        return TicketingRejected(f"{name} rejected {what} (HTTP 403): {remote_message(response)}")
    if status in (401, 403):
        return TicketingCredentialsRefused(
            f"{name} refused the credentials for {what} (HTTP {status}); check the user and its token or password."
        )
    if 300 <= status < 400:
        return TicketingRejected(
            f"{name} redirected {what} (HTTP {status}) — usually a sign-in page or the wrong base URL."
        )
    return TicketingRejected(f"{name} rejected {what} (HTTP {status}): {remote_message(response)}")


def remote_message(response: httpx.Response) -> str:
    """The tracker's own explanation: ServiceNow's error.message/detail, Jira's errorMessages/errors."""
    try:
        doc = response.json()
    except ValueError:
        return excerpt(response.text)
    parts: list[str] = []
    if isinstance(doc, dict):
        error = doc.get("error")
        if isinstance(error, dict):  # ServiceNow
            parts += [str(error[k]) for k in ("message", "detail") if error.get(k)]
        messages = doc.get("errorMessages")
        if isinstance(messages, list):  # Jira
            parts += [str(m) for m in messages]
        errors = doc.get("errors")
        if isinstance(errors, dict):
            parts += [f"{field}: {message}" for field, message in errors.items()]
    return excerpt("; ".join(parts) if parts else response.text)
