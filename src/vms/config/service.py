"""Hierarchical configuration: resolve a node's effective values with their source, change a
node's overrides (validated, versioned, audited), list and diff versions, roll back.

Reads go through the ConfigCache; writes go to the database and return what changed. Every
saved version also stages its history document (config.history) in the outbox. The caller stages
the change's announcement (listener.stage_change), commits, and drops its own cache entries
(listener.after_commit): services never commit, and a change is announced only once it is durable.
Site and camera ids of changes are checked against the cameras domain (config.inventory).

>>> config = await service.camera_config(uow=uow, config_cache=cc, tenant_id=t, camera_id=c, site_id=s)
>>> config["models.fire_smoke.confidence_threshold"]
Resolved(value=0.7, level=<Level.CUSTOMER: 'customer'>)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import Select, select

from vms.cameras import hierarchy
from vms.config import history, inventory
from vms.config.cache import ConfigCache
from vms.config.models import NodeConfig, NodeConfigVersion, SystemConfig, SystemConfigVersion
from vms.config.nodes import SYSTEM_NODE_ID, NodeRef, model_key
from vms.config.registry import Level, check_constraints, parameter
from vms.config.resolve import Resolved, clean, effective_changes, override_changes, resolve
from vms.config.schemas import (
    ConfigChangeResult,
    ConfigVersionRead,
    EffectiveConfig,
    ModelRequirements,
    NodeRead,
    OverrideChange,
    VersionDiff,
)
from vms.kernel.ai_models import AiModel
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.errors import Conflict, NotFound
from vms.uow import UnitOfWork

log = structlog.get_logger(__name__)
CHUNK = 500  # ids per IN (...) query: far below every engine's parameter limit


@dataclass(frozen=True, slots=True)
class Layer:
    """A node's own overrides as loaded, with its version and when it was read from the database."""

    version: int
    overrides: dict[str, Any]
    loaded_at: float

    def document(self, node: NodeRef) -> dict[str, Any]:
        """The cached form; the tenant guards against a cache key shared by two customers' ids."""
        tenant = str(node.tenant_id) if node.tenant_id else None
        return {"at": self.loaded_at, "tenant": tenant, "version": self.version, "overrides": self.overrides}


# --- reading ---------------------------------------------------------------------------------


async def load_layers(
    *, uow: UnitOfWork, config_cache: ConfigCache, nodes: Iterable[NodeRef], critical: bool = False
) -> dict[str, Layer]:
    """Each node's overrides by cache key: from the cache, else one query per level, then cached."""
    layers: dict[str, Layer] = {}
    missing: list[tuple[NodeRef, bool]] = []
    wanted = {node.cache_key: node for node in nodes}
    for key, node in wanted.items():
        doc = await config_cache.get(key)
        layer = _from_document(doc, node)
        if layer is not None:
            layers[key] = layer
            if critical:
                config_cache.track(key, node, layer.loaded_at)
        else:
            # A key holding another customer's document (ids are not checked against the camera
            # inventory) is read past, never overwritten: neither customer sees the other's values.
            missing.append((node, doc is None))
    if missing:
        loaded = await _read_layers(uow, [node for node, _ in missing], now=config_cache.clock())
        for node, may_store in missing:
            layer = loaded[node.identity]
            layers[node.cache_key] = layer
            if may_store:
                await config_cache.put(node.cache_key, layer.document(node))
                if critical:
                    config_cache.track(node.cache_key, node, layer.loaded_at)
    return layers


async def effective_config(
    *, uow: UnitOfWork, config_cache: ConfigCache, node: NodeRef, prefix: str | None = None
) -> EffectiveConfig:
    """A node's effective values with the level that set each, and its own overrides."""
    lineage = node.lineage()
    layers = await load_layers(uow=uow, config_cache=config_cache, nodes=lineage)
    values = resolve([(n.level, layers[n.cache_key].overrides) for n in lineage])
    own = layers[node.cache_key]
    return EffectiveConfig(
        node=node_read(node),
        version=own.version,
        overrides=own.overrides,
        values={k: v.read() for k, v in values.items() if prefix is None or k.startswith(prefix)},
    )


