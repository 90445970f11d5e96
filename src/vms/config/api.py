"""Routes under /config: a node's effective configuration with provenance, changes (with dry run),
versions, diffs and rollback, manual cache refresh, and the parameter catalogue.

Nodes: `/config/system` (provider staff edit it), `/config/customer` (the caller's customer),
`/config/site/{site_id}` and `/config/camera/{camera_id}?site_id=…` (the camera's site places it
in the hierarchy). Supervisors read (config:read); customer Admins edit customer, site and camera
levels (config:write).
"""

# No `from __future__ import annotations` here: the route factory's handlers name a local `Node`
# alias, which FastAPI can only see if annotations are evaluated when each handler is defined.

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query

from vms.api.deps import AppContainer, CurrentUser, Paging, UoW, require
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.bootstrap import Container
from vms.config import history, listener, service
from vms.config.listener import ConfigChange
from vms.config.nodes import NodeRef
from vms.config.registry import LEVEL_ORDER, PARAMETERS, Level
from vms.config.schemas import (
    ConfigChangeResult,
    ConfigHistoryEntry,
    ConfigHistoryList,
    ConfigPatch,
    ConfigReplace,
    ConfigRollback,
    ConfigVersionPage,
    ConfigVersionRead,
    EffectiveConfig,
    ParameterRead,
    RefreshResult,
    VersionDiff,
)
from vms.kernel.errors import ValidationFailed
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor, UnitOfWork


