"""Routes for MP4 exports: create (background stream copy), list, get (progress), delete, download.

    POST   /exports                    start an export of a camera's range (202, queued)
    GET    /exports                    the customer's exports, newest first
    GET    /exports/{id}               status, progress and, when done, a signed download URL
    DELETE /exports/{id}               delete the file and its export hold
    GET    /exports/{id}/download      the MP4; HTTP Range resumes (Bearer or ?token=)

All need video:export (Supervisor, Admin). A camera or export of another customer is 404; a download
token that is expired, tampered or for another export is 403. Creation, completion, deletion and each
new download (a request starting at byte 0) are audit-logged.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from vms.api.deps import AppContainer, Paging, UoW, require
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.bootstrap import Container
from vms.cameras import service as cameras
from vms.kernel.errors import NotFound
from vms.streaming import delivery_api
from vms.streaming import export as exports
from vms.streaming.models import Export, ExportStatus
from vms.streaming.playback_api import MediaExporter, Stream, media_tokens, playback_settings, query_string
from vms.streaming.tokens import MediaTokenRefused


@contextlib.asynccontextmanager
async def exports_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """While the API serves nothing is needed; on shutdown, cuts still running are stopped and recorded as
    interrupted (failed, "ask for it again"), never left "running" for a cutter that no longer exists."""
    try:
        yield
    finally:
        runner: exports.ExportRunner | None = getattr(app.state, "export_runner", None)
        if runner is not None:
            app.state.export_runner = None
            await runner.close()


exports_router = APIRouter(prefix="/exports", tags=["exports"], lifespan=exports_lifespan)
Exporter = Annotated[Principal, Depends(require(Permission.EXPORT))]


# --- schemas ----------------------------------------------------------------------------------------


class ExportCreate(BaseModel):
    """An MP4 export of one camera over [start, end)."""

    camera_id: uuid.UUID = Field(description="The camera to export.")
    start: datetime = Field(description="Start of the range (UTC; a time without offset is UTC).")
    end: datetime = Field(description="End of the range; at most playback.max_export_s after start.")
    stream: Stream = Field("main", description="main (full resolution) or sub.")
    hold: exports.ExportHold = Field(
        exports.ExportHold.NONE,
        description="none: recordings held only while cutting; export: until the export is deleted; "
        "evidence: until a supervisor releases it (needs reference_id).",
    )
    reference_id: str | None = Field(
        None, min_length=1, max_length=100, description="Case or ticket number (required for an evidence hold)."
    )


class ExportRead(BaseModel):
    """An export and, when done, where to download it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="The export's id.")
    camera_id: uuid.UUID = Field(description="The exported camera.")
    stream: Stream = Field(description="The exported stream.")
    start: datetime = Field(description="Start of the range asked for (UTC).")
    end: datetime = Field(description="End of the range asked for (UTC).")
    status: ExportStatus = Field(description="queued | running | done | failed.")
    progress: float = Field(description="Share cut so far (0-1).")
    bytes: int | None = Field(description="Size of the MP4 when done.")
    duration_s: float | None = Field(description="Duration of the MP4 when done (wall-clock; gaps included).")
    sha256: str | None = Field(description="SHA-256 of the MP4 (chain of custody).")
    hold: str | None = Field(description="export | evidence when a lasting recording hold was placed.")
    reference_id: str | None = Field(description="Case number of an evidence hold.")
    error: str | None = Field(description="Why it failed, or a note on what was left out.")
    created_at: datetime = Field(description="When it was asked for.")
    finished_at: datetime | None = Field(description="When it was done or failed.")
    download_url: str | None = Field(description="Signed download URL (Range supported) while its token is valid.")


class ExportPage(BaseModel):
    """One page of exports."""

    items: list[ExportRead] = Field(description="Exports, newest first.")
    total: int = Field(description="All exports matching.")
    limit: int = Field(description="Page size.")
    offset: int = Field(description="Items skipped.")


# --- routes -------------------------------------------------------------------------------------------


async def get_export_runner(request: Request, container: AppContainer) -> exports.ExportRunner:
    """The app's export runner, made on first use (its tasks live in the app's event loop)."""
    runner: exports.ExportRunner | None = getattr(request.app.state, "export_runner", None)
    if runner is None:
        runner = exports.ExportRunner(
            unit_of_work=container.unit_of_work,
            blobs=container.blobs,
            work_dir=container.settings.data_dir / "exports-work",
            slots=playback_settings(container).max_exports_running,
        )
        request.app.state.export_runner = runner
    return runner


Runner = Annotated[exports.ExportRunner, Depends(get_export_runner)]


