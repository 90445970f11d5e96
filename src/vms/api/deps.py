"""Dependency aliases for routes: who is calling, their unit of work, permission checks.

async def list_users(uow: UoW, user: CurrentUser, page: Paging) -> UserPage: ...
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

import structlog
from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from vms.auth import tickets
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.auth.service import Client, is_session_revoked
from vms.bootstrap import Container
from vms.cameras import hierarchy
from vms.kernel.errors import Forbidden, RateLimited, Unauthenticated
from vms.kernel.paging import PageParams
from vms.kernel.tenancy import CameraScope, TenantScope
from vms.tenants import service as tenants
from vms.uow import Actor, UnitOfWork

bearer = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/mfa or /auth/refresh.")
TENANT_ACCESS_TTL_S = 30  # how long a changed IP allowlist or suspension may take to apply


# Dependencies are `async def` even when they await nothing: FastAPI runs plain `def` dependencies
# in a thread pool, a thread hop per dependency per request.


async def get_container(request: Request) -> Container:
    """The process's container, set on the app at start-up."""
    container: Container = request.app.state.container
    return container


AppContainer = Annotated[Container, Depends(get_container)]


def client_ip(request: HTTPConnection, container: Container) -> str | None:
    """The caller's IP; X-Forwarded-For is believed only as far as it was written by our proxies.

    Proxies append the address they received from, so the list is read from the right: the
    first entry not from a trusted proxy is the client. Entries further left were written by
    the client itself and prove nothing. An unparseable entry yields "" (which no allowlist admits).
    """
    peer = request.client.host if request.client else None
    proxies = container.settings.api.trusted_proxies
    forwarded = request.headers.get("x-forwarded-for")
    if not (peer and forwarded and proxies and _is_trusted(peer, proxies)):
        return peer
    for entry in reversed(forwarded.split(",")):
        entry = entry.strip()
        if not _is_trusted(entry, proxies):
            try:
                return str(ipaddress.ip_address(entry))
            except ValueError:
                return ""
    return peer


def _is_trusted(address: str, proxies: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(p, strict=False) for p in proxies)


async def get_client(request: Request, container: AppContainer) -> Client:
    """Where the request comes from."""
    return Client(ip=client_ip(request, container), user_agent=request.headers.get("user-agent"))


CurrentClient = Annotated[Client, Depends(get_client)]


async def get_principal(
    request: Request,
    container: AppContainer,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """Verify the bearer token, session, rate limits and IP allowlist; bind ids to the log context."""
    if credentials is None:
        raise Unauthenticated("Send 'Authorization: Bearer <access token>'; sign in at /api/v1/auth/login.")
    return await admit(request, container, _principal_from_token(container, credentials.credentials))


async def get_connection_principal(connection: HTTPConnection) -> Principal:
    """The caller of a stream (EventSource, WebSocket): a one-time `?ticket=` (browsers cannot send
    headers there, see vms.auth.tickets), else the usual bearer header. Same checks as get_principal."""
    container: Container = connection.app.state.container
    ticket = connection.query_params.get("ticket")
    if ticket:
        return await admit(connection, container, await tickets.redeem(container.cache, ticket))
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("Open the stream with '?ticket=' from POST /api/v1/auth/stream-ticket or a bearer token.")
    return await admit(connection, container, _principal_from_token(container, token))


def _principal_from_token(container: Container, token: str) -> Principal:
    claims = container.identity.signer.verify_access(token)
    return Principal(
        user_id=claims.user_id,
        email=claims.email,
        role=claims.role,
        tenant_id=claims.tenant_id,  # type: ignore[arg-type]
        session_id=claims.session_id,
        scope=claims.scope,
    )


async def admit(connection: HTTPConnection, container: Container, principal: Principal) -> Principal:
    """Session still signed in, rate limits, customer active and the address allowed; log context bound."""
    if await is_session_revoked(container.cache, principal.session_id):
        raise Unauthenticated("This session has been signed out; sign in again.")
    structlog.contextvars.bind_contextvars(user_id=str(principal.user_id), tenant_id=str(principal.tenant_id or ""))
    limits = container.settings.rate_limits
    await _limit(container, f"user:{principal.user_id}", limits.per_user_per_minute)
    if principal.tenant_id is not None:
        await _limit(container, f"tenant:{principal.tenant_id}", limits.per_tenant_per_minute)
        await _ensure_tenant_access(container, principal, client_ip(connection, container))
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]


