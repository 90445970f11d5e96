"""Fire & smoke scenes: procedural flames and smoke composited into real footage (scenes.json).

The footage is OpenCV's `vtest.avi` and the orange photo `orange.jpg` (both opencv-doc). Fire and
smoke cannot be filmed here, so they are synthesised with known truth:

- *flame*: a teardrop of noise-modulated temperature, mapped to red → orange → yellow → white,
  whose height, sway and brightness fluctuate at 5–10 Hz (sums of sinusoids plus per-frame noise)
  and which grows from `grow_from` of its size to full size over two seconds; a faint flickering
  glow lights the ground round it;
- *smoke*: grey puffs emitted at the source every other frame, each rising, widening and fading,
  with a noise texture; where it lies, the background is blurred and veiled (smoke scatters light).

Pedestrians stay on top (a pixel differing from the clip's median by > 40 is a person), so people
walking past occlude the fire as they would. The negatives are real footage with a real orange
photo pasted (static), a lighting ramp, a red-orange shirt-sized patch walking across, and the
hard negatives for smoke: a light-grey coat-sized patch walking slowly over the light pavement
(grey, smooth, brighter than the asphalt: smoke's colour without its veil), sunlight through a gap in
the clouds (a soft bright patch drifting over grass and pavement) and fog rolling over the whole view.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from tests.scenes.anpr.footage import DATA
from tests.scenes.motion.footage import FPS, frames, scenes

SET = scenes("fire_smoke", "scenes")
Box = tuple[float, float, float, float]


def _noise(rng: np.random.Generator, size: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """Smooth value noise in 0..1 of `size` (w, h) from a `cells` (w, h) random grid."""
    grid = rng.random((cells[1], cells[0])).astype(np.float32)
    return cv2.resize(grid, size, interpolation=cv2.INTER_CUBIC).clip(0.0, 1.0)


_PALETTE = np.asarray(
    [(0.0, (120, 20, 0)), (0.25, (210, 60, 10)), (0.5, (250, 130, 20)), (0.75, (255, 210, 70)), (1.0, (255, 250, 200))],
    dtype=object,
)


def _colour(temperature: np.ndarray) -> np.ndarray:
    stops = np.asarray([s for s, _ in _PALETTE], np.float32)
    rgb = np.asarray([c for _, c in _PALETTE], np.float32)
    return np.stack([np.interp(temperature, stops, rgb[:, k]) for k in range(3)], axis=-1).astype(np.float32)


def flame(i: int, size: tuple[int, int], rng: np.random.Generator, grow: float) -> tuple[np.ndarray, np.ndarray]:
    """Frame `i` of a flame filling `size` (w, h) at full growth: RGB (float) and alpha (0..1)."""
    w, h = size
    t = i / FPS
    wobble = 0.5 * np.sin(2 * np.pi * 6.3 * t) + 0.3 * np.sin(2 * np.pi * 8.7 * t + 1.0) + 0.4 * (rng.random() - 0.5)
    height = grow * (0.78 + 0.22 * wobble)
    u = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    v = np.linspace(1.0, 0.0, h, dtype=np.float32)[:, None]  # 0 at the bottom, 1 at the top
    rel = v / max(height, 1e-3)
    sway = 0.18 * rel * np.sin(2 * np.pi * 5.1 * t + 3.0 * rel)
    half = grow * 0.75 * np.sqrt(np.clip(rel, 0, 1)) * np.clip(1.0 - rel, 0, 1) ** 0.7 * 1.6 + 1e-3
    shape = np.clip(1.0 - ((u - sway) / half) ** 2, 0.0, 1.0) * (rel < 1.0)
    texture = 0.55 * _noise(rng, (w, h), (5, 7)) + 0.45 * _noise(rng, (w, h), (10, 14))
    temperature = np.clip(shape * (0.55 + 0.7 * texture) * (1.05 - 0.5 * rel), 0.0, 1.0)
    brightness = 0.85 + 0.15 * np.sin(2 * np.pi * 7.4 * t + 0.5)
    alpha = np.clip(temperature * 3.0, 0.0, 1.0)
    return _colour(temperature) * brightness, alpha


def smoke(count: int, size: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Opacity (count×h×w) of a plume rising from the bottom centre of `size` (w, h), and its grey level."""
    w, h = size
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    alphas = np.zeros((count, h, w), np.float32)
    life = 3.5 * FPS
    rise = 0.85 * h / life  # px per frame
    texture = 0.6 + 0.8 * _noise(rng, (w, 3 * h), (6, 24))  # scrolled upwards with the smoke
    puffs: list[tuple[int, float]] = []  # birth frame, horizontal offset
    fade = np.outer(np.sin(np.linspace(0, np.pi, h)), np.sin(np.linspace(0, np.pi, w))).astype(np.float32) ** 0.5
    for i in range(count):
        if i % 2 == 0:
            puffs.append((i, float(rng.normal(0.0, w * 0.05))))
        clear = np.ones((h, w), np.float32)
        for born, dx in puffs:
            age = i - born
            if age > life:
                continue
            cy = h - 0.1 * h - age * rise
            cx = w / 2 + dx * (1 + age / 10) + 0.06 * w * np.sin(age / 6.0)
            radius = 0.08 * w + age * (0.32 * w / life)
            a = 0.22 * (1.0 - age / life) * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * radius**2))
            clear *= 1.0 - a
        offset = round(2 * h - i * rise) % (2 * h)
        alphas[i] = np.clip((1.0 - clear) * texture[offset : offset + h] * fade, 0.0, 0.7)
    return alphas, np.asarray([196.0, 198.0, 202.0], np.float32)


