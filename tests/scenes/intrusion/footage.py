"""Real pedestrian footage for the person-based analytics: OpenCV's `vtest.avi` (opencv-doc).

Installed here by the OS package and in CI by `scripts/services up`. Locally a missing file skips
the tests that need it; under CI (CI=true) it fails them, so a green CI run used real footage.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from vms.media.normalize import NormalizedClip, NormalizeSpec, SourceInfo

VTEST = Path(os.environ.get("VMS_TEST_VTEST", "/usr/share/doc/opencv-doc/examples/data/vtest.avi"))
GROUND_TRUTH = Path(__file__).with_name("vtest.json")
SOURCE_FPS = 10.0


def require_vtest() -> Path:
    """The footage path, or skip (fail under CI) when it is absent."""
    if VTEST.is_file():
        return VTEST
    message = f"{VTEST} is missing (installed by scripts/services up / the opencv-doc package)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def frames(indices: list[int]) -> np.ndarray:
    """Source frames by index, resized to 640×480 RGB (vtest is 768×576: same aspect, no bars)."""
    cap = cv2.VideoCapture(str(require_vtest()))
    out = []
    try:
        for index in indices:
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, bgr = cap.read()
            assert ok, f"frame {index} of {VTEST} did not decode"
            out.append(cv2.cvtColor(cv2.resize(bgr, (640, 480), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    return np.stack(out)


def clip(start: int, count: int, *, started_at: datetime | None = None) -> NormalizedClip:
    """`count` consecutive source frames from `start` as a normalised clip, stamped at the source rate."""
    began = started_at or datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, noon UTC
    images = frames(list(range(start, start + count)))
    stamps = [began + timedelta(seconds=i / SOURCE_FPS) for i in range(count)]
    source = SourceInfo(codec="mpeg4", width=768, height=576, fps=SOURCE_FPS, frames_decoded=count)
    return NormalizedClip(frames=images, timestamps=stamps, source=source, spec=NormalizeSpec(fps=SOURCE_FPS))


def ground_truth() -> dict[int, list[tuple[float, float, float, float]]]:
    """Hand-drawn person boxes per frame index, as (x, y, w, h) fractions."""
    raw = json.loads(GROUND_TRUTH.read_text())["frames"]
    return {
        int(k): [((x1 / 640), (y1 / 480), (x2 - x1) / 640, (y2 - y1) / 480) for x1, y1, x2, y2 in boxes]
        for k, boxes in raw.items()
    }
