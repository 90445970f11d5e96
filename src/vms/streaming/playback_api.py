"""Routes for playback: timelines, signed media URLs, HLS (live and VOD, ABR), segments, MP4 exports.

    GET    /cameras/{id}/timeline                      recorded ranges, gaps, events (Bearer)
    GET    /playback/timeline?camera_ids=a,b           the same window for several cameras (Bearer)
    POST   /playback/urls                              signed media URLs for one or more cameras (Bearer)
    GET    /cameras/{id}/hls/live/master.m3u8          live ABR master: main + sub variants
    GET    /cameras/{id}/hls/live/{stream}.m3u8        live sliding window of the newest segments
    GET    /cameras/{id}/hls/vod/master.m3u8?start&end VOD ABR master for a time range (at=: start there)
    GET    /cameras/{id}/hls/vod/{stream}.m3u8?start&end
    GET    /cameras/{id}/hls/segments/{stream}-{µs}.ts one segment, remuxed to MPEG-TS
    GET    /cameras/{id}/hls/thumbnail.jpg?at=         a JPEG of the recording at a moment
    GET    /cameras/{id}/hls/t/{token}/…               any of the HLS routes above, token in the path

Exports live beside it in export_api.py and share its media access.

Media routes (HLS, thumbnails and the export download) accept either `Authorization: Bearer` or `?token=` — a
short-lived signed media token (streaming/tokens.py), because video elements cannot send headers. HLS
URLs may also carry the token as a path segment, `/cameras/{id}/hls/t/{token}/…` (what `/playback/urls`
hands out): a player resolves the playlist's relative URIs against that path, so every variant and
segment inherits the token and a 24 h playlist names each segment in ~40 bytes instead of repeating a
~400-byte token 17,280 times. Playlists reached any other way point their variants and segments into
that form (with the caller's token, or a fresh one for a Bearer caller).

A camera of another customer is 404, like a missing one; a token that is expired, tampered or for another
camera or URL is 403. Every view is audit-logged: each master and VOD playlist fetch and each new export
download (live playlist reloads at most once per user, camera and `playback.view_audit_interval_s`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from vms.api.deps import AppContainer, UoW, admit, bearer, client_ip, get_principal, require
from vms.auth.permissions import Permission, Role
from vms.auth.principal import Principal
from vms.auth.service import is_session_revoked
from vms.bootstrap import Container
from vms.cameras import hierarchy
from vms.cameras import service as cameras
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.errors import NotFound, ValidationFailed
from vms.kernel.ids import TenantId
from vms.kernel.tenancy import TenantScope
from vms.media import service as media
from vms.settings import PlaybackSettings
from vms.streaming import hls, timeline
from vms.streaming.tokens import MediaClaims, MediaTokenRefused, MediaTokens
from vms.uow import Actor, UnitOfWork

router = APIRouter(tags=["playback"])
Reader = Annotated[Principal, Depends(require(Permission.PLAYBACK))]
Stream = Literal["main", "sub"]
STREAMS: tuple[Stream, ...] = ("main", "sub")
PLAYLIST = "application/vnd.apple.mpegurl"
MAX_CAMERAS = 16  # one synchronised view
MASTER_SAMPLE = timedelta(minutes=10)  # of a VOD range, read to describe its variants


# --- schemas ----------------------------------------------------------------------------------------


class SpanRead(BaseModel):
    """A stretch of time."""

    start: datetime = Field(description="Inclusive start (UTC).")
    end: datetime = Field(description="Exclusive end (UTC).")
    seconds: float = Field(description="Length in seconds.")


class TimelineEvent(BaseModel):
    """An event drawn on the timeline."""

    id: uuid.UUID = Field(description="The event's id (see /events/{id}).")
    event_type: str = Field(description="Which analytic raised it (fire_smoke, intrusion …).")
    at: datetime = Field(description="When it began (UTC).")
    ended_at: datetime | None = Field(description="When it ended; null while ongoing.")
    priority: str = Field(description="critical | high | standard.")
    status: str = Field(description="new | acknowledged | resolved | false_positive.")
    clip_url: str | None = Field(description="The event's 20 s clip, when cut.")
    thumbnail_url: str | None = Field(description="Signed URL of a JPEG of the recording at the event's start.")


class TimelineRead(BaseModel):
    """One camera's recorded ranges, gaps and events over a window."""

    camera_id: uuid.UUID = Field(description="The camera.")
    stream: Stream = Field(description="Which stream the ranges describe.")
    start: datetime = Field(description="Start of the window (UTC).")
    end: datetime = Field(description="End of the window (UTC).")
    recorded_s: float = Field(description="Recorded seconds in the window.")
    coverage: float = Field(description="Recorded share of the window (0-1).")
    ranges: list[SpanRead] = Field(description="Recorded stretches, oldest first; holes within the tolerance merged.")
    gaps: list[SpanRead] = Field(description="Stretches with no recording, oldest first.")
    events: list[TimelineEvent] = Field(description="Events in the window, newest first (at most 500).")
    events_total: int = Field(description="All events in the window, also those not listed.")