async def placed_camera_config(
    *,
    uow: UnitOfWork,
    config_cache: ConfigCache,
    tenant_id: uuid.UUID,
    camera_id: uuid.UUID,
    keys: Sequence[str] | None = None,
) -> dict[str, Resolved]:
    """`camera_config` for one camera with its site looked up in the tree, so the site level applies."""
    sites = await hierarchy.camera_sites(uow=uow, camera_ids=[camera_id])
    return await camera_config(
        uow=uow,
        config_cache=config_cache,
        tenant_id=tenant_id,
        camera_id=camera_id,
        site_id=sites.get(camera_id),
        keys=keys,
    )


async def camera_config(
    *,
    uow: UnitOfWork,
    config_cache: ConfigCache,
    tenant_id: uuid.UUID,
    camera_id: uuid.UUID,
    site_id: uuid.UUID | None = None,
    keys: Sequence[str] | None = None,
) -> dict[str, Resolved]:
    """A camera's effective values (all, or `keys`) for the roles that act on them.

    Reads that include a critical parameter keep their cache keys warm (background refresh).
    """
    node = NodeRef.camera(tenant_id, camera_id, site_id=site_id)
    critical = keys is None or any(parameter(k).critical for k in keys)
    lineage = node.lineage()
    layers = await load_layers(uow=uow, config_cache=config_cache, nodes=lineage, critical=critical)
    values = resolve([(n.level, layers[n.cache_key].overrides) for n in lineage])
    return values if keys is None else {k: values[k] for k in keys}


async def cameras_config(
    *,
    uow: UnitOfWork,
    config_cache: ConfigCache,
    tenant_id: uuid.UUID,
    cameras: Mapping[uuid.UUID, uuid.UUID | None],
) -> dict[uuid.UUID, dict[str, Resolved]]:
    """Many cameras of one customer at once (camera id → site id): shared layers are read once,
    missing ones in a few bulk queries."""
    nodes = [NodeRef.camera(tenant_id, cam, site_id=site) for cam, site in cameras.items()]
    lineages = [node.lineage() for node in nodes]
    layers = await load_layers(
        uow=uow, config_cache=config_cache, nodes=(n for lineage in lineages for n in lineage), critical=True
    )
    return {
        node.node_id: resolve([(n.level, layers[n.cache_key].overrides) for n in lineage])
        for node, lineage in zip(nodes, lineages, strict=True)
    }


async def model_requirements(*, uow: UnitOfWork, config_cache: ConfigCache, model: AiModel) -> ModelRequirements:
    """A model's system-wide settings (priority, threshold, stream requirements), cached under
    `config:model:{id}:requirements`."""
    key = model_key(model)
    doc = await config_cache.get(key)
    if doc is not None:
        try:
            requirements = ModelRequirements.model_validate(doc["requirements"])
            config_cache.track(key, model, float(doc["at"]))
            return requirements
        except (KeyError, TypeError, ValueError, ValidationError):
            pass  # a corrupt or older-format entry: rebuild it
    system = NodeRef.system()
    layers = await load_layers(uow=uow, config_cache=config_cache, nodes=[system])
    return await _store_requirements(config_cache, model, layers[system.cache_key])


def node_read(node: NodeRef) -> NodeRead:
    """The API's view of a node reference."""
    return NodeRead(
        level=node.level, node_id=None if node.level is Level.SYSTEM else node.node_id, site_id=node.site_id
    )


# --- changing --------------------------------------------------------------------------------


