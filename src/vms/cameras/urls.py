"""Camera stream URLs: validation, and keeping credentials out of them.

Operators paste URLs like `rtsp://admin:pa55@10.0.0.7:554/Streaming/Channels/101`. We store and
return the URL without its user-info; the username and password move to the camera's encrypted
credentials and are put back only for the moment a stream is opened.

>>> split_credentials("rtsp://admin:pa%2455@10.0.0.7/ch1")
('rtsp://10.0.0.7/ch1', 'admin', 'pa$55')
>>> redact("rtsp://admin:pa55@10.0.0.7/ch1")
'rtsp://10.0.0.7/ch1'
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")  # http(s) for MJPEG cameras
MAX_URL_LENGTH = 2048
_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def check_stream_url(value: str) -> str:
    """Return the URL (scheme lower-cased) or raise ValueError saying what is wrong with it.

    Messages never repeat the URL: it may carry a password.
    """
    if not value:
        raise ValueError("the URL is empty")
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValueError("the URL contains whitespace or control characters")
    try:
        parts = urlsplit(value)
    except ValueError as exc:  # e.g. an unbalanced IPv6 bracket
        raise ValueError(f"the URL cannot be parsed ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in STREAM_SCHEMES:
        shown = f"'{scheme}'" if scheme else "no scheme"
        raise ValueError(f"the URL has {shown}; use rtsp:// or rtsps:// (http:// or https:// for MJPEG)")
    host = parts.hostname
    if not host:
        raise ValueError("the URL has no host (expected e.g. rtsp://10.0.0.7:554/stream1)")
    if not _valid_host(host):
        raise ValueError("the URL's host is neither an IP address nor a valid host name")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(
            "the URL's port must be a number from 1 to 65535 (a password containing / ? # must be "
            "percent-encoded, or given in auth instead)"
        ) from None
    if port is not None and not 1 <= port <= 65535:
        raise ValueError("the URL's port must be a number from 1 to 65535")
    if parts.netloc.endswith(":"):
        raise ValueError("the URL's port is empty; remove the ':' or give a port from 1 to 65535")
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def check_device_url(value: str) -> str:
    """A camera control URL (ONVIF device service, ISAPI/Dahua base): http(s), a host, no credentials.

    >>> check_device_url("HTTP://10.0.0.7/onvif/device_service")
    'http://10.0.0.7/onvif/device_service'
    """
    checked = check_stream_url(value)
    parts = urlsplit(checked)
    if parts.scheme not in ("http", "https"):
        raise ValueError("a control URL starts with http:// or https:// (e.g. http://10.0.0.7/onvif/device_service)")
    if "@" in parts.netloc:
        raise ValueError("the control URL carries credentials; the camera's auth is used for it")
    if parts.query or parts.fragment:
        raise ValueError("the control URL takes no query or fragment")
    return checked


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return len(host) <= 253 and all(_DNS_LABEL.match(label) for label in labels)


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """The URL without user-info, plus the (percent-decoded) username and password it carried."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    username, has_password, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return clean, unquote(username) or None, unquote(password) if has_password else None


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """The URL with user-info added, percent-encoded (FFmpeg decodes it for RTSP and HTTP)."""
    if not username and not password:
        return url
    parts = urlsplit(url)
    userinfo = quote(username or "", safe="")
    if password is not None:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query, parts.fragment))


def redact(url: str) -> str:
    """The URL without user-info, safe to log or show; never raises.

    A password with an unencoded `/`, `?` or `#` ends the authority early for a URL parser, so
    whatever still has an `@` after the scheme loses everything up to its last `@`.
    """
    try:
        clean = split_credentials(url)[0]
    except ValueError:
        return "<unparseable URL>"
    scheme, separator, rest = clean.partition("://")
    if separator and "@" in rest:
        return f"{scheme}://***@{rest.rpartition('@')[2]}"
    return clean


def host_port(url: str) -> str:
    """`host:port` of a stream URL (default port by scheme), for messages."""
    defaults = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port or defaults.get(parts.scheme.lower())
    except ValueError:
        return "?"
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port else shown
