"""Confidence thresholds per camera and model, from the configuration service.

`models.<model>.confidence_threshold` resolves system → customer → site → camera (docs/configuration.md),
so a Supervisor can quieten one noisy camera without touching the others. The events role asks for
every detection, thousands per second, so each camera's thresholds (all ten models in one read) are
kept for `ttl_s`: a change applies within that time. When the configuration cannot be read (the
database briefly away), the last known values — or the registry defaults — keep events flowing.
"""

from __future__ import annotations

import time
import uuid

import structlog

from vms.bootstrap import Container
from vms.config.registry import parameter
from vms.config.service import placed_camera_config
from vms.kernel.ai_models import AiModel
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor

log = structlog.get_logger(__name__)
ACTOR = Actor.system("events")
KEYS = {model: f"models.{model.value}.confidence_threshold" for model in AiModel}


class ConfiguredThresholds:
    """Memoised per camera: `await thresholds.get(tenant_id, camera_id, AiModel.INTRUSION)`."""

    def __init__(self, container: Container, *, ttl_s: float = 5.0) -> None:
        self.container = container
        self.ttl_s = ttl_s
        self._known: dict[uuid.UUID, tuple[float, dict[AiModel, float]]] = {}  # camera → (read at, thresholds)

    async def get(self, tenant_id: uuid.UUID, camera_id: uuid.UUID, model: AiModel) -> float:
        """The threshold in force for `model` on the camera."""
        known = self._known.get(camera_id)
        if known is None or time.monotonic() - known[0] > self.ttl_s:
            known = (time.monotonic(), await self._read(tenant_id, camera_id, known[1] if known else None))
            self._known[camera_id] = known
        return known[1][model]

    async def _read(
        self, tenant_id: uuid.UUID, camera_id: uuid.UUID, last: dict[AiModel, float] | None
    ) -> dict[AiModel, float]:
        try:
            async with self.container.unit_of_work(TenantScope.of(tenant_id), ACTOR) as uow:  # type: ignore[arg-type]
                values = await placed_camera_config(
                    uow=uow,
                    config_cache=self.container.config,
                    tenant_id=tenant_id,
                    camera_id=camera_id,
                    keys=list(KEYS.values()),
                )
            return {model: float(values[key].value) for model, key in KEYS.items()}
        except Exception as exc:  # configuration unreadable: keep going on what we know
            log.warning("reading thresholds failed; using the last known or default values", error=str(exc))
            return last or {model: float(parameter(key).default) for model, key in KEYS.items()}