async def change_overrides(
    *,
    uow: UnitOfWork,
    config_cache: ConfigCache,
    node: NodeRef,
    values: Mapping[str, Any],
    unset: Sequence[str] = (),
    replace: bool = False,
    reason: str,
    expected_version: int | None = None,
    dry_run: bool = False,
    action: str = "patch",
    rolled_back_to: int | None = None,
) -> ConfigChangeResult:
    """Set and remove a node's overrides (or replace them all), validated against the registry.

    Returns the effective values that change at this node (before/after, with their source).
    A dry run saves nothing; a real change writes the next version with the full snapshot and
    an audit record. `expected_version` guards against overwriting a change made meanwhile.
    """
    await inventory.ensure_known(uow=uow, nodes=[node])
    row = await _node_row(uow, node)
    current = row.version if row else 0
    if expected_version is not None and expected_version != current:
        raise Conflict(
            f"The configuration of {node.resource_id} is at version {current}, not {expected_version}; "
            "reload it and apply your change again."
        )
    before = dict(row.overrides) if row else {}
    after: dict[str, Any] = {} if replace else dict(before)
    for key in unset:
        parameter(key)
        after.pop(key, None)
    for key, value in values.items():
        param = parameter(key)
        param.ensure_level(node.level)
        after[key] = param.validate(value)

    lineage = node.lineage()
    ancestors = await load_layers(uow=uow, config_cache=config_cache, nodes=lineage[:-1])
    below = [(n.level, ancestors[n.cache_key].overrides) for n in lineage[:-1]]
    effective_before = resolve([*below, (node.level, before)])
    effective_after = resolve([*below, (node.level, after)])
    own_changes = override_changes(before, after)
    if own_changes:
        check_constraints({key: r.value for key, r in effective_after.items()})
    saved = bool(own_changes) and not dry_run
    if saved:
        await _save(uow, node, row, before, after, own_changes, action, reason, rolled_back_to)
    return ConfigChangeResult(
        node=node_read(node),
        dry_run=dry_run,
        saved=saved,
        version=current + 1 if saved else current,
        effective_changes=effective_changes(effective_before, effective_after),
        override_changes=own_changes,
    )


async def patch_many(
    *,
    uow: UnitOfWork,
    nodes: Sequence[NodeRef],
    values: Mapping[str, Any],
    reason: str,
) -> list[NodeRef]:
    """Set the same overrides on many nodes of one level (the console's "apply to selected
    cameras", imports): validated once, each node versioned and audited, a few bulk statements.

    Cross-parameter rules are not checked per node here; returns the nodes that changed, whose
    announcement the caller stages before the commit (listener.stage_change).
    """
    levels = {node.level for node in nodes}
    if len(levels) > 1 or Level.SYSTEM in levels:
        raise ValueError("patch_many takes customer, site or camera nodes of one level")
    validated: dict[str, Any] = {}
    for key, value in values.items():
        param = parameter(key)
        for level in levels:
            param.ensure_level(level)
        validated[key] = param.validate(value)
    await inventory.ensure_known(uow=uow, nodes=nodes)
    rows: dict[Any, NodeConfig] = {}
    ids = sorted({node.node_id for node in nodes})
    for start in range(0, len(ids), CHUNK):
        found = await uow.session.execute(select(NodeConfig).where(NodeConfig.node_id.in_(ids[start : start + CHUNK])))
        rows.update({(Level(r.level), r.tenant_id, r.node_id): r for r in found.scalars()})
    changed = []
    for node in nodes:
        row = rows.get(node.identity)
        before = dict(row.overrides) if row else {}
        after = {**before, **validated}
        own_changes = override_changes(before, after)
        if own_changes:
            await _save(uow, node, row, before, after, own_changes, "patch", reason, None, flush=False)
            changed.append(node)
    await uow.flush()
    return changed


async def delete_override(
    *, uow: UnitOfWork, config_cache: ConfigCache, node: NodeRef, key: str, reason: str, dry_run: bool = False
) -> ConfigChangeResult:
    """Remove one override, so the parameter falls back to the level below; 404 if the node has none."""
    parameter(key)
    row = await _node_row(uow, node)
    if row is None or key not in row.overrides:
        raise NotFound(f"The configuration of {node.resource_id} does not override {key}.")
    return await change_overrides(
        uow=uow,
        config_cache=config_cache,
        node=node,
        values={},
        unset=[key],
        reason=reason,
        dry_run=dry_run,
        action="delete",
    )


async def rollback(
    *,
    uow: UnitOfWork,
    config_cache: ConfigCache,
    node: NodeRef,
    version: int,
    reason: str,
    expected_version: int | None = None,
    dry_run: bool = False,
) -> ConfigChangeResult:
    """Return a node's overrides to exactly those of `version`; recorded as a new version."""
    target = await _version_row(uow, node, version)
    return await change_overrides(
        uow=uow,
        config_cache=config_cache,
        node=node,
        values=target.snapshot,
        replace=True,
        reason=reason,
        expected_version=expected_version,
        dry_run=dry_run,
        action="rollback",
        rolled_back_to=version,
    )


# --- versions --------------------------------------------------------------------------------


