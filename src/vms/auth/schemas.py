"""Request and response shapes of the identity domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from vms.auth.permissions import Role
from vms.kernel.paging import Page

Password = Annotated[str, Field(min_length=1, max_length=256)]
OneTimeCode = Annotated[str, Field(min_length=6, max_length=32, description="6-digit TOTP code or a recovery code.")]


class Strict(BaseModel):
    """Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class SignIn(Strict):
    """Step 1: email and password."""

    email: EmailStr
    password: Password

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "admin@acme.example", "password": "S3cure-Passphrase!"}]},
    )


class MfaChallenge(BaseModel):
    """Step 1's answer: no token yet, only a challenge for the second factor."""

    mfa_token: str = Field(description="Send back with the code to /auth/mfa; valid a few minutes.")
    enrollment_required: bool = Field(description="True on first sign-in: scan the QR code first.")
    otpauth_uri: str | None = Field(None, description="otpauth:// URI to show as a QR code (enrolment only).")
    secret: str | None = Field(None, description="The same seed for manual entry (enrolment only).")


class MfaVerify(Strict):
    """Step 2: the challenge and a TOTP or recovery code."""

    mfa_token: str = Field(max_length=4096)
    code: OneTimeCode


class TokenPair(BaseModel):
    """Tokens for a signed-in session."""

    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    session_id: uuid.UUID
    recovery_codes: list[str] | None = Field(
        None, description="Shown once, right after MFA enrolment: store them somewhere safe."
    )


class Refresh(Strict):
    """A refresh token to exchange (it is used up)."""

    refresh_token: str = Field(max_length=512)


class RecoveryCodesRenew(Strict):
    """Renewing recovery codes needs a current TOTP code."""

    code: OneTimeCode


class RecoveryCodes(BaseModel):
    """Fresh recovery codes; the old ones stop working."""

    recovery_codes: list[str]


class StreamTicket(BaseModel):
    """A one-time ticket for opening an event stream (EventSource, WebSocket) as `?ticket=`."""

    ticket: str
    expires_in_s: int = Field(description="Seconds the ticket stays valid; it works once.")


class PasswordChange(Strict):
    """Change one's own password."""

    current_password: Password
    new_password: Password


class SessionRead(BaseModel):
    """A signed-in device."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool = False


ScopeNodes = Annotated[list[uuid.UUID], Field(max_length=20)]


class UserCreate(Strict):
    """A new user of a customer; they enrol MFA at first sign-in."""

    email: EmailStr
    full_name: str = Field("", max_length=200)
    role: Role
    password: Password = Field(description="Initial password; must meet the password policy.")
    scope_node_ids: ScopeNodes = Field(
        default_factory=list,
        description="Limit a Supervisor or Viewer to these sites/buildings/floors/zones; empty: the whole customer.",
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "guard@acme.example",
                    "full_name": "Night Guard",
                    "role": "viewer",
                    "password": "Gate-House-2026!",
                }
            ]
        },
    )


class UserUpdate(Strict):
    """Fields an Admin may change on a user."""

    full_name: str | None = Field(None, max_length=200)
    role: Role | None = None
    is_active: bool | None = None
    scope_node_ids: ScopeNodes | None = Field(
        None, description="Tree nodes the user is limited to; [] lifts the limit. Changing it signs the user out."
    )


class UserRead(BaseModel):
    """A user as Admins and the user see them (never hashes or seeds)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tenant_id: uuid.UUID | None
    email: str
    full_name: str
    role: Role
    is_active: bool
    mfa_enrolled: bool
    scope_node_ids: list[uuid.UUID] = Field(description="Tree nodes the user is limited to; empty: the whole customer.")
    locked_until: datetime | None
    last_sign_in_at: datetime | None
    created_at: datetime


UserPage = Page[UserRead]
