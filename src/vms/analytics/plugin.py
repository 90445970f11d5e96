"""The analytics model plugin interface and registry (DESIGN.md §8 "Analytics models are plugins").

A model is a class registered with `@register`, with a typed config (every field described and
bounded) and an `analyze` that turns a normalised clip into detections. A plugin that fails to
load is listed as unavailable with its reason, never silently missing.

>>> @register
... class FireSmoke(AnalyticsModel[FireSmokeConfig]):
...     key = AiModel.FIRE_SMOKE
...     config_type = FireSmokeConfig
...     def analyze(self, clip, *, camera_id): ...
"""

from __future__ import annotations

import threading
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from vms.kernel.ai_models import MODEL_SPECS, AiModel, ModelSpec
from vms.kernel.priority import Priority
from vms.media.normalize import NormalizedClip


class ModelConfig(BaseModel):
    """Settings every model has; plugins subclass it with their own fields."""

    model_config = ConfigDict(extra="forbid")

    confidence_threshold: float = Field(0.5, ge=0.0, le=1.0, description="Detections below this are dropped.")


C = TypeVar("C", bound=ModelConfig)


@dataclass(frozen=True, slots=True)
class Detection:
    """One thing a model saw in one frame. Boxes are fractions of the frame (x, y, width, height)."""

    model: AiModel
    camera_id: uuid.UUID
    segment_sequence: int
    frame_time: datetime
    box: tuple[float, float, float, float]
    object_class: str
    score: float
    track_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def as_document(self) -> dict[str, Any]:
        """JSON-ready form for the `detections` topic."""
        return {
            "model": self.model.value,
            "cameraId": str(self.camera_id),
            "segmentSequence": self.segment_sequence,
            "frameTime": self.frame_time.isoformat(),
            "boundingBox": list(self.box),
            "objectClass": self.object_class,
            "score": round(self.score, 4),
            "trackingId": self.track_id,
            "attributes": self.attributes,
        }


class AnalyticsModel(ABC, Generic[C]):
    """Base of the ten models. Instances may keep state per camera (trackers, references)."""

    key: ClassVar[AiModel]
    config_type: ClassVar[type[ModelConfig]] = ModelConfig
    version: ClassVar[str] = "1"
    spec: ClassVar[ModelSpec]  # requirements §7 row, derived from `key`
    default_priority: ClassVar[Priority]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "key" in cls.__dict__:  # each plugin gets its table row and default priority from its key
            cls.spec = MODEL_SPECS[cls.key]
            cls.default_priority = cls.spec.default_priority

    def __init__(self, config: C | None = None) -> None:
        self.config: C = config if config is not None else self.config_type()  # type: ignore[assignment]
        self._camera_locks: dict[uuid.UUID, threading.Lock] = {}
        self._camera_locks_guard = threading.Lock()

    def camera_lock(self, camera_id: uuid.UUID) -> threading.Lock:
        """The lock guarding one camera's state: a worker may run one model on several threads."""
        with self._camera_locks_guard:
            return self._camera_locks.setdefault(camera_id, threading.Lock())

    @abstractmethod
    def analyze(self, clip: NormalizedClip, *, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        """Detections in `clip` (already decoded and normalised once for every hosted model)."""


def continues(last_time: datetime | None, first: datetime, *, gap_reset_s: float) -> bool:
    """Whether a clip starting at `first` continues a camera's state last fed at `last_time`.

    Not after a recording gap longer than `gap_reset_s` (the scene may have changed: trackers and
    references start over), nor when time goes backwards by more than a second's jitter (a replay).
    """
    if last_time is None:
        return True
    gap = (first - last_time).total_seconds()
    return -1.0 <= gap <= gap_reset_s


REGISTRY: dict[AiModel, type[AnalyticsModel[Any]]] = {}
UNAVAILABLE: dict[AiModel, str] = {}


def register(cls: type[AnalyticsModel[Any]]) -> type[AnalyticsModel[Any]]:
    """Class decorator adding a model to the registry."""
    REGISTRY[cls.key] = cls
    UNAVAILABLE.pop(cls.key, None)
    return cls


def mark_unavailable(key: AiModel, reason: str) -> None:
    """Record why a plugin could not load (shown by the API and logged)."""
    if key not in REGISTRY:
        UNAVAILABLE[key] = reason