def require(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that passes only callers whose role allows `permission`."""

    async def check(user: CurrentUser) -> Principal:
        user.require(permission)
        return user

    return check


async def get_uow(request: Request, container: AppContainer, user: CurrentUser) -> AsyncIterator[UnitOfWork]:
    """The caller's unit of work, confined to their tenant; committed when the route returns."""
    scope = TenantScope.of(user.tenant_id) if user.tenant_id else TenantScope.platform()
    actor = Actor(
        user_id=user.user_id,
        email=user.email,
        request_id=request.state.request_id,
        ip=client_ip(request, container),
    )
    async for uow in _unit_of_work(container, scope, actor):
        if user.scope:
            uow.narrow(scope.within(await hierarchy.scope_part(uow=uow, node_ids=user.scope)))
        yield uow


async def camera_part(container: Container, user: Principal) -> CameraScope | None:
    """The cameras a user scoped to part of the site tree works with, for code outside a unit of
    work (live push filters); None for a user of the whole customer."""
    if not user.scope:
        return None
    async with container.unit_of_work(TenantScope.of(user.tenant), Actor(user_id=user.user_id)) as uow:
        return await hierarchy.scope_part(uow=uow, node_ids=user.scope)


async def get_public_uow(request: Request, container: AppContainer) -> AsyncIterator[UnitOfWork]:
    """A platform-scoped unit of work for sign-in flows, before anyone is known."""
    actor = Actor(request_id=request.state.request_id, ip=client_ip(request, container))
    async for uow in _unit_of_work(container, TenantScope.platform(), actor):
        yield uow


async def _unit_of_work(container: Container, scope: TenantScope, actor: Actor) -> AsyncIterator[UnitOfWork]:
    async with container.unit_of_work(scope, actor) as uow:
        try:
            yield uow
            await uow.commit()
        except BaseException:
            await uow.rollback()
            raise


# scope="function": commit right after the route returns, before the response is sent, so a
# failed commit is reported to the client instead of being lost behind a 2xx.
UoW = Annotated[UnitOfWork, Depends(get_uow, scope="function")]
PublicUoW = Annotated[UnitOfWork, Depends(get_public_uow, scope="function")]


async def get_paging(
    limit: Annotated[int, Query(ge=1, le=500, description="Items per page.")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")] = 0,
) -> PageParams:
    """Pagination query parameters."""
    return PageParams(limit=limit, offset=offset)


Paging = Annotated[PageParams, Depends(get_paging)]


async def _limit(container: Container, key: str, limit: int) -> None:
    if limit <= 0:
        return
    decision = await container.rate_limiter.hit(key, limit=limit, window_s=60)
    if not decision.allowed:
        raise RateLimited(
            f"Rate limit of {limit} requests per minute reached; retry in {int(decision.reset_after_s) + 1} s.",
            retry_after=int(decision.reset_after_s) + 1,
        )


async def _ensure_tenant_access(container: Container, principal: Principal, ip: str | None) -> None:
    """Suspended customers and addresses outside the customer's allowlist are refused on every request.

    The tenant's access rules are cached briefly so this costs one cache read, not a query.
    """
    key = tenants.access_cache_key(principal.tenant)
    cached = await container.cache.get(key)
    if cached is None:
        async with container.unit_of_work(TenantScope.platform(), Actor.system()) as uow:
            cached = json.dumps(await tenants.tenant_access(uow=uow, tenant_id=principal.tenant)).encode()
        await container.cache.set(key, cached, ttl_s=TENANT_ACCESS_TTL_S)
    access = json.loads(cached)
    if access["status"] != "active":
        raise Forbidden("This customer account is suspended or closed; contact your provider.")
    if not tenants.ip_allowed(ip or "", access["ip_allowlist"]):  # no usable address: closed
        raise Forbidden(f"Access from {ip} is not allowed for this customer (IP allowlist).")
