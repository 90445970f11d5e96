"""The streaming gateway: go2rtc as a supervised sidecar (DESIGN.md §6–7, issue 9 part 1).

go2rtc holds ONE connection per camera stream and fans it out to every WebRTC viewer, so ten
operators watching a camera cost the camera one RTSP session, and video is never transcoded.
This module:

- builds go2rtc's config from the camera database: the main and sub stream of every camera,
  named `<camera_id>` and `<camera_id>_sub`, with credentials put back into the URLs;
- writes it atomically with mode 600 (it holds camera passwords), listeners on 127.0.0.1, no
  public STUN unless settings name one, and a random API password so other local users cannot
  drive the gateway (go2rtc's API can rewrite its config and start ffmpeg);
- runs go2rtc, restarts it with backoff when it dies, stops it (and its ffmpeg children) on shutdown;
- re-reads the camera list every `refresh_s` (and on demand, when a viewer asks for a camera the
  gateway does not know yet) and applies changes through go2rtc's API (PUT/DELETE /api/streams)
  without dropping the viewers of unchanged cameras; if that fails, it restarts go2rtc;
- proxies the SDP offer/answer exchange (`POST /api/webrtc?src=…`).

If no go2rtc binary can be found it says so loudly, once, and reports `unavailable`: the live
API then answers 503 telling clients to use HLS. It never pretends WebRTC works.

>>> gateway = Go2rtcGateway(settings=settings.streaming, work_dir=data_dir / "streaming", load=load)
>>> task = asyncio.create_task(gateway.run())
>>> answer = await gateway.exchange_sdp(stream_name(camera_id, "main"), offer_sdp)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
import structlog

from vms.cameras import service as cameras
from vms.cameras.urls import redact, split_credentials, with_credentials
from vms.kernel.clock import utcnow
from vms.kernel.crypto import SecretBox
from vms.kernel.errors import ServiceUnavailable, ValidationFailed
from vms.media.ingest import Backoff
from vms.settings import StreamingSettings
from vms.uow import UnitOfWork

log = structlog.get_logger(__name__)

GO2RTC_VERSION = "1.9.14"  # the version scripts/go2rtc-build builds; others run, with a warning
REPO_ROOT = Path(__file__).resolve().parents[3]
HEALTHY_AFTER_S = 60.0  # a go2rtc that ran this long counts as healthy: the backoff starts over
READY_TIMEOUT_S = 15.0
# util-linux's setpriv asks the kernel to send go2rtc SIGTERM when the API process ends, even when
# that process is killed outright and cannot stop its sidecar itself (no preexec_fn: unsafe with threads).
_SETPRIV = shutil.which("setpriv")
_DIE_WITH_PARENT: tuple[str, ...] = (_SETPRIV, "--pdeathsig", "TERM", "--") if _SETPRIV else ()
STOP_TIMEOUT_S = 5.0
LOG_TAIL_BYTES = 4096
StreamKind = Literal["main", "sub"]


class GatewayState(StrEnum):
    """Where the gateway stands; `/api/v1/live/status` reports it."""

    DISABLED = "disabled"  # switched off in settings
    UNAVAILABLE = "unavailable"  # no go2rtc binary on this machine: WebRTC off, HLS only
    NOT_STARTED = "not_started"  # this process does not run a gateway (e.g. a worker)
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"  # go2rtc died; waiting out the backoff before the next start
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class GatewayStream:
    """One camera stream as go2rtc serves it."""

    name: str
    camera_id: uuid.UUID
    kind: StreamKind
    source: str  # what go2rtc opens, credentials included: never log it, log `shown`

    @property
    def shown(self) -> str:
        """The source without credentials, safe for logs and status."""
        return redact(self.source.removeprefix("ffmpeg:"))


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    """A snapshot of the gateway's health."""

    state: GatewayState
    reason: str | None
    binary: str | None
    version: str | None
    pid: int | None
    streams: int
    restarts: int
    since: datetime


def stream_name(camera_id: uuid.UUID, kind: StreamKind) -> str:
    """go2rtc's name for a camera stream: `<camera_id>` for main, `<camera_id>_sub` for sub."""
    return str(camera_id) if kind == "main" else f"{camera_id}_sub"


