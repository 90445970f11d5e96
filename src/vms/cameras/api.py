"""Routes: the location tree (/sites/tree, /nodes), cameras (/cameras) and camera groups (/camera-groups).

Reading needs camera:read (every customer role); writing needs camera:write (Admin, Supervisor).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile

from vms.api.deps import AppContainer, Paging, UoW, require
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.cameras import bulk_import, groups, hierarchy, service
from vms.cameras.models import CameraStatus, NodeKind
from vms.cameras.schemas import (
    CameraCreate,
    CameraModelRead,
    CameraMove,
    CameraPage,
    CameraRead,
    CameraUpdate,
    GroupCreate,
    GroupPage,
    GroupRead,
    GroupUpdate,
    ImportReport,
    NodeCreate,
    NodePage,
    NodeRead,
    NodeUpdate,
    SiteTree,
)
from vms.kernel.ai_models import AiModel

router = APIRouter(prefix="/cameras", tags=["cameras"])
sites_router = APIRouter(tags=["sites"])
groups_router = APIRouter(prefix="/camera-groups", tags=["cameras"])  # operation ids cameras-*_camera_group(s)
Reader = Annotated[Principal, Depends(require(Permission.CAMERA_READ))]
Writer = Annotated[Principal, Depends(require(Permission.CAMERA_WRITE))]
TextQuery = Annotated[str | None, Query(max_length=200, description="Text in the name.")]


# --- the location tree ----------------------------------------------------------------------------


@sites_router.get("/sites/tree", response_model=SiteTree)
async def get_site_tree(uow: UoW, _: Reader) -> SiteTree:
    """Sites → buildings → floors → zones, each with its camera, online and offline counts."""
    return await hierarchy.tree(uow=uow)


@sites_router.get("/nodes", response_model=NodePage)
async def list_nodes(
    uow: UoW,
    _: Reader,
    page: Paging,
    kind: NodeKind | None = None,
    parent_id: uuid.UUID | None = None,
    q: TextQuery = None,
) -> NodePage:
    """Nodes of the tree as a flat list (for pickers), by name."""
    items, total = await hierarchy.list_nodes(
        uow=uow, kind=kind, parent_id=parent_id, query=q, limit=page.limit, offset=page.offset
    )
    return NodePage(items=items, total=total, limit=page.limit, offset=page.offset)


@sites_router.post("/nodes", status_code=201, response_model=NodeRead)
async def create_node(body: NodeCreate, uow: UoW, _: Writer) -> NodeRead:
    """Add a site, or a building under a site, a floor under a building, a zone under a floor."""
    return await hierarchy.create_node(uow=uow, data=body)


@sites_router.get("/nodes/{node_id}", response_model=NodeRead)
async def get_node(node_id: uuid.UUID, uow: UoW, _: Reader) -> NodeRead:
    """One node with its path."""
    return await hierarchy.get_node(uow=uow, node_id=node_id)


@sites_router.patch("/nodes/{node_id}", response_model=NodeRead)
async def update_node(node_id: uuid.UUID, body: NodeUpdate, uow: UoW, _: Writer) -> NodeRead:
    """Rename a node, or move it under another parent of the right kind."""
    return await hierarchy.update_node(uow=uow, node_id=node_id, data=body)


@sites_router.delete("/nodes/{node_id}", status_code=204)
async def delete_node(node_id: uuid.UUID, uow: UoW, _: Writer) -> Response:
    """Delete an empty node (409 while it has children or cameras)."""
    await hierarchy.delete_node(uow=uow, node_id=node_id)
    return Response(status_code=204)


# --- cameras --------------------------------------------------------------------------------------


@router.get("", response_model=CameraPage)
async def list_cameras(
    uow: UoW,
    _: Reader,
    page: Paging,
    q: TextQuery = None,
    node_id: Annotated[uuid.UUID | None, Query(description="A site, building, floor or zone.")] = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    status: CameraStatus | None = None,
    model: Annotated[AiModel | None, Query(description="An enabled AI model.")] = None,
    group_id: uuid.UUID | None = None,
) -> CameraPage:
    """Cameras, by name, filtered by text, place in the tree, tag, status, AI model or group."""
    filters = service.CameraFilter(query=q, node_id=node_id, tag=tag, status=status, model=model, group_id=group_id)
    items, total = await service.list_cameras(uow=uow, filters=filters, limit=page.limit, offset=page.offset)
    return CameraPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post("", status_code=201, response_model=CameraRead)
async def create_camera(body: CameraCreate, uow: UoW, user: Writer, container: AppContainer) -> CameraRead:
    """Add a camera after probing its streams (unless probe is false) and checking its AI models."""
    return await service.create_camera(
        uow=uow, tenant_id=user.tenant, secrets=container.identity.secrets, prober=container.prober, data=body
    )


@router.get(
    "/import/template",
    response_class=Response,
    responses={200: {"content": {bulk_import.CSV_TYPE: {}, bulk_import.XLSX_TYPE: {}}}},
)
async def get_camera_import_template(
    _: Writer,
    file_format: Annotated[Literal["csv", "xlsx"], Query(alias="format", description="csv or xlsx.")] = "csv",
) -> Response:
    """The bulk import template: the header row and one example row."""
    content, media_type, filename = bulk_import.template(file_format)
    return Response(
        content=content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.post("/import", response_model=ImportReport)
async def import_cameras(
    uow: UoW,
    user: Writer,
    container: AppContainer,
    file: Annotated[UploadFile, File(description="A .csv (UTF-8, ',' or ';') or .xlsx file laid out as the template.")],
    dry_run: Annotated[bool, Query(description="Only validate and report; write nothing.")] = True,
    probe: Annotated[bool, Query(description="Probe new and changed streams (slow: seconds per camera).")] = False,
) -> ImportReport:
    """Create or update cameras from a CSV or XLSX file, matched by external_id; bad rows are reported."""
    max_bytes = container.settings.api.max_body_bytes
    return await bulk_import.import_cameras(
        uow=uow,
        tenant_id=user.tenant,
        secrets=container.identity.secrets,
        prober=container.prober,
        data=await file.read(max_bytes + 1),
        filename=file.filename,
        content_type=file.content_type,
        max_bytes=max_bytes,
        dry_run=dry_run,
        probe=probe,
    )


@router.post("/move", response_model=list[CameraRead])
async def move_cameras(body: CameraMove, uow: UoW, _: Writer) -> list[CameraRead]:
    """Move cameras into a zone, or out of every zone with zone_id null."""
    return await service.move_cameras(uow=uow, camera_ids=body.camera_ids, zone_id=body.zone_id)


@router.get("/{camera_id}", response_model=CameraRead)
async def get_camera(camera_id: uuid.UUID, uow: UoW, _: Reader) -> CameraRead:
    """One camera (never its credentials)."""
    return await service.get_camera(uow=uow, camera_id=camera_id)


@router.patch("/{camera_id}", response_model=CameraRead)
async def update_camera(
    camera_id: uuid.UUID, body: CameraUpdate, uow: UoW, user: Writer, container: AppContainer
) -> CameraRead:
    """Change a camera; new URLs or credentials are probed again and the AI models re-checked."""
    return await service.update_camera(
        uow=uow,
        tenant_id=user.tenant,
        secrets=container.identity.secrets,
        prober=container.prober,
        camera_id=camera_id,
        data=body,
    )


@router.delete("/{camera_id}", status_code=204)
async def delete_camera(camera_id: uuid.UUID, uow: UoW, _: Writer) -> Response:
    """Remove a camera."""
    await service.delete_camera(uow=uow, camera_id=camera_id)
    return Response(status_code=204)


@router.post("/{camera_id}/probe", response_model=CameraRead)
async def probe_camera(camera_id: uuid.UUID, uow: UoW, _: Writer, container: AppContainer) -> CameraRead:
    """Probe the camera's streams again and re-check its AI models."""
    return await service.reprobe_camera(
        uow=uow, secrets=container.identity.secrets, prober=container.prober, camera_id=camera_id
    )