@contextlib.asynccontextmanager
async def config_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """While the API serves: listen for config changes and refresh critical keys (this process's share)."""
    container: Container = app.state.container
    task = asyncio.create_task(
        listener.keep_config_fresh(
            bus=container.bus,
            config_cache=container.config,
            unit_of_work=lambda: container.unit_of_work(TenantScope.platform(), Actor.system("config-refresh")),
        )
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


router = APIRouter(prefix="/config", tags=["config"], lifespan=config_lifespan)
Reader = Annotated[Principal, Depends(require(Permission.CONFIG_READ))]
Writer = Annotated[Principal, Depends(require(Permission.CONFIG_WRITE))]
DryRun = Annotated[bool, Query(description="Answer with what the change would do, and save nothing.")]
VersionNumber = Annotated[int, Path(ge=1, le=2_147_483_647, description="A version of this node.")]
ReasonQuery = Annotated[
    str,
    Query(min_length=3, max_length=500, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+$", description="Why."),
]


@router.get("/parameters", response_model=list[ParameterRead])
async def list_parameters(_: Reader) -> list[ParameterRead]:
    """Every configurable parameter: bounds, default, the levels that may set it, criticality."""
    return [
        ParameterRead(
            key=p.key,
            description=p.description,
            bounds=p.bounds,
            default=p.default_json,
            unit=p.unit,
            levels=[level for level in LEVEL_ORDER if level in p.levels],
            critical=p.critical,
            value_schema=p.json_schema,
        )
        for p in PARAMETERS.values()
    ]


@router.post("/refresh", response_model=RefreshResult)
async def refresh_config_cache(uow: UoW, user: Reader, container: AppContainer) -> RefreshResult:
    """Drop cached configuration in every process: the caller's customer's, or all of it for provider staff."""
    if user.tenant_id is None:
        user.require(Permission.PLATFORM_OPS)
        change = ConfigChange.refresh(tenant_id=None, prefixes=[], keys=[])
    else:
        prefixes, keys = await service.tenant_cache_keys(uow=uow, tenant_id=user.tenant_id)
        change = ConfigChange.refresh(tenant_id=user.tenant_id, prefixes=prefixes, keys=keys)
    dropped = await listener.announce(bus=container.bus, config_cache=container.config, change=change)
    return RefreshResult(scope="all" if user.tenant_id is None else "customer", keys_dropped=dropped)


@router.get("/history", response_model=ConfigHistoryList, name="list_config_history")
async def list_config_history(
    user: Reader,
    container: AppContainer,
    level: Annotated[Level | None, Query(description="Only changes of this level.")] = None,
    node_id: Annotated[uuid.UUID | None, Query(description="Only changes of this site or camera (with level).")] = None,
    since: Annotated[datetime | None, Query(description="Changes at or after this time.")] = None,
    until: Annotated[datetime | None, Query(description="Changes before this time (the next page's cursor).")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Entries per answer.")] = 50,
) -> ConfigHistoryList:
    """The caller's customer's configuration history from the document store, newest first (provider
    staff: the system's)."""
    if node_id is not None and level not in (Level.SITE, Level.CAMERA):
        raise ValidationFailed("node_id needs level=site or level=camera.")
    tenant = user.tenant_id
    node = NodeRef(level, tenant, node_id) if node_id is not None and level is not None and tenant else None
    found = await history.find(
        documents=container.documents,
        tenant_id=tenant,
        node=node,
        level=level if node is None else None,
        since=since,
        until=until,
        limit=limit,
    )
    items = [ConfigHistoryEntry(id=doc.id, at=doc.at, document=doc.body) for doc in found]
    return ConfigHistoryList(items=items, limit=limit)


async def _system_node(_: CurrentUser) -> NodeRef:
    return NodeRef.system()


async def _customer_node(user: CurrentUser) -> NodeRef:
    return NodeRef.customer(user.tenant)


async def _site_node(site_id: uuid.UUID, user: CurrentUser) -> NodeRef:
    return NodeRef.site(user.tenant, site_id)


async def _camera_node(
    camera_id: uuid.UUID,
    user: CurrentUser,
    site_id: Annotated[
        uuid.UUID | None, Query(description="The camera's site; without it the site level is left out.")
    ] = None,
) -> NodeRef:
    return NodeRef.camera(user.tenant, camera_id, site_id=site_id)


def _ensure_may_write(user: Principal, node: NodeRef) -> None:
    """System defaults are the provider's; the other levels belong to the caller's customer."""
    if node.tenant_id is None:
        user.require(Permission.PLATFORM_OPS)


async def _finish(
    uow: UnitOfWork, container: Container, node: NodeRef, result: ConfigChangeResult
) -> ConfigChangeResult:
    """Commit a saved change with its announcement (the outbox), then drop and deliver: no process
    reloads the old value after the drop, and a crash after the commit still announces it."""
    if result.saved:
        change = ConfigChange.node_changed(node)
        listener.stage_change(uow, change)
        await uow.commit()
        await listener.after_commit(config_cache=container.config, relay=container.outbox, change=change)
    return result


def _add_node_routes(kind: str, path: str, node_dependency: Callable[..., Awaitable[NodeRef]]) -> None:
    """The same eight operations on one kind of node."""
    Node = Annotated[NodeRef, Depends(node_dependency)]

    async def get_config(
        node: Node,
        uow: UoW,
        _: Reader,
        container: AppContainer,
        prefix: Annotated[str | None, Query(max_length=200, description="Only keys starting with this.")] = None,
    ) -> EffectiveConfig:
        """Effective values of the node, each with the level that set it, and the node's own overrides."""
        return await service.effective_config(uow=uow, config_cache=container.config, node=node, prefix=prefix)

    async def replace_config(
        node: Node, body: ConfigReplace, uow: UoW, user: Writer, container: AppContainer, dry_run: DryRun = False
    ) -> ConfigChangeResult:
        """Replace the node's overrides; parameters left out fall back to the level below."""
        _ensure_may_write(user, node)
        result = await service.change_overrides(
            uow=uow,
            config_cache=container.config,
            node=node,
            values=body.values,
            replace=True,
            reason=body.reason,
            expected_version=body.expected_version,
            dry_run=dry_run,
            action="replace",
        )
        return await _finish(uow, container, node, result)

    async def patch_config(
        node: Node, body: ConfigPatch, uow: UoW, user: Writer, container: AppContainer, dry_run: DryRun = False
    ) -> ConfigChangeResult:
        """Set some overrides and remove others; the rest stay."""
        _ensure_may_write(user, node)
        result = await service.change_overrides(
            uow=uow,
            config_cache=container.config,
            node=node,
            values=body.values,
            unset=body.unset,
            reason=body.reason,
            expected_version=body.expected_version,
            dry_run=dry_run,
            action="patch",
        )
        return await _finish(uow, container, node, result)

    async def delete_override(
        node: Node,
        key: Annotated[str, Path(max_length=200, description="Dotted parameter key.")],
        reason: ReasonQuery,
        uow: UoW,
        user: Writer,
        container: AppContainer,
        dry_run: DryRun = False,
    ) -> ConfigChangeResult:
        """Remove one override; the parameter falls back to the level below."""
        _ensure_may_write(user, node)
        result = await service.delete_override(
            uow=uow, config_cache=container.config, node=node, key=key, reason=reason, dry_run=dry_run
        )
        return await _finish(uow, container, node, result)

    async def list_versions(node: Node, uow: UoW, _: Reader, page: Paging) -> ConfigVersionPage:
        """The node's versions, newest first."""
        items, total = await service.list_versions(uow=uow, node=node, limit=page.limit, offset=page.offset)
        return ConfigVersionPage(items=items, total=total, limit=page.limit, offset=page.offset)

    async def diff_versions(
        node: Node,
        uow: UoW,
        _: Reader,
        from_version: Annotated[int, Query(ge=1, le=2_147_483_647, description="The older version.")],
        to_version: Annotated[int, Query(ge=1, le=2_147_483_647, description="The newer version.")],
    ) -> VersionDiff:
        """How the node's overrides differ between two versions."""
        return await service.diff_versions(uow=uow, node=node, from_version=from_version, to_version=to_version)

    async def get_version(node: Node, version: VersionNumber, uow: UoW, _: Reader) -> ConfigVersionRead:
        """One version: who, when, why, what changed, and the full snapshot."""
        return await service.get_version(uow=uow, node=node, version=version)

    async def rollback_config(
        node: Node,
        version: VersionNumber,
        body: ConfigRollback,
        uow: UoW,
        user: Writer,
        container: AppContainer,
        dry_run: DryRun = False,
    ) -> ConfigChangeResult:
        """Return the node's overrides to exactly those of a version; recorded as a new version."""
        _ensure_may_write(user, node)
        result = await service.rollback(
            uow=uow,
            config_cache=container.config,
            node=node,
            version=version,
            reason=body.reason,
            expected_version=body.expected_version,
            dry_run=dry_run,
        )
        return await _finish(uow, container, node, result)

    routes: list[tuple[str, str, Callable[..., Any], Any, str]] = [
        ("GET", "", get_config, EffectiveConfig, f"get_{kind}_config"),
        ("PUT", "", replace_config, ConfigChangeResult, f"replace_{kind}_config"),
        ("PATCH", "", patch_config, ConfigChangeResult, f"patch_{kind}_config"),
        ("DELETE", "/overrides/{key}", delete_override, ConfigChangeResult, f"delete_{kind}_override"),
        ("GET", "/versions", list_versions, ConfigVersionPage, f"list_{kind}_config_versions"),
        ("GET", "/versions/diff", diff_versions, VersionDiff, f"diff_{kind}_config_versions"),
        ("GET", "/versions/{version}", get_version, ConfigVersionRead, f"get_{kind}_config_version"),
        ("POST", "/versions/{version}/rollback", rollback_config, ConfigChangeResult, f"rollback_{kind}_config"),
    ]
    for method, suffix, handler, model, name in routes:
        router.add_api_route(path + suffix, handler, methods=[method], response_model=model, name=name)


_add_node_routes("system", "/system", _system_node)
_add_node_routes("customer", "/customer", _customer_node)
_add_node_routes("site", "/site/{site_id}", _site_node)
_add_node_routes("camera", "/camera/{camera_id}", _camera_node)
