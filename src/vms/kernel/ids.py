"""Identifier types. UUIDv4 everywhere; NewType keeps tenant and user ids apart in signatures."""

from __future__ import annotations

import uuid
from typing import NewType

TenantId = NewType("TenantId", uuid.UUID)
UserId = NewType("UserId", uuid.UUID)


def new_id() -> uuid.UUID:
    """A fresh random id."""
    return uuid.uuid4()