async def list_versions(
    *, uow: UnitOfWork, node: NodeRef, limit: int, offset: int
) -> tuple[list[ConfigVersionRead], int]:
    """A node's versions, newest first."""
    model = SystemConfigVersion if node.level is Level.SYSTEM else NodeConfigVersion
    rows, total = await uow.page(_versions(node).order_by(model.version.desc()), limit=limit, offset=offset)
    return [_version_read(row) for row in rows], total


async def get_version(*, uow: UnitOfWork, node: NodeRef, version: int) -> ConfigVersionRead:
    """One version of a node with its snapshot."""
    return _version_read(await _version_row(uow, node, version))


async def diff_versions(*, uow: UnitOfWork, node: NodeRef, from_version: int, to_version: int) -> VersionDiff:
    """How a node's overrides differ between two of its versions."""
    old = await _version_row(uow, node, from_version)
    new = await _version_row(uow, node, to_version)
    return VersionDiff(
        node=node_read(node),
        from_version=from_version,
        to_version=to_version,
        changes=override_changes(old.snapshot, new.snapshot),
    )


# --- cache upkeep ----------------------------------------------------------------------------


async def refresh_due(*, uow: UnitOfWork, config_cache: ConfigCache) -> int:
    """Reload the critical keys this process uses that are close to expiry (run on a platform-wide
    unit of work by the refresher). Returns how many were refreshed."""
    due = config_cache.due()
    nodes = [source for _, source in due if isinstance(source, NodeRef)]
    models = [source for _, source in due if isinstance(source, AiModel)]
    system = NodeRef.system()
    loaded = await _read_layers(uow, [*nodes, *([system] if models else [])], now=config_cache.clock())
    for node in nodes:
        layer = loaded[node.identity]
        await config_cache.put(node.cache_key, layer.document(node))
        config_cache.track(node.cache_key, node, layer.loaded_at, read=False)
    for model in models:
        await _store_requirements(config_cache, model, loaded[system.identity], read=False)
    return len(due)


async def tenant_cache_keys(*, uow: UnitOfWork, tenant_id: uuid.UUID) -> tuple[list[str], list[str]]:
    """Prefixes and keys of a customer's cached config: its own, and every site and camera that
    has ever had overrides (a node without a row can only be cached as empty, which is never stale)."""
    rows = await uow.session.execute(
        select(NodeConfig.level, NodeConfig.node_id).where(
            NodeConfig.tenant_id == tenant_id, NodeConfig.level != Level.CUSTOMER.value
        )
    )
    keys = [NodeRef(Level(level), tenant_id, node_id).cache_key for level, node_id in rows]
    return [NodeRef.customer(tenant_id).cache_prefix], keys


# --- helpers ---------------------------------------------------------------------------------


def _from_document(doc: dict[str, Any] | None, node: NodeRef) -> Layer | None:
    if doc is None:
        return None
    tenant = str(node.tenant_id) if node.tenant_id else None
    try:
        if doc["tenant"] != tenant:
            return None
        return Layer(version=int(doc["version"]), overrides=dict(doc["overrides"]), loaded_at=float(doc["at"]))
    except (KeyError, TypeError, ValueError):
        return None


async def _read_layers(uow: UnitOfWork, nodes: Sequence[NodeRef], *, now: float) -> dict[Any, Layer]:
    """Nodes' overrides from the database by identity; a node without a row has none."""
    found: dict[Any, Layer] = {}
    system = NodeRef.system()
    if any(node.level is Level.SYSTEM for node in nodes):
        system_row = await uow.session.get(SystemConfig, SYSTEM_NODE_ID)
        if system_row is not None:
            overrides = clean(system_row.overrides, Level.SYSTEM, node="system")
            found[system.identity] = Layer(system_row.version, overrides, now)
    ids = sorted({node.node_id for node in nodes if node.level is not Level.SYSTEM})
    for start in range(0, len(ids), CHUNK):
        rows = await uow.session.execute(select(NodeConfig).where(NodeConfig.node_id.in_(ids[start : start + CHUNK])))
        for row in rows.scalars():
            level = Level(row.level)
            overrides = clean(row.overrides, level, node=f"{level.value}:{row.node_id}")
            found[(level, row.tenant_id, row.node_id)] = Layer(row.version, overrides, now)
    return {node.identity: found.get(node.identity) or Layer(0, {}, now) for node in nodes}


