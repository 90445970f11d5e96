"""Numbers out of device answers: firmware sends "25", "25.000", "", "inf" or garbage for the same field.

Every adapter reads numbers from text (XML, key=value, SOAP), so the tolerant conversions live here
once: a field that does not hold a finite number reads as None, never as an exception.
"""

from __future__ import annotations

import math


def to_float(value: str | None) -> float | None:
    """A finite float, or None for a missing, empty, non-numeric or infinite value."""
    try:
        number = float(value) if value else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def to_int(value: str | None) -> int | None:
    """`to_float` truncated to an int ("25.000" → 25), or None."""
    number = to_float(value)
    return int(number) if number is not None else None


def clamp(value: float, low: float, high: float) -> float:
    """`value` kept within [low, high]."""
    return max(low, min(high, value))