class MultiTimelineRead(BaseModel):
    """Several cameras over the same window: a synchronised playback view."""

    start: datetime = Field(description="Start of the shared window (UTC).")
    end: datetime = Field(description="End of the shared window (UTC).")
    cameras: list[TimelineRead] = Field(description="One timeline per camera, in the order asked for.")


class UrlsCreate(BaseModel):
    """Which cameras and (optionally) which time range to get signed media URLs for."""

    camera_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_CAMERAS, description="Cameras to play.")
    start: datetime | None = Field(None, description="Start of a recorded range to play (VOD); with 'end'.")
    end: datetime | None = Field(None, description="End of the recorded range (VOD); with 'start'.")
    at: datetime | None = Field(None, description="Where VOD playback begins (seek); inside [start, end).")


class CameraUrls(BaseModel):
    """Signed media URLs of one camera; they expire at `expires_at`."""

    camera_id: uuid.UUID = Field(description="The camera.")
    live_master: str = Field(description="Live HLS master playlist (main and sub variants).")
    vod_master: str | None = Field(description="VOD HLS master playlist of [start, end); null without a range.")
    expires_at: datetime = Field(description="When the URLs' token expires; ask again before.")


class UrlsRead(BaseModel):
    """Signed media URLs for each camera asked for (same range: play them side by side in sync)."""

    cameras: list[CameraUrls] = Field(description="One entry per camera, in the order asked for.")


# --- helpers ------------------------------------------------------------------------------------------

_TOKENS: dict[str, MediaTokens] = {}


def media_tokens(container: Container) -> MediaTokens:
    """The signer for this process's secret (one per secret, built once)."""
    secret = container.settings.security.jwt_secret
    if secret not in _TOKENS:
        _TOKENS[secret] = MediaTokens(secret=secret)
    return _TOKENS[secret]


def playback_settings(container: Container) -> PlaybackSettings:
    """The playback settings of this process."""
    return container.settings.playback


def _window(start: datetime, end: datetime, *, max_s: float, what: str) -> tuple[datetime, datetime]:
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise ValidationFailed("'end' must come after 'start'.")
    if (end - start).total_seconds() > max_s:
        raise ValidationFailed(f"A {what} covers at most {max_s / 3600:g} h; ask for a shorter range.")
    return start, end


def hls_scope(request: Request, camera_id: uuid.UUID) -> str:
    """The URL prefix a camera's HLS token opens: …/cameras/{id}/hls/."""
    return request.url_for("get_live_master", camera_id=camera_id).path.removesuffix("live/master.m3u8")


def query_string(**values: object) -> str:
    """A URL query of the non-empty values, times as ISO 8601 UTC."""
    return urlencode({k: (as_utc(v).isoformat() if isinstance(v, datetime) else v) for k, v in values.items() if v})


