"""Request and response shapes of the cameras domain.

Credentials are write-only: `CameraAuth` comes in, `CameraRead` shows only `auth_method` and
`has_credentials`. Credentials pasted into a stream URL (`rtsp://user:pass@host/…`) are moved
into `auth` during validation, so nothing after this module ever sees a URL with a password.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from vms.cameras.models import CameraStatus, NodeKind
from vms.cameras.probe import StreamInfo
from vms.cameras.urls import check_device_url, check_stream_url, split_credentials
from vms.kernel.ai_models import AiModel
from vms.kernel.paging import Page
from vms.kernel.priority import Priority

Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
Label = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
StreamUrl = Annotated[
    str,
    Field(
        max_length=2048,
        description="rtsp:// or rtsps:// (http:// or https:// for MJPEG); credentials in it move to `auth`.",
        examples=["rtsp://10.0.0.7:554/Streaming/Channels/101"],
    ),
    AfterValidator(check_stream_url),
]


def _tag(value: str) -> str:
    tag = " ".join(value.split()).lower()
    if not tag:
        raise ValueError("a tag cannot be blank")
    return tag


Tag = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f\"\\]+$", description="No quotes or backslashes."),
    AfterValidator(_tag),
]


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


Tags = Annotated[
    list[Tag],
    Field(max_length=50, description="Free tags (lower-cased, duplicates dropped)."),
    AfterValidator(_unique),
]
Models = Annotated[
    list[AiModel],
    Field(max_length=len(AiModel), description="AI models to run on this camera (licensed and compatible)."),
    AfterValidator(lambda models: sorted(set(models))),
]


class Strict(BaseModel):
    """Unknown fields are refused, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


# --- hierarchy ------------------------------------------------------------------------------------


class NodeCreate(Strict):
    """A new site (no parent), building (under a site), floor (under a building) or zone (under a floor)."""

    kind: NodeKind
    name: Name
    parent_id: uuid.UUID | None = Field(None, description="Required for every kind but site.")


class NodeUpdate(Strict):
    """Rename a node, or move it under another parent of the right kind."""

    name: Name | None = None
    parent_id: uuid.UUID | None = Field(None, description="New parent (same kind as the current one).")


class NodeRead(BaseModel):
    """A node of the location tree."""

    id: uuid.UUID
    kind: NodeKind
    name: str
    parent_id: uuid.UUID | None
    path: list[str] = Field(description="Names from the site down to this node.")
    created_at: datetime


NodePage = Page[NodeRead]


class CameraCounts(BaseModel):
    """Cameras below a point of the tree, by status (unknown = neither online nor offline)."""

    camera_count: int = 0
    online_count: int = 0
    offline_count: int = 0


class NodeTree(CameraCounts):
    """A node with its children and the cameras anywhere below it."""

    id: uuid.UUID
    kind: NodeKind
    name: str
    children: list[NodeTree] = Field(default_factory=list)


class SiteTree(BaseModel):
    """The customer's whole location tree."""

    sites: list[NodeTree]
    unassigned: CameraCounts = Field(description="Cameras in no zone.")
    total: CameraCounts


# --- cameras --------------------------------------------------------------------------------------


class AuthMethod(StrEnum):
    """How a camera checks who is reading its streams."""

    BASIC = "basic"
    DIGEST = "digest"
    TOKEN = "token"
    CERTIFICATE = "certificate"
    VENDOR = "vendor"


_REQUIRED: dict[AuthMethod, tuple[str, ...]] = {
    AuthMethod.BASIC: ("username",),
    AuthMethod.DIGEST: ("username",),
    AuthMethod.TOKEN: ("token",),
    AuthMethod.CERTIFICATE: ("client_cert_pem", "client_key_pem"),
    AuthMethod.VENDOR: (),
}
_ALLOWED: dict[AuthMethod, frozenset[str]] = {
    AuthMethod.BASIC: frozenset({"username", "password"}),
    AuthMethod.DIGEST: frozenset({"username", "password"}),
    AuthMethod.TOKEN: frozenset({"token"}),
    AuthMethod.CERTIFICATE: frozenset({"client_cert_pem", "client_key_pem"}),
    AuthMethod.VENDOR: frozenset({"username", "password", "token"}),
}
SECRET_LENGTH = 16_384  # room for a PEM certificate chain


