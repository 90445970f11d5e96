"""ANPR: number plates read with the PP-OCR models that ship inside `rapidocr-onnxruntime`.

Localisation and reading are RapidOCR's text detector (DB) and recogniser (CRNN), both ONNX
files inside the installed package, opened by path so nothing is ever downloaded. OpenCV's plate
cascades were tried first as the localiser and found neither the composited European-style plates
nor the real one in `licenseplate_motion.jpg`, while the text detector found them all; the cascade
is therefore not used. The detector runs on every `ocr_every`-th frame, and only when the picture
changed since the last read frame (a parked car is not re-read ten times a second), within the
bounding rectangle of the zones when zones are set.

A read becomes a plate only when, cleaned (upper case, letters and digits) and with the fewest
confusable-character fixes (O/0, I/1, B/8, S/5, Z/2, G/6, A/4, at most `max_fixes`), it matches
one of the configured region formats (a regex per country). Text beside plates (shop signs, the
make on the boot) almost never matches a plate format, which is what keeps precision up. Boxes
on one line that touch (a plate read as "AB 123 CD") are joined first.

Each plate is reported once per camera within `dedupe_window_s` (a near-identical read, one
character off, counts as the same plate). A plate on the deny list — or, with
`alert_on_not_allowed`, one missing from a non-empty allow list — is marked as an alert; with
`report_all_reads` off only alerts are reported.
"""

from __future__ import annotations

import itertools
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from vms.analytics.detect.zones import zone_of
from vms.analytics.plugin import AnalyticsModel, Detection, ModelConfig, register
from vms.analytics.sessions import default_cache
from vms.kernel.ai_models import AiModel
from vms.media.normalize import NormalizedClip

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Polygon = Annotated[list[tuple[Share, Share]], Field(min_length=3, max_length=64)]
PlateText = Annotated[str, Field(min_length=1, max_length=16)]
Box = tuple[float, float, float, float]

# Characters OCR confuses on plates, both ways; a fix is tried only where a format needs it.
CONFUSABLE: dict[str, str] = {
    "O": "0",
    "0": "O",
    "Q": "0",
    "D": "0",
    "I": "1",
    "1": "I",
    "L": "1",
    "B": "8",
    "8": "B",
    "S": "5",
    "5": "S",
    "Z": "2",
    "2": "Z",
    "G": "6",
    "6": "G",
    "A": "4",
    "4": "A",
}


class PlateFormat(BaseModel):
    """One region's plate format: a name and a regex over the cleaned text (A–Z, 0–9, no spaces)."""

    model_config = ConfigDict(extra="forbid")

    region: str = Field(min_length=1, max_length=32, description="Region or country code, e.g. GB, FR, DE.")
    pattern: str = Field(
        min_length=1, max_length=200, description="Regex the whole cleaned plate must match, e.g. ^[A-Z]{2}[0-9]{3}$."
    )

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a valid regex: {exc}") from exc
        return pattern


DEFAULT_FORMATS: list[PlateFormat] = [
    PlateFormat(region="GB", pattern=r"^[A-Z]{2}[0-9]{2}[A-Z]{3}$"),
    PlateFormat(region="FR", pattern=r"^[A-Z]{2}[0-9]{3}[A-Z]{2}$"),
    PlateFormat(region="IT", pattern=r"^[A-Z]{2}[0-9]{3}[A-Z]{2}$"),
    PlateFormat(region="DE", pattern=r"^[A-Z]{1,3}[A-Z]{1,2}[0-9]{1,4}[EH]?$"),
    PlateFormat(region="NL", pattern=r"^[0-9]{1,2}[A-Z]{2,3}[0-9]{1,2}$|^[A-Z]{2}[0-9]{3}[A-Z]$"),
    PlateFormat(region="IN", pattern=r"^[A-Z]{2}[0-9]{2}[A-Z]{1,2}[0-9]{4}$"),
    PlateFormat(region="US", pattern=r"^[0-9][A-Z]{3}[0-9]{3}$|^[A-Z]{3}[0-9]{4}$|^[A-Z]{3}[0-9]{3}$"),
]


