"""Routes for runtime degradation warnings (media.degradation): a camera's stream falls short of an
enabled model's requirements.

`GET /cameras/{camera_id}/warnings` for one camera (a camera of another customer is 404, like a
missing one) and `GET /camera-warnings` for the customer's whole fleet (which cameras are degraded
now, for a dashboard or an alert's drill-down). Both need camera:read; newest first, paginated.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from vms.api.deps import Paging, UoW, require
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.cameras import service as cameras
from vms.kernel.ai_models import AiModel
from vms.media import degradation
from vms.media.degradation import Requirement
from vms.media.models import CameraWarning

router = APIRouter(tags=["cameras"])
Reader = Annotated[Principal, Depends(require(Permission.CAMERA_READ))]
ActiveOnly = Annotated[bool, Query(description="Only warnings not cleared yet; false adds the cleared ones.")]


class CameraWarningRead(BaseModel):
    """A camera stream that falls (or fell) short of an enabled model's requirement."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    camera_id: uuid.UUID
    stream: str = Field(description="The stream the model runs on: main or sub.")
    model: AiModel
    requirement: Requirement
    measured: float = Field(description="Lines (short side), kbit/s or frames per second, as measured.")
    required: float
    message: str = Field(description="E.g. 'fps 8 < 15 required by fallen'.")
    raised_at: datetime
    updated_at: datetime
    cleared_at: datetime | None = Field(description="When the stream recovered; null while the warning stands.")


class CameraWarningPage(BaseModel):
    """One page of warnings."""

    items: list[CameraWarningRead]
    total: int
    limit: int
    offset: int


@router.get("/cameras/{camera_id}/warnings", response_model=CameraWarningPage)
async def list_camera_warnings(
    camera_id: uuid.UUID, uow: UoW, _: Reader, page: Paging, active: ActiveOnly = True
) -> CameraWarningPage:
    """A camera's degradation warnings, newest first."""
    await cameras.get_camera(uow=uow, camera_id=camera_id)  # 404 for a missing or foreign camera
    items, total = await degradation.list_warnings(
        uow=uow, camera_id=camera_id, active_only=active, model=None, limit=page.limit, offset=page.offset
    )
    return _page(items, total, page.limit, page.offset)


@router.get("/camera-warnings", response_model=CameraWarningPage)
async def list_fleet_warnings(
    uow: UoW, _: Reader, page: Paging, active: ActiveOnly = True, model: AiModel | None = None
) -> CameraWarningPage:
    """The customer's degradation warnings across cameras (optionally one model's), newest first."""
    items, total = await degradation.list_warnings(
        uow=uow, camera_id=None, active_only=active, model=model, limit=page.limit, offset=page.offset
    )
    return _page(items, total, page.limit, page.offset)


def _page(items: list[CameraWarning], total: int, limit: int, offset: int) -> CameraWarningPage:
    return CameraWarningPage(
        items=[CameraWarningRead.model_validate(w) for w in items], total=total, limit=limit, offset=offset
    )
