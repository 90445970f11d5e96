"""Every domain's tables, imported so Alembic sees the whole schema in one metadata."""

from vms import documents as document_models
from vms import outbox as outbox_models
from vms.audit import models as audit_models
from vms.auth import models as auth_models
from vms.cameras import models as camera_models
from vms.config import models as config_models
from vms.events import models as event_models
from vms.kernel.orm import Base
from vms.media import models as media_models
from vms.streaming import models as streaming_models
from vms.tenants import models as tenant_models
from vms.tickets import models as ticket_models
from vms.watchdog import models as watchdog_models

__all__ = [
    "Base",
    "audit_models",
    "auth_models",
    "camera_models",
    "config_models",
    "document_models",
    "event_models",
    "media_models",
    "outbox_models",
    "streaming_models",
    "tenant_models",
    "ticket_models",
    "watchdog_models",
]
