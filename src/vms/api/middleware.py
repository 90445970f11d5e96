"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware on every request): request ids, access logs
and request metrics, the body size limit, and the per-IP rate limit."""

from __future__ import annotations

import re
import secrets
import time

import structlog
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vms.api.deps import client_ip
from vms.api.errors import problem
from vms.bootstrap import Container
from vms.stats.metrics import UNMATCHED, Metrics

log = structlog.get_logger("vms.api")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestContext:
    """Give every request an id (or keep a sane incoming X-Request-ID), bind it to logs, echo it back;
    count it in `metrics` under its route template (never the raw path: ids would explode the series)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            log.info("request", method=scope["method"], path=scope["path"], status=status, ms=round(elapsed * 1000, 1))
            if self.metrics is not None:
                route = route_template(scope)
                self.metrics.observe_request(method=scope["method"], route=route, status=status, seconds=elapsed)


def route_template(scope: Scope) -> str:
    """The matched route's template (`/api/v1/cameras/{camera_id}`), or "unmatched" for a request
    refused before routing (413, 429) or matching no route.

    The router leaves the matched route in the scope. FastAPI (0.16x) leaves the included router's own
    route there, whose path lacks the prefix given to `include_router` (`/api/v1`); that prefix is
    literal text, so it is taken from the request path's leading segments. Never the raw path itself:
    ids in label values would make a series per camera, user and event.
    """
    template = getattr(scope.get("route"), "path", None)
    if not isinstance(template, str) or not template:
        return UNMATCHED
    if ":path}" in template:  # a parameter spanning segments (the console's catch-all) is never under a prefix
        return template
    prefix_segments = scope["path"].rstrip("/").count("/") - template.rstrip("/").count("/")
    prefix = "/".join(scope["path"].split("/")[: prefix_segments + 1]) if prefix_segments > 0 else ""
    return prefix + template


class BodyLimit:
    """Refuse bodies over the limit with 413: by Content-Length up front, or, for a chunked body
    without one, by reading it (at most the limit plus one chunk) before the app sees it."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)
            return
        buffered: list[Message] = []
        received = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            status=413,
            title="Payload too large",
            detail=f"The request body is over the {self.max_bytes}-byte limit.",
            instance=scope["path"],
            request_id=scope.get("state", {}).get("request_id"),
        )
        await response(scope, receive, send)


class IpRateLimit:
    """Count every request against its client IP's budget; 429 problem+json when over."""

    def __init__(self, app: ASGIApp, *, container: Container) -> None:
        self.app = app
        self.container = container

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.container.settings.rate_limits.per_ip_per_minute
        if scope["type"] != "http" or limit <= 0 or scope["path"].startswith("/health"):
            await self.app(scope, receive, send)
            return
        ip = client_ip(Request(scope), self.container) or "unknown"
        decision = await self.container.rate_limiter.hit(f"ip:{ip}", limit=limit, window_s=60)
        if not decision.allowed:
            wait = int(decision.reset_after_s) + 1
            response = problem(
                status=429,
                title="Too many requests",
                detail=f"More than {limit} requests per minute from {ip}; retry in {wait} s.",
                instance=scope["path"],
                request_id=scope.get("state", {}).get("request_id"),
                retry_after=wait,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