def go2rtc_source(url: str) -> str:
    """The go2rtc source for a camera URL.

    A local file (the demo camera, `file:///…/camera.mp4`) is played in a loop by ffmpeg, as a
    stream copy. Network URLs go as they are, minus any `#fragment`: go2rtc reads `#…` as its
    own options (some of which pass raw arguments to ffmpeg), and a camera never needs one.
    """
    if url.startswith("file:") or "://" not in url:
        path = unquote(urlsplit(url).path) if url.startswith("file:") else url
        return f"ffmpeg:{path}#input=loopfile#video=copy"
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


async def load_streams(*, uow: UnitOfWork, secrets: SecretBox, page_size: int = 500) -> list[GatewayStream]:
    """Main and sub stream of every camera visible to `uow` (the gateway uses platform scope).

    Through the cameras service only: `ingest_targets` gives each camera's main URL with its
    credentials, the camera list gives the sub URLs, which use the same credentials.
    """
    targets = await cameras.ingest_targets(uow=uow, secrets=secrets)
    sub_urls: dict[uuid.UUID, str] = {}
    offset = 0
    while True:
        page, total = await cameras.list_cameras(
            uow=uow, filters=cameras.CameraFilter(), limit=page_size, offset=offset
        )
        sub_urls.update({c.id: c.sub_url for c in page if c.sub_url})
        offset += len(page)
        if not page or offset >= total:
            break
    streams = []
    for target in targets:
        main = target.streams["main"]
        name = stream_name(target.camera_id, "main")
        streams.append(GatewayStream(name, target.camera_id, "main", go2rtc_source(main)))
        if sub := sub_urls.get(target.camera_id):
            _, user, password = split_credentials(main) if "://" in main else (main, None, None)
            source = go2rtc_source(with_credentials(sub, user, password))
            streams.append(GatewayStream(stream_name(target.camera_id, "sub"), target.camera_id, "sub", source))
    return streams


def find_binary(configured: Path | None, *, search_path: str | None = None) -> Path | None:
    """go2rtc: the configured path, else `.services/bin/go2rtc` of this checkout, else PATH.

    A configured path that is not an executable counts as missing (and is reported as such),
    rather than silently falling back to some other go2rtc.
    """
    if configured is not None:
        return configured if configured.is_file() and os.access(configured, os.X_OK) else None
    built = REPO_ROOT / ".services" / "bin" / "go2rtc"
    if built.is_file() and os.access(built, os.X_OK):
        return built
    found = shutil.which("go2rtc", path=search_path)
    return Path(found) if found else None


def _yaml(value: object) -> str:
    # A JSON string, list or object is valid YAML flow syntax, and json.dumps escapes whatever a
    # URL or password may contain; so the config needs no YAML library and cannot be injected into.
    return json.dumps(value)


def render_config(
    streams: Sequence[GatewayStream],
    settings: StreamingSettings,
    *,
    api_user: str,
    api_password: str,
    ffmpeg: str,
) -> str:
    """go2rtc's YAML config for these streams (block style, so go2rtc's own config patches work)."""
    host = settings.webrtc_host
    loopback = host.startswith("127.") or host == "::1"
    candidates = list(settings.webrtc_candidates)
    filters: dict[str, object] = {"networks": ["udp4", "tcp4"]}
    if loopback:
        # Only loopback candidates: nothing leaves the machine unless settings open it.
        candidates.append(f"{host}:{settings.webrtc_port}")
        filters |= {"loopback": True, "ips": [host]}
    elif host not in ("0.0.0.0", "::"):
        filters |= {"ips": [host]}
    ice = [s.model_dump(exclude_none=True) for s in settings.ice_servers]
    lines = [
        "# Written by the VMS Platform (vms.streaming.gateway) from the camera database; edits are overwritten.",
        "# Holds camera credentials: keep it mode 600.",
        "log:",
        "  format: text",
        "  level: info",
        "api:",
        f"  listen: {_yaml(f'127.0.0.1:{settings.api_port}')}",
        f"  username: {_yaml(api_user)}",
        f"  password: {_yaml(api_password)}",
        "  local_auth: true  # loopback callers need the password too: other local users must not drive it",
        "rtsp:",
        f"  listen: {_yaml(f'127.0.0.1:{settings.rtsp_port}')}",
        f"  username: {_yaml(api_user)}",
        f"  password: {_yaml(api_password)}",
        "webrtc:",
        f"  listen: {_yaml(f'{host}:{settings.webrtc_port}')}",
        f"  ice_servers: {_yaml(ice)}  # go2rtc's default is public STUN; we use only what settings name",
        f"  candidates: {_yaml(candidates)}",
        f"  filters: {_yaml(filters)}",
        "srtp:",
        '  listen: ""  # HomeKit SRTP would otherwise bind 0.0.0.0:8443',
        "ffmpeg:",
        f"  bin: {_yaml(ffmpeg)}",
        f"  loopfile: {_yaml('-re -stream_loop -1 -i {input}')}",
    ]
    if streams:
        lines.append("streams:")
        lines += [f"  {_yaml(s.name)}: {_yaml(s.source)}" for s in streams]
    else:
        lines.append("streams: {}")
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, readable by this user only (dir 700, file 600).

    The temporary file is created with mode 600 before anything is written, so the secrets are
    never readable by others, not even for a moment; rename makes the switch atomic.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")