class AnprConfig(ModelConfig):
    """Settings of number-plate recognition."""

    type: Literal["anpr"] = "anpr"
    confidence_threshold: float = Field(
        0.8, ge=0.0, le=1.0, description="Reads the recogniser scores below this are dropped."
    )
    formats: list[PlateFormat] = Field(
        default_factory=lambda: list(DEFAULT_FORMATS),
        max_length=64,
        description="Accepted plate formats, tried in order; a read matching none is not a plate. "
        "Empty accepts any 4–10 letters and digits.",
    )
    max_fixes: int = Field(
        2, ge=0, le=4, description="Most confusable characters (O/0, I/1, B/8 …) changed to make a read fit a format."
    )
    allow_list: list[PlateText] = Field(
        default_factory=list, max_length=100_000, description="Plates allowed in (cleaned text, e.g. AB12CDE)."
    )
    deny_list: list[PlateText] = Field(
        default_factory=list, max_length=100_000, description="Plates that raise an alert whenever read."
    )
    alert_on_not_allowed: bool = Field(
        False, description="Also alert on plates missing from the allow list (when the allow list is not empty)."
    )
    report_all_reads: bool = Field(True, description="Report every plate read; off reports only alerts.")
    dedupe_window_s: float = Field(
        60.0, ge=0.0, le=86_400.0, description="The same plate is reported once per camera within this window."
    )
    dedupe_edit_distance: int = Field(
        1, ge=0, le=3, description="Reads this many characters away from a plate just reported count as that plate."
    )
    ocr_every: int = Field(5, ge=1, le=60, description="Read every k-th frame (a plate stays in view for many).")
    change_gate: float = Field(
        1.5,
        ge=0.0,
        le=255.0,
        description="Mean grey-level change since the last read frame below which a frame is not re-read; "
        "0 reads every k-th frame.",
    )
    min_text_height: float = Field(
        0.02, ge=0.0, le=1.0, description="Smallest plate text height read, as a share of the frame height."
    )
    zones: list[Polygon] = Field(
        default_factory=list,
        max_length=32,
        description="Lanes (x, y polygons in frame fractions); only plates centred in one are read. "
        "Empty: the whole frame.",
    )
    use_cuda: bool = Field(False, description="Run the OCR models on CUDA through ONNX Runtime when available.")

    @field_validator("allow_list", "deny_list")
    @classmethod
    def _clean_lists(cls, plates: list[str]) -> list[str]:
        return [clean(p) for p in plates]


@lru_cache(maxsize=2)
def ocr_engine(use_cuda: bool = False) -> Any:
    """RapidOCR with its packaged PP-OCR models opened by path (it never downloads); shared per process.

    RapidOCR builds its ONNX Runtime sessions itself; they are taken from the process's session
    cache instead (pinned: the engine lives as long as the process), so they count in its memory
    budget, get its providers and threads, and run through the device's priority gate.
    """
    import rapidocr_onnxruntime
    from rapidocr_onnxruntime import RapidOCR
    from rapidocr_onnxruntime.utils import infer_engine

    models = Path(rapidocr_onnxruntime.__file__).parent / "models"
    with default_cache().intercept(infer_engine, cuda=use_cuda):
        return RapidOCR(
            det_model_path=str(models / "ch_PP-OCRv4_det_infer.onnx"),
            rec_model_path=str(models / "ch_PP-OCRv4_rec_infer.onnx"),
            cls_model_path=str(models / "ch_ppocr_mobile_v2.0_cls_infer.onnx"),
            # A 640×480 frame is read at its own size: the package default upscales its short side to 736.
            det_limit_type="max",
            det_limit_side_len=640,
            det_use_cuda=use_cuda,
            rec_use_cuda=use_cuda,
            cls_use_cuda=use_cuda,
            use_cls=False,  # plates are upright; the 180° classifier only costs time
        )


def clean(text: str) -> str:
    """Upper-case letters and digits only: the form plates are compared and listed in."""
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def normalise(text: str, formats: list[PlateFormat], max_fixes: int) -> tuple[str, str] | None:
    """(plate, region) for a read, with the fewest confusable fixes that make it fit a format; None if none does."""
    raw = clean(text)
    if not 4 <= len(raw) <= 10:
        return None
    if not formats:
        return raw, "any"
    compiled = [(f.region, re.compile(f.pattern)) for f in formats]
    fixable = [i for i, ch in enumerate(raw) if ch in CONFUSABLE]
    for count in range(0, min(max_fixes, len(fixable)) + 1):
        for positions in itertools.combinations(fixable, count):
            chars = list(raw)
            for i in positions:
                chars[i] = CONFUSABLE[chars[i]]
            candidate = "".join(chars)
            for region, pattern in compiled:
                if pattern.fullmatch(candidate):
                    return candidate, region
    return None


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (plates are short, the quadratic table is nothing)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


@dataclass(frozen=True, slots=True)
class Read:
    """One text line the OCR found: box in frame fractions, text and score."""

    box: Box
    text: str
    score: float


@dataclass
class _CameraState:
    reported: dict[str, datetime] = field(default_factory=dict)  # plate -> when last reported
    last_small: np.ndarray | None = None
    last_time: datetime | None = None
    frame_count: int = 0


