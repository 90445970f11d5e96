"""Standard YOLO-family ONNX detector weights that an operator drops into the model store.

Two output layouts are decoded (both in input-pixel coordinates, boxes as centre x, centre y, w, h):

- **v8-style** `[1, 4 + C, N]` (YOLOv8/v9/v11, no objectness): score = max class score.
- **v5-style** `[1, N, 5 + C]` (YOLOv5/v7, objectness at index 4): score = objectness × class score.

`layout="auto"` takes the smaller of the two trailing dimensions as the attribute axis (models
emit thousands of candidates and a handful of attributes); pass the layout for a model where that
guess would be wrong. Frames are letterboxed to the model input (grey 114 bars, as Ultralytics
does) and boxes are mapped back to fractions of the original frame. Class names come from the
constructor, else from the Ultralytics `names` metadata, else are the class indices.

Sessions come from the process's session cache (`analytics/sessions.py`): CUDA when ONNX Runtime
offers it, otherwise CPU with one warning; frames of non-critical jobs are micro-batched with other
jobs' frames through the model's shared batcher (`analytics/batching.py`) — one call for a dynamic
batch axis, per-frame calls for a fixed batch of 1 — and CRITICAL jobs bypass the batch queue.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import onnxruntime as ort

from vms.analytics.batching import model_batcher
from vms.analytics.detect import Box
from vms.analytics.gate import current_priority
from vms.analytics.sessions import GatedSession, SessionCache, default_cache

log = logging.getLogger(__name__)

Layout = Literal["auto", "v8", "v5"]
PAD_VALUE = 114


def letterbox(frame: np.ndarray, width: int, height: int) -> tuple[np.ndarray, float, float, float]:
    """`frame` scaled to fit width×height with the aspect kept, padded; returns (image, scale, pad_x, pad_y)."""
    h, w = frame.shape[:2]
    scale = min(width / w, height / h)
    new_w, new_h = round(w * scale), round(h * scale)
    pad_x, pad_y = (width - new_w) / 2, (height - new_h) / 2
    resized = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR) if (new_w, new_h) != (w, h) else frame
    top, left = round(pad_y - 0.1), round(pad_x - 0.1)
    out = np.full((height, width, 3), PAD_VALUE, np.uint8)
    out[top : top + new_h, left : left + new_w] = resized
    return out, scale, float(left), float(top)


def _names_from_metadata(session: ort.InferenceSession | GatedSession) -> list[str] | None:
    raw = session.get_modelmeta().custom_metadata_map.get("names")
    if not raw:
        return None
    try:
        parsed = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return None
    if isinstance(parsed, dict):
        return [str(parsed[k]) for k in sorted(parsed)]
    if isinstance(parsed, list | tuple):
        return [str(v) for v in parsed]
    return None


class OnnxDetector:
    """A YOLO-family ONNX model: RGB frames in, boxes (frame fractions) with class names out.

    >>> detector = OnnxDetector(store / "yolov8n.onnx", classes=("person",))   # keep only people
    >>> detector.detect(clip.frames[::5])
    """

    def __init__(
        self,
        model: Path | str | bytes,
        *,
        class_names: Sequence[str] | None = None,
        classes: Sequence[str] | None = None,
        min_score: float = 0.25,
        iou_threshold: float = 0.45,
        layout: Layout = "auto",
        input_size: tuple[int, int] = (640, 640),
        cache: SessionCache | None = None,
    ) -> None:
        source: Any = model if isinstance(model, bytes) else str(model)
        self.cache = cache or default_cache()
        # Leased only to read the model's shape and names: between jobs the session may be evicted.
        with self.cache.lease(source) as session:
            self.providers: list[str] = session.get_providers()
            inp = session.get_inputs()[0]
            self.input_name: str = inp.name
            shape = inp.shape
            names = _names_from_metadata(session)
        # Dynamic axes come back as names or None: fall back to `input_size` (width, height).
        self.width = shape[3] if isinstance(shape[3], int) else input_size[0]
        self.height = shape[2] if isinstance(shape[2], int) else input_size[1]
        self.batch_axis: int | str | None = shape[0]
        self.class_names: list[str] | None = list(class_names) if class_names else names
        self.batcher = model_batcher(source, cache=self.cache)
        self.keep_classes = set(classes) if classes else None
        self.min_score = min_score
        self.iou_threshold = iou_threshold
        self.layout = layout

    def name_of(self, index: int) -> str:
        names = self.class_names
        return names[index] if names is not None and 0 <= index < len(names) else str(index)

    def detect(self, frames: np.ndarray | Sequence[np.ndarray]) -> list[list[Box]]:
        """Detections per RGB frame, best score first (batched with other jobs' frames unless CRITICAL)."""
        images = [np.asarray(frame) for frame in frames]
        prepared = [letterbox(image, self.width, self.height) for image in images]
        tensors = [
            np.ascontiguousarray(boxed.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0 for boxed, *_ in prepared
        ]
        outputs = self.batcher.submit(tensors, priority=current_priority())
        return [
            self.decode(output[0], frame_size=(image.shape[1], image.shape[0]), scale=scale, pad=(pad_x, pad_y))
            for image, (_, scale, pad_x, pad_y), output in zip(images, prepared, outputs, strict=True)
        ]

    def decode(
        self, output: np.ndarray, *, frame_size: tuple[int, int], scale: float, pad: tuple[float, float]
    ) -> list[Box]:
        """Raw model output (one image) → filtered, non-maximum-suppressed boxes in frame fractions."""
        rows = output[0] if output.ndim == 3 else output
        layout = self.layout
        if layout == "auto":
            attrs_first = rows.shape[0] < rows.shape[1]
            layout = "v8" if attrs_first else "v5"
            if attrs_first:
                rows = rows.T
        elif layout == "v8":
            rows = rows.T
        rows = rows.astype(np.float32, copy=False)
        if layout == "v8":
            class_scores = rows[:, 4:]
        else:
            class_scores = rows[:, 5:] * rows[:, 4:5] if rows.shape[1] > 5 else rows[:, 4:5]
        if class_scores.shape[1] == 0:
            return []
        cls = class_scores.argmax(axis=1)
        score = class_scores[np.arange(len(rows)), cls]
        keep = score >= self.min_score
        if self.keep_classes is not None:
            keep &= np.array([self.name_of(int(c)) in self.keep_classes for c in cls], bool)
        rows, cls, score = rows[keep], cls[keep], score[keep]
        if len(rows) == 0:
            return []
        width, height = frame_size
        x = (rows[:, 0] - rows[:, 2] / 2 - pad[0]) / scale
        y = (rows[:, 1] - rows[:, 3] / 2 - pad[1]) / scale
        w, h = rows[:, 2] / scale, rows[:, 3] / scale
        x1, y1 = np.clip(x, 0, width), np.clip(y, 0, height)
        x2, y2 = np.clip(x + w, 0, width), np.clip(y + h, 0, height)
        boxes: list[Box] = []
        # Class-aware NMS: offset each class far apart so boxes of different classes never suppress.
        offset = cls.astype(np.float32) * (max(width, height) + 1)
        rects = np.stack([x1 + offset, y1, x2 - x1, y2 - y1], axis=1)
        kept = cv2.dnn.NMSBoxes(rects.tolist(), score.tolist(), self.min_score, self.iou_threshold)
        for i in np.asarray(kept, dtype=np.int64).reshape(-1):
            if x2[i] <= x1[i] or y2[i] <= y1[i]:
                continue
            boxes.append(
                Box(
                    float(x1[i] / width),
                    float(y1[i] / height),
                    float((x2[i] - x1[i]) / width),
                    float((y2[i] - y1[i]) / height),
                    float(score[i]),
                    self.name_of(int(cls[i])),
                )
            )
        return sorted(boxes, key=lambda b: -b.score)
