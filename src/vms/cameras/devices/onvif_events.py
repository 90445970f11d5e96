"""ONVIF beyond live video: PullPoint events, Profile G recordings on the device, Profile A access points.

Split from `onvif` to keep that module to the device and media services. These are the ONVIF
services an `OnvifAdapter` reaches once it knows the device's service addresses; the adapter's
methods (`subscribe_events`, `recordings`, `replay_uri`, `access_points`) delegate to the functions
here. They call the adapter's SOAP plumbing (`_call`, `_service_url`, `_reachable`, `_rtsp`,
`where`) as part of the same adapter, so the clock offset, the HTTP client and the NAT rewrite stay
in one place; the adapter is imported for type checking only (no import cycle).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Self
from xml.etree.ElementTree import Element, tostring  # serialising our own copy of reference parameters

import structlog

from vms.cameras.devices import soap
from vms.cameras.devices.soap import attribute, el, escape, find, find_all, local_name, text
from vms.kernel.errors import DeviceProblem, DeviceProtocolError, DeviceUnsupported, ValidationFailed

if TYPE_CHECKING:
    from vms.cameras.devices.onvif import OnvifAdapter

log = structlog.get_logger(__name__)

SUBSCRIPTION_TERMINATION_S = 60.0  # PullPoint lifetime asked for; renewed at half-life by `pull()`
MAX_PAGES = 50  # bound on paged answers (search results, access points) from a misbehaving device


@dataclass(frozen=True, slots=True)
class OnvifEvent:
    """One notification from a PullPoint: topic without namespace prefixes (`RuleEngine/CellMotionDetector/Motion`)."""

    topic: str
    time: datetime  # UTC, as the device stamped it (its own clock)
    source: dict[str, str] = field(default_factory=dict)  # e.g. {"VideoSourceConfigurationToken": "vsc0"}
    data: dict[str, str] = field(default_factory=dict)  # e.g. {"IsMotion": "true"}
    property_operation: str | None = None  # Initialized / Changed / Deleted for property events


@dataclass(frozen=True, slots=True)
class OnvifRecording:
    """A recording held on the device (SD card or NVR disk), as Profile G describes it."""

    token: str
    source_name: str | None
    earliest: datetime | None  # UTC; None when only the recording service (not search) answered
    latest: datetime | None
    source_id: str | None = None


@dataclass(frozen=True, slots=True)
class OnvifAccessPoint:
    """A door or turnstile reader of an access controller (Profile A)."""

    token: str
    name: str
    entity: str | None  # the door token the access point controls
    description: str | None = None


# -- events (PullPoint) ----------------------------------------------------------------------------


async def subscribe(device: OnvifAdapter, *, termination_s: float) -> PullPointSubscription:
    """CreatePullPointSubscription; close the result (`aclose` or `async with`) to unsubscribe."""
    if not 10 <= termination_s <= 3600:
        raise ValidationFailed("An event subscription lasts from 10 to 3600 seconds between renewals.")
    url = await device._service_url(soap.NS_EVENTS)
    body = (
        "<tev:CreatePullPointSubscription><tev:InitialTerminationTime>"
        f"{soap.format_duration(termination_s)}</tev:InitialTerminationTime></tev:CreatePullPointSubscription>"
    )
    answer = await device._call(
        url,
        soap.NS_EVENTS,
        "CreatePullPointSubscription",
        body,
        action=f"{soap.NS_EVENTS}/EventPortType/CreatePullPointSubscriptionRequest",
    )
    reference = find(answer, "SubscriptionReference")
    address = text(reference, "Address")
    if not address:
        raise DeviceProtocolError(f"{device.where} created a PullPoint subscription without an address.")
    parameters = find(reference, "ReferenceParameters")
    # Some devices (Axis) tell subscriptions apart by reference parameters echoed as SOAP headers.
    echoed = "".join(tostring(child, encoding="unicode") for child in parameters) if parameters is not None else ""
    return PullPointSubscription(device, device._reachable(address), echoed_headers=echoed, termination_s=termination_s)


class PullPointSubscription:
    """A live PullPoint subscription: `pull()` repeatedly, `aclose()` (or leave `async with`) to unsubscribe."""

    def __init__(self, device: OnvifAdapter, url: str, *, echoed_headers: str, termination_s: float) -> None:
        self.device = device
        self.url = url
        self.termination_s = termination_s
        self._echoed_headers = echoed_headers
        self._renew_at = time.monotonic() + termination_s / 2
        self.closed = False

    async def pull(self, *, wait_s: float = 1.0, limit: int = 100) -> list[OnvifEvent]:
        """PullMessages: what the device has, or what arrives within `wait_s`; at most `limit` events."""
        if self.closed:
            raise ValidationFailed("This event subscription is closed.")
        if not 0 < wait_s <= 60 or not 1 <= limit <= 1000:
            raise ValidationFailed("Pull events with wait_s in (0, 60] seconds and limit from 1 to 1000.")
        if time.monotonic() >= self._renew_at:
            await self.renew()
        body = (
            f"<tev:PullMessages><tev:Timeout>{soap.format_duration(wait_s)}</tev:Timeout>"
            f"<tev:MessageLimit>{limit}</tev:MessageLimit></tev:PullMessages>"
        )
        action = f"{soap.NS_EVENTS}/PullPointSubscription/PullMessagesRequest"
        answer = await self._call(
            soap.NS_EVENTS, "PullMessages", body, action=action, timeout_s=self.device.timeout_s + wait_s
        )
        events = [event for message in find_all(answer, "NotificationMessage") if (event := _event(message))]
        return events[:limit]

    async def renew(self) -> None:
        """Renew for another `termination_s`; devices that refuse Renew keep the subscription alive on pulls."""
        body = el("wsnt:Renew", el("wsnt:TerminationTime", text=soap.format_duration(self.termination_s)))
        try:
            await self._call(
                soap.NS_WSNT,
                "Renew",
                body,
                action="http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest",
            )
        except DeviceUnsupported as exc:
            log.debug("onvif.renew_refused", host=self.device.address.host, reason=str(exc))
        self._renew_at = time.monotonic() + self.termination_s / 2

    async def aclose(self) -> None:
        """Unsubscribe (best effort: an expired subscription is already gone)."""
        if self.closed:
            return
        self.closed = True
        try:
            await self._call(
                soap.NS_WSNT,
                "Unsubscribe",
                "<wsnt:Unsubscribe/>",
                action="http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest",
            )
        except DeviceProblem as exc:
            log.debug("onvif.unsubscribe_failed", host=self.device.address.host, reason=str(exc))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _call(
        self, namespace: str, operation: str, body: str, *, action: str, timeout_s: float | None = None
    ) -> Element:
        addressing = f"<wsa:Action>{escape(action)}</wsa:Action><wsa:To>{escape(self.url)}</wsa:To>"
        return await self.device._call(
            self.url,
            namespace,
            operation,
            body,
            action=action,
            header=addressing + self._echoed_headers,
            timeout_s=timeout_s,
        )


def _event(message: Element) -> OnvifEvent | None:
    inner = find(message, "Message/Message")
    if inner is None:
        return None
    topic = "/".join(local_name(step) for step in (text(message, "Topic") or "").split("/") if step.strip())

    def items(path: str) -> dict[str, str]:
        pairs = ((attribute(item, "Name"), attribute(item, "Value")) for item in find_all(inner, path))
        return {name: value or "" for name, value in pairs if name}

    return OnvifEvent(
        topic=topic,
        time=soap.parse_datetime(attribute(inner, "UtcTime")) or datetime.now(UTC),
        source=items("Source/SimpleItem"),
        data=items("Data/SimpleItem"),
        property_operation=attribute(inner, "PropertyOperation"),
    )


# -- Profile G: recordings on the device -----------------------------------------------------------


async def recordings(device: OnvifAdapter) -> list[OnvifRecording]:
    """The device's recordings: search service (with time spans), else the recording service."""
    services = await device.services()
    if soap.NS_SEARCH in services:
        return await _search_recordings(device, services[soap.NS_SEARCH])
    if soap.NS_RECORDING in services:
        answer = await device._call(
            services[soap.NS_RECORDING], soap.NS_RECORDING, "GetRecordings", "<trc:GetRecordings/>"
        )
        return [
            OnvifRecording(
                token=token,
                source_name=text(item, "Configuration/Source/Name"),
                earliest=None,
                latest=None,
                source_id=text(item, "Configuration/Source/SourceId"),
            )
            for item in find_all(answer, "RecordingItem")
            if (token := text(item, "RecordingToken"))
        ]
    raise DeviceUnsupported(f"{device.where} offers no recording search or recording service (ONVIF Profile G).")