@dataclass
class Viewer:
    """Who fetches media, how they proved it, and their unit of work."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    session_id: uuid.UUID
    role: str
    claims: MediaClaims | None  # set when the request came with a media token
    token: str | None
    uow: UnitOfWork
    token_in_path: bool = False  # …/hls/t/{token}/…: relative URIs in a playlist carry the token by themselves

    @property
    def via(self) -> str:
        """token | bearer, for the audit record."""
        return "token" if self.claims else "bearer"


def media_viewer(permission: Permission) -> Callable[..., AsyncIterator[Viewer]]:
    """A dependency admitting `?token=` (checked against this URL and camera) or a Bearer token with `permission`."""

    async def dependency(
        request: Request,
        container: AppContainer,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        token: Annotated[
            str | None, Query(max_length=2048, description="Signed media token (instead of a Bearer header).")
        ] = None,
    ) -> AsyncIterator[Viewer]:
        claims: MediaClaims | None = None
        if token is not None:
            raw_camera = request.path_params.get("camera_id")
            try:
                camera = uuid.UUID(str(raw_camera)) if raw_camera else None
            except ValueError:
                camera = None  # the route's own validation answers 422
            claims = media_tokens(container).verify(token, camera_id=camera, path=request.url.path)
            try:
                role = Role(claims.role or "")
            except ValueError:
                role = None
            if claims.session_id is None or role is None:
                raise MediaTokenRefused("The media token names no session or role; ask the API for a new media URL.")
            if await is_session_revoked(container.cache, claims.session_id):
                raise MediaTokenRefused("The session this media URL was issued to has signed out.")
            holder = Principal(
                user_id=claims.user_id,
                email="",
                role=role,
                tenant_id=TenantId(claims.tenant_id),
                session_id=claims.session_id,
            )
            holder.require(permission)
            # The same admission as a Bearer request: rate limits, customer active, IP allowlist.
            await admit(request, container, holder)
        else:
            holder = await get_principal(request, container, credentials)
            holder.require(permission)
        user_id, tenant_id, session_id = holder.user_id, holder.tenant, holder.session_id
        actor = Actor(user_id=user_id, request_id=request.state.request_id, ip=client_ip(request, container))
        scope = TenantScope.of(TenantId(tenant_id))
        async with container.unit_of_work(scope, actor) as uow:
            if holder.scope:  # a bearer caller limited to part of the site tree (media tokens name one camera)
                uow.narrow(scope.within(await hierarchy.scope_part(uow=uow, node_ids=holder.scope)))
            try:
                in_path = claims is not None and bool(getattr(request.state, PATH_TOKEN_FLAG, False))
                yield Viewer(user_id, tenant_id, session_id, holder.role.value, claims, token, uow, in_path)
                await uow.commit()
            except BaseException:
                await uow.rollback()
                raise

    return dependency


MediaReader = Annotated[Viewer, Depends(media_viewer(Permission.PLAYBACK), scope="function")]
MediaExporter = Annotated[Viewer, Depends(media_viewer(Permission.EXPORT), scope="function")]


PATH_TOKEN_FLAG = "media_token_in_path"


class PathTokenRoute:
    """ASGI endpoint of `/cameras/{camera_id}/hls/t/{media_token}/{rest}`: serves `…/hls/{rest}?token=…`.

    The scope is rewritten in place (so the access log and the metrics see the plain route, never the
    token) and routed again by the app's router, which runs the ordinary HLS route with its usual
    checks: the token is verified against the camera and the rewritten path. A token also given in the
    query is dropped; the one in the path counts.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = scope["path_params"]["media_token"]
        marker = f"/hls/t/{token}/"
        head, _, tail = scope["path"].rpartition(marker)
        scope["path"] = f"{head}/hls/{tail}"
        scope["raw_path"] = scope["path"].encode()
        query = [(k, v) for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1")) if k != "token"]
        scope["query_string"] = urlencode([*query, ("token", token)]).encode("latin-1")
        scope["path_params"] = {}
        scope.setdefault("state", {})[PATH_TOKEN_FLAG] = True
        await scope["router"](scope, receive, send)


router.routes.append(
    Route("/cameras/{camera_id}/hls/t/{media_token}/{rest:path}", PathTokenRoute(), methods=["GET", "HEAD"])
)


def with_path_token(url: str, token: str) -> str:
    """An HLS URL (…/hls/live/master.m3u8?…) with the token as a path segment (…/hls/t/<token>/live/…)."""
    head, _, tail = url.rpartition("/hls/")
    return f"{head}/hls/t/{token}/{tail}"


def _hls_base(request: Request, container: Container, viewer: Viewer, camera_id: uuid.UUID, extra_s: float) -> str:
    """What a playlist's relative URIs to other HLS routes start with (`<base>segments/…`, `<base>live/…`).

    Inside a path-token URL that is just `../`: the token travels in the path the player resolves
    against. Otherwise `../t/<token>/` steps into that form, with the caller's own token, or for a Bearer
    caller a fresh one valid `extra_s` beyond the usual lifetime (a VOD range is played that long).
    """
    if viewer.token_in_path:
        return "../"
    token = viewer.token
    if token is None:
        token = media_tokens(container).issue(
            user_id=viewer.user_id,
            tenant_id=viewer.tenant_id,
            session_id=viewer.session_id,
            role=viewer.role,
            camera_id=camera_id,
            scope=hls_scope(request, camera_id),
            ttl_s=playback_settings(container).token_ttl_s + extra_s,
        )
    return f"../t/{token}/"


async def _audit_view(
    container: Container, viewer: Viewer, camera_id: uuid.UUID, what: str, *, throttle: bool = False, **details: object
) -> None:
    """Audit a view; throttled views (live playlist reloads) once per user, camera and interval."""
    if throttle:
        interval = playback_settings(container).view_audit_interval_s
        key = f"playback:viewed:{viewer.user_id}:{camera_id}:{what}"
        if interval <= 0 or await container.cache.get(key) is not None:
            return
        await container.cache.set(key, b"1", ttl_s=interval)
    document = {"what": what, "via": viewer.via, **{k: v for k, v in details.items() if v is not None}}
    viewer.uow.audit("view", "camera", camera_id, new=document)


def _playlist(text: str, *, live: bool) -> Response:
    # Live playlists change every segment; VOD ones never do, so players and proxies may keep them briefly.
    cache = "no-cache, no-store" if live else "private, max-age=60"
    return Response(text, media_type=PLAYLIST, headers={"Cache-Control": cache})


def _codecs(request: Request, container: Container) -> hls.CodecStrings:
    state: hls.CodecStrings | None = getattr(request.app.state, "hls_codec_strings", None)
    if state is None:
        state = hls.CodecStrings(container.blobs)
        request.app.state.hls_codec_strings = state
    return state


# --- timelines ----------------------------------------------------------------------------------------


def _timeline_read(line: timeline.CameraTimeline, *, thumbnails: str | None) -> TimelineRead:
    """The API's view of a timeline; `thumbnails` is the signed thumbnail URL prefix (None: no thumbnails)."""

    def thumbnail(at: datetime) -> str | None:
        if thumbnails is None or not any(r.start <= as_utc(at) < r.end for r in line.ranges):
            return None  # nothing recorded at that moment
        return f"{thumbnails}&{query_string(at=at)}"

    return TimelineRead(
        camera_id=line.camera_id,
        stream="sub" if line.stream == "sub" else "main",
        start=line.start,
        end=line.end,
        recorded_s=round(line.recorded_s, 3),
        coverage=round(line.coverage, 6),
        ranges=[SpanRead(start=r.start, end=r.end, seconds=round(r.seconds, 3)) for r in line.ranges],
        gaps=[SpanRead(start=g.start, end=g.end, seconds=round(g.seconds, 3)) for g in line.gaps],
        events=[
            TimelineEvent(
                id=e.event_id,
                event_type=e.event_type.value,
                at=e.timestamp,
                ended_at=e.ended_at,
                priority=e.priority.value,
                status=e.status.value,
                clip_url=e.clip_url,
                thumbnail_url=thumbnail(e.timestamp),
            )
            for e in line.events
        ],
        events_total=line.events_total,
    )


def _thumbnails(request: Request, container: Container, user: Principal, camera_id: uuid.UUID) -> str:
    """The signed thumbnail URL of a camera without its `at` (one token for every event of a timeline)."""
    token = media_tokens(container).issue(
        user_id=user.user_id,
        tenant_id=user.tenant,
        session_id=user.session_id,
        role=user.role.value,
        camera_id=camera_id,
        scope=hls_scope(request, camera_id),
        ttl_s=playback_settings(container).token_ttl_s,
    )
    return f"{request.url_for('get_thumbnail', camera_id=camera_id)}?{query_string(token=token)}"


@router.get("/cameras/{camera_id}/timeline", response_model=TimelineRead)
async def get_camera_timeline(
    camera_id: uuid.UUID,
    request: Request,
    uow: UoW,
    user: Reader,
    container: AppContainer,
    start: datetime,
    end: datetime,
    stream: Stream = "main",
    events: Annotated[bool, Query(description="Include the events in the window.")] = True,
) -> TimelineRead:
    """A camera's recorded ranges, gaps and events over [start, end) — what a playback timeline draws."""
    settings = playback_settings(container)
    start, end = _window(start, end, max_s=settings.max_timeline_window_s, what="timeline")
    await cameras.get_camera(uow=uow, camera_id=camera_id)  # 404 for a missing or foreign camera
    line = await timeline.camera_timeline(
        uow=uow,
        camera_id=camera_id,
        start=start,
        end=end,
        stream=stream,
        tolerance_s=settings.gap_tolerance_s,
        with_events=events,
    )
    return _timeline_read(line, thumbnails=_thumbnails(request, container, user, camera_id) if events else None)


def _camera_ids(raw: str) -> list[uuid.UUID]:
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts:
        raise ValidationFailed("'camera_ids' needs at least one camera id.")
    if len(parts) > MAX_CAMERAS:
        raise ValidationFailed(f"At most {MAX_CAMERAS} cameras play in sync; ask for fewer.")
    try:
        ids = [uuid.UUID(p) for p in parts]
    except ValueError as exc:
        raise ValidationFailed("'camera_ids' must be comma-separated camera ids (UUIDs).") from exc
    return list(dict.fromkeys(ids))


@router.get("/playback/timeline", response_model=MultiTimelineRead)
async def get_multi_timeline(
    request: Request,
    uow: UoW,
    user: Reader,
    container: AppContainer,
    camera_ids: Annotated[str, Query(max_length=MAX_CAMERAS * 40, description="Comma-separated camera ids.")],
    start: datetime,
    end: datetime,
    stream: Stream = "main",
    events: Annotated[bool, Query(description="Include the events in the window.")] = True,
) -> MultiTimelineRead:
    """Several cameras over the same window, for synchronised playback (any unknown camera: 404)."""
    settings = playback_settings(container)
    start, end = _window(start, end, max_s=settings.max_timeline_window_s, what="timeline")
    ids = _camera_ids(camera_ids)
    for camera_id in ids:
        await cameras.get_camera(uow=uow, camera_id=camera_id)
    lines = [
        await timeline.camera_timeline(
            uow=uow,
            camera_id=camera_id,
            start=start,
            end=end,
            stream=stream,
            tolerance_s=settings.gap_tolerance_s,
            with_events=events,
        )
        for camera_id in ids
    ]
    return MultiTimelineRead(
        start=start,
        end=end,
        cameras=[
            _timeline_read(line, thumbnails=_thumbnails(request, container, user, line.camera_id) if events else None)
            for line in lines
        ],
    )


@router.post("/playback/urls", response_model=UrlsRead)
async def create_playback_urls(
    body: UrlsCreate, request: Request, uow: UoW, user: Reader, container: AppContainer
) -> UrlsRead:
    """Signed live and VOD playlist URLs for each camera; the same range for all plays them in sync."""
    settings = playback_settings(container)
    vod: tuple[datetime, datetime] | None = None
    extra_s = 0.0
    if (body.start is None) != (body.end is None):
        raise ValidationFailed("Give both 'start' and 'end' for a recorded range, or neither for live only.")
    if body.start is not None and body.end is not None:
        vod = _window(body.start, body.end, max_s=settings.max_vod_window_s, what="VOD playlist")
        extra_s = (vod[1] - vod[0]).total_seconds()  # a player keeps fetching segments while it plays the range
        if body.at is not None and not vod[0] <= as_utc(body.at) < vod[1]:
            raise ValidationFailed("'at' must lie inside [start, end).")
    tokens = media_tokens(container)
    expires_at = utcnow() + timedelta(seconds=settings.token_ttl_s + extra_s)
    out = []
    for camera_id in list(dict.fromkeys(body.camera_ids)):
        await cameras.get_camera(uow=uow, camera_id=camera_id)
        token = tokens.issue(
            user_id=user.user_id,
            tenant_id=user.tenant,
            session_id=user.session_id,
            role=user.role.value,
            camera_id=camera_id,
            scope=hls_scope(request, camera_id),
            expires_at=expires_at,
        )
        live = with_path_token(str(request.url_for("get_live_master", camera_id=camera_id)), token)
        vod_url = None
        if vod is not None:
            query = query_string(start=vod[0], end=vod[1], at=body.at)
            vod_url = with_path_token(f"{request.url_for('get_vod_master', camera_id=camera_id)}?{query}", token)
        out.append(CameraUrls(camera_id=camera_id, live_master=live, vod_master=vod_url, expires_at=expires_at))
    return UrlsRead(cameras=out)


# --- HLS ----------------------------------------------------------------------------------------------


async def _live_segments(container: Container, uow: UnitOfWork, camera_id: uuid.UUID, stream: str) -> list[Any]:
    settings = playback_settings(container)
    now = utcnow()
    rows = await media.segments_between(
        uow=uow,
        camera_id=camera_id,
        start=now - timedelta(seconds=settings.live_max_age_s),
        end=now + timedelta(seconds=60),  # a segment stamped by a camera clock a little ahead still counts
        stream=stream,
    )
    return rows


@router.get("/cameras/{camera_id}/hls/live/master.m3u8", response_class=Response, name="get_live_master")
async def get_live_master(
    camera_id: uuid.UUID, request: Request, viewer: MediaReader, container: AppContainer
) -> Response:
    """Live ABR master playlist: the camera's main and sub streams as variants, described from the segment index."""
    await cameras.get_camera(uow=viewer.uow, camera_id=camera_id)
    base = _hls_base(request, container, viewer, camera_id, 0)
    variants = []
    for stream in STREAMS:
        rows = await _live_segments(container, viewer.uow, camera_id, stream)
        if rows:
            hls.ensure_playable(rows)
            codecs = await _codecs(request, container).of(rows[-1], camera_key=str(camera_id))
            variants.append(hls.variant(stream, rows, uri=f"{base}live/{stream}.m3u8", codecs=codecs))
    if not variants:
        raise NotFound("Nothing recorded in the last minute: the camera is offline or not recording.")
    await _audit_view(container, viewer, camera_id, "live")
    return _playlist(hls.master_playlist(variants), live=True)


@router.get("/cameras/{camera_id}/hls/live/{stream}.m3u8", response_class=Response)
async def get_live_playlist(
    camera_id: uuid.UUID, stream: Stream, request: Request, viewer: MediaReader, container: AppContainer
) -> Response:
    """Live media playlist: a sliding window of the stream's newest segments (reload every target duration)."""
    settings = playback_settings(container)
    await cameras.get_camera(uow=viewer.uow, camera_id=camera_id)
    rows = await _live_segments(container, viewer.uow, camera_id, stream)
    window = hls.live_window(rows, size=settings.live_window_segments, tolerance_s=settings.gap_tolerance_s)
    if not window.segments:
        raise NotFound(f"Nothing of the {stream} stream recorded in the last minute: the camera is offline.")
    hls.ensure_playable(window.segments)
    base = _hls_base(request, container, viewer, camera_id, 0)
    text = hls.media_playlist(
        window.segments,
        uri=lambda s: f"{base}segments/{hls.segment_name(s.stream, s.started_at)}",
        vod=False,
        tolerance_s=settings.gap_tolerance_s,
        media_sequence=window.media_sequence,
        hold_back_targets=settings.live_hold_back_targets,
    )
    await _audit_view(container, viewer, camera_id, "live", throttle=True, stream=stream)
    return _playlist(text, live=True)


@router.get("/cameras/{camera_id}/hls/vod/master.m3u8", response_class=Response, name="get_vod_master")
async def get_vod_master(
    camera_id: uuid.UUID,
    request: Request,
    viewer: MediaReader,
    container: AppContainer,
    start: datetime,
    end: datetime,
    at: Annotated[datetime | None, Query(description="Begin playback at this wall-clock time (seek).")] = None,
) -> Response:
    """VOD ABR master playlist of [start, end): main and sub variants from the segments in the range."""
    start, end = _window(start, end, max_s=playback_settings(container).max_vod_window_s, what="VOD playlist")
    await cameras.get_camera(uow=viewer.uow, camera_id=camera_id)
    base = _hls_base(request, container, viewer, camera_id, (end - start).total_seconds())
    variants = []
    for stream in STREAMS:
        # The variants are described from the range's first minutes (where playback begins): reading a
        # whole day of index rows twice would triple the time a player waits for its first picture.
        sample_end = min(end, start + MASTER_SAMPLE)
        rows = await media.segments_between(
            uow=viewer.uow, camera_id=camera_id, start=start, end=sample_end, stream=stream
        ) or await media.segments_between(uow=viewer.uow, camera_id=camera_id, start=start, end=end, stream=stream)
        if rows:
            hls.ensure_playable(rows)
            codecs = await _codecs(request, container).of(rows[-1], camera_key=str(camera_id))
            uri = f"{base}vod/{stream}.m3u8?{query_string(start=start, end=end, at=at)}"
            variants.append(hls.variant(stream, rows, uri=uri, codecs=codecs))
    if not variants:
        raise NotFound("Nothing is recorded in this range.")
    await _audit_view(container, viewer, camera_id, "vod", start=start.isoformat(), end=end.isoformat())
    return _playlist(hls.master_playlist(variants), live=False)


@router.get("/cameras/{camera_id}/hls/vod/{stream}.m3u8", response_class=Response)
async def get_vod_playlist(
    camera_id: uuid.UUID,
    stream: Stream,
    request: Request,
    viewer: MediaReader,
    container: AppContainer,
    start: datetime,
    end: datetime,
    at: Annotated[datetime | None, Query(description="Begin playback at this wall-clock time (seek).")] = None,
) -> Response:
    """VOD media playlist of one stream over [start, end), with wall-clock times and discontinuities at gaps."""
    settings = playback_settings(container)
    start, end = _window(start, end, max_s=settings.max_vod_window_s, what="VOD playlist")
    await cameras.get_camera(uow=viewer.uow, camera_id=camera_id)
    rows = await media.segments_between(uow=viewer.uow, camera_id=camera_id, start=start, end=end, stream=stream)
    if not rows:
        raise NotFound(f"Nothing of the {stream} stream is recorded in this range.")
    hls.ensure_playable(rows)
    base = _hls_base(request, container, viewer, camera_id, (end - start).total_seconds())
    text = hls.media_playlist(
        rows,
        uri=lambda s: f"{base}segments/{hls.segment_name(s.stream, s.started_at)}",
        vod=True,
        tolerance_s=settings.gap_tolerance_s,
        start_offset_s=hls.start_offset(rows, at) if at is not None else None,
    )
    await _audit_view(container, viewer, camera_id, "vod", stream=stream, start=start.isoformat(), end=end.isoformat())
    return _playlist(text, live=False)


@router.get("/cameras/{camera_id}/hls/segments/{name}", response_class=Response)
async def get_hls_segment(
    camera_id: uuid.UUID,
    name: Annotated[str, Path(max_length=40, description="<stream>-<UTC start in µs>.ts, as playlists name it.")],
    viewer: MediaReader,
    container: AppContainer,
) -> Response:
    """One recorded segment as MPEG-TS (stream copy with wall-clock timestamps); immutable, so cacheable."""
    stream, at = hls.parse_segment_name(name)
    rows = await media.segments_between(
        uow=viewer.uow, camera_id=camera_id, start=at, end=at + timedelta(microseconds=1), stream=stream
    )
    segment = next((s for s in rows if as_utc(s.started_at) == at), None)
    if segment is None:  # also a camera of another customer: the unit of work sees only the caller's
        raise NotFound(f"Segment {name} of camera {camera_id} not found (deleted by retention?).")
    hls.ensure_playable([segment])
    source = await hls.segment_source(container.blobs, segment.blob_key)
    data = await asyncio.to_thread(hls.remux_to_ts, source, started_at=segment.started_at)
    return Response(data, media_type="video/mp2t", headers={"Cache-Control": "private, max-age=86400, immutable"})


@router.get("/cameras/{camera_id}/hls/thumbnail.jpg", response_class=Response, name="get_thumbnail")
async def get_thumbnail(
    camera_id: uuid.UUID,
    viewer: MediaReader,
    container: AppContainer,
    at: Annotated[datetime, Query(description="The wall-clock moment to show (UTC).")],
) -> Response:
    """A JPEG (≤ 320 px wide) of the recording at `at`, from the sub stream when there is one (cheaper to decode)."""
    at = as_utc(at)
    for stream in ("sub", "main"):
        rows = await media.segments_between(
            uow=viewer.uow, camera_id=camera_id, start=at, end=at + timedelta(microseconds=1), stream=stream
        )
        if rows:
            segment = rows[-1]
            source = await hls.segment_source(container.blobs, segment.blob_key)
            data = await asyncio.to_thread(hls.thumbnail_jpeg, source, started_at=segment.started_at, at=at)
            return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})
    raise NotFound(f"Nothing of camera {camera_id} is recorded at {at.isoformat()}.")
