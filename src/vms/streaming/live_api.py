"""Routes: WebRTC live view through the go2rtc gateway (issue 9 part 2), ICE servers, gateway status.

`POST /cameras/{id}/live/webrtc` is WHEP-style: the body is the browser's SDP offer
(`application/sdp`, or JSON `{"type": "offer", "sdp": …}`), the answer comes back the same way.
The API authenticates, checks live:view and that the camera belongs to the caller's customer
(another customer's camera is a 404, as everywhere), validates the offer, then hands it to the
gateway. Media then flows straight between go2rtc and the browser; the API carries signalling only.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from vms.api.deps import AppContainer, UoW, require
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.cameras import service as cameras
from vms.kernel.clock import utcnow
from vms.kernel.errors import BadRequest, ServiceUnavailable, ValidationFailed
from vms.streaming.gateway import GatewayState, Go2rtcGateway, stream_name

router = APIRouter(tags=["live"])
Viewer = Annotated[Principal, Depends(require(Permission.LIVE_VIEW))]
SDP = "application/sdp"
MAX_OFFER_BYTES = 65_536  # a browser offer is 2–10 KB; anything near this is not an offer
_SENDING = {"sendrecv", "sendonly"}


class SdpOffer(BaseModel):
    """A WebRTC offer as `RTCPeerConnection.createOffer()` returns it."""

    type: Literal["offer"] = Field(description="Always 'offer'.")
    sdp: str = Field(min_length=1, max_length=MAX_OFFER_BYTES, description="The offer's SDP text.")


class SdpAnswer(BaseModel):
    """The gateway's answer, for `RTCPeerConnection.setRemoteDescription()`."""

    type: Literal["answer"] = Field("answer", description="Always 'answer'.")
    sdp: str = Field(description="The answer's SDP text, with the gateway's ICE candidates.")


class IceServerRead(BaseModel):
    """One STUN/TURN server, in the shape of the browser's RTCIceServer."""

    urls: list[str] = Field(description="stun:, turn: or turns: URLs.")
    username: str | None = Field(None, description="TURN username (none for STUN).")
    credential: str | None = Field(None, description="TURN password (none for STUN).")


class IceServers(BaseModel):
    """What to pass as `iceServers` to `new RTCPeerConnection(...)`."""

    ice_servers: list[IceServerRead] = Field(
        description="STUN/TURN servers from settings; empty means host candidates only (same network)."
    )


class LiveStatus(BaseModel):
    """Whether WebRTC live view works here, and if not, why."""

    webrtc: Literal["available", "unavailable"] = Field(
        description="'unavailable': use the HLS live stream (the gateway is missing, off or restarting)."
    )
    state: GatewayState = Field(description="The go2rtc sidecar's state.")
    reason: str | None = Field(description="Why the gateway is not running, when it is not.")
    version: str | None = Field(description="go2rtc version, when known.")
    streams: int = Field(description="Camera streams (main and sub) the gateway serves.")
    restarts: int = Field(description="Times go2rtc had to be restarted since the API started.")
    since: datetime = Field(description="When the gateway entered its current state.")


async def get_gateway(request: Request) -> Go2rtcGateway | None:
    """The api process's gateway (set at start-up by the api role), or None where none runs."""
    gateway: Go2rtcGateway | None = getattr(request.app.state, "streaming_gateway", None)
    return gateway


Gateway = Annotated[Go2rtcGateway | None, Depends(get_gateway)]

_OFFER_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The SDP offer: raw (WHEP) or as JSON.",
        "content": {
            SDP: {"schema": {"type": "string", "maxLength": MAX_OFFER_BYTES}},
            "application/json": {"schema": SdpOffer.model_json_schema()},
        },
    }
}
_ANSWER_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"description": "SDP answer (WHEP), for an application/sdp offer.", "content": {SDP: {}}},
    200: {"description": "SDP answer as JSON, for a JSON offer.", "model": SdpAnswer},
    503: {"description": "WebRTC unavailable here (no gateway, restarting, camera offline): use HLS."},
}


