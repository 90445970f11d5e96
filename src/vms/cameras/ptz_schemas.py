"""Request and response shapes of PTZ: moves, presets, tours and auto-tracking.

Positions and speeds are in the device-independent space of `devices.base.PtzVector` (pan and tilt
count right and up, as in ONVIF); each adapter maps them to its vendor's units. Bounds depend on
the kind of move, so they are checked per `mode` after the common ones.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vms.cameras.schemas import Label, Strict
from vms.kernel.paging import Page

PresetToken = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[^\x00-\x1f\x7f/]+$",
        description="The camera's own preset id (a number on Hikvision and Dahua, a token on ONVIF).",
    ),
]
Speed = Annotated[float, Field(gt=0, le=1, description="Share of the camera's top speed (0-1].")]


class MoveMode(StrEnum):
    """How pan/tilt/zoom of a move are read."""

    CONTINUOUS = "continuous"  # velocities, until stop (or timeout_s)
    ABSOLUTE = "absolute"  # a position
    RELATIVE = "relative"  # an offset from where the head is


# (pan and tilt, zoom) bounds per mode, as devices.base.PtzVector documents them.
MOVE_BOUNDS: dict[MoveMode, tuple[tuple[float, float], tuple[float, float]]] = {
    MoveMode.CONTINUOUS: ((-1, 1), (-1, 1)),
    MoveMode.ABSOLUTE: ((-1, 1), (0, 1)),
    MoveMode.RELATIVE: ((-2, 2), (-1, 1)),
}


class PtzMove(Strict):
    """One move command: a velocity (continuous), a position (absolute) or an offset (relative)."""

    mode: MoveMode = Field(description="continuous | absolute | relative.")
    pan: float = Field(
        0.0, ge=-2, le=2, description="continuous: -1..1 (left..right); absolute: -1..1; relative: -2..2 (full sweep)."
    )
    tilt: float = Field(0.0, ge=-2, le=2, description="continuous: -1..1 (down..up); absolute: -1..1; relative: -2..2.")
    zoom: float = Field(0.0, ge=-1, le=1, description="continuous: -1..1 (out..in); absolute: 0..1; relative: -1..1.")
    speed: Speed | None = Field(None, description="absolute and relative only; omitted: the camera's default.")
    timeout_s: float | None = Field(
        None,
        gt=0,
        le=300,
        description="continuous only: the camera stops by itself after this long (a safety net for joysticks).",
    )

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"mode": "continuous", "pan": 0.5, "timeout_s": 1.0}]}
    )

    @model_validator(mode="after")
    def _bounds_of_mode(self) -> PtzMove:
        (low, high), (zoom_low, zoom_high) = MOVE_BOUNDS[self.mode]
        for axis in ("pan", "tilt"):
            if not low <= getattr(self, axis) <= high:
                raise ValueError(f"{axis} of a {self.mode.value} move must be within {low:g}..{high:g}")
        if not zoom_low <= self.zoom <= zoom_high:
            raise ValueError(f"zoom of a {self.mode.value} move must be within {zoom_low:g}..{zoom_high:g}")
        if self.mode is MoveMode.CONTINUOUS and self.speed is not None:
            raise ValueError("a continuous move takes no speed: pan, tilt and zoom are the velocities")
        if self.mode is not MoveMode.CONTINUOUS and self.timeout_s is not None:
            raise ValueError("timeout_s applies to continuous moves only")
        return self


class PtzVectorRead(BaseModel):
    """Pan, tilt, zoom in the normalised space."""

    pan: float = Field(description="-1..1, right positive.")
    tilt: float = Field(description="-1..1, up positive.")
    zoom: float = Field(description="0..1 for a position; a signed share of the range for an offset.")


class PtzStatusRead(BaseModel):
    """Where the head points, whether it moves, and the tour driving it (if any)."""

    position: PtzVectorRead | None = Field(description="Absolute position, when the camera reports it.")
    moving: bool = Field(description="Whether the camera says it is moving (some never say).")
    tour_id: uuid.UUID | None = Field(None, description="The tour running on this camera.")


class PresetRead(BaseModel):
    """A position stored in the camera."""

    token: str = Field(description="The camera's id for it; use it to go to or remove it.")
    name: str = Field(description="Its name.")


class PresetCreate(Strict):
    """Store the head's current position as a preset."""

    name: Label = Field(description="The preset's name.")
    token: PresetToken | None = Field(None, description="Overwrite this preset; omitted: a new one.")


