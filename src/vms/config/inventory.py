"""Site and camera ids of configuration changes, checked against the cameras domain.

An override for a node the customer does not have would be stored and resolved for nobody (or,
with a guessed id, for another customer's camera that shares it), so a change naming a site that
is not one of the customer's sites, or a camera that is not one of its cameras, is refused with
422 naming the id. A camera placed under a site by the caller must really be in that site, or it
would resolve with another site's values. Reads are not checked: they resolve what is stored.

The cameras domain answers through its services; this domain never reads its tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from vms.cameras import hierarchy
from vms.config.nodes import NodeRef
from vms.config.registry import Level
from vms.kernel.errors import NotFound, ValidationFailed
from vms.uow import UnitOfWork

CHUNK = 500  # ids per lookup: far below every engine's parameter limit


async def ensure_known(*, uow: UnitOfWork, nodes: Sequence[NodeRef]) -> None:
    """Raise ValidationFailed (422) naming the first site or camera id the customer does not have."""
    sites = sorted({node.node_id for node in nodes if node.level is Level.SITE})
    sites += sorted({n.site_id for n in nodes if n.level is Level.CAMERA and n.site_id and n.site_id not in sites})
    for site_id in sites:
        await _ensure_site(uow, site_id)
    cameras = [node for node in nodes if node.level is Level.CAMERA]
    if not cameras:
        return
    ids = sorted({node.node_id for node in cameras})
    placed: dict[uuid.UUID, uuid.UUID | None] = {}
    for start in range(0, len(ids), CHUNK):
        placed.update(await hierarchy.camera_sites(uow=uow, camera_ids=ids[start : start + CHUNK]))
    for node in cameras:
        if node.node_id not in placed:
            raise ValidationFailed(f"Camera {node.node_id} is not one of this customer's cameras.")
        actual = placed[node.node_id]
        if node.site_id is not None and actual != node.site_id:
            where = f"site {actual}" if actual else "no site"
            raise ValidationFailed(f"Camera {node.node_id} is not in site {node.site_id}; it is in {where}.")


async def _ensure_site(uow: UnitOfWork, site_id: uuid.UUID) -> None:
    try:
        found = await hierarchy.get_node(uow=uow, node_id=site_id)
    except NotFound:
        raise ValidationFailed(f"Site {site_id} is not one of this customer's sites.") from None
    if found.kind.value != "site":  # the enum is the cameras domain's (its models module)
        raise ValidationFailed(f"Site {site_id} is not a site: '{found.name}' is a {found.kind.value}.")