def _people(images: np.ndarray, y: int, x: int, h: int, w: int) -> np.ndarray:
    """Where pedestrians are in a patch (True), per frame: they pass in front of what is composited."""
    bg = np.median(images[::6, y : y + h, x : x + w], axis=0)
    person = np.abs(images[:, y : y + h, x : x + w] - bg).max(axis=3) > 40
    kernel = np.ones((3, 3), np.uint8)
    return np.stack([cv2.dilate(p.astype(np.uint8), kernel).astype(bool) for p in person])


def _paste(images: np.ndarray, spec: dict[str, Any], key: str) -> tuple[int, int, int, int]:
    x, y = spec[key]["at"]
    w, h = spec[key]["size"]
    return int(x), int(y), int(w), int(h)


def scene(spec: dict[str, Any]) -> tuple[np.ndarray, dict[str, Box]]:
    """The scene's frames (N×480×640×3 RGB) and the truth box (frame fractions) per expected class."""
    count = SET["frames"]
    images = frames(spec["start"], count).astype(np.float32)
    truth: dict[str, Box] = {}
    rng = np.random.default_rng(spec.get("seed", 7))
    if "fire" in spec:
        x, y, w, h = _paste(images, spec, "fire")
        people = _people(images, y, x, h, w)
        appear, grow_from = spec["fire"]["appear"], spec["fire"].get("grow_from", 0.5)
        glow_rows = slice(max(0, y + h - h // 3), min(480, y + h + h // 4))
        glow_cols = slice(max(0, x - w // 2), min(640, x + w + w // 2))
        for i in range(appear, count):
            grow = grow_from + (1.0 - grow_from) * min(1.0, (i - appear) / (2.0 * FPS))
            rgb, alpha = flame(i, (w, h), rng, grow)
            alpha = np.where(people[i], 0.0, alpha)[..., None]
            patch = images[i, y : y + h, x : x + w]
            patch[:] = patch * (1 - alpha) + rgb * alpha
            glow = 1.0 + 0.12 * grow * (0.8 + 0.2 * np.sin(2 * np.pi * 7.4 * i / FPS))
            images[i, glow_rows, glow_cols] *= np.asarray([glow, 1 + (glow - 1) * 0.6, 1.0], np.float32)
        truth["fire"] = (x / 640, y / 480, w / 640, h / 480)
    if "smoke" in spec:
        x, y, w, h = _paste(images, spec, "smoke")
        appear = spec["smoke"]["appear"]
        alphas, grey = smoke(count - appear, (w, h), spec.get("seed", 7))
        people = _people(images, y, x, h, w)
        for k, i in enumerate(range(appear, count)):
            alpha = np.where(people[i], 0.0, alphas[k])[..., None]
            patch = images[i, y : y + h, x : x + w]
            veiled = cv2.GaussianBlur(patch, (0, 0), 3.0)
            patch[:] = (patch * (1 - alpha) + veiled * alpha) * (1 - alpha) + grey * alpha
        seen = alphas.max(axis=0) > 0.12
        rows, cols = np.nonzero(seen)
        truth["smoke"] = (
            (x + cols.min()) / 640,
            (y + rows.min()) / 480,
            (cols.max() - cols.min() + 1) / 640,
            (rows.max() - rows.min() + 1) / 480,
        )
    if "object" in spec:  # a real photo of an orange, static, with sensor noise
        x, y, w, h = _paste(images, spec, "object")
        bgr = cv2.imread(str(DATA / "orange.jpg"))
        assert bgr is not None, "orange.jpg (opencv-doc) is missing"
        crop = bgr[96:416, 96:416]
        thing = cv2.cvtColor(cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB).astype(
            np.float32
        )
        people = _people(images, y, x, h, w)
        for i in range(count):
            noisy = thing + rng.normal(0.0, 2.0, thing.shape).astype(np.float32)
            patch = images[i, y : y + h, x : x + w]
            patch[:] = np.where(people[i][..., None], patch, noisy)
    if "shirt" in spec:  # a red-orange shirt walking across at walking pace, with gait bob
        s = spec["shirt"]
        w, h = s["size"]
        colour = np.asarray(s["colour"], np.float32)
        folds = 0.8 + 0.35 * _noise(rng, (w, h), (3, 5))
        for i in range(count):
            x = int(s["from"][0] + s["speed"] * i)
            y = int(s["from"][1] + 2.0 * np.sin(2 * np.pi * 1.8 * i / FPS))
            if x >= 0 and x + w <= 640:
                images[i, y : y + h, x : x + w] = colour * folds[..., None]
    if "cloud" in spec:  # sunlight through a gap in the clouds: a soft bright patch drifting over the ground
        c = spec["cloud"]
        ys, xs = np.mgrid[0:480, 0:640].astype(np.float32)
        rx, ry = c["radius"]
        for i in range(c["from"], count):
            cx = c["at"][0] + c["speed"] * (i - c["from"])
            ramp = min(1.0, (i - c["from"]) / FPS)  # the gap opens over a second
            light = np.exp(-(((xs - cx) / rx) ** 2 + ((ys - c["at"][1]) / ry) ** 2))
            images[i] *= (1.0 + (c["gain"] - 1.0) * ramp * light)[..., None]
    if "fog" in spec:  # fog rolling in: the whole view veiled towards a grey over `over` frames
        f = spec["fog"]
        grey = np.asarray(f["grey"], np.float32)
        for i in range(f["from"], count):
            a = f["alpha"] * min(1.0, (i - f["from"]) / f["over"])
            images[i] = images[i] * (1 - a) + grey * a
    if "lights" in spec:  # the lights change: a ramp of the whole picture's gain over 10 frames
        start, gain = spec["lights"]["from"], spec["lights"]["gain"]
        gains = np.ones(count, np.float32)
        gains[start : start + 10] = np.linspace(1.0, gain, 10)
        gains[start + 10 :] = gain
        images *= gains[:, None, None, None]
    return np.clip(images, 0, 255).astype(np.uint8), truth
