"""One error format for every 4xx and 5xx: application/problem+json (RFC 9457).

{"type": "https://vms.dev/problems/license-limit-reached", "title": "License limit reached",
 "status": 409, "detail": "The license allows 50 cameras; …", "instance": "/api/v1/cameras",
 "request_id": "3f1c…"}
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vms.kernel.errors import VmsError

log = structlog.get_logger(__name__)
PROBLEM = "application/problem+json"
PROBLEM_BASE = "https://vms.dev/problems/"


def problem(
    *, status: int, title: str, detail: str, instance: str = "", request_id: str | None = None, **extra: Any
) -> JSONResponse:
    """A problem+json response."""
    body = {
        "type": PROBLEM_BASE + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-"),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": request_id,
        **extra,
    }
    headers = {"Retry-After": str(extra["retry_after"])} if "retry_after" in extra else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def _vms_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VmsError)
    if exc.status >= 500:
        log.error("request failed", error=exc.detail, error_type=type(exc).__name__)
    return problem(
        status=exc.status,
        title=exc.title,
        detail=exc.detail,
        instance=request.url.path,
        request_id=_request_id(request),
        **exc.extra,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", "")), "type": err.get("type")}
        for err in exc.errors()
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        return problem(
            status=400,
            title="Malformed JSON",
            detail="The request body is not valid JSON.",
            instance=request.url.path,
            request_id=_request_id(request),
        )
    summary = "; ".join(
        f"{'.'.join(e['loc'][1:]) or e['loc'][0] if e['loc'] else 'body'}: {e['msg']}" for e in errors[:5]
    )
    return problem(
        status=422,
        title="Validation failed",
        detail=summary or "The request is invalid.",
        instance=request.url.path,
        request_id=_request_id(request),
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 401: "Authentication required", 403: "Forbidden"}
    return problem(
        status=exc.status_code,
        title=titles.get(exc.status_code, "HTTP error"),
        detail=str(exc.detail),
        instance=request.url.path,
        request_id=_request_id(request),
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", path=request.url.path)
    return problem(
        status=500,
        title="Internal error",
        detail="Something went wrong on our side; the request id helps support find it.",
        instance=request.url.path,
        request_id=_request_id(request),
    )


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(VmsError, _vms_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