class CameraAuth(Strict):
    """Credentials for a camera's streams. Write-only: never returned, encrypted at rest."""

    method: AuthMethod = Field(description="basic/digest: username+password; token; certificate: PEMs; vendor.")
    username: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")] | None = None
    password: Annotated[SecretStr, Field(max_length=200)] | None = None
    token: Annotated[SecretStr, Field(min_length=1, max_length=4096)] | None = None
    client_cert_pem: Annotated[SecretStr, Field(max_length=SECRET_LENGTH)] | None = Field(
        None, description="Client certificate (PEM) for mutual TLS."
    )
    client_key_pem: Annotated[SecretStr, Field(max_length=SECRET_LENGTH)] | None = Field(
        None, description="Its unencrypted private key (PEM)."
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"method": "digest", "username": "viewer", "password": "s3cret"}]},
    )

    @model_validator(mode="after")
    def _fields_fit_the_method(self) -> CameraAuth:
        given = {name for name in _ALLOWED[AuthMethod.VENDOR] | _ALLOWED[AuthMethod.CERTIFICATE] if getattr(self, name)}
        missing = [name for name in _REQUIRED[self.method] if name not in given]
        if missing:
            raise ValueError(f"auth method {self.method.value} needs {' and '.join(missing)}")
        stray = sorted(given - _ALLOWED[self.method])
        if stray:
            raise ValueError(f"auth method {self.method.value} does not use {', '.join(stray)}")
        if self.method is AuthMethod.VENDOR and not given:
            raise ValueError("auth method vendor needs a username and password, or a token")
        if self.method is AuthMethod.CERTIFICATE:
            _check_pems(self.client_cert_pem, self.client_key_pem)
        return self

    @property
    def has_secrets(self) -> bool:
        """Whether anything worth storing was given."""
        return any(getattr(self, name) for name in ("username", "password", "token", "client_key_pem"))


def _check_pems(cert: SecretStr | None, key: SecretStr | None) -> None:
    try:
        x509.load_pem_x509_certificate((cert.get_secret_value() if cert else "").encode())
    except ValueError:
        raise ValueError("client_cert_pem is not a PEM certificate") from None
    try:
        load_pem_private_key((key.get_secret_value() if key else "").encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("client_key_pem is not an unencrypted PEM private key") from None


DeviceKind = Literal["onvif", "hikvision", "dahua", "rtsp"]


class DeviceLink(Strict):
    """Where the camera's control interface answers (device info, PTZ). It uses the camera's credentials."""

    kind: DeviceKind = Field(description="onvif, hikvision (ISAPI), dahua (HTTP API) or rtsp (no control interface).")
    url: Annotated[str, Field(max_length=2048)] = Field(
        description="http(s)://host[:port][/path], e.g. http://10.0.0.7/onvif/device_service or http://10.0.0.8:80."
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"kind": "onvif", "url": "http://10.0.0.7/onvif/device_service"}]},
    )

    @field_validator("url")
    @classmethod
    def _control_url(cls, value: str) -> str:
        return check_device_url(value)


