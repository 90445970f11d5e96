"""ServiceNow and Jira on loopback, speaking their public REST APIs closely enough to test our adapters.

ServiceNow (Table API): `POST/GET /api/now/table/incident[/{sys_id}]` with `sysparm_query`,
`sysparm_limit` and `sysparm_fields`; answers `{"result": …}`; numbers INC0010001…; basic auth or an
OAuth bearer token; errors as `{"error": {"message", "detail"}, "status": "failure"}`; a data policy
(mandatory caller) refused with 403 "Data Policy Exception", as the real one does.

Jira (REST v2): `POST /rest/api/2/issue`, `GET /rest/api/2/issue/{key}`, `GET /rest/api/2/search`
(JQL `labels = "…"` only), `GET /rest/api/2/myself`, `GET /rest/api/2/project/{key}`; basic auth with
email + API token or a bearer token; errors as `{"errorMessages": [...], "errors": {field: msg}}`;
a project whose create screen lacks priority refuses one.

Both can be told to fail the next requests (`fail_next(500, 500)`, `fail_next(429, retry_after="1")`)
and record every request they saw.

>>> async with ServiceNowSimulator("vms", "s3cret") as now:
...     now.base_url, now.incidents
('http://127.0.0.1:41237', {})
"""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Failure:
    """One canned failure answer."""

    status: int
    retry_after: str | None = None


@dataclass
class TrackerSimulator:
    """What both trackers share: the loopback server, auth, canned failures, the request log."""

    username: str
    secret: str
    bearer: str | None = None
    failures: list[Failure] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    base_url: str = ""
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    def fail_next(self, *statuses: int, retry_after: str | None = None) -> None:
        """Answer the next requests with these statuses (after authentication), in order."""
        self.failures += [Failure(status, retry_after) for status in statuses]

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def unauthorized(self) -> Response:
        raise NotImplementedError

    def authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return self.bearer is not None and value == self.bearer
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return False
        return user == self.username and password == self.secret

    def gate(self, request: Request) -> Response | None:
        """Log, authenticate, then serve a canned failure if one is queued."""
        self.requests.append((request.method, request.url.path))
        if not self.authorized(request):
            return self.unauthorized()
        if self.failures:
            failure = self.failures.pop(0)
            headers = {"retry-after": failure.retry_after} if failure.retry_after else {}
            return JSONResponse({"error": {"message": "Simulated failure"}}, failure.status, headers=headers)
        return None

    async def __aenter__(self) -> Self:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        app = Starlette(routes=self.routes())
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
        self._task = asyncio.create_task(self._server.serve())
        async with asyncio.timeout(10):
            while not self._server.started:  # noqa: ASYNC110 (uvicorn offers no started event)
                await asyncio.sleep(0.02)
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        await asyncio.gather(self._task, return_exceptions=True)


STATES = {"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed", "8": "Canceled"}


