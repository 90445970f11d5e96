"""SOAP 1.2 for ONVIF: envelopes with a WS-Security UsernameToken, and answers read safely.

ONVIF devices authenticate each message with a UsernameToken *PasswordDigest*
(`base64(sha1(nonce + created + password))`): the password never travels, but the device
refuses a token whose `Created` is minutes away from its own clock, so the caller passes the
camera's clock offset (see `OnvifAdapter`). Answers are untrusted input: they are parsed with
defusedxml (no DTDs, no entities — an entity-expansion bomb is refused, not expanded), must be a
SOAP envelope holding the expected response, and every SOAP fault becomes a `kernel.errors`
DeviceProblem: NotAuthorized → credentials refused, ActionNotSupported → unsupported, anything
else → protocol error with a short reason.

>>> answer = await call(client, "/onvif/device_service", "<tds:GetDeviceInformation/>",
...                     operation="GetDeviceInformation", namespace=NS_DEVICE, credentials=creds)
>>> text(answer, "Manufacturer")
'Acme'
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from datetime import UTC, datetime, timedelta
from xml.etree.ElementTree import Element, ParseError  # types and the parse error only; parsing is defusedxml's
from xml.sax.saxutils import escape as _escape

import defusedxml
import defusedxml.ElementTree as SafeET
import httpx

from vms.cameras.devices.base import DeviceCredentials
from vms.cameras.devices.http import excerpt, request, where
from vms.kernel.errors import DeviceCredentialsRefused, DeviceProtocolError, DeviceUnsupported

# Namespaces, one place. Prefixes are the ones the ONVIF specifications use.
NS_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS_SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
NS_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
NS_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
NS_WSA = "http://www.w3.org/2005/08/addressing"
NS_WSNT = "http://docs.oasis-open.org/wsn/b-2"
NS_SCHEMA = "http://www.onvif.org/ver10/schema"
NS_ERROR = "http://www.onvif.org/ver10/error"
NS_TOPICS = "http://www.onvif.org/ver10/topics"
NS_DEVICE = "http://www.onvif.org/ver10/device/wsdl"
NS_MEDIA = "http://www.onvif.org/ver10/media/wsdl"
NS_MEDIA2 = "http://www.onvif.org/ver20/media/wsdl"
NS_PTZ = "http://www.onvif.org/ver20/ptz/wsdl"
NS_EVENTS = "http://www.onvif.org/ver10/events/wsdl"
NS_IMAGING = "http://www.onvif.org/ver20/imaging/wsdl"
NS_ANALYTICS = "http://www.onvif.org/ver20/analytics/wsdl"
NS_DEVICEIO = "http://www.onvif.org/ver10/deviceIO/wsdl"
NS_SEARCH = "http://www.onvif.org/ver10/search/wsdl"
NS_RECORDING = "http://www.onvif.org/ver10/recording/wsdl"
NS_REPLAY = "http://www.onvif.org/ver10/replay/wsdl"
NS_ACCESS_CONTROL = "http://www.onvif.org/ver10/accesscontrol/wsdl"

PREFIXES: dict[str, str] = {
    "s": NS_SOAP12,
    "wsse": NS_WSSE,
    "wsu": NS_WSU,
    "wsa": NS_WSA,
    "wsnt": NS_WSNT,
    "tt": NS_SCHEMA,
    "ter": NS_ERROR,
    "tns1": NS_TOPICS,
    "tds": NS_DEVICE,
    "trt": NS_MEDIA,
    "tr2": NS_MEDIA2,
    "tptz": NS_PTZ,
    "tev": NS_EVENTS,
    "tse": NS_SEARCH,
    "trc": NS_RECORDING,
    "trp": NS_REPLAY,
    "tac": NS_ACCESS_CONTROL,
}

PASSWORD_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
BASE64_BINARY = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"

# The tt:StreamSetup we always ask for: RTP over RTSP, unicast. GetStreamUri (media) and GetReplayUri
# (Profile G replay) both take it, so it lives here rather than in either caller.
RTSP_STREAM_SETUP = "<tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport>"

MAX_SOAP_BYTES = 2 * 1024 * 1024  # the largest control answer (a 64-channel NVR's GetProfiles) is far below

# Fault subcodes, by local name (devices disagree on the prefix, rarely on the name).
_CREDENTIAL_FAULTS = frozenset({"NotAuthorized", "FailedAuthentication", "InvalidSecurity", "InvalidSecurityToken"})
_UNSUPPORTED_FAULTS = frozenset({"ActionNotSupported", "NoPTZProfile", "NoToken", "NoRecording", "NoProfile"})


def escape(value: object) -> str:
    """A value made safe for XML text and double-quoted attributes."""
    return _escape(str(value), {'"': "&quot;"})


def el(tag: str, *children: str, text: object | None = None, **attributes: object) -> str:
    """An XML fragment with escaped text and attributes: `el("tt:Zoom", x=0.5)`, `el("a", el("b", text=1))`."""
    attrs = "".join(f' {name}="{escape(value)}"' for name, value in attributes.items())
    inner = "".join(children) + (escape(text) if text is not None else "")
    return f"<{tag}{attrs}>{inner}</{tag}>" if inner else f"<{tag}{attrs}/>"


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """The WS-Security UsernameToken PasswordDigest: base64(sha1(nonce + created + password))."""
    return base64.b64encode(
        hashlib.sha1(nonce + created.encode() + password.encode()).digest()
    ).decode()  # the spec's hash


def format_datetime(moment: datetime) -> str:
    """An xs:dateTime in UTC with milliseconds, as devices expect for `Created`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_datetime(value: str | None) -> datetime | None:
    """An xs:dateTime as an aware UTC datetime (naive values are taken as UTC); None when absent or unreadable."""
    if not value or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_duration(seconds: float) -> str:
    """An xs:duration such as `PT1.5S` (devices take seconds; minutes/hours forms are not needed)."""
    if seconds < 0:
        raise ValueError("a duration is not negative")
    return f"PT{seconds:.3f}".rstrip("0").rstrip(".") + "S"


