"""The location tree: sites → buildings → floors → zones, with camera counts at every level.

A tenant's tree is small (hundreds of nodes even for a large customer), so reads load all its
nodes in one query and walk them in memory instead of recursing in SQL, which keeps the queries
dialect-neutral. Writes keep the levels in order: a node's parent is always exactly one level up,
which also makes cycles impossible.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import func, select

from vms.cameras.models import PARENT_KIND, Camera, CameraStatus, Node, NodeKind
from vms.cameras.schemas import CameraCounts, NodeCreate, NodeRead, NodeTree, NodeUpdate, SiteTree
from vms.kernel.errors import Conflict, ValidationFailed
from vms.kernel.paging import LIKE_ESCAPE, contains_pattern
from vms.kernel.tenancy import CameraScope
from vms.uow import UnitOfWork

CHILD_KIND: dict[NodeKind, NodeKind] = {parent: kind for kind, parent in PARENT_KIND.items() if parent}
PLURAL = {NodeKind.SITE: "sites", NodeKind.BUILDING: "buildings", NodeKind.FLOOR: "floors", NodeKind.ZONE: "zones"}


async def create_node(*, uow: UnitOfWork, data: NodeCreate) -> NodeRead:
    """Add a site, or a building/floor/zone under a parent one level up."""
    parent = await _parent_for(uow, data.kind, data.parent_id)
    await _ensure_name_free(uow, name=data.name, parent_id=parent.id if parent else None, kind=data.kind)
    node = Node(kind=data.kind.value, name=data.name, parent_id=parent.id if parent else None)
    uow.add(node)
    await uow.flush()
    read = await _read(uow, node)
    uow.audit("create", "node", node.id, new=read)
    return read


async def get_node(*, uow: UnitOfWork, node_id: uuid.UUID) -> NodeRead:
    """One node with its path from the site down."""
    return await _read(uow, await _node(uow, node_id))


async def list_nodes(
    *,
    uow: UnitOfWork,
    kind: NodeKind | None,
    parent_id: uuid.UUID | None,
    query: str | None,
    limit: int,
    offset: int,
) -> tuple[list[NodeRead], int]:
    """Nodes filtered by kind, parent and name text, by name."""
    stmt = select(Node).order_by(Node.name, Node.id)
    if kind:
        stmt = stmt.where(Node.kind == kind.value)
    if parent_id:
        stmt = stmt.where(Node.parent_id == parent_id)
    if query:
        stmt = stmt.where(Node.name.ilike(contains_pattern(query), escape=LIKE_ESCAPE))
    nodes, total = await uow.page(stmt, limit=limit, offset=offset)
    everything = await _all_nodes(uow)
    return [_read_from(node, everything) for node in nodes], total


async def update_node(*, uow: UnitOfWork, node_id: uuid.UUID, data: NodeUpdate) -> NodeRead:
    """Rename a node, or move it (with everything below it) under another parent of the same kind."""
    node = await _node(uow, node_id)
    before = await _read(uow, node)
    changes = data.model_dump(exclude_unset=True)
    kind = NodeKind(node.kind)
    parent_id = node.parent_id
    if "parent_id" in changes and changes["parent_id"] != node.parent_id:
        parent = await _parent_for(uow, kind, changes["parent_id"])
        parent_id = parent.id if parent else None
    name = changes.get("name") or node.name
    if name.lower() != node.name.lower() or parent_id != node.parent_id:
        await _ensure_name_free(uow, name=name, parent_id=parent_id, kind=kind, other_than=node.id)
    node.name, node.parent_id = name, parent_id
    after = await _read(uow, node)
    uow.audit("move" if parent_id != before.parent_id else "update", "node", node.id, old=before, new=after)
    return after


async def delete_node(*, uow: UnitOfWork, node_id: uuid.UUID) -> None:
    """Delete an empty node; one with children or cameras is refused (409) so nothing is orphaned."""
    node = await _node(uow, node_id)
    kind = NodeKind(node.kind)
    children = await _count(uow, select(func.count()).select_from(Node).where(Node.parent_id == node.id))
    if children:
        raise Conflict(
            f"The {kind.value} '{node.name}' still has {children} {PLURAL[CHILD_KIND[kind]]}; "
            "move or delete them first."
        )
    cameras = await _count(uow, select(func.count()).select_from(Camera).where(Camera.zone_id == node.id))
    if cameras:
        raise Conflict(
            f"The zone '{node.name}' still holds {cameras} camera{'s' if cameras > 1 else ''}; "
            "move or delete them first."
        )
    before = await _read(uow, node)
    await uow.delete(node)
    uow.audit("delete", "node", node.id, old=before)


async def tree(*, uow: UnitOfWork) -> SiteTree:
    """The whole tree, each node with the cameras below it: total, online and offline."""
    nodes = await _all_nodes(uow)
    counts: dict[uuid.UUID | None, CameraCounts] = defaultdict(CameraCounts)
    rows = await uow.session.execute(
        select(Camera.zone_id, Camera.status, func.count()).group_by(Camera.zone_id, Camera.status)
    )
    for zone_id, status, count in rows:
        _add(counts[zone_id], status, int(count))
    children: dict[uuid.UUID | None, list[Node]] = defaultdict(list)
    for node in sorted(nodes.values(), key=lambda n: (n.name.lower(), str(n.id))):
        children[node.parent_id].append(node)

    def build(node: Node) -> NodeTree:
        below = [build(child) for child in children[node.id]]
        own = counts.get(node.id, CameraCounts())
        return NodeTree(
            id=node.id,
            kind=NodeKind(node.kind),
            name=node.name,
            children=below,
            camera_count=own.camera_count + sum(c.camera_count for c in below),
            online_count=own.online_count + sum(c.online_count for c in below),
            offline_count=own.offline_count + sum(c.offline_count for c in below),
        )

    sites = [build(site) for site in children[None]]
    unassigned = counts.get(None, CameraCounts())
    total = CameraCounts()
    for part in counts.values():
        total.camera_count += part.camera_count
        total.online_count += part.online_count
        total.offline_count += part.offline_count
    return SiteTree(sites=sites, unassigned=unassigned, total=total)


async def zone(*, uow: UnitOfWork, zone_id: uuid.UUID) -> Node:
    """The zone with this id; 404 when missing (or another tenant's), 422 when the node is not a zone."""
    node = await _node(uow, zone_id)
    if node.kind != NodeKind.ZONE:
        raise ValidationFailed(f"Cameras go in zones; '{node.name}' is a {node.kind}.")
    return node


async def zones_below(*, uow: UnitOfWork, node_id: uuid.UUID) -> list[uuid.UUID]:
    """Ids of the zones at or below a node (404 when the node does not exist)."""
    await _node(uow, node_id)
    nodes = await _all_nodes(uow)
    below: dict[uuid.UUID | None, list[uuid.UUID]] = defaultdict(list)
    for node in nodes.values():
        below[node.parent_id].append(node.id)
    found, todo = [], [node_id]
    while todo:
        current = todo.pop()
        if nodes[current].kind == NodeKind.ZONE:
            found.append(current)
        todo.extend(below[current])
    return found


async def scope_part(*, uow: UnitOfWork, node_ids: Iterable[uuid.UUID]) -> CameraScope:
    """What a user limited to `node_ids` works in: the cameras in zones under those nodes, the nodes
    they may see (those subtrees and the path above them, so the tree still reads from the site
    down) and the zones they may put cameras in. Nodes that no longer exist limit to nothing.

    Run in a unit of work for the whole customer; `uow.narrow()` applies the result.
    """
    nodes = await _all_nodes(uow)
    below: dict[uuid.UUID | None, list[uuid.UUID]] = defaultdict(list)
    for node in nodes.values():
        below[node.parent_id].append(node.id)
    subtree: set[uuid.UUID] = set()
    todo = [node_id for node_id in node_ids if node_id in nodes]
    visible = set(todo)
    for node_id in todo:  # the path above each scope node
        parent_id = nodes[node_id].parent_id
        while parent_id is not None and parent_id in nodes:
            visible.add(parent_id)
            parent_id = nodes[parent_id].parent_id
    while todo:
        current = todo.pop()
        if current not in subtree:
            subtree.add(current)
            todo.extend(below[current])
    zones = [node_id for node_id in subtree if nodes[node_id].kind == NodeKind.ZONE]
    cameras = set((await uow.session.execute(select(Camera.id).where(Camera.zone_id.in_(zones)))).scalars())
    return CameraScope(cameras=cameras, nodes=frozenset(visible | subtree), placeable=frozenset(subtree))


async def camera_sites(*, uow: UnitOfWork, camera_ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID | None]:
    """Each camera's site (None for a camera in no zone), e.g. for the configuration hierarchy."""
    rows = (await uow.session.execute(select(Camera.id, Camera.zone_id).where(Camera.id.in_(camera_ids)))).all()
    nodes = await _all_nodes(uow)

    def site(node_id: uuid.UUID | None) -> uuid.UUID | None:
        while node_id is not None and nodes[node_id].parent_id is not None:
            node_id = nodes[node_id].parent_id
        return node_id

    return {camera_id: site(zone_id) for camera_id, zone_id in rows}


def _add(counts: CameraCounts, status: str, count: int) -> None:
    counts.camera_count += count
    if status == CameraStatus.ONLINE:
        counts.online_count += count
    elif status == CameraStatus.OFFLINE:
        counts.offline_count += count


async def _node(uow: UnitOfWork, node_id: uuid.UUID) -> Node:
    return await uow.get(Node, node_id, what="Node")


async def _parent_for(uow: UnitOfWork, kind: NodeKind, parent_id: uuid.UUID | None) -> Node | None:
    wanted = PARENT_KIND[kind]
    if wanted is None:
        if parent_id is not None:
            raise ValidationFailed("A site is the top of the tree; it has no parent.")
        return None
    if parent_id is None:
        raise ValidationFailed(f"A {kind.value} needs a parent {wanted.value} (parent_id).")
    parent = await _node(uow, parent_id)
    if parent.kind != wanted:
        raise ValidationFailed(f"A {kind.value} goes under a {wanted.value}; '{parent.name}' is a {parent.kind}.")
    return parent


async def _ensure_name_free(
    uow: UnitOfWork, *, name: str, parent_id: uuid.UUID | None, kind: NodeKind, other_than: uuid.UUID | None = None
) -> None:
    stmt = select(Node.id).where(Node.kind == kind.value, func.lower(Node.name) == name.lower())
    stmt = stmt.where(Node.parent_id == parent_id if parent_id else Node.parent_id.is_(None))
    if other_than:
        stmt = stmt.where(Node.id != other_than)
    if (await uow.session.execute(stmt)).first():
        where = "" if parent_id is None else " here"
        raise Conflict(f"A {kind.value} named '{name}' already exists{where}.")


async def _count(uow: UnitOfWork, stmt: object) -> int:
    return int((await uow.session.execute(stmt)).scalar_one())  # type: ignore[call-overload]


async def _all_nodes(uow: UnitOfWork) -> dict[uuid.UUID, Node]:
    return {node.id: node for node in (await uow.session.execute(select(Node))).scalars()}


async def _read(uow: UnitOfWork, node: Node) -> NodeRead:
    path = [node.name]
    parent_id = node.parent_id
    while parent_id is not None:  # at most three levels up
        parent = await _node(uow, parent_id)
        path.insert(0, parent.name)
        parent_id = parent.parent_id
    return _node_read(node, path)


def _read_from(node: Node, nodes: dict[uuid.UUID, Node]) -> NodeRead:
    path = [node.name]
    parent_id = node.parent_id
    while parent_id is not None and parent_id in nodes:
        path.insert(0, nodes[parent_id].name)
        parent_id = nodes[parent_id].parent_id
    return _node_read(node, path)


def _node_read(node: Node, path: list[str]) -> NodeRead:
    return NodeRead(
        id=node.id,
        kind=NodeKind(node.kind),
        name=node.name,
        parent_id=node.parent_id,
        path=path,
        created_at=node.created_at,
    )
