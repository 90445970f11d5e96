"""Job and event priorities (requirements §6, §7)."""

from __future__ import annotations

from enum import StrEnum


class Priority(StrEnum):
    """How urgently a model's jobs and events are handled; CRITICAL first."""

    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    STANDARD = "STANDARD"