_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def parse_duration(value: str | None) -> float | None:
    """Seconds in an xs:duration (`PT60S`, `PT1M`, `P1DT2H`); None when absent or unreadable."""
    match = _DURATION.match((value or "").strip())
    if not match or value in ("P", "PT"):
        return None
    days, hours, minutes, seconds = (float(group) if group else 0.0 for group in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def security_header(credentials: DeviceCredentials, *, now: datetime, nonce: bytes | None = None) -> str:
    """A `wsse:Security` header with a UsernameToken PasswordDigest created at `now` (the device's clock)."""
    nonce = nonce if nonce is not None else os.urandom(16)
    created = format_datetime(now)
    digest = password_digest(nonce, created, credentials.password)
    return (
        '<wsse:Security s:mustUnderstand="true">'
        "<wsse:UsernameToken>"
        f"<wsse:Username>{escape(credentials.username)}</wsse:Username>"
        f'<wsse:Password Type="{PASSWORD_DIGEST}">{digest}</wsse:Password>'
        f'<wsse:Nonce EncodingType="{BASE64_BINARY}">{base64.b64encode(nonce).decode()}</wsse:Nonce>'
        f"<wsu:Created>{created}</wsu:Created>"
        "</wsse:UsernameToken>"
        "</wsse:Security>"
    )


def envelope(body: str, *, header: str = "") -> bytes:
    """A SOAP 1.2 envelope declaring every ONVIF prefix, around a body fragment and header fragments."""
    declarations = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in PREFIXES.items())
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope {declarations}>'
        f"<s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


async def call(
    client: httpx.AsyncClient,
    url: str,
    body: str,
    *,
    operation: str,
    namespace: str,
    credentials: DeviceCredentials | None,
    clock_offset_s: float = 0.0,
    action: str | None = None,
    header: str = "",
    timeout_s: float | None = None,
) -> Element:
    """Send one ONVIF operation and return its `<operation>Response` element, or raise a DeviceProblem.

    `clock_offset_s` is the device clock minus ours, so the token's `Created` is on the device's time.
    `header` adds SOAP header fragments (WS-Addressing for event subscriptions).
    """
    if credentials is not None:
        now = datetime.now(UTC) + timedelta(seconds=clock_offset_s)
        header = security_header(credentials, now=now) + header
    soap_action = action or f"{namespace}/{operation}"
    extra = {} if timeout_s is None else {"timeout": httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0))}
    # SOAP 1.2 over HTTP carries faults with 400 (sender) and 500 (receiver); read them, don't just fail.
    response = await request(
        client,
        "POST",
        url,
        what=operation,
        ok_statuses=(200, 400, 500),
        content=envelope(body, header=header),
        headers={"content-type": f'application/soap+xml; charset=utf-8; action="{soap_action}"'},
        **extra,
    )
    return parse_response(response.content, where=where(client), operation=operation)


