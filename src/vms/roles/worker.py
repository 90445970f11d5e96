"""The worker role: run analytics models on video jobs (`vms role worker --models fire_smoke,intrusion`).

Each worker process hosts the models it is given (or every available one with `all`) in one
consumer group, decoding each job once for all of them. Run one process per model for isolation
and independent scaling, or several models per process to share decoding — the same code either way.
Like every role it beats every 30 s (the CLI wraps it in `stats.board.beating`), naming its consumer
group; the beats carry its models' SLA figures and its group's lag, which the API process merges for
`GET /api/v1/ops/sla` and the watchdog judges.
"""

from __future__ import annotations

from typing import Any

import structlog

from vms.analytics import sessions
from vms.analytics.plugin import REGISTRY, UNAVAILABLE, AnalyticsModel
from vms.analytics.worker import Worker
from vms.bootstrap import Container
from vms.kernel.ai_models import AiModel
from vms.kernel.errors import ValidationFailed
from vms.kernel.topics import PARTITIONS

log = structlog.get_logger(__name__)


def load_models(names: str) -> dict[AiModel, AnalyticsModel[Any]]:
    """Instantiate the named models ("all" = every available one) with their default configuration."""
    import vms.analytics.models  # noqa: F401  (registers the plugins)

    if names.strip() == "all":
        wanted = list(REGISTRY)
    else:
        try:
            wanted = [AiModel(n.strip()) for n in names.split(",") if n.strip()]
        except ValueError as exc:
            raise ValidationFailed(
                f"Unknown model in {names!r}; models are: {', '.join(m.value for m in AiModel)}."
            ) from exc
    missing = {m: UNAVAILABLE.get(m, "no plugin") for m in wanted if m not in REGISTRY}
    if missing:
        reasons = "; ".join(f"{m.value}: {why}" for m, why in missing.items())
        raise ValidationFailed(f"These models cannot run here: {reasons}")
    if not wanted:
        raise ValidationFailed("No analytics model is available to run.")
    return {m: REGISTRY[m]() for m in wanted}


class WorkerRole:
    """Consumes video jobs for its models until cancelled."""

    def __init__(self, container: Container, *, models: str = "all") -> None:
        self.container = container
        # Models create their ONNX sessions when built: providers and threads must be set first.
        sessions.configure(container.settings.inference)
        self.models = load_models(models)
        # One consumer group per set of models (analytics.worker's naming); heartbeats name it.
        self.group = "worker-" + "+".join(sorted(m.value for m in self.models))

    @property
    def heartbeat_detail(self) -> str:
        """What this worker's heartbeats say it runs: its consumer group."""
        return self.group

    async def run(self) -> None:
        """Create the topics if needed and run the worker until cancelled."""
        await self.container.bus.ensure_topics(PARTITIONS)
        log.info("worker started", models=[m.value for m in self.models])
        metrics = self.container.metrics
        worker = Worker(
            bus=self.container.bus,
            blobs=self.container.blobs,
            models=self.models,
            metrics=metrics,
            inference=self.container.settings.inference,
            seen=self.container.cache,  # shared by the group's processes: a job done by one is skipped by all
            group=self.group,
        )
        await worker.run()
