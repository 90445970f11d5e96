"""Turning a server into an edge: stage rows in every process, deliver them from one.

>>> edge_agent.install(container)                          # bootstrap, every process
>>> task = asyncio.create_task(edge_agent.run(container))   # the api role, one process
"""

from __future__ import annotations

from vms.bootstrap import Container
from vms.edge.relay import EdgeRelay
from vms.events import edge_staging as staging


def install(container: Container) -> None:
    """Queue every event change for the cloud when this server is an edge (VMS_EDGE__CLOUD_URL set)."""
    if container.settings.edge.cloud_url:
        staging.install(container.engine)


async def run(container: Container) -> None:
    """Deliver the edge lane to the cloud until cancelled; returns at once on a server that is no edge."""
    if not container.settings.edge.cloud_url:
        return
    relay = EdgeRelay(container.sessions, blobs=container.blobs, settings=container.settings.edge)
    try:
        await relay.run()
    finally:
        await relay.close()
