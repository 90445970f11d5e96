"""Which of a camera's streams each AI model runs on, checked against requirements §7.

A model runs on the sub stream when that is good enough (decoding it is several times cheaper,
as NVRs do for detection) and on the main stream otherwise. Resolution is the short side of the
frame and bitrate is `StreamInfo.usable_bitrate_kbps`; minimum duration and overlap concern
segments, not streams, and are not checked here.

>>> fit(AiModel.ANPR, main=StreamInfo(codec="h264", width=1280, height=720, bitrate_kbps=1800), sub=None)
Fit(model=<AiModel.ANPR: 'anpr'>, stream=None, reason='anpr needs 1080p at 3000 kbps; main stream is 720p at 1800 kbps')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vms.cameras.probe import StreamInfo
from vms.kernel.ai_models import MODEL_SPECS, AiModel

StreamRole = Literal["main", "sub"]


@dataclass(frozen=True, slots=True)
class Fit:
    """The stream a model would run on, or why none will do."""

    model: AiModel
    stream: StreamRole | None
    reason: str | None = None

    @property
    def compatible(self) -> bool:
        """Whether some stream meets the model's requirements."""
        return self.stream is not None


def qualifies(model: AiModel, info: StreamInfo) -> bool:
    """Whether one stream meets the model's resolution and bitrate minimums."""
    spec = MODEL_SPECS[model]
    return info.lines >= spec.min_height and info.usable_bitrate_kbps >= spec.min_bitrate_kbps


def needs(model: AiModel) -> str:
    """`anpr needs 1080p at 3000 kbps`."""
    spec = MODEL_SPECS[model]
    return f"{model.value} needs {spec.min_height}p at {spec.min_bitrate_kbps} kbps"


def fit(model: AiModel, *, main: StreamInfo, sub: StreamInfo | None) -> Fit:
    """Pick the sub stream if it qualifies, else the main one, else say what falls short."""
    if sub is not None and qualifies(model, sub):
        return Fit(model, "sub")
    if qualifies(model, main):
        return Fit(model, "main")
    measured = [f"main stream is {main.describe()}"]
    if sub is not None:
        measured.append(f"sub stream is {sub.describe()}")
    return Fit(model, None, f"{needs(model)}; {', '.join(measured)}")