@router.get("/{camera_id}/models", response_model=list[CameraModelRead])
async def list_camera_models(camera_id: uuid.UUID, uow: UoW, user: Reader) -> list[CameraModelRead]:
    """The ten AI models for this camera: licensed, enabled, compatible, stream, and why not."""
    return await service.camera_models(uow=uow, tenant_id=user.tenant, camera_id=camera_id)


# --- groups ---------------------------------------------------------------------------------------


@groups_router.get("", response_model=GroupPage)
async def list_camera_groups(uow: UoW, _: Reader, page: Paging) -> GroupPage:
    """Camera groups, by name."""
    items, total = await groups.list_groups(uow=uow, limit=page.limit, offset=page.offset)
    return GroupPage(items=items, total=total, limit=page.limit, offset=page.offset)


@groups_router.post("", status_code=201, response_model=GroupRead)
async def create_camera_group(body: GroupCreate, uow: UoW, _: Writer) -> GroupRead:
    """Create a named group of cameras."""
    return await groups.create_group(uow=uow, data=body)


@groups_router.get("/{group_id}", response_model=GroupRead)
async def get_camera_group(group_id: uuid.UUID, uow: UoW, _: Reader) -> GroupRead:
    """One group with its cameras."""
    return await groups.get_group(uow=uow, group_id=group_id)


@groups_router.patch("/{group_id}", response_model=GroupRead)
async def update_camera_group(group_id: uuid.UUID, body: GroupUpdate, uow: UoW, _: Writer) -> GroupRead:
    """Rename a group or replace its cameras."""
    return await groups.update_group(uow=uow, group_id=group_id, data=body)


@groups_router.delete("/{group_id}", status_code=204)
async def delete_camera_group(group_id: uuid.UUID, uow: UoW, _: Writer) -> Response:
    """Delete a group (its cameras stay)."""
    await groups.delete_group(uow=uow, group_id=group_id)
    return Response(status_code=204)