@router.post(
    "/cameras/{camera_id}/live/webrtc",
    status_code=201,
    response_class=Response,
    responses=_ANSWER_RESPONSES,
    openapi_extra=_OFFER_BODY,
)
async def create_webrtc_session(
    camera_id: uuid.UUID,
    request: Request,
    uow: UoW,
    user: Viewer,
    gateway: Gateway,
    stream: Annotated[
        Literal["main", "sub"], Query(description="main: full resolution; sub: the camera's low-bitrate stream.")
    ] = "main",
) -> Response:
    """Start watching a camera live over WebRTC: send an SDP offer, get the gateway's answer."""
    camera = await cameras.get_camera(uow=uow, camera_id=camera_id)  # another customer's camera: 404
    if stream == "sub" and not camera.sub_url:
        raise ValidationFailed(f"Camera '{camera.name}' has no sub stream; ask for stream=main.")
    offer, as_json = parse_offer(request.headers.get("content-type", ""), await request.body())
    check_offer(offer)
    if gateway is None:
        raise ServiceUnavailable(
            "WebRTC live view is unavailable: this API process runs no streaming gateway. "
            "Use the HLS live stream instead.",
            gateway=GatewayState.NOT_STARTED.value,
            fallback="hls",
        )
    answer = await gateway.exchange_sdp(stream_name(camera.id, stream), offer)
    uow.audit("live_view", "camera", camera.id, new={"protocol": "webrtc", "stream": stream})
    if as_json:
        return JSONResponse(SdpAnswer(sdp=answer).model_dump(), status_code=200)
    return Response(answer, status_code=201, media_type=SDP)


@router.get("/live/ice-servers", response_model=IceServers)
async def get_ice_servers(container: AppContainer, _: Viewer) -> IceServers:
    """The STUN/TURN servers a WebRTC client should use (none by default: host candidates only)."""
    servers = container.settings.streaming.ice_servers
    return IceServers(ice_servers=[IceServerRead(**s.model_dump()) for s in servers])


@router.get("/live/status", response_model=LiveStatus)
async def get_live_status(gateway: Gateway, container: AppContainer, _: Viewer) -> LiveStatus:
    """Whether WebRTC live view is available (else use HLS), with the gateway's health."""
    if gateway is None:
        enabled = container.settings.streaming.enabled
        return LiveStatus(
            webrtc="unavailable",
            state=GatewayState.NOT_STARTED if enabled else GatewayState.DISABLED,
            reason="this API process runs no streaming gateway" if enabled else "streaming.enabled is false",
            version=None,
            streams=0,
            restarts=0,
            since=utcnow(),
        )
    status = gateway.status()
    return LiveStatus(
        webrtc="available" if status.state == GatewayState.RUNNING else "unavailable",
        state=status.state,
        reason=status.reason,
        version=status.version,
        streams=status.streams,
        restarts=status.restarts,
        since=status.since,
    )


def parse_offer(content_type: str, body: bytes) -> tuple[str, bool]:
    """The offer's SDP text and whether it came as JSON; 400 for anything else."""
    media_type = content_type.split(";")[0].strip().lower()
    if len(body) > MAX_OFFER_BYTES:
        raise BadRequest(f"The SDP offer is larger than {MAX_OFFER_BYTES} bytes; send the browser's offer as it is.")
    if media_type == "application/json":
        try:
            return SdpOffer.model_validate(json.loads(body)).sdp, True
        except (ValueError, ValidationError):
            raise BadRequest('Send the offer as JSON {"type": "offer", "sdp": "v=0…"} or as application/sdp.') from None
    if media_type != SDP:
        raise BadRequest(f"Send the offer with Content-Type {SDP} (WHEP) or application/json, not '{media_type}'.")
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        raise BadRequest("The SDP offer is not UTF-8 text.") from None


def check_offer(sdp: str) -> None:
    """Refuse what is not a receive-only offer with video, before it reaches the gateway.

    go2rtc treats an offer that SENDS video as a new source for the camera's stream: a viewer could
    replace what everybody else sees. Live view only ever receives, so every audio and video section
    must be recvonly (or inactive), and at least one video section must be recvonly.
    """
    if not sdp.lstrip().startswith("v=0"):
        raise ValidationFailed("The SDP offer must start with 'v=0' (pass RTCPeerConnection.createOffer()'s sdp).")
    sections = re.split(r"\r?\n(?=m=)", sdp)[1:]
    receiving_video = False
    for section in sections:
        kind = section[2:].split(" ", 1)[0]
        if kind not in ("audio", "video"):
            continue  # data channels carry no media
        found = re.findall(r"^a=(sendrecv|sendonly|recvonly|inactive)\s*$", section, flags=re.MULTILINE)
        direction = found[0] if found else "sendrecv"  # RFC 4566: no attribute means sendrecv
        if direction in _SENDING:
            raise ValidationFailed(
                f"The offer's {kind} section is {direction}; live view only receives. Use "
                f"addTransceiver('{kind}', {{direction: 'recvonly'}})."
            )
        receiving_video = receiving_video or (kind == "video" and direction == "recvonly")
    if not receiving_video:
        raise ValidationFailed("The offer asks for no video; add addTransceiver('video', {direction: 'recvonly'}).")
