"""Fallen-person scenes: a real person cut from vtest, composited into real vtest footage, falling or not.

The truth and the recipe of every scene are in `scenes.json` beside this file; `render` turns one
scene into a normalised clip and the box where the person lies once down.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tests.scenes.motion.footage import frames, require_vtest

from vms.media.normalize import NormalizedClip, NormalizeSpec, SourceInfo

SCENES = json.loads(Path(__file__).with_name("scenes.json").read_text())
FPS = float(SCENES["fps"])
BEGAN = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Rendered:
    """One scene as the model sees it, with its truth."""

    name: str
    clip: NormalizedClip
    fallen: bool
    down_at: datetime | None
    lying_box: tuple[float, float, float, float] | None  # (x, y, w, h) fractions of the person's lying pixels


@functools.lru_cache(maxsize=1)
def background() -> np.ndarray:
    """The median of every 8th vtest frame: the scene without its pedestrians (they keep moving)."""
    cap = cv2.VideoCapture(str(require_vtest()))
    picked = []
    try:
        index = 0
        while True:
            ok = cap.grab()
            if not ok:
                break
            if index % 8 == 0:
                _, bgr = cap.retrieve()
                small = cv2.resize(bgr, (640, 480), interpolation=cv2.INTER_AREA)
                picked.append(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
            index += 1
    finally:
        cap.release()
    return np.median(np.stack(picked), axis=0).astype(np.uint8)


def cut_person(frame_index: int, box: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The person inside a hand-drawn box and their silhouette mask (0..255), separated from the background."""
    x1, y1, x2, y2 = box
    image = frames(frame_index, 1)[0][y1:y2, x1:x2]
    diff = np.abs(image.astype(np.int16) - background()[y1:y2, x1:x2].astype(np.int16)).max(axis=2)
    mask = cv2.morphologyEx((diff > 30).astype(np.uint8) * 255, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    # Keep the largest blob: the person, not specks of noise or a neighbour's elbow.
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
    if count > 1:
        largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        mask = np.where(labels == largest, 255, 0).astype(np.uint8)
    return image, mask


def _angle(pose: list[list[float]], t: float) -> float:
    times = [p[0] for p in pose]
    return float(np.interp(t, times, [p[1] for p in pose]))


def _paste(image: np.ndarray, person: np.ndarray, mask: np.ndarray, angle: float, foot: list[int]) -> np.ndarray:
    """Paste `person` rotated by `angle` degrees about their foot point (bottom centre) at `foot`."""
    h, w = person.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h), angle, 1.0)
    matrix[0, 2] += foot[0] - w / 2
    matrix[1, 2] += foot[1] - h
    warped = cv2.warpAffine(person, matrix, (640, 480))
    alpha = cv2.warpAffine(mask, matrix, (640, 480)).astype(np.float32)[..., None] / 255.0
    return (image * (1 - alpha) + warped * alpha).astype(np.uint8)


def render(scene: dict[str, Any]) -> Rendered:
    """Build one scene of scenes.json."""
    count = round(scene["seconds"] * FPS)
    images = frames(scene["footage_start"], count).copy()
    lying_box = None
    if "person" in scene:
        frame_index, *box = scene["person"]
        person, mask = cut_person(frame_index, box)
        scale = scene.get("scale", 1.0)
        person = cv2.resize(person, None, fx=scale, fy=scale)
        mask = cv2.resize(mask, None, fx=scale, fy=scale)
        for i in range(count):
            images[i] = _paste(images[i], person, mask, _angle(scene["pose"], i / FPS), scene["foot"])
        if scene["fallen"]:
            last = _paste(
                np.zeros_like(images[0]), np.full_like(person, 255), mask, scene["pose"][-1][1], scene["foot"]
            )
            ys, xs = np.nonzero(last[..., 0] > 127)
            lying_box = (xs.min() / 640, ys.min() / 480, (xs.max() - xs.min()) / 640, (ys.max() - ys.min()) / 480)
    stamps = [BEGAN + timedelta(seconds=i / FPS) for i in range(count)]
    source = SourceInfo(codec="h264", width=640, height=480, fps=FPS, frames_decoded=count)
    clip = NormalizedClip(frames=images, timestamps=stamps, source=source, spec=NormalizeSpec(fps=FPS))
    down_at = BEGAN + timedelta(seconds=scene["down_at"]) if scene["fallen"] else None
    return Rendered(scene["name"], clip, scene["fallen"], down_at, lying_box)


def scene(name: str) -> dict[str, Any]:
    """One scene's recipe by name."""
    return next(s for s in SCENES["scenes"] if s["name"] == name)


def split(clip: NormalizedClip, seconds: float) -> list[NormalizedClip]:
    """Cut a clip into consecutive segments of `seconds`, as the worker would receive them."""
    step = max(1, round(seconds * clip.spec.fps))
    return [
        NormalizedClip(
            frames=clip.frames[i : i + step],
            timestamps=clip.timestamps[i : i + step],
            source=clip.source,
            spec=clip.spec,
        )
        for i in range(0, len(clip), step)
    ]
