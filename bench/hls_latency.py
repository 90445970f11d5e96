"""HLS live fallback: glass-to-glass latency through our own segments, per segment length, with WebRTC as baseline.

The camera is bench/live_latency.py's: frames that carry their capture time (ms) as black/white blocks,
encoded by x264 (zerolatency, keyframe every second) and published over RTSP by a private go2rtc. For
each segment length (default 1, 2 and 5 s) this process runs the platform's own ingest
(`media.ingest.StreamIngest`: RTSP → stream-copy fMP4 segments → blob store + index), serves the real API
app over loopback HTTP, and plays the camera's signed live master playlist (from `POST /playback/urls`)
with ffmpeg as the player (`-re`: real-time pacing, like a <video> element), in three ways:

- `hold_back_3td`: starts 3 target durations behind the live edge — hls.js's default
  (liveSyncDurationCount 3) and the HLS spec's minimum HOLD-BACK; ffmpeg's own default too;
- `server_hint`: starts where the playlist's `#EXT-X-START` says (`-prefer_x_start 1`), as Safari and
  ExoPlayer do (hls.js keeps the same distance from `#EXT-X-SERVER-CONTROL:HOLD-BACK`);
- `live_edge`: starts at the newest segment (lowest latency, but each segment arrives just in time).

Each (length, mode) runs `--rounds` players one after another, each joining at a random moment of the
segment cycle (one player's latency is fixed by where it joins, so one player is one sample) and
measured for `--seconds`. Latency of a frame = when a player would show it − the time burned into it.
ffmpeg emits late frames at once after a stall; a real player instead carries the stall on as extra
delay (it does not skip ahead), so the shown time is modelled as
`shown_i = max(decoded_i, shown_{i-1} + frame interval)`.
Stalls (a frame shown > 0.2 s after its predecessor's slot) are counted. Time to first frame is from
starting the player to its first decoded frame. The WebRTC figure comes from an aiortc viewer through
the platform's go2rtc gateway in the same run (the baseline of the ratios).

Prints one JSON line. Needs go2rtc (`scripts/go2rtc-build`) and Debian's ffmpeg.

    uv run python bench/hls_latency.py [--rounds 4] [--seconds 5] [--lengths 1,2,5] [--hold-back 3] [--no-webrtc]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import aioice.ice
import httpx
import numpy as np
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import factories

from bench.live_latency import BITS, BLOCK, Camera, free_port, pct, read, watch
from vms import logs, migrations
from vms.api.app import create_app
from vms.auth.permissions import Role
from vms.bootstrap import Container, build_container
from vms.kernel.tenancy import TenantScope
from vms.media import service as media
from vms.media.ingest import StreamIngest
from vms.media.segmenter import SegmentInfo
from vms.roles.streaming import build_gateway
from vms.settings import Settings
from vms.streaming.gateway import GatewayState, find_binary
from vms.uow import Actor

CROP_W, CROP_H = BLOCK * BITS // 2, BLOCK * 2  # the time code's two rows of blocks
FRAME_BYTES = CROP_W * CROP_H
STALL_S = 0.2
HEAD_TAGS = ("#EXT-X-TARGETDURATION", "#EXT-X-SERVER-CONTROL", "#EXT-X-START")
MODES = {
    "hold_back_3td": ["-live_start_index", "-3"],
    "server_hint": ["-prefer_x_start", "1"],
    "live_edge": ["-live_start_index", "-1"],
}


@dataclass
class Measured:
    """What the players of one segment length and start mode saw, over all their rounds."""

    latencies_ms: list[float] = field(default_factory=list)
    first_frames_ms: list[float] = field(default_factory=list)
    stalls: int = 0
    rounds: int = 0


class Player:
    """One ffmpeg playing a live playlist in real time, reading the time code of every decoded frame."""

    def __init__(self, mode: str, into: Measured) -> None:
        self.mode = mode
        self.into = into
        self.measuring = False
        self.first_frame = asyncio.Event()
        self.proc: asyncio.subprocess.Process | None = None
        self.task: asyncio.Task[None] | None = None

    async def play(self, url: str) -> None:
        """Start ffmpeg on `url`."""
        self.started = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(
            "ffmpeg", "-v", "error", "-re", *MODES[self.mode], "-i", url, "-map", "0:v:0",
            "-vf", f"crop={CROP_W}:{CROP_H}:0:0", "-pix_fmt", "gray", "-f", "rawvideo", "pipe:1",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        shown_ms: float | None = None
        drawn_before: int | None = None
        with contextlib.suppress(asyncio.IncompleteReadError):
            while True:
                raw = await self.proc.stdout.readexactly(FRAME_BYTES)
                now_ms = time.time() * 1000
                if not self.first_frame.is_set():
                    self.into.first_frames_ms.append((time.monotonic() - self.started) * 1000)
                    self.first_frame.set()
                drawn = read(np.frombuffer(raw, dtype=np.uint8).reshape(CROP_H, CROP_W))
                if drawn is None:
                    continue
                if shown_ms is None or drawn_before is None:
                    shown_ms = now_ms
                else:
                    slot = shown_ms + (drawn - drawn_before)  # when the player shows it if nothing stalls
                    if now_ms - slot > STALL_S * 1000 and self.measuring:
                        self.into.stalls += 1
                    shown_ms = max(now_ms, slot)
                drawn_before = drawn
                if self.measuring:
                    self.into.latencies_ms.append(shown_ms - drawn)

    async def stop(self) -> None:
        """Stop ffmpeg."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


