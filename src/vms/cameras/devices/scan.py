"""IP range scanning: connect to the camera ports of every address in a range, fingerprint what answers.

WS-Discovery finds ONVIF cameras on the local segment only; integrators also need the cameras
behind a router, the ones with discovery switched off, and the ones that speak no ONVIF at all.
So the scanner tries a TCP connect to each host's camera ports (RTSP 554, HTTP 80/8000/8080,
HTTPS 443) with a global bound on sockets in flight, and asks each open port who it is:

- RTSP OPTIONS (+ DESCRIBE on "/") → an RTSP server, its Server header, whether it wants credentials;
- ONVIF GetDeviceInformation at /onvif/device_service → maker, model, firmware, serial — or a 401 /
  NotAuthorized fault, which still proves ONVIF;
- Hikvision ISAPI /ISAPI/System/deviceInfo and Dahua /cgi-bin/magicBox.cgi → the vendor API.

A host becomes one `DiscoveredDevice` with the best adapter (onvif > hikvision > dahua > rtsp),
yielded as soon as it is fingerprinted; open ports that are no camera (a printer, a router page)
are not reported.

>>> hosts = parse_targets("10.0.0.0/24, 10.0.1.10-40")
>>> async with contextlib.aclosing(scan(hosts, progress=print)) as found:
...     async for device in found:
...         print(device.host, device.kind, device.manufacturer)

Breaking out of the loop or cancelling the consuming task stops every probe and closes every
socket (promptly with `aclosing`, at garbage collection otherwise).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import secrets
import socket
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import httpx

from vms.cameras.devices import dahua, hikvision, soap
from vms.cameras.devices.base import DeviceCredentials, DeviceInfo, DiscoveredDevice
from vms.cameras.devices.rtsp import RtspSession, manufacturer_from_server
from vms.kernel.errors import DeviceCredentialsRefused, DeviceProblem, ValidationFailed

DEFAULT_PORTS: tuple[int, ...] = (554, 80, 443, 8000, 8080)
# 1024 addresses (a /22) per scan: larger than any camera VLAN we meet in one site (a /22 is the
# usual ceiling for a flat L2 segment), small enough that a worst case — every address silent,
# 5 ports, 1 s timeout, 256 sockets in flight — ends in about 20 s with meaningful progress, and
# that a tenant cannot turn the platform into a scanner of someone else's /16. Larger ranges are
# scanned as several jobs.
MAX_HOSTS = 1024
MAX_PORTS = 16
MAX_TARGETS_TEXT = 10_000  # characters of target text; a /22 written out address by address fits
RTSP_PORTS = frozenset({554, 8554})  # RTSP is tried first here; elsewhere only when HTTP gets no HTTP answer
HTTPS_PORTS = frozenset({443, 8443})
MAX_HTTP_BYTES = 256 * 1024  # a fingerprint answer is a few KiB; a camera streaming MJPEG at / is cut off
USER_AGENT = "vms-platform"
ONVIF_PATH = "/onvif/device_service"
ISAPI_PATH = "/ISAPI/System/deviceInfo"
MAGICBOX_PATH = "/cgi-bin/magicBox.cgi?action=getSystemInfo"

_ONVIF_HEADERS = {
    "content-type": f'application/soap+xml; charset=utf-8; action="{soap.NS_DEVICE}/GetDeviceInformation"'
}
_KIND_RANK = {"onvif": 0, "hikvision": 1, "dahua": 2, "rtsp": 3}
_DIGEST = re.compile(r"^\s*digest\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ScanProgress:
    """Where a scan stands; reported each time a host is finished."""

    hosts_total: int
    hosts_done: int
    devices_found: int
    elapsed_s: float


def parse_targets(text: str, *, max_hosts: int = MAX_HOSTS) -> list[str]:
    """The IPv4 addresses a target text names, in order, without duplicates; ValidationFailed if it is not usable.

    Accepts CIDRs (`10.0.0.0/24`; network and broadcast addresses skipped up to /30), ranges
    (`10.0.0.10-10.0.0.50`, `10.0.0.10-50`) and single addresses, separated by commas or spaces.

    >>> parse_targets("10.0.0.0/30, 10.0.0.9-11")
    ['10.0.0.1', '10.0.0.2', '10.0.0.9', '10.0.0.10', '10.0.0.11']
    """
    if len(text) > MAX_TARGETS_TEXT:
        raise ValidationFailed(f"The target list is longer than {MAX_TARGETS_TEXT:,} characters; use CIDRs or ranges.")
    tokens = [token for token in re.split(r"[,;\s]+", text.strip()) if token]
    if not tokens:
        raise ValidationFailed(
            "Give the addresses to scan: a CIDR (10.0.0.0/24), a range (10.0.0.10-10.0.0.50 or 10.0.0.10-50) "
            "or single addresses, separated by commas."
        )
    addresses: dict[str, None] = {}
    for token in tokens:
        first, last = _span(token, max_hosts=max_hosts)
        for value in range(first, last + 1):
            address = ipaddress.IPv4Address(value)
            _check_scannable(address, token)
            addresses[str(address)] = None
        if len(addresses) > max_hosts:
            raise ValidationFailed(
                f"The targets add up to more than {max_hosts:,} addresses, the most one scan covers "
                f"(a /{_prefix_for(max_hosts)}); scan them in several runs."
            )
    return list(addresses)


def _span(token: str, *, max_hosts: int) -> tuple[int, int]:
    """First and last address (as integers) of one target token."""
    if ":" in token:
        raise ValidationFailed(
            f"{token!r} is IPv6; the scanner covers IPv4 only (an IPv6 subnet is too large to sweep). "
            "IPv6 cameras are found by WS-Discovery or added by address."
        )
    if "/" in token:
        try:
            network = ipaddress.IPv4Network(token, strict=False)
        except ValueError:
            raise ValidationFailed(f"{token!r} is not a valid IPv4 CIDR (expected e.g. 10.0.0.0/24).") from None
        first, last = int(network.network_address), int(network.broadcast_address)
        if network.prefixlen <= 30:  # network and broadcast addresses hold no device
            first, last = first + 1, last - 1
    elif "-" in token:
        start_text, _, end_text = token.partition("-")
        start = _address(start_text, token)
        if end_text.isdigit() and int(end_text) <= 255:  # 10.0.0.10-50: the last octet
            end = ipaddress.IPv4Address((int(start) & 0xFFFFFF00) | int(end_text))
        else:
            end = _address(end_text, token)
        if end < start:
            raise ValidationFailed(f"The range {token!r} ends before it starts.")
        first, last = int(start), int(end)
    else:
        first = last = int(_address(token, token))
    count = last - first + 1
    if count > max_hosts:
        prefix = _prefix_for(max_hosts)
        example = ", ".join(str(net) for net in _first_subnets(first, prefix))
        raise ValidationFailed(
            f"{token} covers {count:,} addresses; one scan covers at most {max_hosts:,} (a /{prefix}). "
            f"Split it into ranges of at most that size, e.g. {example}, …"
        )
    return first, last


def _address(text: str, token: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text.strip())
    except ValueError:
        raise ValidationFailed(
            f"{token!r} is not an IPv4 address, range or CIDR (expected e.g. 10.0.0.7, 10.0.0.10-50 or 10.0.0.0/24)."
        ) from None


def _check_scannable(address: ipaddress.IPv4Address, token: str) -> None:
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        raise ValidationFailed(f"{token!r} includes {address}, which no camera can have (multicast or reserved).")


def _prefix_for(max_hosts: int) -> int:
    return 32 - (max_hosts.bit_length() - 1)


def _first_subnets(first: int, prefix: int) -> list[ipaddress.IPv4Network]:
    size = 1 << (32 - prefix)
    start = first & ~(size - 1) & 0xFFFFFFFF
    return [ipaddress.IPv4Network((start + i * size, prefix)) for i in range(2) if start + i * size <= 0xFFFFFFFF]


async def scan(
    targets: Sequence[str],
    *,
    ports: Sequence[int] = DEFAULT_PORTS,
    timeout_s: float = 1.0,
    concurrency: int = 256,
    credentials: DeviceCredentials | None = None,
    progress: Callable[[ScanProgress], None] | None = None,
) -> AsyncGenerator[DiscoveredDevice, None]:
    """Yield each camera-like host among `targets` (addresses, see `parse_targets`) as soon as it is fingerprinted.

    At most `concurrency` sockets are open at once; `timeout_s` bounds each connect and each probe.
    `credentials`, when given, go out as HTTP/RTSP Digest and ONVIF WS-Security digests only — never
    as Basic, since any host in the range could ask for them. `progress` is called as each host finishes.
    """
    hosts = list(dict.fromkeys(targets))
    wanted_ports = _checked_ports(ports)
    if not 0 < timeout_s <= 60:
        raise ValidationFailed("The scan timeout must be more than 0 and at most 60 seconds.")
    if not 1 <= concurrency <= 4096:
        raise ValidationFailed("The scan concurrency must be from 1 to 4096 sockets.")
    if not hosts:
        return
    started = time.monotonic()
    queue: asyncio.Queue[DiscoveredDevice | BaseException | None] = asyncio.Queue()
    pending = iter(hosts)
    counts = {"done": 0, "found": 0}
    prober = _HostProber(ports=wanted_ports, timeout_s=timeout_s, concurrency=concurrency, credentials=credentials)

    async def work() -> None:
        try:
            for host in pending:  # workers share one iterator: each host is taken once
                device = await prober.probe(host)
                counts["done"] += 1
                if device is not None:
                    counts["found"] += 1
                    queue.put_nowait(device)
                if progress is not None:
                    elapsed = time.monotonic() - started
                    progress(ScanProgress(len(hosts), counts["done"], counts["found"], round(elapsed, 3)))
        except Exception as exc:  # a bug or a failing progress callback: end the scan with it, don't hang
            queue.put_nowait(exc)
        queue.put_nowait(None)

    # Enough host workers that every socket slot can be busy with their port checks, and no more:
    # 1024 hosts never means 5120 tasks waiting on the semaphore.
    worker_count = min(len(hosts), max(1, concurrency // len(wanted_ports)))
    workers = [asyncio.create_task(work(), name=f"scan-worker-{i}") for i in range(worker_count)]
    try:
        running = worker_count
        while running:
            item = await queue.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await prober.aclose()


def _checked_ports(ports: Sequence[int]) -> tuple[int, ...]:
    unique = tuple(dict.fromkeys(ports))
    if not unique or len(unique) > MAX_PORTS:
        raise ValidationFailed(f"Give from 1 to {MAX_PORTS} ports to scan.")
    bad = [port for port in unique if not isinstance(port, int) or not 1 <= port <= 65535]
    if bad:
        raise ValidationFailed(f"Ports must be numbers from 1 to 65535; got {bad[0]!r}.")
    return unique


@dataclass(slots=True)
class _Evidence:
    """What one probe of one port proved."""

    kind: Literal["onvif", "hikvision", "dahua", "rtsp"]
    port: int
    requires_auth: bool = False
    info: DeviceInfo | None = None
    device_url: str | None = None
    rtsp_url: str | None = None
    maker_hint: str | None = None  # a vendor named without the device saying more (RTSP Server, a vendor 401)


@dataclass(slots=True)
class _HttpAnswer:
    status: int
    headers: httpx.Headers
    body: bytes = field(repr=False)

    @property
    def digest_challenge(self) -> bool:
        return self.status == 401 and any(_DIGEST.match(v) for v in self.headers.get_list("www-authenticate"))


_Silent = Literal["silent"]  # nothing came back in time
_NotHttp = Literal["not-http"]  # something answered, but not HTTP (or the connection failed)


class _HostProber:
    """Port checks and fingerprints for one scan: one HTTP client, one semaphore over every socket."""

    def __init__(
        self, *, ports: tuple[int, ...], timeout_s: float, concurrency: int, credentials: DeviceCredentials | None
    ) -> None:
        self.ports = ports
        self.timeout_s = timeout_s
        self.credentials = credentials
        self._slots = asyncio.Semaphore(concurrency)
        self._control_path = f"/vms-scan-{secrets.token_hex(4)}"  # a path no device serves, see _vendor_401
        self._client = httpx.AsyncClient(
            auth=httpx.DigestAuth(credentials.username, credentials.password) if credentials else None,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=0),
            follow_redirects=False,
            verify=False,  # cameras use self-signed certificates; a scan only reads who they say they are
            trust_env=False,
            headers={"user-agent": USER_AGENT},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def probe(self, host: str) -> DiscoveredDevice | None:
        """The device at `host`, or None when no open port looks like a camera."""
        checks = await asyncio.gather(*(self._is_open(host, port) for port in self.ports))
        open_ports = [port for port, is_open in zip(self.ports, checks, strict=True) if is_open]
        if not open_ports:
            return None
        found = await asyncio.gather(*(self._fingerprint(host, port) for port in open_ports))
        return _merge(host, open_ports, [evidence for per_port in found for evidence in per_port])

    async def _is_open(self, host: str, port: int) -> bool:
        async with self._slots:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.setblocking(False)
                async with asyncio.timeout(self.timeout_s):
                    await asyncio.get_running_loop().sock_connect(sock, (host, port))
                return True
            except (OSError, TimeoutError):
                return False
            finally:
                sock.close()

    async def _fingerprint(self, host: str, port: int) -> list[_Evidence]:
        if port in RTSP_PORTS:
            rtsp = await self._rtsp(host, port)
            return [rtsp] if rtsp else []
        evidence = await self._http(host, port)
        if evidence == "silent":  # a port that swallows HTTP in silence will not chat in RTSP either
            return []
        if evidence == "not-http":  # RTSP on a non-standard port answers HTTP with garbage or a hang-up
            rtsp = await self._rtsp(host, port)
            return [rtsp] if rtsp else []
        return evidence

    async def _rtsp(self, host: str, port: int) -> _Evidence | None:
        async with self._slots, RtspSession(host, port, timeout_s=self.timeout_s) as session:
            try:
                options = await session.options("/")
            except DeviceProblem:
                return None
            url = session.url("/")
            evidence = _Evidence("rtsp", port, rtsp_url=url, maker_hint=manufacturer_from_server(options.server))
            try:
                describe = await session.describe(url, credentials=self.credentials, allow_basic=False)
            except DeviceCredentialsRefused:
                evidence.requires_auth = True
                return evidence
            except DeviceProblem:
                return evidence  # it spoke RTSP to OPTIONS; that is the fingerprint
            evidence.requires_auth = describe.status == 401
            evidence.maker_hint = evidence.maker_hint or manufacturer_from_server(describe.server)
            return evidence

    async def _http(self, host: str, port: int) -> list[_Evidence] | _Silent | _NotHttp:
        base = f"{'https' if port in HTTPS_PORTS else 'http'}://{host}:{port}"
        answer = await self._request(
            "POST", base + ONVIF_PATH, content=_onvif_request(self.credentials), headers=_ONVIF_HEADERS
        )
        if isinstance(answer, str):
            return answer
        found: list[_Evidence] = []
        onvif = _onvif_evidence(answer, port, base + ONVIF_PATH)
        if onvif is not None:
            found.append(onvif)
            if onvif.info is not None and onvif.info.manufacturer:
                return found  # the device said who it is; the vendor probes would add nothing
        vendor = await self._hikvision(base, port) or await self._dahua(base, port)
        if vendor is not None:
            found.append(vendor)
        return found

    async def _hikvision(self, base: str, port: int) -> _Evidence | None:
        answer = await self._request("GET", base + ISAPI_PATH)
        if isinstance(answer, str):
            return None
        if answer.status == 200:
            try:
                root = hikvision.parse_isapi(answer.body.decode("utf-8", "replace"), expect="DeviceInfo", what="probe")
            except DeviceProblem:
                return None
            return _Evidence("hikvision", port, info=hikvision.device_info_from(root), device_url=base)
        if await self._vendor_401(answer, base):
            return _Evidence("hikvision", port, requires_auth=True, device_url=base, maker_hint="Hikvision")
        return None

    async def _dahua(self, base: str, port: int) -> _Evidence | None:
        answer = await self._request("GET", base + MAGICBOX_PATH)
        if isinstance(answer, str):
            return None
        if answer.status == 200:
            try:
                system = dahua.parse_kv(answer.body.decode("utf-8", "replace"), what="probe")
            except DeviceProblem:
                return None
            if not {"deviceType", "serialNumber"} & system.keys():
                return None
            return _Evidence("dahua", port, info=dahua.device_info_from(system, {}), device_url=base)
        if await self._vendor_401(answer, base):
            return _Evidence("dahua", port, requires_auth=True, device_url=base, maker_hint="Dahua")
        return None

    async def _vendor_401(self, answer: _HttpAnswer, base: str) -> bool:
        """Whether a digest 401 on a vendor path is vendor-specific: not when a made-up path gets one too
        (a device that locks every URL would otherwise be named Hikvision whoever made it)."""
        if not answer.digest_challenge:
            return False
        control = await self._request("GET", base + self._control_path)
        return isinstance(control, _HttpAnswer) and control.status != 401

    async def _request(
        self, method: str, url: str, *, content: bytes | None = None, headers: dict[str, str] | None = None
    ) -> _HttpAnswer | _Silent | _NotHttp:
        """One bounded HTTP exchange: the status, headers and at most MAX_HTTP_BYTES of body."""
        try:
            # Entered left to right: the timeout starts once a socket slot is ours, not while queueing for one.
            async with (
                self._slots,
                asyncio.timeout(self.timeout_s * 2),  # *2: a digest retry is a second exchange
                self._client.stream(method, url, content=content, headers=headers) as response,
            ):
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= MAX_HTTP_BYTES:
                        break
                return _HttpAnswer(response.status_code, response.headers, bytes(body[:MAX_HTTP_BYTES]))
        except (TimeoutError, httpx.TimeoutException):
            return "silent"
        except (httpx.HTTPError, OSError):
            return "not-http"


def _onvif_request(credentials: DeviceCredentials | None) -> bytes:
    """A GetDeviceInformation envelope, with a WS-Security UsernameToken digest when credentials are given."""
    header = soap.security_header(credentials, now=datetime.now(UTC)) if credentials is not None else ""
    return soap.envelope("<tds:GetDeviceInformation/>", header=header)


def _onvif_evidence(answer: _HttpAnswer, port: int, url: str) -> _Evidence | None:
    """ONVIF when the device service answers SOAP (information, or any fault), or a digest 401."""
    if answer.status == 401:
        return _Evidence("onvif", port, requires_auth=True, device_url=url) if answer.digest_challenge else None
    if answer.status not in (200, 400, 500):
        return None
    where = "The device"
    try:
        soap.parse_body(answer.body, where=where, operation="GetDeviceInformation")
    except DeviceProblem:
        return None  # not a SOAP envelope: a web page at that path, not ONVIF
    try:
        response = soap.parse_response(answer.body, where=where, operation="GetDeviceInformation")
    except DeviceCredentialsRefused:
        return _Evidence("onvif", port, requires_auth=True, device_url=url)
    except DeviceProblem:
        return _Evidence("onvif", port, device_url=url)  # a SOAP fault at the ONVIF path still is ONVIF
    info = DeviceInfo(
        manufacturer=soap.text(response, "Manufacturer"),
        model=soap.text(response, "Model"),
        firmware=soap.text(response, "FirmwareVersion"),
        serial=soap.text(response, "SerialNumber"),
        hardware_id=soap.text(response, "HardwareId"),
    )
    return _Evidence("onvif", port, info=info, device_url=url)


def _merge(host: str, open_ports: list[int], evidence: list[_Evidence]) -> DiscoveredDevice | None:
    """One device from every port's evidence: the best adapter, the fullest identity, the RTSP URL."""
    if not evidence:
        return None
    best = min(evidence, key=lambda e: (_KIND_RANK[e.kind], e.info is None, e.port))
    info = best.info or next((e.info for e in evidence if e.info is not None), None) or DeviceInfo()
    hint = next((e.maker_hint for e in sorted(evidence, key=lambda e: _KIND_RANK[e.kind]) if e.maker_hint), None)
    rtsp_url = next((e.rtsp_url for e in sorted(evidence, key=lambda e: e.port != 554) if e.rtsp_url), None)
    return DiscoveredDevice(
        host=host,
        kind=best.kind,
        via="scan",
        ports=tuple(open_ports),
        manufacturer=info.manufacturer or hint,
        model=info.model,
        firmware=info.firmware,
        serial=info.serial,
        device_url=best.device_url,
        rtsp_url=rtsp_url,
        requires_auth=best.requires_auth,
    )