class _Streams(Strict):
    """Shared by create and update: move credentials out of the stream URLs into `auth`."""

    main_url: StreamUrl | None = None
    sub_url: StreamUrl | None = None
    auth: CameraAuth | None = None

    def _move_url_credentials(self) -> None:
        found: set[tuple[str | None, str | None]] = set()
        for field in ("main_url", "sub_url"):
            url = getattr(self, field)
            if url:
                clean, username, password = split_credentials(url)
                setattr(self, field, clean)
                if username or password:
                    found.add((username, password))
        if not found:
            return
        if len(found) > 1:
            raise ValueError("main_url and sub_url carry different credentials; give one set in auth instead")
        username, password = found.pop()
        if self.auth is None:
            # FFmpeg answers whichever challenge (Basic or Digest) the camera sends, so "basic" is a record only.
            self.auth = CameraAuth(
                method=AuthMethod.BASIC, username=username, password=SecretStr(password) if password else None
            )
            self.model_fields_set.add("auth")
            return
        if self.auth.method not in (AuthMethod.BASIC, AuthMethod.DIGEST, AuthMethod.VENDOR):
            raise ValueError(f"the URL carries a username/password but auth method is {self.auth.method.value}")
        given_password = self.auth.password.get_secret_value() if self.auth.password else None
        if (self.auth.username and username and self.auth.username != username) or (
            given_password is not None and password is not None and given_password != password
        ):
            raise ValueError("the URL and auth carry different credentials; give them in auth only")
        self.auth = self.auth.model_copy(
            update={
                "username": self.auth.username or username,
                "password": self.auth.password or (SecretStr(password) if password else None),
            }
        )


class CameraCreate(_Streams):
    """A camera to add. Its streams are probed (unless `probe` is false) and its models checked."""

    name: Name
    main_url: StreamUrl
    sub_url: StreamUrl | None = None
    manufacturer: Label | None = None
    model: Label | None = None
    firmware: Label | None = None
    zone_id: uuid.UUID | None = Field(None, description="The zone the camera is in.")
    tags: Tags = Field(default_factory=list)
    enabled_models: Models = Field(default_factory=list)
    external_id: Label | None = Field(None, description="Id in another system (bulk import); unique per customer.")
    auth: CameraAuth | None = None
    device: DeviceLink | None = Field(None, description="The control interface, for device info and PTZ.")
    probe: bool = Field(True, description="Probe the streams now; false leaves stream info empty.")

    model_config = ConfigDict(
        extra="forbid",
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "name": "Gate 1 LPR",
                    "main_url": "rtsp://10.0.0.7:554/Streaming/Channels/101",
                    "sub_url": "rtsp://10.0.0.7:554/Streaming/Channels/102",
                    "manufacturer": "Hikvision",
                    "model": "DS-2CD2T86G2",
                    "tags": ["entrance", "lpr"],
                    "enabled_models": ["anpr", "motion"],
                    "auth": {"method": "digest", "username": "viewer", "password": "s3cret"},
                }
            ]
        },
    )

    @model_validator(mode="after")
    def _credentials_out_of_urls(self) -> CameraCreate:
        self._move_url_credentials()
        return self


class CameraUpdate(_Streams):
    """Fields to change; absent fields stay. `null` clears sub_url, zone_id, labels, external_id and auth."""

    name: Name | None = None
    manufacturer: Label | None = None
    model: Label | None = None
    firmware: Label | None = None
    zone_id: uuid.UUID | None = None
    tags: Tags | None = None
    enabled_models: Models | None = None
    external_id: Label | None = None
    device: DeviceLink | None = Field(None, description="The control interface; null removes it.")
    probe: bool = Field(True, description="Probe again when URLs or credentials change; false clears stream info.")

    @model_validator(mode="after")
    def _required_stay_set(self) -> CameraUpdate:
        nulled = [f for f in ("name", "main_url", "tags", "enabled_models") if f in self.model_fields_set]
        nulled = [f for f in nulled if getattr(self, f) is None]
        if nulled:
            raise ValueError(f"{', '.join(nulled)} cannot be null")
        self._move_url_credentials()
        return self


class StreamStats(BaseModel):
    """The main stream as the ingest role measures it, written with the last-frame time (about once a minute)."""

    reconnects: int = Field(description="Reconnections since the ingest role started reading this camera.")
    segments: int = Field(description="Segments recorded since then.")
    bitrate_kbps: float | None = Field(None, description="Bitrate of the latest segment (kbit/s).")
    fps: float | None = Field(None, description="Frame rate of the latest segment.")
    keyframe_interval_s: float | None = Field(None, description="Mean keyframe (GOP) interval of the latest segment.")
    format: str | None = Field(None, description="Codec and size as the latest keyframe describes them.")
    clock: str | None = Field(None, description="What dated the latest segment: camera (RTCP) or receive (our clock).")
    pending_segments: int = Field(0, description="Closed segments waiting for storage to come back.")
    lost_segments: int = Field(0, description="Segments given up because storage stayed out too long.")


