"""Tailgating scenes: real vtest pedestrians crossing a drawn entry line, crossings annotated by hand.

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


def render(scene: dict[str, Any]) -> NormalizedClip:
    """The scene's source frames (less its cut) as a clip stamped at 10 fps from BEGAN."""
    images = frames(scene["start"], scene["end"] - scene["start"])
    if "cut" in scene:
        keep = [i for i in range(len(images)) if not scene["cut"][0] <= scene["start"] + i < scene["cut"][1]]
        images = images[keep]
    stamps = [BEGAN + timedelta(seconds=i / FPS) for i in range(len(images))]
    source = SourceInfo(codec="h264", width=640, height=480, fps=FPS, frames_decoded=len(images))
    return NormalizedClip(
        frames=np.ascontiguousarray(images), timestamps=stamps, source=source, spec=NormalizeSpec(fps=FPS)
    )


def entry_times(scene: dict[str, Any]) -> list[datetime]:
    """When each annotated entry happens in the rendered clip."""
    cut = scene.get("cut")
    out = []
    for frame in scene["entries"]:
        shift = (cut[1] - cut[0]) if cut and frame >= cut[1] else 0
        out.append(BEGAN + timedelta(seconds=(frame - scene["start"] - shift) / FPS))
    return out


def scene(name: str) -> dict[str, Any]:
    """One scene's recipe by name."""
    return next(s for s in SCENES["scenes"] if s["name"] == name)
