"""Which cameras are neighbours, for linking one object's events across cameras (events.links).

Two cameras are adjacent when an object can walk from one view into the other within the link
window. By default that is every camera on the same floor — the same zone or a sibling zone (the
cameras domain's site → building → floor → zone tree). Where the floor plan says otherwise (a
stairwell camera and the lobby below it, a car-park exit and the gate outside) the customer adds
explicit adjacency with camera tags: cameras sharing a tag `adjacent:<name>` (e.g.
`adjacent:east-stairs`) are neighbours wherever they hang. Tags keep it symmetric, editable with
the rest of a camera (PUT /cameras/{id}), and need no new table; cameras in no zone have only
their tag neighbours.

The events role asks only when an event opens (a few per second at most, never per detection)
and keeps each customer's map for `ttl_s`, so a camera moved or retagged links by its new place
within a minute. When the tree cannot be read, the last known map (or none) keeps events flowing.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping

import structlog

from vms.bootstrap import Container
from vms.cameras import hierarchy
from vms.cameras import service as cameras
from vms.cameras.schemas import NodeKind, NodeTree
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor, UnitOfWork

log = structlog.get_logger(__name__)
ACTOR = Actor.system("events")
ADJACENT_TAG = "adjacent:"  # camera tag prefix naming an explicit group of neighbours
PAGE = 500  # cameras per read
NONE: frozenset[uuid.UUID] = frozenset()

Neighbours = Mapping[uuid.UUID, frozenset[uuid.UUID]]


def neighbour_map(
    cameras: Iterable[tuple[uuid.UUID, uuid.UUID | None, Iterable[str]]], floor_of_zone: Mapping[uuid.UUID, uuid.UUID]
) -> dict[uuid.UUID, frozenset[uuid.UUID]]:
    """Each camera's neighbours (never itself) from (camera, zone, tags) rows and the zones' floors.

    >>> a, b, c, zone, floor = (uuid.uuid4() for _ in range(5))
    >>> sorted(map(len, neighbour_map([(a, zone, []), (b, zone, []), (c, None, [])], {zone: floor}).values()))
    [0, 1, 1]
    """
    groups: dict[object, set[uuid.UUID]] = defaultdict(set)
    ids = []
    for camera_id, zone_id, tags in cameras:
        ids.append(camera_id)
        floor = floor_of_zone.get(zone_id) if zone_id is not None else None
        if floor is not None:
            groups[("floor", floor)].add(camera_id)
        for tag in tags:
            if tag.startswith(ADJACENT_TAG) and len(tag) > len(ADJACENT_TAG):
                groups[("tag", tag)].add(camera_id)
    neighbours: dict[uuid.UUID, set[uuid.UUID]] = {camera_id: set() for camera_id in ids}
    for members in groups.values():
        for camera_id in members:
            neighbours[camera_id] |= members
    return {camera_id: frozenset(others - {camera_id}) for camera_id, others in neighbours.items()}


def floors_of_zones(sites: Iterable[NodeTree]) -> dict[uuid.UUID, uuid.UUID]:
    """Zone id → the floor it is on, from the location tree."""
    found: dict[uuid.UUID, uuid.UUID] = {}
    todo = list(sites)
    while todo:
        node = todo.pop()
        if node.kind is NodeKind.FLOOR:
            found.update({child.id: node.id for child in node.children if child.kind is NodeKind.ZONE})
        todo.extend(node.children)
    return found


async def load_neighbours(*, uow: UnitOfWork) -> dict[uuid.UUID, frozenset[uuid.UUID]]:
    """The adjacency of every camera of the unit of work's customer, through the cameras' services."""
    floor_of_zone = floors_of_zones((await hierarchy.tree(uow=uow)).sites)
    rows: list[tuple[uuid.UUID, uuid.UUID | None, list[str]]] = []
    offset = 0
    while True:
        page, total = await cameras.list_cameras(uow=uow, filters=cameras.CameraFilter(), limit=PAGE, offset=offset)
        rows += [(camera.id, camera.zone_id, camera.tags) for camera in page]
        offset += len(page)
        if not page or offset >= total:
            break
    return neighbour_map(rows, floor_of_zone)


class CameraAdjacency:
    """Memoised per customer: `await adjacency.neighbours(tenant_id, camera_id)`."""

    def __init__(self, container: Container, *, ttl_s: float = 60.0) -> None:
        self.container = container
        self.ttl_s = ttl_s
        self._known: dict[uuid.UUID, tuple[float, Neighbours]] = {}  # tenant → (read at, map)

    async def neighbours(self, tenant_id: uuid.UUID, camera_id: uuid.UUID) -> frozenset[uuid.UUID]:
        """The cameras adjacent to `camera_id` (empty for a camera the customer does not have)."""
        known = self._known.get(tenant_id)
        if known is None or time.monotonic() - known[0] > self.ttl_s:
            known = (time.monotonic(), await self._read(tenant_id, known[1] if known else None))
            self._known[tenant_id] = known
        return known[1].get(camera_id, NONE)

    def forget(self, tenant_id: uuid.UUID | None = None) -> None:
        """Read a customer's (or everyone's) adjacency afresh on the next question."""
        if tenant_id is None:
            self._known.clear()
        else:
            self._known.pop(tenant_id, None)

    async def _read(self, tenant_id: uuid.UUID, last: Neighbours | None) -> Neighbours:
        try:
            async with self.container.unit_of_work(TenantScope.of(tenant_id), ACTOR) as uow:  # type: ignore[arg-type]
                return await load_neighbours(uow=uow)
        except Exception as exc:  # the tree unreadable: link by what we knew rather than stop events
            log.warning("reading camera adjacency failed; using the last known", tenant=str(tenant_id), error=str(exc))
            return last or {}
