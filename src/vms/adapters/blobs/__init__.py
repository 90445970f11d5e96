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
