"""Request and response shapes of the tenants domain."""

from __future__ import annotations

import ipaddress
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, model_validator

from vms.kernel.ai_models import AiModel
from vms.kernel.paging import Page


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IP network in CIDR notation (e.g. 203.0.113.0/24)") from exc


Cidr = Annotated[str, Field(max_length=64), AfterValidator(_cidr)]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]


class Strict(BaseModel):
    """Unknown fields are refused, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid")


class LicenseWrite(Strict):
    """A customer's license terms."""

    camera_limit: int = Field(ge=0, le=1_000_000, description="Most cameras the customer may add.")
    edge_server_limit: int = Field(0, ge=0, le=10_000, description="Most on-premise edge servers.")
    valid_from: datetime = Field(description="Start of validity (UTC).")
    valid_until: datetime = Field(description="End of validity (UTC); the license is expired after it.")
    models: list[AiModel] = Field(default_factory=list, description="AI models purchased (of the ten).")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "camera_limit": 500,
                    "edge_server_limit": 2,
                    "valid_from": "2026-01-01T00:00:00Z",
                    "valid_until": "2027-01-01T00:00:00Z",
                    "models": ["intrusion", "fire_smoke", "anpr"],
                }
            ]
        },
    )

    @model_validator(mode="after")
    def _window_is_ordered(self) -> LicenseWrite:
        if self.valid_from.tzinfo is None or self.valid_until.tzinfo is None:
            raise ValueError("license dates need a timezone (use Z for UTC)")
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        self.models = sorted(set(self.models))
        return self


class LicenseState(StrEnum):
    """Where a license stands today."""

    ACTIVE = "active"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"


class LicenseRead(BaseModel):
    """A license with its computed state and expiry warning."""

    camera_limit: int
    edge_server_limit: int
    valid_from: datetime
    valid_until: datetime
    models: list[AiModel]
    state: LicenseState
    days_left: int = Field(description="Whole days until valid_until (negative once expired).")
    warning: str | None = Field(None, description="Expiry warning at 30, 7 and 1 days, or the expired notice.")


class CustomerCreate(Strict):
    """A new customer and its first license."""

    name: Name
    contact_email: EmailStr | None = None
    ip_allowlist: list[Cidr] = Field(default_factory=list, max_length=100)
    license: LicenseWrite


class CustomerUpdate(Strict):
    """Fields provider staff may change on a customer."""

    name: Name | None = None
    contact_email: EmailStr | None = None
    status: Annotated[str, Field(pattern="^(active|suspended)$")] | None = None
    ip_allowlist: list[Cidr] | None = Field(None, max_length=100)


class CustomerSecurityUpdate(Strict):
    """What a customer's Admin may change about access to their account."""

    ip_allowlist: list[Cidr] = Field(
        max_length=100, description="CIDRs allowed to use the API; empty allows every address."
    )


class CustomerRead(BaseModel):
    """A customer as provider staff see it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    contact_email: str | None
    status: str
    ip_allowlist: list[str]
    created_at: datetime
    license: LicenseRead | None = None


CustomerPage = Page[CustomerRead]