async def _search_recordings(device: OnvifAdapter, url: str) -> list[OnvifRecording]:
    body = (
        "<tse:FindRecordings><tse:Scope/><tse:MaxMatches>1000</tse:MaxMatches>"
        "<tse:KeepAliveTime>PT10S</tse:KeepAliveTime></tse:FindRecordings>"
    )
    search = text(await device._call(url, soap.NS_SEARCH, "FindRecordings", body), "SearchToken")
    if not search:
        raise DeviceProtocolError(f"{device.where} started a recording search without a search token.")
    found: dict[str, OnvifRecording] = {}
    try:
        for _ in range(MAX_PAGES):  # results arrive in batches until the search state is Completed
            body = (
                f"<tse:GetRecordingSearchResults><tse:SearchToken>{escape(search)}</tse:SearchToken>"
                "<tse:MaxResults>100</tse:MaxResults><tse:WaitTime>PT1S</tse:WaitTime></tse:GetRecordingSearchResults>"
            )
            answer = await device._call(url, soap.NS_SEARCH, "GetRecordingSearchResults", body)
            for info in find_all(answer, "ResultList/RecordingInformation"):
                if token := text(info, "RecordingToken"):
                    found[token] = OnvifRecording(
                        token=token,
                        source_name=text(info, "Source/Name"),
                        earliest=soap.parse_datetime(text(info, "EarliestRecording")),
                        latest=soap.parse_datetime(text(info, "LatestRecording")),
                        source_id=text(info, "Source/SourceId"),
                    )
            if text(answer, "ResultList/SearchState") == "Completed":
                return list(found.values())
    finally:
        await _end_search(device, url, search)
    raise DeviceProtocolError(f"{device.where} did not complete a recording search in {MAX_PAGES} result batches.")


