"""Request and response shapes of the config domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vms.config.registry import Level
from vms.kernel.paging import Page

Reason = Annotated[
    str,
    Field(
        min_length=3,
        max_length=500,
        pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+$",
        description="Why the change is made; kept with the version and the audit record.",
    ),
]
ParameterKey = Annotated[str, Field(min_length=1, max_length=200, description="Dotted parameter key.")]
ExpectedVersion = Annotated[
    int | None,
    Field(
        ge=0,
        le=2_147_483_647,
        description="The node's version the change was prepared against; 409 if it has moved on since.",
    ),
]


class Strict(BaseModel):
    """Unknown fields are refused, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid")


class ConfigReplace(Strict):
    """A node's complete set of overrides; parameters left out fall back to the level below."""

    values: dict[ParameterKey, Any] = Field(max_length=500, description="Parameter key → value.")
    reason: Reason
    expected_version: ExpectedVersion = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "values": {"video.segment_seconds": 4, "models.fire_smoke.confidence_threshold": 0.7},
                    "reason": "Shorter jobs for the loading bay",
                }
            ]
        },
    )


class ConfigPatch(Strict):
    """Overrides to set and overrides to remove; the node's other overrides stay."""

    values: dict[ParameterKey, Any] = Field(default_factory=dict, max_length=500, description="Overrides to set.")
    unset: list[ParameterKey] = Field(
        default_factory=list, max_length=500, description="Overrides to remove (fall back to the level below)."
    )
    reason: Reason
    expected_version: ExpectedVersion = None


class ConfigRollback(Strict):
    """Why a node returns to an earlier version."""

    reason: Reason
    expected_version: ExpectedVersion = None


class NodeRead(BaseModel):
    """Which node: system (no ids), customer (its id), site or camera (with the camera's site)."""

    level: Level
    node_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None


class EffectiveValue(BaseModel):
    """A value and the level that set it (`default`: built in, no level overrides it)."""

    value: Any
    level: Level


class EffectiveConfig(BaseModel):
    """A node's effective configuration with provenance, and its own overrides."""

    node: NodeRead
    version: int = Field(description="Number of the node's latest version (0: never changed).")
    overrides: dict[str, Any] = Field(description="What this node itself sets.")
    values: dict[str, EffectiveValue] = Field(description="Every parameter's effective value and its source.")


class ValueChange(BaseModel):
    """How one effective value changes (value or source)."""

    key: str
    before: EffectiveValue
    after: EffectiveValue


class OverrideChange(BaseModel):
    """How one of the node's own overrides changes."""

    key: str
    change: Literal["added", "removed", "changed"]
    before: Any = None
    after: Any = None


class ConfigChangeResult(BaseModel):
    """What a change did (or, for a dry run, would do)."""

    node: NodeRead
    dry_run: bool
    saved: bool = Field(description="Whether a new version was written (false for dry runs and no-ops).")
    version: int = Field(description="The node's version after the change (unchanged when nothing was saved).")
    effective_changes: list[ValueChange]
    override_changes: list[OverrideChange]


class ConfigVersionRead(BaseModel):
    """One version of a node: who changed what, when and why, and the full snapshot after it."""

    version: int
    action: str
    reason: str
    actor: str | None
    actor_id: uuid.UUID | None
    at: datetime
    rolled_back_to: int | None
    changes: list[OverrideChange]
    snapshot: dict[str, Any]


ConfigVersionPage = Page[ConfigVersionRead]


class VersionDiff(BaseModel):
    """How a node's overrides differ between two versions."""

    node: NodeRead
    from_version: int
    to_version: int
    changes: list[OverrideChange]


class ParameterRead(BaseModel):
    """A configurable parameter as the console shows it."""

    key: str
    description: str
    bounds: str
    default: Any
    unit: str
    levels: list[Level] = Field(description="Levels that may set it.")
    critical: bool = Field(description="Kept warm in the cache (background refresh before expiry).")
    value_schema: dict[str, Any] = Field(description="JSON Schema of its values.")


class RefreshResult(BaseModel):
    """What a manual cache refresh dropped."""

    scope: Literal["customer", "all"]
    keys_dropped: int = Field(description="Keys dropped from this process's view of the cache.")


class ModelRequirements(BaseModel):
    """A model's system-wide settings (`config:model:{id}:requirements`), what compatibility checks read."""

    model: str
    priority: str
    confidence_threshold: float
    min_height: int
    min_bitrate_kbps: int
    min_duration_s: float
    overlap_s: float
    enabled_by_default: bool


class ConfigHistoryEntry(BaseModel):
    """One saved version as its history document holds it (config.history): who, when, why, the
    node, the full values after the change and the change itself."""

    id: str = Field(description="`{level}:{node id}:v{version}`, or `system:v{version}`.")
    at: datetime
    document: dict[str, Any]


class ConfigHistoryList(BaseModel):
    """A newest-first slice of history; pass the last entry's `at` as `until` for the next one."""

    items: list[ConfigHistoryEntry]
    limit: int
