"""Abnormal-behaviour scenes: real vtest footage replayed fast, back and forth or plainly.

Recipes and truth are in `scenes.json` beside this file; `render` turns a scene into a clip.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from tests.scenes.motion.footage import frames

from vms.media.normalize import NormalizedClip, NormalizeSpec, SourceInfo

SCENES = json.loads(Path(__file__).with_name("scenes.json").read_text())
FPS = float(SCENES["fps"])
BEGAN = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def order(scene: dict[str, Any]) -> list[int]:
    """Source frame numbers the scene plays, in order."""
    count = round(scene["seconds"] * FPS)
    start = scene["start"]
    if scene["order"] == "plain":
        return list(range(start, start + count))
    if scene["order"] == "fast":
        return list(range(start, start + count * scene["factor"], scene["factor"]))
    period = scene["period"]
    there = list(range(start, start + period))
    cycle = there + there[::-1][1:-1]
    return [cycle[i % len(cycle)] for i in range(count)]


def render(scene: dict[str, Any], *, began: datetime = BEGAN) -> NormalizedClip:
    """The scene as a clip stamped at 10 fps from `began`."""
    wanted = order(scene)
    first = min(wanted)
    source = frames(first, max(wanted) - first + 1)
    images = np.ascontiguousarray(source[[i - first for i in wanted]])
    stamps = [began + timedelta(seconds=i / FPS) for i in range(len(images))]
    info = SourceInfo(codec="h264", width=640, height=480, fps=FPS, frames_decoded=len(images))
    return NormalizedClip(frames=images, timestamps=stamps, source=info, spec=NormalizeSpec(fps=FPS))


def learning(*, began: datetime = BEGAN) -> NormalizedClip:
    """The plain footage a camera's baseline is learned from before the erratic scenes."""
    scene = {"order": "plain", "start": SCENES["learn_start"], "seconds": SCENES["learn_s"]}
    return render(scene, began=began)


def scene(name: str) -> dict[str, Any]:
    """One scene's recipe by name."""
    return next(s for s in SCENES["scenes"] if s["name"] == name)