@register
class Anpr(AnalyticsModel[AnprConfig]):
    """Number plates read, normalised by region and checked against allow/deny lists."""

    key = AiModel.ANPR
    config_type = AnprConfig

    def __init__(self, config: AnprConfig | None = None) -> None:
        super().__init__(config)
        self._cameras: dict[uuid.UUID, _CameraState] = {}
        self._allow = set(self.config.allow_list)
        self._deny = set(self.config.deny_list)
        self._ocr = ocr_engine(self.config.use_cuda)
        self._ocr_lock = threading.Lock()  # RapidOCR keeps per-call settings on the instance

    def analyze(self, clip: NormalizedClip, *, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        """Plates read in `clip`, each reported once per camera within the dedupe window."""
        with self.camera_lock(camera_id):  # one camera's state is updated by one thread at a time
            return self._analyze(clip, camera_id, segment_sequence)

    def _analyze(self, clip: NormalizedClip, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        cfg = self.config
        state = self._cameras.setdefault(camera_id, _CameraState())
        out: list[Detection] = []
        for frame, stamp in zip(clip.frames, clip.timestamps, strict=False):
            if state.last_time is not None and stamp <= state.last_time:
                continue  # overlapping segments: this frame was read already
            state.last_time = stamp
            state.frame_count += 1
            if (state.frame_count - 1) % cfg.ocr_every:
                continue
            small = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (80, 60), interpolation=cv2.INTER_AREA)
            if (
                cfg.change_gate > 0
                and state.last_small is not None
                and float(cv2.absdiff(small, state.last_small).mean()) < cfg.change_gate
            ):
                continue
            state.last_small = small
            for read in self.read(frame):
                detection = self._plate(state, read, stamp, camera_id, segment_sequence)
                if detection is not None:
                    out.append(detection)
        return out

    def read(self, frame: np.ndarray) -> list[Read]:
        """Text lines in an RGB frame (within the zones' bounding rectangle), joined where they touch."""
        h, w = frame.shape[:2]
        x0, y0, x1, y1 = 0, 0, w, h
        if self.config.zones:
            points = np.asarray([p for z in self.config.zones for p in z], np.float32)
            x0, y0 = int(points[:, 0].min() * w), int(points[:, 1].min() * h)
            x1, y1 = int(np.ceil(points[:, 0].max() * w)), int(np.ceil(points[:, 1].max() * h))
        crop = np.ascontiguousarray(frame[y0:y1, x0:x1, ::-1])  # RapidOCR takes BGR like cv2.imread
        with self._ocr_lock:
            result, _ = self._ocr(crop)
        reads: list[Read] = []
        for quad, text, score in result or []:
            pts = np.asarray(quad, np.float32)
            bx, by = float(pts[:, 0].min()) + x0, float(pts[:, 1].min()) + y0
            bw, bh = float(pts[:, 0].max()) + x0 - bx, float(pts[:, 1].max()) + y0 - by
            reads.append(Read((bx / w, by / h, bw / w, bh / h), str(text), float(score)))
        return _join_lines(reads, aspect=h / w)

    def _plate(
        self, state: _CameraState, read: Read, stamp: datetime, camera_id: uuid.UUID, sequence: int
    ) -> Detection | None:
        cfg = self.config
        if read.score < cfg.confidence_threshold or read.box[3] < cfg.min_text_height:
            return None
        centre = (read.box[0] + read.box[2] / 2, read.box[1] + read.box[3] / 2)
        if zone_of(centre, [list(z) for z in cfg.zones]) is None:
            return None
        found = normalise(read.text, cfg.formats, cfg.max_fixes)
        if found is None:
            return None
        plate, region = found
        window = cfg.dedupe_window_s
        state.reported = {p: t for p, t in state.reported.items() if (stamp - t).total_seconds() < window}
        if any(edit_distance(plate, p) <= cfg.dedupe_edit_distance for p in state.reported):
            return None
        listed: str | None = "deny" if plate in self._deny else "allow" if plate in self._allow else None
        alert = listed == "deny" or (cfg.alert_on_not_allowed and bool(self._allow) and listed != "allow")
        if not alert and not cfg.report_all_reads:
            return None
        state.reported[plate] = stamp
        return Detection(
            model=self.key,
            camera_id=camera_id,
            segment_sequence=sequence,
            frame_time=stamp,
            box=read.box,
            object_class="plate",
            score=read.score,
            attributes={
                "plate": plate,
                "raw": read.text,
                "region": region,
                "list": listed,
                "alert": alert,
                "reason": "deny_list" if listed == "deny" else "not_allowed" if alert else None,
            },
        )


def _join_lines(reads: list[Read], *, aspect: float) -> list[Read]:
    """Join reads on one line whose gap is under one text height ("AB 123" + "CD" → "AB123CD")."""
    reads = sorted(reads, key=lambda r: (r.box[1], r.box[0]))
    joined: list[Read] = []
    used = [False] * len(reads)
    for i, first in enumerate(reads):
        if used[i]:
            continue
        used[i] = True
        current = first
        while True:
            x, y, w, h = current.box
            nxt = None
            for j, other in enumerate(reads):
                if used[j]:
                    continue
                ox, oy, _, oh = other.box
                overlap = min(y + h, oy + oh) - max(y, oy)
                gap = ox - (x + w)  # in frame-width shares; a text height is h * aspect of them
                if overlap > 0.6 * min(h, oh) and -0.5 * h * aspect <= gap <= h * aspect:
                    nxt = j
                    break
            if nxt is None:
                break
            used[nxt] = True
            o = reads[nxt]
            bx, by = min(x, o.box[0]), min(y, o.box[1])
            box = (bx, by, max(x + w, o.box[0] + o.box[2]) - bx, max(y + h, o.box[1] + o.box[3]) - by)
            current = Read(box, current.text + o.text, min(current.score, o.score))
        joined.append(current)
    return joined
