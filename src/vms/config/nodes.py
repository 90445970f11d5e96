"""The nodes of the configuration hierarchy and their cache keys (requirements §8).

Sites and cameras are owned by the cameras domain; here they are plain ids. A camera's site is
supplied by the caller, so this domain never reads another domain's tables.

>>> cam = NodeRef.camera(tenant_id, camera_id, site_id=site_id)
>>> [n.level.value for n in cam.lineage()]
['system', 'customer', 'site', 'camera']
>>> cam.cache_key
'config:camera:6f1c…:overrides'
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from vms.config.registry import Level
from vms.kernel.ai_models import AiModel

SYSTEM_NODE_ID = uuid.UUID(int=0)  # the one system node, so every node row has a non-null id
CONFIG_PREFIX = "config:"
MODEL_PREFIX = "config:model:"


@dataclass(frozen=True, slots=True)
class NodeRef:
    """One node: the system, a customer, a site or a camera (with its site for resolution)."""

    level: Level
    tenant_id: uuid.UUID | None = None
    node_id: uuid.UUID = SYSTEM_NODE_ID
    site_id: uuid.UUID | None = None

    @classmethod
    def system(cls) -> NodeRef:
        """The provider's defaults, shared by every customer."""
        return cls(Level.SYSTEM)

    @classmethod
    def customer(cls, tenant_id: uuid.UUID) -> NodeRef:
        """A customer's account-wide overrides."""
        return cls(Level.CUSTOMER, tenant_id, tenant_id)

    @classmethod
    def site(cls, tenant_id: uuid.UUID, site_id: uuid.UUID) -> NodeRef:
        """A site's overrides."""
        return cls(Level.SITE, tenant_id, site_id)

    @classmethod
    def camera(cls, tenant_id: uuid.UUID, camera_id: uuid.UUID, *, site_id: uuid.UUID | None = None) -> NodeRef:
        """A camera's overrides; `site_id` places it under its site (None: no site level)."""
        return cls(Level.CAMERA, tenant_id, camera_id, site_id)

    @property
    def identity(self) -> tuple[Level, uuid.UUID | None, uuid.UUID]:
        """What identifies the node's stored overrides (a camera's site is not part of it)."""
        return (self.level, self.tenant_id, self.node_id)

    def lineage(self) -> list[NodeRef]:
        """The nodes whose overrides make up this node's effective values, lowest first."""
        if self.level is Level.SYSTEM or self.tenant_id is None:
            return [NodeRef.system()]
        chain = [NodeRef.system(), NodeRef.customer(self.tenant_id)]
        if self.level is Level.SITE:
            chain.append(self)
        elif self.level is Level.CAMERA:
            if self.site_id is not None:
                chain.append(NodeRef.site(self.tenant_id, self.site_id))
            chain.append(NodeRef(Level.CAMERA, self.tenant_id, self.node_id))
        return chain

    @property
    def cache_prefix(self) -> str:
        """Prefix of every cache key of this node (`config:camera:{id}:` …)."""
        if self.level is Level.SYSTEM:
            return "config:system:"
        return f"config:{self.level.value}:{self.node_id}:"

    @property
    def cache_key(self) -> str:
        """Cache key of this node's own overrides."""
        return self.cache_prefix + "overrides"

    @property
    def resource_id(self) -> str:
        """How audit records and messages name the node."""
        return "system" if self.level is Level.SYSTEM else f"{self.level.value}:{self.node_id}"


def model_key(model: AiModel) -> str:
    """Cache key of a model's system-wide requirements (`config:model:{id}:requirements`)."""
    return f"{MODEL_PREFIX}{model.value}:requirements"
