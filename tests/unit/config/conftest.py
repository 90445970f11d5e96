"""Fixtures of the config tests: two customers with signed-in callers of every role, and helpers
that call /api/v1/config the way the console does."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests import factories
from vms.auth.permissions import Role
from vms.bootstrap import Container
from vms.cameras import hierarchy
from vms.cameras.models import NodeKind
from vms.cameras.schemas import NodeCreate
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor

CONFIG = "/api/v1/config"
PROBLEM = "application/problem+json"


@dataclass
class World:
    """Customer A (Admin, Supervisor, Viewer), customer B (Admin), provider staff, and each
    customer's real site with a camera in it (A: `site`, `camera`; B: `b_site`, `b_camera`)."""

    a: uuid.UUID
    b: uuid.UUID
    provider: factories.SignedIn
    admin: factories.SignedIn
    supervisor: factories.SignedIn
    viewer: factories.SignedIn
    b_admin: factories.SignedIn
    site: uuid.UUID
    camera: uuid.UUID
    b_site: uuid.UUID
    b_camera: uuid.UUID

    @property
    def camera_path(self) -> str:
        """A's camera, placed under A's site."""
        return f"/camera/{self.camera}"

    @property
    def b_camera_path(self) -> str:
        """B's camera."""
        return f"/camera/{self.b_camera}"

    @property
    def camera_params(self) -> dict[str, str]:
        """The query that places the camera under its site."""
        return {"site_id": str(self.site)}


async def placed_camera(container: Container, tenant_id: uuid.UUID, name: str = "HQ") -> tuple[uuid.UUID, uuid.UUID]:
    """A new site of the customer (site → building → floor → zone) with a camera in its zone: (site, camera)."""
    scope, actor = TenantScope.of(tenant_id), Actor.system("test")
    async with container.unit_of_work(scope, actor) as uow:  # type: ignore[arg-type]
        parent: uuid.UUID | None = None
        site: uuid.UUID | None = None
        for kind in (NodeKind.SITE, NodeKind.BUILDING, NodeKind.FLOOR, NodeKind.ZONE):
            node = await hierarchy.create_node(
                uow=uow, data=NodeCreate(kind=kind, name=f"{name} {kind}", parent_id=parent)
            )
            parent = node.id
            site = site or node.id
        await uow.commit()
    assert site is not None
    camera = await factories.camera(container, tenant_id=tenant_id, zone_id=parent)
    return site, camera.id


@pytest.fixture
async def world(client: httpx.AsyncClient, container: Container) -> World:
    a = await factories.customer(container)
    b = await factories.customer(container)
    site, camera = await placed_camera(container, a.id)
    b_site, b_camera = await placed_camera(container, b.id)
    return World(
        a=a.id,
        b=b.id,
        provider=await factories.account(client, container, tenant_id=None, role=Role.PROVIDER_ADMIN),
        admin=await factories.account(client, container, tenant_id=a.id, role=Role.ADMIN),
        supervisor=await factories.account(client, container, tenant_id=a.id, role=Role.SUPERVISOR),
        viewer=await factories.account(client, container, tenant_id=a.id, role=Role.VIEWER),
        b_admin=await factories.account(client, container, tenant_id=b.id, role=Role.ADMIN),
        site=site,
        camera=camera,
        b_site=b_site,
        b_camera=b_camera,
    )


async def effective(
    client: httpx.AsyncClient, who: factories.SignedIn, node: str, params: dict[str, str] | None = None
) -> dict[str, Any]:
    """GET a node's effective config; asserts 200."""
    r = await client.get(f"{CONFIG}{node}", params=params or {}, headers=who.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def patch(
    client: httpx.AsyncClient,
    who: factories.SignedIn,
    node: str,
    values: dict[str, Any] | None = None,
    *,
    unset: list[str] | None = None,
    reason: str = "test change",
    params: dict[str, str] | None = None,
    expect: int = 200,
) -> dict[str, Any]:
    """PATCH a node's overrides; asserts the status."""
    body = {"values": values or {}, "unset": unset or [], "reason": reason}
    r = await client.patch(f"{CONFIG}{node}", json=body, params=params or {}, headers=who.headers)
    assert r.status_code == expect, r.text
    return r.json()


def value_of(config: dict[str, Any], key: str) -> tuple[Any, str]:
    """(value, level) of one parameter in an effective-config response."""
    entry = config["values"][key]
    return entry["value"], entry["level"]
