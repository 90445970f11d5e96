"""Named camera groups: sets of cameras that cut across the location tree ("Entrances", "Car park LPR")."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import delete, func, select

from vms.cameras.models import Camera, CameraGroup, CameraGroupMember
from vms.cameras.schemas import GroupCreate, GroupRead, GroupUpdate
from vms.kernel.clock import as_utc
from vms.kernel.errors import Conflict, NotFound
from vms.uow import UnitOfWork


async def create_group(*, uow: UnitOfWork, data: GroupCreate) -> GroupRead:
    """Create a group, optionally with its first cameras."""
    await _ensure_name_free(uow, data.name)
    members = await _existing_cameras(uow, data.camera_ids)
    group = CameraGroup(name=data.name, description=data.description)
    uow.add(group)
    await uow.flush()
    for camera_id in members:
        uow.add(CameraGroupMember(tenant_id=group.tenant_id, group_id=group.id, camera_id=camera_id))
    await uow.flush()
    read = _read(group, members)
    uow.audit("create", "camera_group", group.id, new=read)
    return read


async def list_groups(*, uow: UnitOfWork, limit: int, offset: int) -> tuple[list[GroupRead], int]:
    """Groups, by name."""
    groups, total = await uow.page(
        select(CameraGroup).order_by(CameraGroup.name, CameraGroup.id), limit=limit, offset=offset
    )
    members = await _members(uow, [g.id for g in groups])
    return [_read(g, members[g.id]) for g in groups], total


async def get_group(*, uow: UnitOfWork, group_id: uuid.UUID) -> GroupRead:
    """One group with its cameras."""
    group = await _group(uow, group_id)
    return _read(group, (await _members(uow, [group.id]))[group.id])


async def update_group(*, uow: UnitOfWork, group_id: uuid.UUID, data: GroupUpdate) -> GroupRead:
    """Rename a group, change its description, or replace its cameras."""
    group = await _group(uow, group_id)
    members = (await _members(uow, [group.id]))[group.id]
    before = _read(group, members)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name") and changes["name"] != group.name:
        await _ensure_name_free(uow, changes["name"])
        group.name = changes["name"]
    if "description" in changes:
        group.description = changes["description"]
    if changes.get("camera_ids") is not None:
        members = await _existing_cameras(uow, data.camera_ids or [])
        await uow.session.execute(delete(CameraGroupMember).where(CameraGroupMember.group_id == group.id))
        for camera_id in members:
            uow.add(CameraGroupMember(tenant_id=group.tenant_id, group_id=group.id, camera_id=camera_id))
        await uow.flush()
    after = _read(group, members)
    uow.audit("update", "camera_group", group.id, old=before, new=after)
    return after


async def delete_group(*, uow: UnitOfWork, group_id: uuid.UUID) -> None:
    """Delete a group; its cameras stay."""
    group = await _group(uow, group_id)
    before = _read(group, (await _members(uow, [group.id]))[group.id])
    await uow.session.execute(delete(CameraGroupMember).where(CameraGroupMember.group_id == group.id))
    await uow.delete(group)
    uow.audit("delete", "camera_group", group.id, old=before)


async def _group(uow: UnitOfWork, group_id: uuid.UUID) -> CameraGroup:
    return await uow.get(CameraGroup, group_id, what="Camera group")


async def _ensure_name_free(uow: UnitOfWork, name: str) -> None:
    stmt = select(CameraGroup.id).where(func.lower(CameraGroup.name) == name.lower())
    if (await uow.session.execute(stmt)).first():
        raise Conflict(f"A camera group named {name!r} already exists.")


async def _existing_cameras(uow: UnitOfWork, camera_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """The ids, de-duplicated, after checking each is a camera of the tenant (404 otherwise)."""
    wanted = list(dict.fromkeys(camera_ids))
    if not wanted:
        return []
    found = set((await uow.session.execute(select(Camera.id).where(Camera.id.in_(wanted)))).scalars())
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(f"Camera {missing[0]} not found.")
    return wanted


async def _members(uow: UnitOfWork, group_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    members: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if group_ids:
        rows = await uow.session.execute(
            select(CameraGroupMember.group_id, CameraGroupMember.camera_id)
            .where(CameraGroupMember.group_id.in_(group_ids))
            .order_by(CameraGroupMember.camera_id)
        )
        for group_id, camera_id in rows:
            members[group_id].append(camera_id)
    return members


def _read(group: CameraGroup, members: list[uuid.UUID]) -> GroupRead:
    return GroupRead(
        id=group.id,
        name=group.name,
        description=group.description,
        camera_ids=list(members),
        created_at=as_utc(group.created_at),
    )
