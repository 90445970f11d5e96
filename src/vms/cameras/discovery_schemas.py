"""Request and response shapes of camera discovery jobs (ONVIF WS-Discovery and address scans).

Discovery credentials are write-only and live only as long as the job: they are used to fingerprint
devices that ask for them and are never stored, logged or returned (`DiscoveryJobRead.with_credentials`
only says that some were given).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from vms.cameras.devices.scan import DEFAULT_PORTS, MAX_PORTS, MAX_TARGETS_TEXT
from vms.cameras.models import DiscoveryStatus
from vms.cameras.schemas import CameraAuth, Label, Models, Name, StreamUrl, Strict, Tags
from vms.kernel.paging import Page

DiscoveryMethod = Literal["scan", "ws-discovery"]
Port = Annotated[int, Field(ge=1, le=65535)]
SCAN_TIMEOUT_S = 1.0  # per connect and per fingerprint exchange
WS_DISCOVERY_TIMEOUT_S = 3.0  # how long answers are awaited
MAX_SCAN_TIMEOUT_S = 10.0  # a /22 of silent addresses at 10 s each still ends in minutes
MAX_WS_DISCOVERY_TIMEOUT_S = 30.0


FINISHED = frozenset({DiscoveryStatus.COMPLETED, DiscoveryStatus.FAILED, DiscoveryStatus.CANCELLED})


class DiscoveryCredentials(Strict):
    """A device account tried on devices that ask for one, during this job only (never stored)."""

    username: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
    password: Annotated[SecretStr, Field(max_length=200)] = SecretStr("")


class DiscoveryCreate(Strict):
    """A discovery job: an address scan of CIDRs/ranges, or ONVIF WS-Discovery (multicast and/or unicast)."""

    method: DiscoveryMethod = Field(
        description="scan: connect to camera ports of every address and fingerprint what answers; "
        "ws-discovery: ONVIF WS-Discovery probes (multicast on the local segment, directed to `targets`)."
    )
    targets: Annotated[str, Field(max_length=MAX_TARGETS_TEXT)] | None = Field(
        None,
        description="scan (required): CIDRs, ranges and addresses, comma-separated, at most 1,024 addresses "
        "(10.0.0.0/24, 10.0.1.10-50, 10.0.2.7). ws-discovery (optional): hosts or host:port for directed probes, "
        "or IPv4 CIDRs/ranges.",
        examples=["10.0.0.0/24, 10.0.1.5"],
    )
    multicast: bool = Field(True, description="ws-discovery: also probe the local segment by multicast.")
    ports: Annotated[list[Port], Field(min_length=1, max_length=MAX_PORTS)] = Field(
        default_factory=lambda: list(DEFAULT_PORTS),
        description=f"scan: the ports to try on each address (at most {MAX_PORTS}).",
    )
    timeout_s: Annotated[float, Field(gt=0, le=MAX_WS_DISCOVERY_TIMEOUT_S)] | None = Field(
        None,
        description=f"scan: per connect/fingerprint ({SCAN_TIMEOUT_S:g} s by default, at most "
        f"{MAX_SCAN_TIMEOUT_S:g}); ws-discovery: how long answers are awaited ({WS_DISCOVERY_TIMEOUT_S:g} s by "
        f"default, at most {MAX_WS_DISCOVERY_TIMEOUT_S:g}).",
    )
    credentials: DiscoveryCredentials | None = Field(
        None,
        description="scan: a device account sent (as digests only) to devices that ask, to read who they are. "
        "Used for this job only, never stored.",
    )

    @model_validator(mode="after")
    def _fits_the_method(self) -> DiscoveryCreate:
        if self.method == "scan":
            if not (self.targets or "").strip():
                raise ValueError("a scan needs targets: CIDRs, ranges or addresses, e.g. 10.0.0.0/24")
            if self.timeout_s is not None and self.timeout_s > MAX_SCAN_TIMEOUT_S:
                raise ValueError(f"a scan's timeout_s is at most {MAX_SCAN_TIMEOUT_S:g} seconds")
        else:
            if not (self.targets or "").strip() and not self.multicast:
                raise ValueError("ws-discovery needs targets, or multicast left on")
            if self.credentials is not None:
                raise ValueError("credentials are used by scan fingerprints; WS-Discovery answers need none")
        return self

    @property
    def effective_timeout_s(self) -> float:
        """The timeout asked for, or the method's default."""
        if self.timeout_s is not None:
            return self.timeout_s
        return SCAN_TIMEOUT_S if self.method == "scan" else WS_DISCOVERY_TIMEOUT_S


class DiscoveredDeviceRead(BaseModel):
    """One device a job found, what it told about itself, and whether it is a camera already."""

    index: int = Field(description="Its position in the job's results; use it to add the device.")
    host: str
    kind: Literal["onvif", "hikvision", "dahua", "rtsp"] = Field(description="The adapter to add it with.")
    via: Literal["ws-discovery", "scan"]
    ports: list[int] = Field(default_factory=list, description="Open camera ports (scan).")
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    name: str | None = Field(None, description="The name the device announces (ONVIF scope).")
    device_url: str | None = Field(
        None, description="Its control interface (ONVIF device service, ISAPI/HTTP API base)."
    )
    rtsp_url: str | None = Field(None, description="A stream URL, without credentials, when one is known.")
    requires_auth: bool = Field(False, description="The device asked for credentials before saying more.")
    scopes: list[str] = Field(default_factory=list, description="ONVIF scopes (WS-Discovery).")
    camera_id: uuid.UUID | None = Field(None, description="The camera added from this result.")
    known_camera_id: uuid.UUID | None = Field(None, description="A camera of yours already at this host, if any.")


class DiscoveryJobRead(BaseModel):
    """A discovery job: what it probes, how far it got, and what it found."""

    id: uuid.UUID
    method: DiscoveryMethod
    targets: str | None = Field(description="The targets as given.")
    multicast: bool
    ports: list[int]
    timeout_s: float
    with_credentials: bool = Field(description="Whether a device account was given (it is never stored).")
    status: DiscoveryStatus
    hosts_total: int = Field(description="Addresses to scan, or unicast targets probed.")
    hosts_done: int
    devices_found: int
    progress: float = Field(description="Share done (0-1); for ws-discovery the share of the answer window.")
    error: str | None = Field(description="Why it failed.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    results: list[DiscoveredDeviceRead] | None = Field(
        None, description="What was found (in a single job's view; omitted from lists)."
    )


DiscoveryJobPage = Page[DiscoveryJobRead]


class DiscoveredCameraAdd(Strict):
    """Add a found device as a camera: its streams are read from the device unless given."""

    name: Name
    zone_id: uuid.UUID | None = Field(None, description="The zone the camera is in.")
    auth: CameraAuth | None = Field(
        None, description="The camera account: used to read the device's streams and stored (encrypted) for them."
    )
    main_url: StreamUrl | None = Field(None, description="Overrides the device's main stream.")
    sub_url: StreamUrl | None = Field(None, description="Overrides the device's sub stream.")
    manufacturer: Label | None = Field(None, description="Overrides what the device says.")
    model: Label | None = None
    tags: Tags = Field(default_factory=list)
    enabled_models: Models = Field(default_factory=list)