class PresetGoto(Strict):
    """Options of going to a preset."""

    speed: Speed | None = Field(None, description="Omitted: the camera's default (not every camera takes one).")


class TourStep(Strict):
    """One stop of a tour."""

    preset_token: PresetToken
    dwell_s: float = Field(ge=1, le=3600, description="Seconds to stay after going there (travel time included).")
    speed: Speed | None = Field(None, description="Speed of the move to this preset; omitted: the camera's default.")


Steps = Annotated[list[TourStep], Field(min_length=1, max_length=64, description="1-64 steps, in order.")]


class TourCreate(Strict):
    """A named sequence of presets the server walks the camera through."""

    name: Label = Field(description="Unique per camera.")
    steps: Steps
    loop: bool = Field(True, description="Start again after the last step; false: stop there.")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Perimeter",
                    "steps": [{"preset_token": "1", "dwell_s": 10}, {"preset_token": "2", "dwell_s": 15, "speed": 0.5}],
                    "loop": True,
                }
            ]
        },
    )


class TourUpdate(Strict):
    """Rename a tour, replace its steps or change looping; a running tour uses them from its next step."""

    name: Label | None = None
    steps: Steps | None = None
    loop: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("name", "steps", "loop"):
                if key in data and data[key] is None:
                    raise ValueError(f"{key} cannot be null; leave it out to keep it")
        return data


class TourRead(BaseModel):
    """A tour and where it stands."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    camera_id: uuid.UUID
    name: str
    steps: list[TourStep]
    loop: bool
    running: bool = Field(description="Whether the server is walking the camera through it now.")
    current_step: int | None = Field(description="Index of the step the camera was last sent to.")
    stepped_at: datetime | None = Field(description="When it was sent there.")
    last_error: str | None = Field(description="Why the tour stopped by itself (device errors, interruption).")
    created_at: datetime
    updated_at: datetime | None


TourPage = Page[TourRead]


class Box(Strict):
    """A region of the frame: left, top, width, height as fractions of the frame (0..1, top-left origin)."""

    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)
    w: float = Field(gt=0, le=1)
    h: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _inside_frame(self) -> Box:
        if self.x + self.w > 1.0001 or self.y + self.h > 1.0001:
            raise ValueError("the box must lie inside the frame (x + w <= 1 and y + h <= 1)")
        return self


class TrackingGains(Strict):
    """How far a relative move goes per unit of offset in the picture; they depend on the lens.

    A relative pan of 2 is a full turn (360°) and a relative tilt of 1 is 90°, so a box at the frame's
    edge (offset 0.5) needs half the field of view: pan gain = horizontal FOV / 180°, tilt gain =
    vertical FOV / 90°. The defaults suit a dome at its wide end (60° × 34°). At tele zoom the view is
    narrower and these gains overshoot; lower them, or rely on the next detection correcting it.
    """

    pan: float = Field(0.33, ge=0, le=2, description="Relative pan per unit of horizontal offset (HFOV / 180°).")
    tilt: float = Field(0.38, ge=0, le=2, description="Relative tilt per unit of vertical offset (VFOV / 90°).")
    zoom: float = Field(
        0.2, ge=0, le=1, description="Share of the zoom range per doubling of magnification (about 1/log2(lens ratio))."
    )
    deadband: float = Field(
        0.03, ge=0, le=0.5, description="Offsets from the centre smaller than this are left alone (no jitter)."
    )


class TrackRequest(Strict):
    """Re-centre the camera on a box, given directly or as an AI event's detection."""

    box: Box | None = Field(None, description="The target in the current picture.")
    event_id: uuid.UUID | None = Field(None, description="An event of this camera: its detection's bounding box.")
    zoom_to_fraction: float | None = Field(
        None, gt=0, le=1, description="Also zoom so the target fills this share of the frame height."
    )
    gains: TrackingGains = Field(default_factory=TrackingGains, description="Lens-dependent gains.")

    @model_validator(mode="after")
    def _one_target(self) -> TrackRequest:
        if (self.box is None) == (self.event_id is None):
            raise ValueError("give either box or event_id")
        return self


class TrackRead(BaseModel):
    """The relative move that was sent (all zero when the target was already centred)."""

    translation: PtzVectorRead
    moved: bool = Field(description="False when the target was inside the deadband and nothing was sent.")
