"""HTTP for device adapters: one client per device, and transport failures turned into DeviceProblems.

Cameras answer slowly, refuse, reset, send HTML error pages and 401s; every adapter needs the same
translation, so it lives here once. Messages name the device by host:port only — never a URL that
may carry credentials, never the device's own error text beyond a short, cleaned excerpt.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx

from vms.cameras.devices.base import CameraAdapter, DeviceAddress, DeviceCredentials
from vms.kernel.errors import DeviceCredentialsRefused, DeviceProtocolError, DeviceUnreachable

MAX_ANSWER_BYTES = 4 * 1024 * 1024  # a device answer larger than this is not a control response


def device_client(
    address: DeviceAddress,
    credentials: DeviceCredentials | None,
    *,
    auth: Literal["digest", "basic", "none"] = "digest",
    timeout_s: float,
) -> httpx.AsyncClient:
    """A client for one device: base URL, HTTP digest (or basic) auth, bounded timeouts, no redirects.

    Devices use self-signed certificates almost without exception, so https is not verified; the
    credentials are still protected by digest auth.
    """
    http_auth: httpx.Auth | None = None
    if credentials is not None and auth == "digest":
        http_auth = httpx.DigestAuth(credentials.username, credentials.password)
    elif credentials is not None and auth == "basic":
        http_auth = httpx.BasicAuth(credentials.username, credentials.password)
    return httpx.AsyncClient(
        base_url=address.base_url,
        auth=http_auth,
        timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)),
        follow_redirects=False,
        verify=False,  # see docstring
        trust_env=False,
        headers={"user-agent": "vms-platform"},
    )


async def request(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    what: str,
    ok_statuses: tuple[int, ...] = (200,),
    **kwargs: Any,
) -> httpx.Response:
    """Send one request; DeviceUnreachable, DeviceCredentialsRefused or DeviceProtocolError instead of
    transport errors, 401/403 and unexpected statuses. `what` names the operation in messages."""
    place = where(client)
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.TimeoutException:
        raise DeviceUnreachable(f"{place} did not answer {what} in time.") from None
    except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        raise DeviceUnreachable(f"{place} could not be reached for {what} ({type(exc).__name__}).") from None
    except httpx.HTTPError as exc:
        raise DeviceUnreachable(f"{place} failed during {what} ({type(exc).__name__}).") from None
    if len(response.content) > MAX_ANSWER_BYTES:
        raise DeviceProtocolError(
            f"{place} sent {len(response.content)} bytes for {what}; that is not a control answer."
        )
    # A caller that lists 403 in ok_statuses reads the refusal itself: ISAPI answers 403 with a
    # ResponseStatus for unsupported resources as well as for missing rights.
    if response.status_code in (401, 403) and response.status_code not in ok_statuses:
        raise DeviceCredentialsRefused(f"{place} refused the credentials for {what} (HTTP {response.status_code}).")
    if response.status_code not in ok_statuses:
        raise DeviceProtocolError(f"{place} answered HTTP {response.status_code} to {what}: {excerpt(response.text)}")
    return response


class HttpDeviceAdapter(CameraAdapter):
    """An adapter that talks HTTP to its device: one digest client opened on first use, closed with the adapter.

    Digest is offered to every device: it only answers a challenge, so devices that want none are unaffected.
    """

    _http: httpx.AsyncClient | None = None

    @property
    def where(self) -> str:
        """How messages name this device: host and port only."""
        return f"The camera at {self.address.host}:{self.address.port}"

    def http(self) -> httpx.AsyncClient:
        """The device's client, opened on first use."""
        if self._http is None:
            self._http = device_client(self.address, self.credentials, auth="digest", timeout_s=self.timeout_s)
        return self._http

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def excerpt(text: str, limit: int = 120) -> str:
    """A short single-line piece of a device's answer, safe to show."""
    flat = " ".join(text.split())
    return (flat[:limit] + "…") if len(flat) > limit else (flat or "(empty)")


def where(client: httpx.AsyncClient) -> str:
    """`The camera at host:port`, for messages (never a URL that could carry credentials)."""
    url = client.base_url
    return f"The camera at {url.host}:{url.port}" if url.port else f"The camera at {url.host}"