async def sessions(url: str, mode: str, *, length_s: float, rounds: int, window_s: float, into: Measured) -> None:
    """`rounds` players one after the other, each joining at a random moment of the segment cycle (a single
    player's latency is fixed by where in the cycle it joined, so one player is one sample)."""
    for _ in range(rounds):
        await asyncio.sleep(random.uniform(0, length_s))
        player = Player(mode, into)
        try:
            await player.play(url)
            async with asyncio.timeout(length_s * 4 + 15):
                await player.first_frame.wait()
            await asyncio.sleep(1.0)  # past the start-up burst
            player.measuring = True
            await asyncio.sleep(window_s)
            into.rounds += 1
        finally:
            await player.stop()


@dataclass
class Recorder:
    """The platform's ingest of one camera at one segment length, storing segments like the ingest role."""

    container: Container
    tenant_id: uuid.UUID
    camera_id: uuid.UUID
    segments: int = 0
    durations: list[float] = field(default_factory=list)

    async def store(self, info: SegmentInfo) -> None:
        """What the ingest role does with a closed segment (minus AI jobs)."""
        scope = TenantScope.of(self.tenant_id)  # type: ignore[arg-type]
        async with self.container.unit_of_work(scope, Actor.system("ingest")) as uow:
            await media.record_segment(
                uow=uow, blobs=self.container.blobs, tenant_id=self.tenant_id, camera_id=self.camera_id,
                stream="main", info=info,
            )  # fmt: skip
            await uow.commit()
        self.segments += 1
        self.durations.append(info.duration_s)


