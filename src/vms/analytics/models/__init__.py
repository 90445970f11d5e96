"""The analytics model plugins (DESIGN.md §8 "Analytics models are plugins").

Importing this package imports every plugin so that it registers itself. A plugin that fails to
import (a missing optional package, a broken model file) is marked unavailable with its reason,
shown by the API and logged, never silently missing; the other plugins still load.
"""

from __future__ import annotations

import importlib
import logging

from vms.analytics.plugin import REGISTRY, mark_unavailable
from vms.kernel.ai_models import AiModel

log = logging.getLogger(__name__)


def _load(key: AiModel, module: str) -> None:
    try:
        importlib.import_module(f"{__name__}.{module}")
    except Exception as exc:  # any failure makes this one plugin unavailable, with the reason
        log.warning("analytics model %s is unavailable: %s", key.value, exc, exc_info=True)
        mark_unavailable(key, f"{type(exc).__name__}: {exc}")


_load(AiModel.INTRUSION, "intrusion")
_load(AiModel.CROWD, "crowd")
_load(AiModel.MOTION, "motion")
_load(AiModel.TAMPERING, "tampering")
_load(AiModel.FALLEN, "fallen")
_load(AiModel.TAILGATING, "tailgating")
_load(AiModel.ABNORMAL_BEHAVIOR, "abnormal_behavior")
_load(AiModel.MISSING_OBJECT, "missing_object")
_load(AiModel.FIRE_SMOKE, "fire_smoke")
_load(AiModel.ANPR, "anpr")

# Models whose plugin has not been written yet are listed as unavailable too, with that reason,
# so every one of the ten is accounted for (issue 6 adds the remaining plugins).
for _key in AiModel:
    if _key not in REGISTRY:
        mark_unavailable(_key, "no plugin in this build yet")
