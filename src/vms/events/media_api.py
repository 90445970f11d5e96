"""Routes: an event's clip and snapshot, and the signed URLs that reach them.

Video elements and <img> tags cannot send an Authorization header, so the clip and snapshot URLs
in every event the API returns carry a media token (vms.streaming.tokens) bound to the viewer, the
event's path and an expiry. The expiry is rounded up to the next `URL_BUCKET`, so a viewer gets the
same URL for a while and a CDN or the browser can cache the clip; it stays valid between one and
two buckets. A clip of another customer is 404; an expired or tampered token is 403.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response

from vms.api.deps import AppContainer
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.bootstrap import Container
from vms.events.models import Event
from vms.events.schemas import EventRead
from vms.events.service import MEDIA_PATH
from vms.kernel.clock import utcnow
from vms.kernel.errors import NotFound
from vms.streaming.delivery_api import ranged_response
from vms.streaming.playback_api import Viewer, media_tokens, media_viewer

router = APIRouter(prefix="/events", tags=["events"])
URL_BUCKET = timedelta(minutes=10)
EventViewer = Annotated[Viewer, Depends(media_viewer(Permission.EVENT_READ))]
CACHE = "private, max-age=600"  # a clip never changes once cut


def _expiry(now: datetime) -> datetime:
    bucket = URL_BUCKET.total_seconds()
    return datetime.fromtimestamp((math.floor(now.timestamp() / bucket) + 2) * bucket, UTC)


def sign_media_urls(
    read: EventRead, user: Principal, container: Container, *, now: datetime | None = None
) -> EventRead:
    """The event with its clip and snapshot URLs signed for `user` (URLs hosted elsewhere are left alone)."""
    prefix = f"{MEDIA_PATH}/{read.event_id}/"
    if not any(u and u.startswith(prefix) for u in (read.clip_url, read.snapshot_url)):
        return read
    token = media_tokens(container).issue(
        user_id=user.user_id,
        tenant_id=user.tenant,
        camera_id=read.camera_id,
        scope=prefix,
        expires_at=_expiry(now or utcnow()),
        session_id=user.session_id,
        role=user.role.value,
    )
    signed = {
        name: f"{url}?token={token}"
        for name, url in (("clip_url", read.clip_url), ("snapshot_url", read.snapshot_url))
        if url and url.startswith(prefix)
    }
    return read.model_copy(update=signed)


async def _blob(request: Request, viewer: Viewer, container: Container, event_id: uuid.UUID, *, kind: str) -> Response:
    event = await viewer.uow.get(Event, event_id, what="Event")
    key = event.clip_key if kind == "clip" else event.snapshot_key
    if key is None:
        raise NotFound(f"Event {event_id} has no {kind} (yet): {event.clip_error or 'it is cut after the post-roll'}.")
    if viewer.claims is not None and viewer.claims.camera_id != event.camera_id:
        raise NotFound(f"Event {event_id} not found.")
    media_type = "video/mp4" if kind == "clip" else "image/jpeg"
    path = await container.blobs.local_path(key)
    if path is not None:  # the filesystem store: Starlette answers Range requests (seeking) itself
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": CACHE})
    # Object storage: ranged reads, so seeking in the clip fetches only the bytes the player asks for.
    response, _ = await ranged_response(
        container.blobs,
        key,
        size=await container.blobs.size(key),
        media_type=media_type,
        etag=f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"',  # a cut clip never changes under its key
        range_header=request.headers.get("range"),
        if_range=request.headers.get("if-range"),
        headers={"Cache-Control": CACHE},
    )
    return response


@router.get("/{event_id}/clip.mp4", response_class=FileResponse, responses={200: {"content": {"video/mp4": {}}}})
async def get_event_clip(
    event_id: uuid.UUID, request: Request, viewer: EventViewer, container: AppContainer
) -> Response:
    """The event's 20 s clip (Bearer, or the signed URL from the event's `clipUrl`); Range requests seek."""
    return await _blob(request, viewer, container, event_id, kind="clip")


@router.get("/{event_id}/snapshot.jpg", response_class=FileResponse, responses={200: {"content": {"image/jpeg": {}}}})
async def get_event_snapshot(
    event_id: uuid.UUID, request: Request, viewer: EventViewer, container: AppContainer
) -> Response:
    """The frame at the event's moment (Bearer, or the signed URL from the event's `snapshotUrl`)."""
    return await _blob(request, viewer, container, event_id, kind="snapshot")
