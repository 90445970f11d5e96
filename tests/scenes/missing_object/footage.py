"""Missing/abandoned object scenes: a real object photo pasted into real footage (scenes.json).

The footage is OpenCV's `vtest.avi`, the object OpenCV's `box.png` (both opencv-doc). It is pasted
only where no pedestrian stands in front of it, so people passing occlude it as in a real scene.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from tests.scenes.anpr.footage import DATA
from tests.scenes.motion.footage import frames, scenes

SET = scenes("missing_object", "scenes")


def _object(size: tuple[int, int], tint: tuple[float, float, float]) -> np.ndarray:
    bgr = cv2.imread(str(DATA / "box.png"))
    assert bgr is not None, "box.png (opencv-doc) is missing"
    rgb = cv2.cvtColor(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB).astype(np.float32)
    return np.clip(rgb * np.asarray(tint, np.float32), 0, 255)


def scene_frames(spec: dict[str, Any]) -> np.ndarray:
    """The scene's frames (N×480×640×3 RGB)."""
    count = SET["frames"]
    images = frames(spec["start"], count).astype(np.float32)
    if "at" in spec:
        x, y = spec["at"]
        w, h = spec["size"]
        thing = _object((w, h), tuple(spec["tint"]))
        # The empty scene behind the object: the median over the clip (walkers do not stay put).
        bg = np.median(images[::6, y : y + h, x : x + w], axis=0)
        end = spec["remove"] if spec["remove"] is not None else count
        for i in range(spec["appear"], end):
            patch = images[i, y : y + h, x : x + w]
            person = np.abs(patch - bg).max(axis=2) > 40
            person = cv2.dilate(person.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            patch[:] = np.where(person[..., None], patch, thing)
    if "dim_from" in spec:
        start = spec["dim_from"]
        gain = np.ones(count, np.float32)
        gain[start : start + 10] = np.linspace(1.0, 0.75, 10)
        gain[start + 10 :] = 0.75
        images *= gain[:, None, None, None]
    return np.clip(images, 0, 255).astype(np.uint8)


def truth_box(spec: dict[str, Any]) -> tuple[float, float, float, float] | None:
    """The object's box as frame fractions (for either class)."""
    if "at" not in spec:
        return None
    (x, y), (w, h) = spec["at"], spec["size"]
    return (x / 640, y / 480, w / 640, h / 480)


def region(spec: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """The scene's guarded region as a 4-point polygon list (empty when it has none)."""
    if "region" not in spec:
        return []
    x, y, w, h = spec["region"]
    x0, y0, x1, y1 = x / 640, y / 480, (x + w) / 640, (y + h) / 480
    return [[(x0, y0), (x1, y0), (x1, y1), (x0, y1)]]
