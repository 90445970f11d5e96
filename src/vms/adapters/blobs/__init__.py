"""Blob adapters: local filesystem (single box, edge) and S3."""

from __future__ import annotations

from vms.kernel.errors import ValidationFailed


def check_key(key: str) -> list[str]:
    """A key's `/`-separated segments; ValidationFailed for keys that could escape a store's root
    (empty, absolute, `.`/`..` or empty segments, NUL), so every adapter accepts the same keys."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\x00" in key:
        raise ValidationFailed(f"Invalid blob key {key!r}.")
    return parts


def check_range(key: str, first: int, last: int) -> None:
    """ValidationFailed for a byte range no store can serve (negative start, end before start)."""
    if first < 0 or last < first:
        raise ValidationFailed(f"Invalid byte range {first}-{last} of blob {key}.")


def past_the_end(key: str, first: int, size: int) -> ValidationFailed:
    """The error for a range that starts at or after the end of an object of `size` bytes."""
    return ValidationFailed(f"Blob {key} has {size} bytes; a range cannot start at {first}.")
