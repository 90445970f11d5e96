"""Numbers read from device answers: what firmware really sends for a numeric field reads as a number or None."""

from __future__ import annotations

import pytest

from vms.cameras.devices.numbers import clamp, to_float, to_int


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("25", 25.0),
        ("25.000", 25.0),
        (" 7.5 ", 7.5),
        ("", None),
        (None, None),
        ("abc", None),
        ("inf", None),
        ("nan", None),
    ],
)
def test_a_field_reads_as_a_finite_float_or_none(text: str | None, expected: float | None) -> None:
    assert to_float(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("101", 101), ("25.9", 25), ("-900", -900), ("1e400", None), ("x", None)]
)
def test_an_integer_field_truncates_and_refuses_what_is_not_finite(text: str, expected: int | None) -> None:
    assert to_int(text) == expected


def test_clamp_keeps_a_value_within_its_bounds() -> None:
    assert (clamp(-3, -1, 1), clamp(0.25, -1, 1), clamp(9, -1, 1)) == (-1, 0.25, 1)