def _export_read(request: Request, container: Container, export: Export, user: Principal) -> ExportRead:
    url = None
    if export.status == ExportStatus.DONE:
        path = request.url_for("download_export", export_id=export.id)
        token = media_tokens(container).issue(
            user_id=user.user_id,
            tenant_id=export.tenant_id,
            session_id=user.session_id,
            role=user.role.value,
            camera_id=export.camera_id,
            scope=path.path,
            ttl_s=playback_settings(container).token_ttl_s,
        )
        url = f"{path}?{query_string(token=token)}"
    return ExportRead(
        id=export.id,
        camera_id=export.camera_id,
        stream="sub" if export.stream == "sub" else "main",
        start=export.starts_at,
        end=export.ends_at,
        status=ExportStatus(export.status),
        progress=export.progress,
        bytes=export.bytes,
        duration_s=export.duration_s,
        sha256=export.sha256,
        hold=export.hold,
        reference_id=export.reference_id,
        error=export.error,
        created_at=export.created_at,
        finished_at=export.finished_at,
        download_url=url,
    )


@exports_router.post("", status_code=202, response_model=ExportRead)
async def create_export(
    body: ExportCreate, request: Request, uow: UoW, user: Exporter, container: AppContainer, runner: Runner
) -> ExportRead:
    """Start an MP4 export (stream copy) of a camera's range; poll it for progress, then download it."""
    await cameras.get_camera(uow=uow, camera_id=body.camera_id)
    export = await exports.create_export(
        uow=uow,
        tenant_id=user.tenant,
        camera_id=body.camera_id,
        start=body.start,
        end=body.end,
        stream=body.stream,
        max_s=playback_settings(container).max_export_s,
        hold=body.hold,
        reference_id=body.reference_id,
        requested_by=user.user_id,
    )
    await uow.commit()  # the cutter reads the row from its own unit of work
    runner.submit(export.id, tenant_id=export.tenant_id)
    return _export_read(request, container, export, user)


@exports_router.get("", response_model=ExportPage)
async def list_exports(
    request: Request,
    uow: UoW,
    user: Exporter,
    page: Paging,
    container: AppContainer,
    camera_id: uuid.UUID | None = None,
) -> ExportPage:
    """The customer's exports, newest first."""
    items, total = await exports.list_exports(uow=uow, camera_id=camera_id, limit=page.limit, offset=page.offset)
    return ExportPage(
        items=[_export_read(request, container, e, user) for e in items],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@exports_router.get("/{export_id}", response_model=ExportRead)
async def get_export(
    export_id: uuid.UUID, request: Request, uow: UoW, user: Exporter, container: AppContainer
) -> ExportRead:
    """One export: status, progress and, when done, a signed download URL."""
    return _export_read(request, container, await exports.get_export(uow=uow, export_id=export_id), user)


@exports_router.delete("/{export_id}", status_code=204, response_class=Response)
async def delete_export(export_id: uuid.UUID, uow: UoW, _: Exporter, container: AppContainer) -> Response:
    """Delete an export's file and its export hold (an evidence hold stays until released)."""
    await exports.delete_export(uow=uow, blobs=container.blobs, export_id=export_id)
    return Response(status_code=204)


@exports_router.get("/{export_id}/download", response_class=Response, name="download_export")
async def download_export(
    export_id: uuid.UUID, request: Request, viewer: MediaExporter, container: AppContainer
) -> Response:
    """The export's MP4; `Range: bytes=N-` resumes an interrupted download (206), `If-Range` guards against a
    changed file."""
    export = await exports.get_export(uow=viewer.uow, export_id=export_id)
    if viewer.claims is not None and viewer.claims.camera_id != export.camera_id:
        raise MediaTokenRefused("The media token is for another camera.")
    if export.status != ExportStatus.DONE or not export.blob_key or export.bytes is None:
        raise NotFound(f"Export {export_id} is {export.status}; download it when it is done.")
    response, wanted = await delivery_api.ranged_response(
        container.blobs,
        export.blob_key,
        size=export.bytes,
        media_type="video/mp4",
        etag=f'"{export.sha256}"',
        range_header=request.headers.get("range"),
        if_range=request.headers.get("if-range"),
        headers={
            "Content-Disposition": f'attachment; filename="export-{export.camera_id}-{export.id}.mp4"',
            "Cache-Control": "private, no-transform",
        },
    )
    if wanted is None or wanted[0] == 0:  # a new download (a resumed one is the same view)
        viewer.uow.audit("download", "export", export.id, new={"camera_id": str(export.camera_id), "via": viewer.via})
    return response