@dataclass
class ServiceNowSimulator(TrackerSimulator):
    """A ServiceNow instance with an incident table."""

    mandatory_caller: bool = False  # a data policy that makes caller_id mandatory
    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def routes(self) -> list[Route]:
        return [
            Route("/api/now/table/incident", self.create_or_list, methods=["GET", "POST"]),
            Route("/api/now/table/incident/{sys_id}", self.read, methods=["GET"]),
        ]

    def unauthorized(self) -> Response:
        body = {
            "error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
            "status": "failure",
        }
        return JSONResponse(body, 401, headers={"www-authenticate": 'BASIC realm="Service-now"'})

    def set_state(self, sys_id: str, state: str) -> None:
        """What an agent working the incident would do."""
        self.incidents[sys_id]["state"] = state

    async def create_or_list(self, request: Request) -> Response:
        if (refused := self.gate(request)) is not None:
            return refused
        if request.method == "GET":
            return self._list(request)
        try:
            record = await request.json()
        except ValueError:
            return _snow_error(400, "Exception while reading request", "The payload is not valid JSON.")
        if not isinstance(record, dict):
            return _snow_error(400, "Invalid request", "Expected a JSON object")
        if self.mandatory_caller and not record.get("caller_id"):
            return _snow_error(
                403, "Operation Failed", "Data Policy Exception: \n The following fields are mandatory: Caller\n"
            )
        sys_id = uuid.uuid4().hex
        row = {
            **{k: str(v) for k, v in record.items()},
            "sys_id": sys_id,
            "number": f"INC{10001 + len(self.incidents):07d}",
            "state": "1",
        }
        self.incidents[sys_id] = row
        return JSONResponse({"result": _fields(row, request)}, 201)

    def _list(self, request: Request) -> Response:
        rows = list(self.incidents.values())
        query = request.query_params.get("sysparm_query", "")
        for clause in filter(None, query.split("^")):
            name, _, value = clause.partition("=")
            rows = [r for r in rows if r.get(name) == value]
        limit = int(request.query_params.get("sysparm_limit", "10000"))
        return JSONResponse({"result": [_fields(r, request) for r in rows[:limit]]})

    async def read(self, request: Request) -> Response:
        if (refused := self.gate(request)) is not None:
            return refused
        row = self.incidents.get(request.path_params["sys_id"])
        if row is None:
            return _snow_error(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
        return JSONResponse({"result": _fields(row, request)})


def _snow_error(status: int, message: str, detail: str) -> Response:
    return JSONResponse({"error": {"message": message, "detail": detail}, "status": "failure"}, status)


def _fields(row: dict[str, Any], request: Request) -> dict[str, Any]:
    wanted = request.query_params.get("sysparm_fields")
    return {k: row.get(k, "") for k in wanted.split(",")} if wanted else dict(row)


CATEGORY_OF = {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}


@dataclass
class JiraSimulator(TrackerSimulator):
    """A Jira site with some projects."""

    projects: tuple[str, ...] = ("SEC",)
    issue_types: tuple[str, ...] = ("Task", "Bug", "Incident")
    priority_on_screen: bool = True
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)

    def routes(self) -> list[Route]:
        return [
            Route("/rest/api/2/issue", self.create, methods=["POST"]),
            Route("/rest/api/2/issue/{key}", self.read, methods=["GET"]),
            Route("/rest/api/2/search", self.search, methods=["GET"]),
            Route("/rest/api/2/myself", self.myself, methods=["GET"]),
            Route("/rest/api/2/project/{key}", self.project, methods=["GET"]),
        ]

    def unauthorized(self) -> Response:
        return JSONResponse(
            {"errorMessages": ["You are not authenticated. Authentication required to perform this operation."]}, 401
        )

    def transition(self, key: str, status: str) -> None:
        """Move an issue through the workflow (To Do, In Progress, Done)."""
        self.issues[key]["status"] = status

    async def create(self, request: Request) -> Response:
        if (refused := self.gate(request)) is not None:
            return refused
        try:
            doc = await request.json()
        except ValueError:
            return JSONResponse({"errorMessages": ["Unexpected character in the JSON body."], "errors": {}}, 400)
        fields = doc.get("fields") if isinstance(doc, dict) else None
        if not isinstance(fields, dict):
            return JSONResponse({"errorMessages": ["Issue must contain 'fields'."], "errors": {}}, 400)
        errors: dict[str, str] = {}
        project = (fields.get("project") or {}).get("key")
        if project not in self.projects:
            errors["project"] = "valid project is required"
        if (fields.get("issuetype") or {}).get("name") not in self.issue_types:
            errors["issuetype"] = "valid issue type is required"
        if not fields.get("summary"):
            errors["summary"] = "You must specify a summary of the issue."
        if "priority" in fields and not self.priority_on_screen:
            errors["priority"] = "Field 'priority' cannot be set. It is not on the appropriate screen, or unknown."
        if errors:
            return JSONResponse({"errorMessages": [], "errors": errors}, 400)
        number = 1 + sum(1 for k in self.issues if k.startswith(f"{project}-"))
        key = f"{project}-{number}"
        issue_id = str(10000 + len(self.issues))
        self.issues[key] = {"id": issue_id, "key": key, "fields": fields, "status": "To Do"}
        return JSONResponse({"id": issue_id, "key": key, "self": f"{self.base_url}/rest/api/2/issue/{issue_id}"}, 201)

    async def read(self, request: Request) -> Response:
        if (refused := self.gate(request)) is not None:
            return refused
        issue = self.issues.get(request.path_params["key"])
        if issue is None:
            return JSONResponse(
                {"errorMessages": ["Issue does not exist or you do not have permission to see it."]}, 404
            )
        return JSONResponse(self._issue(issue))

    async def search(self, request: Request) -> Response:
        if (refused := self.gate(request)) is not None:
            return refused
        match = re.fullmatch(r'labels\s*=\s*"([^"]+)"', request.query_params.get("jql", "").strip())
        if match is None:
            return JSONResponse({"errorMessages": ['The simulator understands labels = "…" only.']}, 400)
        found = [self._issue(i) for i in self.issues.values() if match.group(1) in i["fields"].get("labels", [])]
        limit = int(request.query_params.get("maxResults", "50"))
        return JSONResponse({"startAt": 0, "maxResults": limit, "total": len(found), "issues": found[:limit]})

    async def myself(self, request: Request) -> Response:
        if (refused := self.gate(request)) is not None:
            return refused
        return JSONResponse({"emailAddress": self.username, "displayName": "VMS integration", "active": True})

    async def project(self, request: Request) -> Response:
        if (refused := self.gate(request)) is not None:
            return refused
        key = request.path_params["key"]
        if key not in self.projects:
            return JSONResponse({"errorMessages": [f"No project could be found with key '{key}'."], "errors": {}}, 404)
        return JSONResponse({"key": key, "name": f"Project {key}"})

    def _issue(self, issue: dict[str, Any]) -> dict[str, Any]:
        status = issue["status"]
        return {
            "id": issue["id"],
            "key": issue["key"],
            "fields": {"status": {"name": status, "statusCategory": {"key": CATEGORY_OF.get(status, "indeterminate")}}},
        }
