"""The streaming part of the api (and, later, edge) role: the go2rtc gateway beside the HTTP API.

The gateway lives in the api process because the API authorises and proxies WebRTC signalling to
it; one gateway per api process (per edge box, per Deployment replica), each with one camera
connection per stream however many viewers it serves.
"""

from __future__ import annotations

from vms.bootstrap import Container
from vms.kernel.tenancy import TenantScope
from vms.streaming.gateway import GatewayStream, Go2rtcGateway, load_streams
from vms.uow import Actor

ACTOR = Actor.system("streaming")


def build_gateway(container: Container) -> Go2rtcGateway:
    """A gateway fed from the camera database of every customer (platform scope)."""

    async def load() -> list[GatewayStream]:
        async with container.unit_of_work(TenantScope.platform(), ACTOR) as uow:
            return await load_streams(uow=uow, secrets=container.identity.secrets)

    settings = container.settings
    return Go2rtcGateway(settings=settings.streaming, work_dir=settings.data_dir / "streaming", load=load)
