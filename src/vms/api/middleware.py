"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware on every request): request ids and
access logs, the body size limit, and the per-IP rate limit."""

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

log = structlog.get_logger("vms.api")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestContext:
    """Give every request an id (or keep a sane incoming X-Request-ID), bind it to logs, echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )


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
