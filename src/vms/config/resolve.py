"""Resolution: layers of overrides in, each parameter's effective value and its source out.

Pure functions, no I/O: the service feeds them layers from the cache or the database.

>>> values = resolve([(Level.SYSTEM, {"retention.days": 60}), (Level.CAMERA, {"retention.days": 7})])
>>> values["retention.days"], values["retention.event_days"]
(Resolved(value=7, level=<Level.CAMERA: 'camera'>), Resolved(value=90, level=<Level.DEFAULT: 'default'>))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import structlog

from vms.config.registry import PARAMETERS, Level
from vms.config.schemas import EffectiveValue, OverrideChange, ValueChange
from vms.kernel.errors import ValidationFailed

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Resolved:
    """An effective value and the level that set it."""

    value: Any
    level: Level

    def read(self) -> EffectiveValue:
        """As the API shows it."""
        return EffectiveValue(value=self.value, level=self.level)


@cache
def defaults() -> Mapping[str, Resolved]:
    """Every parameter at its built-in default (built once; validating the defaults catches a bad declaration)."""
    return {key: Resolved(param.default_json, Level.DEFAULT) for key, param in PARAMETERS.items()}


def resolve(layers: Sequence[tuple[Level, Mapping[str, Any]]]) -> dict[str, Resolved]:
    """Each parameter's value from the highest layer that sets it, else its default; layers lowest first."""
    result = dict(defaults())
    for level, overrides in layers:
        for key, value in overrides.items():
            if key in result:
                result[key] = Resolved(value, level)
    return result


def clean(overrides: Mapping[str, Any], level: Level, *, node: str) -> dict[str, Any]:
    """Stored overrides that still fit the registry; others are skipped (logged), so a parameter
    removed or tightened in a release falls back to the level below instead of breaking reads."""
    kept: dict[str, Any] = {}
    for key, value in overrides.items():
        param = PARAMETERS.get(key)
        try:
            if param is None:
                raise ValidationFailed("unknown parameter")
            param.ensure_level(level)
            kept[key] = param.validate(value)
        except ValidationFailed as exc:
            log.warning("stored config override ignored", node=node, key=key, error=exc.detail)
    return kept


def effective_changes(before: Mapping[str, Resolved], after: Mapping[str, Resolved]) -> list[ValueChange]:
    """Parameters whose effective value or source differs, by key."""
    return [
        ValueChange(key=key, before=before[key].read(), after=after[key].read())
        for key in sorted(after)
        if before[key] != after[key]
    ]


def override_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[OverrideChange]:
    """Overrides added, removed or changed between two snapshots, by key."""
    changes = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            changes.append(OverrideChange(key=key, change="removed", before=before[key]))
        elif key not in before:
            changes.append(OverrideChange(key=key, change="added", after=after[key]))
        elif before[key] != after[key]:
            changes.append(OverrideChange(key=key, change="changed", before=before[key], after=after[key]))
    return changes
