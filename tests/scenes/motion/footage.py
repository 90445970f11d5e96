"""Real footage for the motion and tampering scene sets: OpenCV's `vtest.avi` (opencv-doc).

Installed here by the OS package and in CI by `scripts/services up cameras`. Locally a missing file
skips the tests that need it; under CI (CI=true) it fails them, so a green CI run used real footage.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from vms.media.normalize import NormalizedClip, NormalizeSpec, SourceInfo

VTEST = Path(os.environ.get("VMS_TEST_VTEST", "/usr/share/doc/opencv-doc/examples/data/vtest.avi"))
SCENES = Path(__file__).resolve().parent.parent  # tests/scenes
FPS = 15.0  # clips are stamped at the normaliser's rate, as a worker would see them
BEGAN = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def require_vtest() -> Path:
    """The footage path, or skip (fail under CI) when it is absent."""
    if VTEST.is_file():
        return VTEST
    message = f"{VTEST} is missing (installed by `scripts/services up cameras` / apt-get install opencv-doc)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def frames(start: int, count: int) -> np.ndarray:
    """`count` consecutive source frames from `start`, resized to 640×480 RGB (same 4:3 aspect)."""
    cap = cv2.VideoCapture(str(require_vtest()))
    out = np.empty((count, 480, 640, 3), np.uint8)
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, start)
        for i in range(count):
            ok, bgr = cap.read()
            assert ok, f"frame {start + i} of {VTEST} did not decode"
            out[i] = cv2.cvtColor(cv2.resize(bgr, (640, 480), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    finally:
        cap.release()
    return out


def as_clip(images: np.ndarray, *, first_index: int = 0) -> NormalizedClip:
    """Frames as a normalised clip; frame i is stamped `first_index + i` frame periods after BEGAN."""
    stamps = [BEGAN + timedelta(seconds=(first_index + i) / FPS) for i in range(len(images))]
    source = SourceInfo(codec="h264", width=640, height=480, fps=FPS, frames_decoded=len(images))
    return NormalizedClip(frames=np.ascontiguousarray(images), timestamps=stamps, source=source, spec=NormalizeSpec())


def frame_index(when: datetime, *, first_index: int = 0) -> int:
    """Inverse of `as_clip`'s stamping."""
    return round((when - BEGAN).total_seconds() * FPS) - first_index


def scenes(model: str, name: str) -> dict[str, Any]:
    """An annotation file, tests/scenes/<model>/<name>.json."""
    data: dict[str, Any] = json.loads((SCENES / model / f"{name}.json").read_text())
    return data