def _scrub(text: str) -> str:
    """go2rtc's error text, without any user:password@ it may quote."""
    return _USERINFO.sub("***@", text).strip()[:500]


class _HideGatewayCalls(logging.Filter):
    """httpx logs every request URL at INFO; ours to go2rtc carry camera URLs, passwords included,
    in the query (`PUT /api/streams?src=rtsp://user:pass@…`), so they never reach the log."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.marker = f"127.0.0.1:{port}/"

    def filter(self, record: logging.LogRecord) -> bool:
        return self.marker not in record.getMessage()


class Go2rtcGateway:
    """Supervises one go2rtc process and speaks to its API."""

    def __init__(
        self,
        *,
        settings: StreamingSettings,
        work_dir: Path,
        load: Callable[[], Awaitable[list[GatewayStream]]],
        binary: Path | Literal["find"] | None = "find",
        backoff: Backoff | None = None,
        ffmpeg: str | None = None,
    ) -> None:
        self.settings = settings
        self.work_dir = work_dir
        self.config_path = work_dir / "go2rtc.yaml"
        self.log_path = work_dir / "go2rtc.log"
        self.binary = find_binary(settings.go2rtc_binary) if binary == "find" else binary
        self.backoff = backoff or Backoff(base_s=1.0, cap_s=30.0)
        self.ffmpeg = ffmpeg or shutil.which("ffmpeg") or "ffmpeg"
        self._load = load
        self._user = "vms"
        self._password = secrets.token_urlsafe(24)  # new per gateway: never stored anywhere but the config
        self._streams: dict[str, GatewayStream] = {}
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._state = GatewayState.NOT_STARTED if settings.enabled else GatewayState.DISABLED
        self._reason: str | None = None
        self._version: str | None = None
        self._restarts = 0
        self._since = utcnow()
        self._warned = False
        self._quiet = _HideGatewayCalls(settings.api_port)
        logging.getLogger("httpx").addFilter(self._quiet)
        self._http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.api_port}",
            auth=(self._user, self._password),
            timeout=settings.answer_timeout_s,
            trust_env=False,  # never send loopback calls through an HTTP proxy from the environment
        )

    # --- status -----------------------------------------------------------------------------------

    def status(self) -> GatewayStatus:
        """The gateway's state now."""
        running = self._process is not None and self._process.returncode is None
        return GatewayStatus(
            state=self._state,
            reason=self._reason,
            binary=str(self.binary) if self.binary else None,
            version=self._version,
            pid=self._process.pid if running and self._process else None,
            streams=len(self._streams),
            restarts=self._restarts,
            since=self._since,
        )

    @property
    def streams(self) -> Mapping[str, GatewayStream]:
        """The streams go2rtc was last given, by name."""
        return dict(self._streams)

    def _set(self, state: GatewayState, reason: str | None = None) -> None:
        if state != self._state:
            self._since = utcnow()
        self._state, self._reason = state, reason

    # --- supervision ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run go2rtc until cancelled, restarting it with backoff whenever it exits."""
        if not self.settings.enabled:
            self._set(GatewayState.DISABLED, "streaming.enabled is false")
            log.info("streaming gateway disabled in settings; WebRTC live view answers 503, HLS still works")
            return
        if self.binary is None:
            self._report_missing()
            return
        self._version = await self._read_version(self.binary)
        attempt = 0
        try:
            while True:
                await self._reload_streams()
                write_private(self.config_path, self._render())
                started = time.monotonic()
                # After a crash the reason stays visible while it starts again: it says what went wrong.
                self._set(GatewayState.STARTING, self._reason if self._restarts else None)
                await self._spawn(self.binary)
                if await self._wait_ready():
                    self._set(GatewayState.RUNNING)
                    log.info("streaming gateway running", pid=self._pid(), streams=len(self._streams))
                    await self._watch()
                else:
                    await self._stop_process()
                code = self._process.returncode if self._process else None
                attempt = 1 if time.monotonic() - started >= HEALTHY_AFTER_S else attempt + 1
                delay = self.backoff.delay(attempt)
                self._restarts += 1
                reason = f"go2rtc exited (code {code}); last log: {self._log_tail() or '(empty)'}"
                self._set(GatewayState.RESTARTING, reason)
                log.warning("streaming gateway exited; restarting", code=code, retry_in_s=round(delay, 2))
                await asyncio.sleep(delay)
        finally:
            await asyncio.shield(self._stop_process())
            self._set(GatewayState.STOPPED)

    async def close(self) -> None:
        """Stop go2rtc (if `run` is not cancelled by its owner) and release the HTTP client."""
        await self._stop_process()
        await self._http.aclose()
        logging.getLogger("httpx").removeFilter(self._quiet)

    def _report_missing(self) -> None:
        configured = self.settings.go2rtc_binary
        where = (
            f"VMS_STREAMING__GO2RTC_BINARY={configured} is not an executable file"
            if configured
            else f"no go2rtc in {REPO_ROOT / '.services/bin'} nor on PATH"
        )
        reason = (
            f"{where}. WebRTC live view is off; clients fall back to HLS. Build go2rtc v{GO2RTC_VERSION} with "
            "`scripts/go2rtc-build` (needs Go; `make run` does it) or set VMS_STREAMING__GO2RTC_BINARY."
        )
        self._set(GatewayState.UNAVAILABLE, reason)
        if not self._warned:
            self._warned = True
            bar = "!" * 88
            log.error(bar)
            log.error(f"!!! STREAMING GATEWAY UNAVAILABLE: {where}")
            log.error("!!! WebRTC live view answers 503 (use HLS). Build go2rtc with scripts/go2rtc-build.")
            log.error(bar)

    async def _read_version(self, binary: Path) -> str | None:
        try:
            process = await asyncio.create_subprocess_exec(
                str(binary), "-version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
            )
            async with asyncio.timeout(10):
                out, _ = await process.communicate()
        except (OSError, TimeoutError) as exc:
            log.warning("go2rtc -version failed", binary=str(binary), error=str(exc))
            return None
        match = re.search(r"version (\S+)", out.decode(errors="replace"))
        version = match.group(1) if match else None
        if version and not version.startswith(GO2RTC_VERSION):
            log.warning("go2rtc is not the tested version", found=version, expected=GO2RTC_VERSION)
        return version

    async def _spawn(self, binary: Path) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, f"---- {utcnow().isoformat()} start {binary}\n".encode())
            # Its own session, so stopping it also ends the ffmpeg children it started for file sources.
            self._process = await asyncio.create_subprocess_exec(
                *_DIE_WITH_PARENT,
                str(binary),
                "-config",
                str(self.config_path),
                cwd=self.work_dir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=fd,
                stderr=fd,
                start_new_session=True,
            )
        finally:
            os.close(fd)

    def _pid(self) -> int | None:
        return self._process.pid if self._process else None

    async def _wait_ready(self) -> bool:
        """Whether go2rtc's API answered (with our password) before the process died or time ran out."""
        process = self._process
        assert process is not None
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                while process.returncode is None:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await self._http.get("/api", timeout=1.0)).status_code == 200:
                            return True
                    await asyncio.sleep(0.05)
        except TimeoutError:
            log.warning("go2rtc did not answer in time", timeout_s=READY_TIMEOUT_S)
        return False

    async def _watch(self) -> None:
        """Return when go2rtc exits; meanwhile re-read the camera list every refresh_s."""
        process = self._process
        assert process is not None
        while process.returncode is None:
            try:
                async with asyncio.timeout(self.settings.refresh_s):
                    await process.wait()
            except TimeoutError:
                await self.refresh()

    async def _stop_process(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()

    def _log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(max(0, os.fstat(handle.fileno()).st_size - LOG_TAIL_BYTES))
                lines = handle.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return _scrub(lines[-1]) if lines else ""

    # --- the camera list --------------------------------------------------------------------------

    def _render(self) -> str:
        return render_config(
            list(self._streams.values()),
            self.settings,
            api_user=self._user,
            api_password=self._password,
            ffmpeg=self.ffmpeg,
        )

    async def _reload_streams(self) -> dict[str, GatewayStream] | None:
        """Read the camera list; None (and the old list kept) when the database cannot be read."""
        try:
            wanted = {s.name: s for s in await self._load()}
        except Exception as exc:  # the gateway must outlive a database hiccup; the next refresh retries
            log.error("camera list unavailable; keeping the gateway's streams", error=str(exc))
            return None
        old, self._streams = self._streams, wanted
        return old

    async def refresh(self) -> bool:
        """Re-read the camera list and apply any change to the running go2rtc; True if something changed."""
        async with self._lock:
            old = await self._reload_streams()
            if old is None or old == self._streams:
                return False
            write_private(self.config_path, self._render())
            if self._state != GatewayState.RUNNING:
                return True  # the next start reads the new config
            try:
                for name, stream in self._streams.items():
                    if old.get(name) != stream:
                        r = await self._http.put("/api/streams", params={"name": name, "src": stream.source})
                        r.raise_for_status()
                for name in old.keys() - self._streams.keys():
                    (await self._http.delete("/api/streams", params={"src": name})).raise_for_status()
                # go2rtc rewrites the file when its streams change; ours is the full truth, so put it back.
                write_private(self.config_path, self._render())
            except httpx.HTTPError as exc:
                log.warning("go2rtc refused a stream change; restarting it on the new config", error=_scrub(str(exc)))
                await self._stop_process()  # the supervisor starts it again on the new config
            log.info(
                "streaming gateway streams updated",
                added=len(self._streams.keys() - old.keys()),
                removed=len(old.keys() - self._streams.keys()),
            )
            return True

    async def ensure_stream(self, name: str) -> GatewayStream:
        """The stream called `name`, re-reading the camera list once if the gateway does not know it yet."""
        stream = self._streams.get(name)
        if stream is None:
            await self.refresh()
            stream = self._streams.get(name)
        if stream is None:
            raise ServiceUnavailable("The live-view gateway has not picked up this camera yet; retry in a few seconds.")
        return stream

    # --- WebRTC -----------------------------------------------------------------------------------

    def ensure_running(self) -> None:
        """Raise a 503 that says why WebRTC is off (and that HLS still plays) unless go2rtc is up."""
        if self._state == GatewayState.RUNNING:
            return
        reason = self._reason or {
            GatewayState.NOT_STARTED: "this API process runs no streaming gateway",
            GatewayState.STARTING: "the streaming gateway is starting",
        }.get(self._state, f"the streaming gateway is {self._state.value}")
        extra: dict[str, object] = {"gateway": self._state.value, "fallback": "hls"}
        if self._state in (GatewayState.STARTING, GatewayState.RESTARTING):
            extra["retry_after"] = 5  # it is coming back; a client may retry WebRTC before falling back
        raise ServiceUnavailable(
            f"WebRTC live view is unavailable: {reason.rstrip('.')}. Use the HLS live stream instead.", **extra
        )

    async def exchange_sdp(self, name: str, offer: str) -> str:
        """go2rtc's SDP answer (ICE candidates included) to a viewer's offer for stream `name`."""
        self.ensure_running()
        await self.ensure_stream(name)
        try:
            r = await self._http.post(
                "/api/webrtc", params={"src": name}, content=offer, headers={"Content-Type": "application/sdp"}
            )
        except httpx.TimeoutException:
            raise ServiceUnavailable(
                f"The camera did not answer within {self.settings.answer_timeout_s:g} s; check that it is online."
            ) from None
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"The live-view gateway is not reachable ({type(exc).__name__}); retry.") from None
        if r.status_code in (200, 201):
            return r.text
        detail = _scrub(r.text) or f"HTTP {r.status_code}"
        if r.status_code == 404:
            raise ServiceUnavailable("The live-view gateway has not picked up this camera yet; retry in a few seconds.")
        if "codecs not matched" in detail:
            raise ValidationFailed(
                "Your browser cannot play this camera stream's codec over WebRTC (for example H.265); "
                f"try stream=sub or the HLS live stream. Gateway: {detail}"
            )
        if detail.startswith("streams:"):
            raise ServiceUnavailable(f"The camera stream could not be opened; is the camera online? ({detail})")
        raise ValidationFailed(f"The gateway refused the SDP offer: {detail}")