async def _store_requirements(
    config_cache: ConfigCache, model: AiModel, system: Layer, *, read: bool = True
) -> ModelRequirements:
    values = resolve([(Level.SYSTEM, system.overrides)])
    prefix = f"models.{model.value}."
    requirements = ModelRequirements(
        model=model.value,
        **{key.removeprefix(prefix): r.value for key, r in values.items() if key.startswith(prefix)},
    )
    key = model_key(model)
    await config_cache.put(key, {"at": system.loaded_at, "requirements": requirements.model_dump(mode="json")})
    config_cache.track(key, model, system.loaded_at, read=read)
    return requirements


async def _node_row(uow: UnitOfWork, node: NodeRef) -> SystemConfig | NodeConfig | None:
    if node.level is Level.SYSTEM:
        return await uow.session.get(SystemConfig, SYSTEM_NODE_ID)
    stmt = select(NodeConfig).where(
        NodeConfig.tenant_id == node.tenant_id, NodeConfig.level == node.level.value, NodeConfig.node_id == node.node_id
    )
    return (await uow.session.execute(stmt)).scalar_one_or_none()


async def _save(
    uow: UnitOfWork,
    node: NodeRef,
    row: SystemConfig | NodeConfig | None,
    before: dict[str, Any],
    after: dict[str, Any],
    changes: list[OverrideChange],
    action: str,
    reason: str,
    rolled_back_to: int | None,
    *,
    flush: bool = True,
) -> None:
    if row is None:
        if node.level is Level.SYSTEM:
            row = SystemConfig(id=SYSTEM_NODE_ID, overrides={}, version=0)
        else:
            assert node.tenant_id is not None
            row = NodeConfig(
                tenant_id=node.tenant_id, level=node.level.value, node_id=node.node_id, overrides={}, version=0
            )
        uow.add(row)
    version = row.version + 1
    now = utcnow()
    row.overrides = after  # a new dict, so the JSON column is seen as changed
    row.version = version
    row.updated_at = now
    columns: dict[str, Any] = {
        "version": version,
        "action": action,
        "reason": reason,
        "actor_id": uow.actor.user_id,
        "actor": uow.actor.email,
        "snapshot": after,
        "changes": [c.model_dump(mode="json") for c in changes],
        "rolled_back_to": rolled_back_to,
    }
    if node.level is Level.SYSTEM:
        uow.add(SystemConfigVersion(**columns))
    else:
        assert node.tenant_id is not None
        uow.add(NodeConfigVersion(tenant_id=node.tenant_id, level=node.level.value, node_id=node.node_id, **columns))
    history.stage(
        uow,
        node=node,
        version=version,
        action=action,
        reason=reason,
        at=now,
        values=after,
        changes=changes,
        rolled_back_to=rolled_back_to,
    )
    uow.audit(
        "rollback" if action == "rollback" else "delete" if action == "delete" else "update",
        "config",
        node.resource_id,
        old={"version": version - 1, "overrides": before},
        new={"version": version, "overrides": after, "reason": reason, "rolled_back_to": rolled_back_to},
        tenant_id=node.tenant_id,
    )
    if flush:
        await uow.flush()  # a concurrent change of the same node fails here (unique version) as 409


def _versions(node: NodeRef) -> Select[Any]:
    if node.level is Level.SYSTEM:
        return select(SystemConfigVersion)
    return select(NodeConfigVersion).where(
        NodeConfigVersion.tenant_id == node.tenant_id,
        NodeConfigVersion.level == node.level.value,
        NodeConfigVersion.node_id == node.node_id,
    )


async def _version_row(uow: UnitOfWork, node: NodeRef, version: int) -> SystemConfigVersion | NodeConfigVersion:
    model = SystemConfigVersion if node.level is Level.SYSTEM else NodeConfigVersion
    row = (await uow.session.execute(_versions(node).where(model.version == version))).scalar_one_or_none()
    if row is None:
        raise NotFound(f"The configuration of {node.resource_id} has no version {version}.")
    return row


def _version_read(row: SystemConfigVersion | NodeConfigVersion) -> ConfigVersionRead:
    return ConfigVersionRead(
        version=row.version,
        action=row.action,
        reason=row.reason,
        actor=row.actor,
        actor_id=row.actor_id,
        at=as_utc(row.created_at),
        rolled_back_to=row.rolled_back_to,
        changes=[OverrideChange.model_validate(c) for c in row.changes],
        snapshot=row.snapshot,
    )
