"""Ticket shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, model_validator

from vms.kernel.paging import Page
from vms.kernel.priority import Priority
from vms.tickets.models import TicketStatus, TicketSystemKind


class TicketCreate(BaseModel):
    """What an operator adds when escalating (the rest comes from the event)."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=200, description="Default: the event's type and camera.")
    description: str = Field("", max_length=8000, description="What needs doing.")
    priority: Priority | None = Field(None, description="Default: the event's priority.")
    assignee: str | None = Field(None, max_length=320, description="Who should handle it (name or email).")


class TicketUpdate(BaseModel):
    """Change a ticket's status, assignee or description."""

    model_config = ConfigDict(extra="forbid")

    status: TicketStatus | None = None
    assignee: str | None = Field(None, max_length=320)
    description: str | None = Field(None, max_length=8000)


class TicketRead(BaseModel):
    """A ticket."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_id: uuid.UUID | None
    camera_id: uuid.UUID | None
    title: str
    description: str
    priority: Priority
    status: TicketStatus
    assignee: str | None
    system: str = Field(description="Where the ticket lives: builtin, or an external tracker.")
    external_id: str | None = Field(description="The tracker's id (ServiceNow sys_id, Jira key) once delivered.")
    external_key: str | None = Field(None, description="What people quote: INC0010001, SEC-24.")
    external_url: str | None = Field(None, description="Where the ticket opens in the tracker.")
    external_status: str | None = Field(None, description="The tracker's own status word at the last sync.")
    sync_error: str | None = Field(None, description="Why delivery or the last sync failed; retried automatically.")
    next_sync_at: datetime | None = Field(None, description="When the ticket sync tries again.")
    synced_at: datetime | None = Field(None, description="Last successful exchange with the tracker.")
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime | None


TicketPage = Page[TicketRead]


class IntegrationUpdate(BaseModel):
    """The customer's ticket system. Secrets are write-only: leave `secret` out to keep the stored one."""

    model_config = ConfigDict(extra="forbid")

    system: TicketSystemKind = Field(description="builtin (no tracker), servicenow or jira.")
    base_url: AnyHttpUrl | None = Field(
        None, description="The tracker's base URL: https://acme.service-now.com, https://acme.atlassian.net."
    )
    auth: Literal["basic", "bearer"] = Field(
        "basic", description="basic: user + password/API token; bearer: an OAuth or personal access token."
    )
    username: str | None = Field(
        None, min_length=1, max_length=320, description="ServiceNow user name, or the Jira account's email."
    )
    secret: SecretStr | None = Field(
        None, description="Password, API token or bearer token; stored encrypted, never returned."
    )
    project_key: str | None = Field(
        None, pattern=r"^[A-Z][A-Z0-9_]{0,49}$", description="Jira: the project issues go to (e.g. SEC)."
    )
    issue_type: str = Field("Task", min_length=1, max_length=60, description="Jira: the issue type.")
    caller: str | None = Field(None, max_length=320, description="ServiceNow: caller_id (a user sys_id or user name).")
    assignment_group: str | None = Field(None, max_length=200, description="ServiceNow: assignment group.")
    category: str | None = Field(None, max_length=100, description="ServiceNow: incident category.")
    console_url: AnyHttpUrl | None = Field(
        None, description="This console's address, for links from tickets back to events (default: as called)."
    )

    @model_validator(mode="after")
    def _complete_for_its_system(self) -> IntegrationUpdate:
        if self.system is TicketSystemKind.BUILTIN:
            return self
        if self.base_url is None:
            raise ValueError(f"{self.system.value} needs base_url")
        if self.base_url.scheme not in ("http", "https"):
            raise ValueError("base_url must be http or https")
        if self.auth == "basic" and not self.username:
            raise ValueError("basic auth needs username (ServiceNow user, or the Jira account's email)")
        if self.system is TicketSystemKind.JIRA and not self.project_key:
            raise ValueError("jira needs project_key")
        return self


class IntegrationRead(BaseModel):
    """The customer's ticket system as configured (no secret, only whether one is stored)."""

    system: TicketSystemKind
    base_url: str | None = None
    auth: Literal["basic", "bearer"] = "basic"
    username: str | None = None
    has_secret: bool = Field(False, description="Whether a password or token is stored.")
    project_key: str | None = None
    issue_type: str | None = None
    caller: str | None = None
    assignment_group: str | None = None
    category: str | None = None
    console_url: str | None = None
    updated_at: datetime | None = None


class IntegrationCheck(BaseModel):
    """A passed connection test (a failed one answers 422 or 503 with what is wrong)."""

    system: TicketSystemKind
    message: str = Field(description="What was reached.")