def parse_response(content: bytes, *, where: str, operation: str) -> Element:
    """The `<operation>Response` element of a SOAP answer; faults and anything unreadable raise."""
    body = parse_body(content, where=where, operation=operation)
    answer = next(iter(body), None)
    if answer is None:
        raise DeviceProtocolError(f"{where} answered {operation} with an empty SOAP body.")
    if local_name(answer.tag) == "Fault":
        raise fault_error(answer, where=where, operation=operation)
    if local_name(answer.tag) != f"{operation}Response":
        raise DeviceProtocolError(
            f"{where} answered {operation} with {local_name(answer.tag)!r} instead of {operation}Response."
        )
    return answer


def parse_body(content: bytes, *, where: str, operation: str) -> Element:
    """The `Body` of a SOAP 1.2 (or 1.1) envelope, parsed without DTDs or entities."""
    if len(content) > MAX_SOAP_BYTES:
        raise DeviceProtocolError(f"{where} sent {len(content)} bytes for {operation}; that is not a control answer.")
    if not content.strip():
        raise DeviceProtocolError(f"{where} answered {operation} with an empty body.")
    try:
        root = SafeET.fromstring(content, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise DeviceProtocolError(
            f"{where} answered {operation} with XML that declares a DTD or entities ({type(exc).__name__}); refused."
        ) from None
    except ParseError:
        shown = excerpt(content.decode("utf-8", "replace"))
        raise DeviceProtocolError(f"{where} answered {operation} with something that is not XML: {shown}") from None
    if root.tag not in (f"{{{NS_SOAP12}}}Envelope", f"{{{NS_SOAP11}}}Envelope"):
        raise DeviceProtocolError(f"{where} answered {operation} with a {local_name(root.tag)!r} document, not SOAP.")
    body = next((child for child in root if local_name(child.tag) == "Body"), None)
    if body is None:
        raise DeviceProtocolError(f"{where} answered {operation} with a SOAP envelope without a body.")
    return body


def fault_error(fault: Element, *, where: str, operation: str) -> Exception:
    """The DeviceProblem a SOAP fault stands for (SOAP 1.2 Code/Subcode/Reason, or 1.1 faultcode/faultstring)."""
    codes = [local_name(value.text or "") for value in fault.iter() if local_name(value.tag) in ("Value", "faultcode")]
    reason = text(fault, "Reason/Text") or text(fault, "faultstring") or ""
    subcodes = set(codes)
    shown = "/".join(code for code in codes if code) or "no code"
    if subcodes & _CREDENTIAL_FAULTS:
        return DeviceCredentialsRefused(f"{where} refused the credentials for {operation} ({shown}).")
    if subcodes & _UNSUPPORTED_FAULTS:
        detail = f": {excerpt(reason)}" if reason else ""
        return DeviceUnsupported(f"{where} does not support {operation} as asked ({shown}){detail}")
    return DeviceProtocolError(f"{where} answered {operation} with a SOAP fault ({shown}): {excerpt(reason)}")


def local_name(tag: str) -> str:
    """`Name` from `{namespace}Name`, and from a QName value such as `ter:NotAuthorized`."""
    return tag.rpartition("}")[2].rpartition(":")[2].strip()


def find(element: Element | None, path: str) -> Element | None:
    """The first descendant along a `/`-separated path of local names, in any namespace.

    Devices put the same element in different namespaces (tt:Name vs trt:Name) across firmware;
    matching local names reads them all without a vendor table.
    """
    return element.find(_any_namespace(path)) if element is not None else None


def find_all(element: Element | None, path: str) -> list[Element]:
    """Every element along a path of local names (see `find`)."""
    return element.findall(_any_namespace(path)) if element is not None else []


def text(element: Element | None, path: str) -> str | None:
    """The stripped text at a path of local names, or None when absent or empty (or `element` is None)."""
    found = find(element, path)
    value = (found.text or "").strip() if found is not None else ""
    return value or None


def attribute(element: Element | None, name: str) -> str | None:
    """An attribute by local name (devices qualify some attributes, not others)."""
    if element is None:
        return None
    for key, value in element.attrib.items():
        if local_name(key) == name:
            return value
    return None


def _any_namespace(path: str) -> str:
    return "/".join(
        step if step in (".", "..", "") or step.startswith("{") else f"{{*}}{step}" for step in path.split("/")
    )