async def _end_search(device: OnvifAdapter, url: str, search: str) -> None:
    # A finished search may already be gone on the device; ending it is only courtesy.
    try:
        body = f"<tse:EndSearch><tse:SearchToken>{escape(search)}</tse:SearchToken></tse:EndSearch>"
        await device._call(url, soap.NS_SEARCH, "EndSearch", body)
    except DeviceProblem as exc:
        log.debug("onvif.end_search_failed", host=device.address.host, reason=str(exc))


async def replay_uri(device: OnvifAdapter, recording_token: str) -> str:
    """GetReplayUri: an RTSP URL (no credentials) that plays a recording back."""
    url = await device._service_url(soap.NS_REPLAY)
    body = (
        f"<trp:GetReplayUri><trp:StreamSetup>{soap.RTSP_STREAM_SETUP}</trp:StreamSetup>"
        f"<trp:RecordingToken>{escape(recording_token)}</trp:RecordingToken></trp:GetReplayUri>"
    )
    answer = await device._call(url, soap.NS_REPLAY, "GetReplayUri", body)
    return device._rtsp(text(answer, "Uri"), what=f"GetReplayUri for recording {recording_token!r}")


# -- Profile A basics ------------------------------------------------------------------------------


async def access_points(device: OnvifAdapter) -> list[OnvifAccessPoint]:
    """GetAccessPointInfoList, all pages."""
    url = await device._service_url(soap.NS_ACCESS_CONTROL)
    points: list[OnvifAccessPoint] = []
    start: str | None = None
    for _ in range(MAX_PAGES):
        reference = f"<tac:StartReference>{escape(start)}</tac:StartReference>" if start else ""
        body = f"<tac:GetAccessPointInfoList><tac:Limit>100</tac:Limit>{reference}</tac:GetAccessPointInfoList>"
        answer = await device._call(url, soap.NS_ACCESS_CONTROL, "GetAccessPointInfoList", body)
        for info in find_all(answer, "AccessPointInfo"):
            if token := attribute(info, "token"):
                name = text(info, "Name") or token
                points.append(OnvifAccessPoint(token, name, text(info, "Entity"), text(info, "Description")))
        start = text(answer, "NextStartReference")
        if not start:
            return points
    raise DeviceProtocolError(f"{device.where} kept paging access points past {MAX_PAGES} pages.")
