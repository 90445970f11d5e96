"""Response shapes of the audit domain."""

from __future__ import annotations

from vms.kernel.paging import Page
from vms.ports import AuditEntry

AuditPage = Page[AuditEntry]