async def serve(app: object) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    """The app on loopback HTTP (ffmpeg fetches playlists and segments like a browser)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))  # type: ignore[arg-type]
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.02)
    return server, task, f"http://127.0.0.1:{port}"


def summary(values: list[float]) -> dict[str, float | int]:
    """p50/p95 in ms and the sample count."""
    if not values:
        return {"frames": 0}
    return {"p50": pct(values, 50), "p95": pct(values, 95), "frames": len(values)}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=4, help="Players per length and mode, one after another.")
    parser.add_argument("--seconds", type=float, default=5.0, help="Measuring window of each player.")
    parser.add_argument("--lengths", default="1,2,5", help="Segment lengths to compare, in seconds.")
    parser.add_argument(
        "--hold-back", type=float, default=None, help="playback.live_hold_back_targets (default: the setting's)."
    )
    parser.add_argument("--no-webrtc", action="store_true", help="Leave out the WebRTC baseline.")
    args = parser.parse_args()
    lengths = [float(x) for x in args.lengths.split(",")]
    logs.configure(level="WARNING")
    logging.getLogger("aiortc.rtcrtpreceiver").setLevel(logging.ERROR)
    binary = find_binary(None)
    if binary is None or shutil.which("ffmpeg") is None:
        print("hls_latency: go2rtc or ffmpeg not found (scripts/go2rtc-build, apt-get install ffmpeg)", file=sys.stderr)
        print(json.dumps({"bench": "hls_latency", "skipped": "go2rtc or ffmpeg not found"}))
        return
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

    work = Path(tempfile.mkdtemp(prefix="vms-hls-latency-"))
    settings = Settings(
        data_dir=work,
        database={"url": f"sqlite+aiosqlite:///{work}/vms.db"},  # type: ignore[arg-type]
        storage={"root": work / "blobs"},  # type: ignore[arg-type]
        security={"argon2_time_cost": 1, "argon2_memory_kib": 1024},  # type: ignore[arg-type]
        rate_limits={"per_ip_per_minute": 0, "per_user_per_minute": 0, "per_tenant_per_minute": 0},  # type: ignore[arg-type]
        streaming={"api_port": free_port(), "rtsp_port": free_port(), "webrtc_port": free_port()},  # type: ignore[arg-type]
    )
    if args.hold_back is not None:
        settings.playback.live_hold_back_targets = args.hold_back
    await asyncio.to_thread(migrations.upgrade, settings.database.url)
    container = build_container(settings)
    app = create_app(container)
    gateway = build_gateway(container)
    app.state.streaming_gateway = gateway
    camera = Camera(work, binary)
    camera.start()
    gateway_task = asyncio.create_task(gateway.run()) if not args.no_webrtc else None
    server, server_task, base = await serve(app)
    ingests: list[asyncio.Task[None]] = []
    measured = {(length, mode): Measured() for length in lengths for mode in MODES}
    webrtc = None
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            customer = await factories.customer(container)
            viewer = await factories.account(http, container, tenant_id=customer.id, role=Role.VIEWER)
            recorders: dict[float, Recorder] = {}
            for length in lengths:
                cam = await factories.camera(
                    container, tenant_id=customer.id, name=f"Time code {length:g} s", main_url=camera.url
                )
                recorders[length] = Recorder(container, customer.id, cam.id)
                ingest = StreamIngest(
                    url=camera.url, work_dir=work / f"ingest-{length:g}", on_segment=recorders[length].store,
                    target_s=length,
                )  # fmt: skip
                ingests.append(asyncio.create_task(ingest.run()))
            # A live playlist needs a few segments before a player can hold back 3 of them.
            async with asyncio.timeout(max(lengths) * 8 + 30):
                while any(r.segments < 4 for r in recorders.values()):
                    await asyncio.sleep(0.1)
            masters: dict[float, str] = {}
            for length, recorder in recorders.items():
                r = await http.post(
                    "/api/v1/playback/urls", json={"camera_ids": [str(recorder.camera_id)]}, headers=viewer.headers
                )
                r.raise_for_status()
                masters[length] = r.json()["cameras"][0]["live_master"]
            if gateway_task is not None:
                async with asyncio.timeout(20):
                    while gateway.status().state != GatewayState.RUNNING:
                        await asyncio.sleep(0.05)
                await gateway.refresh()
                asgi = httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)), base_url="http://bench"
                )
                webrtc = await watch(asgi, str(next(iter(recorders.values())).camera_id), viewer.headers)
                await asyncio.sleep(2)  # first keyframe, jitter buffer
                webrtc.measuring = True
            await asyncio.gather(
                *(
                    sessions(masters[length], mode, length_s=length, rounds=args.rounds, window_s=args.seconds, into=m)
                    for (length, mode), m in measured.items()
                )
            )
            if webrtc is not None:
                webrtc.measuring = False
            heads: dict[float, list[str]] = {}  # what the server tells players: target duration, hints
            for length, master in masters.items():
                variant = next(line for line in (await http.get(master)).text.splitlines() if not line.startswith("#"))
                text = (await http.get(urljoin(master, variant))).text
                heads[length] = [line for line in text.splitlines() if line.startswith(HEAD_TAGS)]
    finally:
        if webrtc is not None:
            if webrtc.task:
                webrtc.task.cancel()
            await webrtc.pc.close()
        for task in ingests:
            task.cancel()
        await asyncio.gather(*ingests, return_exceptions=True)
        server.should_exit = True
        await asyncio.gather(server_task, return_exceptions=True)
        if gateway_task is not None:
            gateway_task.cancel()
            await asyncio.gather(gateway_task, return_exceptions=True)
        await gateway.close()
        camera.close()
        await container.close()
        shutil.rmtree(work, ignore_errors=True)

    webrtc_p50 = pct(webrtc.latencies_ms, 50) if webrtc is not None and webrtc.latencies_ms else None
    results: dict[str, object] = {}
    for length in lengths:
        row: dict[str, object] = {
            "segment_s_median": round(statistics.median(recorders[length].durations), 3),
            "playlist": heads.get(length, []),
        }
        for mode in MODES:
            m = measured[(length, mode)]
            figures: dict[str, object] = {
                **summary(m.latencies_ms),
                "players": m.rounds,
                "stalls": m.stalls,
                "first_frame_ms_median": round(statistics.median(m.first_frames_ms)) if m.first_frames_ms else None,
            }
            if webrtc_p50 and m.latencies_ms:
                figures["p50_vs_webrtc"] = round(pct(m.latencies_ms, 50) / webrtc_p50, 1)
            row[mode] = figures
        results[f"{length:g}s"] = row
    print(
        json.dumps(
            {
                "bench": "hls_latency",
                "video": "640x360@25 H.264 (x264 ultrafast zerolatency, GOP 1 s), RTSP via go2rtc",
                "player": "ffmpeg -re over HTTP from the signed live master; stalls carried as delay",
                "hold_back_targets": settings.playback.live_hold_back_targets,
                "glass_to_glass_ms_by_segment_length": results,
                "webrtc_glass_to_glass_ms": summary(webrtc.latencies_ms) if webrtc is not None else None,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
