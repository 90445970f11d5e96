"""Response shapes of the audit domain."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from vms.kernel.paging import Page
from vms.ports import AuditEntry

AuditPage = Page[AuditEntry]

BreakReason = Literal["edited", "missing", "reordered", "downgraded", "unverifiable"]


class AuditChainBreak(BaseModel):
    """The first place where a chain does not hold, and why."""

    seq: int = Field(description="Sequence number of the first record that fails the check.")
    id: uuid.UUID = Field(description="Id of that record.")
    reason: BreakReason = Field(
        description=(
            "edited: its content no longer matches its hash (or names another chain); "
            "missing: records before it are gone (a gap in seq); "
            "reordered: it does not link to the record before it (moved, inserted, or its predecessor replaced); "
            "downgraded: an unkeyed link after keyed ones (forged without the key); "
            "unverifiable: keyed links but no chain key configured to check them."
        )
    )
    expected: str | None = Field(description="What the check computed or expected (a hash, a seq, an algorithm).")
    found: str | None = Field(description="What the record holds instead.")
    detail: str = Field(description="The finding in words.")


class AuditChainReport(BaseModel):
    """Outcome of walking one tenant's audit hash chain from its first record to its head."""

    chain: str = Field(description='The chain checked: a customer id, or "platform" for provider records.')
    ok: bool = Field(description="True when every link holds and no record lacks a link.")
    records_checked: int = Field(ge=0, description="Links examined, up to and including the first broken one.")
    unchained: int = Field(ge=0, description="Records of this customer that carry no link (inserted around the app).")
    head_seq: int | None = Field(description="Seq of the last record examined; None for an empty chain.")
    head_hash: str | None = Field(
        description="Hash of the last record examined. Keep it somewhere else: a later report whose chain no "
        "longer contains this seq with this hash shows the tail was cut off, which the chain alone cannot."
    )
    first_keyed_seq: int | None = Field(
        description="First seq linked with the HMAC chain key; records before it are plain SHA-256 (written "
        "before a key was configured), and only keyed links resist a forger who rewrites the whole chain."
    )
    broken: AuditChainBreak | None = Field(description="The first broken link; None when the chain holds.")
