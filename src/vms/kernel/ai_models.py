"""The ten AI models customers can license, with their default priority and stream requirements.

The table is requirements §7. Licensing, camera compatibility and the job maker all read it
from here; the analytics plugins (analytics/models/<key>/) implement them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vms.kernel.priority import Priority


class AiModel(StrEnum):
    """Keys of the ten analytics models."""

    INTRUSION = "intrusion"
    MOTION = "motion"
    TAMPERING = "tampering"
    FIRE_SMOKE = "fire_smoke"
    CROWD = "crowd"
    MISSING_OBJECT = "missing_object"
    ABNORMAL_BEHAVIOR = "abnormal_behavior"
    FALLEN = "fallen"
    TAILGATING = "tailgating"
    ANPR = "anpr"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What a model needs from a stream, and how urgent its results are by default."""

    title: str
    default_priority: Priority
    min_height: int
    min_bitrate_kbps: int
    min_duration_s: float
    overlap_s: float


MODEL_SPECS: dict[AiModel, ModelSpec] = {
    AiModel.INTRUSION: ModelSpec("Intrusion Detection", Priority.MEDIUM, 480, 1000, 3, 1),
    AiModel.MOTION: ModelSpec("Advanced Motion Detection", Priority.STANDARD, 360, 512, 2, 0.5),
    AiModel.TAMPERING: ModelSpec("Camera Tampering", Priority.HIGH, 360, 512, 2, 0),
    AiModel.FIRE_SMOKE: ModelSpec("Fire & Smoke Detection", Priority.CRITICAL, 720, 2000, 5, 2),
    AiModel.CROWD: ModelSpec("Crowd Detection", Priority.MEDIUM, 720, 2000, 5, 1),
    AiModel.MISSING_OBJECT: ModelSpec("Missing Object Detection", Priority.STANDARD, 480, 1000, 10, 2),
    AiModel.ABNORMAL_BEHAVIOR: ModelSpec("Abnormal Behavior", Priority.HIGH, 720, 2000, 5, 1),
    AiModel.FALLEN: ModelSpec("Fallen Detection", Priority.HIGH, 480, 1000, 3, 1),
    AiModel.TAILGATING: ModelSpec("Tailgating", Priority.MEDIUM, 720, 2000, 3, 1),
    AiModel.ANPR: ModelSpec("ANPR", Priority.MEDIUM, 1080, 3000, 2, 0.5),
}
