"""ANPR scenes: plates with known text composited onto real footage (tests/scenes/anpr/plates.json).

The backgrounds are real: OpenCV's `licenseplate_motion.jpg` (a car whose own plate is too
motion-blurred to read) and `vtest.avi` (opencv-doc). The plates are rendered here with
cv2.putText in a plate-like box and pasted on with a tilt, blur and brightness change, so the
true text of every plate is known.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from tests.scenes.motion.footage import as_clip, frames, scenes

from vms.media.normalize import NormalizedClip

DATA = Path(os.environ.get("VMS_TEST_OPENCV_DATA", "/usr/share/doc/opencv-doc/examples/data"))
CAR = DATA / "licenseplate_motion.jpg"
FRAMES = 10


def require_car() -> Path:
    """The car photo, or skip (fail under CI) when opencv-doc is absent."""
    if CAR.is_file():
        return CAR
    message = f"{CAR} is missing (apt-get install opencv-doc)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def plate_image(text: str, width: int) -> np.ndarray:
    """A white plate with a dark border, a blue band on the left and `text` in black (RGB)."""
    w, h = 400, 88  # drawn large, then scaled down: antialiased like a real plate seen by a camera
    img = np.full((h, w, 3), 238, np.uint8)
    cv2.rectangle(img, (2, 2), (w - 3, h - 3), (25, 25, 25), 4)
    cv2.rectangle(img, (6, 6), (40, h - 7), (0, 60, 170), -1)
    scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_DUPLEX, int(h * 0.6), 6)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, 6)
    scale *= min(1.0, (w - 60) / tw)  # long plates get a narrower font, as on real ones
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, 6)
    cv2.putText(img, text, (44 + (w - 48 - tw) // 2, (h + th) // 2), cv2.FONT_HERSHEY_DUPLEX, scale, (15, 15, 15), 6)
    height = round(width * h / w)
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)


def _paste_plate(img: np.ndarray, spec: dict[str, Any], x: int, y: int) -> tuple[int, int, int, int]:
    plate = plate_image(spec["text"], spec["width"])
    ph, pw = plate.shape[:2]
    m = cv2.getRotationMatrix2D((pw / 2, ph / 2), spec.get("angle", 0), 1.0)
    mask = cv2.warpAffine(np.full((ph, pw), 255, np.uint8), m, (pw, ph))
    plate = cv2.warpAffine(plate, m, (pw, ph))
    region = img[y : y + ph, x : x + pw]
    keep = (mask > 127)[..., None]
    region[:] = np.where(keep, plate, region)
    k = int(spec.get("blur", 1))
    if k > 1:
        k += 1 - k % 2
        pad = 4
        area = img[y - pad : y + ph + pad, x - pad : x + pw + pad]
        area[:] = cv2.GaussianBlur(area, (k, k), 0)
    return x, y, pw, ph


def _car() -> np.ndarray:
    bgr = cv2.imread(str(require_car()))
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def scene_frames(spec: dict[str, Any]) -> tuple[np.ndarray, list[tuple[float, float, float, float]]]:
    """The scene's frames (N×480×640×3 RGB) and the plate's true box per frame (frame fractions)."""
    rng = np.random.default_rng(zlib.crc32(spec["name"].encode()))
    car = _car()
    out = np.empty((FRAMES, 480, 640, 3), np.uint8)
    boxes: list[tuple[float, float, float, float]] = []
    base = None
    if spec["background"] == "vtest":
        base = frames(spec["frame"], FRAMES)
    for i in range(FRAMES):
        dx = spec["drift"] * i
        if spec["background"] == "car":
            sx, sy = 640 / car.shape[1], 480 / car.shape[0]
            img = cv2.resize(car, (640, 480), interpolation=cv2.INTER_AREA)
            img = np.roll(img, dx, axis=1)
            if spec["text"]:
                px, py = round(spec["x"] * sx) + dx, round(spec["y"] * sy)
                bx, by, bw, bh = _paste_plate(img, spec, px, py)
                boxes.append((bx / 640, by / 480, bw / 640, bh / 480))
        else:
            assert base is not None
            img = base[i].copy()
            if "car_width" in spec:
                body = car[20:440, 0:600]
                cw = spec["car_width"]
                ch = round(cw * body.shape[0] / body.shape[1])
                body = cv2.resize(body, (cw, ch), interpolation=cv2.INTER_AREA)
                x, y = spec["x"] + dx, spec["y"]
                img[y : y + ch, x : x + cw] = body[: 480 - y, : 640 - x]
                if spec["text"]:
                    # The photo's plate sits at about (0.40, 0.50) of the car crop; put the new one there.
                    px = x + round(0.5 * cw - spec["width"] / 2)
                    py = y + round(0.5 * ch)
                    bx, by, bw, bh = _paste_plate(img, spec, px, py)
                    boxes.append((bx / 640, by / 480, bw / 640, bh / 480))
        gain = float(spec.get("gain", 1.0))
        noisy = img.astype(np.float32) * gain + rng.normal(0, 2.0, img.shape)
        out[i] = np.clip(noisy, 0, 255).astype(np.uint8)
    return out, boxes


def scene_clip(spec: dict[str, Any]) -> NormalizedClip:
    """The scene as a normalised clip."""
    images, _ = scene_frames(spec)
    return as_clip(images)


def plate_scenes() -> list[dict[str, Any]]:
    """The annotated scenes of plates.json."""
    return list(scenes("anpr", "plates")["scenes"])