class CameraRead(BaseModel):
    """A camera as the API shows it: URLs without credentials, never the credentials themselves."""

    model_config = ConfigDict(protected_namespaces=())

    id: uuid.UUID
    name: str
    main_url: str
    sub_url: str | None
    manufacturer: str | None
    model: str | None
    firmware: str | None
    zone_id: uuid.UUID | None
    tags: list[str]
    external_id: str | None
    auth_method: Literal["none", "basic", "digest", "token", "certificate", "vendor"]
    has_credentials: bool
    status: CameraStatus
    fault: str | None = Field(
        None,
        description="Why the stream is not plainly online: unreachable, disconnected, stalled, auth_failed, "
        "bad_stream or storage; null while online.",
    )
    last_error: str | None = Field(
        None, description="The stream reader's last error in words (credentials removed); null while online."
    )
    status_changed_at: datetime | None = Field(None, description="When the status last changed (UTC).")
    last_frame_at: datetime | None = Field(
        None, description="When video was last received, to within a minute (UTC); null before the first."
    )
    stream_stats: StreamStats | None = Field(
        None, description="The main stream's measured figures as of last_frame_at; null before the first segment."
    )
    main_stream: StreamInfo | None
    sub_stream: StreamInfo | None
    probed_at: datetime | None
    enabled_models: list[AiModel]
    model_streams: dict[AiModel, Literal["main", "sub"]] = Field(
        description="Per enabled model, the stream it runs on (sub when good enough)."
    )
    device: DeviceLink | None = Field(description="The control interface (device info, PTZ), when known.")
    created_at: datetime
    updated_at: datetime | None


CameraPage = Page[CameraRead]


class CameraMove(Strict):
    """Move cameras into a zone (or out of every zone with null)."""

    camera_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)
    zone_id: uuid.UUID | None


class CameraModelRead(BaseModel):
    """One of the ten AI models as it stands for a camera."""

    model: AiModel
    title: str
    default_priority: Priority
    min_height: int
    min_bitrate_kbps: int
    licensed: bool
    enabled: bool
    compatible: bool | None = Field(description="Whether a stream meets the requirements; null before a probe.")
    stream: Literal["main", "sub"] | None = Field(description="The stream the model runs (or would run) on.")
    reason: str | None = Field(description="Why the model is not licensed or not compatible.")


# --- groups ---------------------------------------------------------------------------------------


class GroupCreate(Strict):
    """A named set of cameras."""

    name: Name
    description: Annotated[str, Field(max_length=1000)] | None = None
    camera_ids: list[uuid.UUID] = Field(default_factory=list, max_length=10_000)


class GroupUpdate(Strict):
    """Rename a group, or replace its cameras."""

    name: Name | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None
    camera_ids: list[uuid.UUID] | None = Field(None, max_length=10_000)


class GroupRead(BaseModel):
    """A camera group with its members."""

    id: uuid.UUID
    name: str
    description: str | None
    camera_ids: list[uuid.UUID]
    created_at: datetime


GroupPage = Page[GroupRead]


# --- bulk import ----------------------------------------------------------------------------------


class ImportRowError(BaseModel):
    """One problem with one row of an import file (never repeats a credential)."""

    row: int = Field(description="Row number in the file as a spreadsheet shows it; the header is row 1.")
    field: str | None = Field(description="The column at fault; null when the row as a whole is refused.")
    message: str


class ImportReport(BaseModel):
    """What an import did (or, in a dry run, would do)."""

    dry_run: bool
    total_rows: int = Field(description="Data rows in the file (blank rows are not counted).")
    created: int
    updated: int
    unchanged: int
    failed: int = Field(description="Rows with at least one error; nothing of them was written.")
    errors: list[ImportRowError]
    cameras: list[uuid.UUID] = Field(
        description="Cameras created, updated or left unchanged, in file order (a dry run lists only existing ones)."
    )
