"""WebRTC live view: glass-to-glass latency, time to first frame, gateway CPU per viewer.

A simulated camera burns its wall-clock time into every frame: this process draws 640×360 frames at
25 fps whose top rows are 48 black/white blocks holding the capture time in milliseconds (bits
0–39 of the Unix time in ms, then 8 check bits), and pipes them into ffmpeg (x264 ultrafast,
zerolatency, keyframe every second), which publishes RTSP into a private go2rtc: the "camera".
The platform's own gateway (the api role's go2rtc, started by `vms.roles.streaming.build_gateway`)
pulls the camera like any other from the camera database; aiortc viewers (ICE on 127.0.0.1 only,
no STUN) negotiate through OUR API (in-process app, real sign-in with MFA), decode every frame and
read the time back:

- glass-to-glass = time the viewer has the decoded frame − time the frame was drawn
  (same machine, same clock: encode, RTSP, gateway, WebRTC, jitter buffer and decode included);
- time to first frame = from the POST of the offer to the first decoded frame (includes waiting
  for the next keyframe, up to the 1 s GOP);
- gateway CPU = go2rtc's user+system CPU time over the measuring window, with 1 and with 4
  viewers (no transcoding: each extra viewer should cost packet copying only).

Prints one JSON line.  Needs go2rtc (`scripts/go2rtc-build`) and Debian's ffmpeg.

    uv run python bench/live_latency.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import aioice.ice
import httpx
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from vms import logs, migrations
from vms.api.app import create_app
from vms.auth.permissions import Role
from vms.bootstrap import build_container
from vms.roles.streaming import build_gateway
from vms.settings import Settings
from vms.streaming.gateway import GatewayState, find_binary

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import factories

WIDTH, HEIGHT, FPS = 640, 360, 25
BLOCK = 24  # px per bit block: 48 blocks in 2 rows of 24 blocks (576 px wide, 48 px high)
TIME_BITS, CHECK_BITS = 40, 8
BITS = TIME_BITS + CHECK_BITS


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bits(ms: int) -> list[int]:
    value = ms & ((1 << TIME_BITS) - 1)
    check = 0
    for i in range(0, TIME_BITS, 8):
        check ^= (value >> i) & 0xFF
    return [(value >> i) & 1 for i in range(TIME_BITS)] + [(check >> i) & 1 for i in range(CHECK_BITS)]


def draw(ms: int, n: int) -> bytes:
    """A gray frame: the time code on top, a moving bar below (so the encoder has real work)."""
    frame = np.full((HEIGHT, WIDTH), 96, dtype=np.uint8)
    x = (n * 8) % WIDTH
    frame[120:, x : x + 40] = 200
    for i, bit in enumerate(_bits(ms)):
        row, col = divmod(i, BITS // 2)
        frame[row * BLOCK : (row + 1) * BLOCK, col * BLOCK : (col + 1) * BLOCK] = 255 if bit else 0
    return frame.tobytes()


def read(gray: np.ndarray) -> int | None:
    """The capture time (ms) a frame carries, or None when its check bits do not match."""
    bits = []
    for i in range(BITS):
        row, col = divmod(i, BITS // 2)
        y, x = row * BLOCK + BLOCK // 2, col * BLOCK + BLOCK // 2
        bits.append(int(gray[y - 4 : y + 4, x - 4 : x + 4].mean() > 128))
    value = sum(b << i for i, b in enumerate(bits[:TIME_BITS]))
    check = sum(b << i for i, b in enumerate(bits[TIME_BITS:]))
    if _bits(value)[TIME_BITS:] != [(check >> i) & 1 for i in range(CHECK_BITS)]:
        return None
    now = int(time.time() * 1000)
    return (now & ~((1 << TIME_BITS) - 1)) | value  # restore the high bits from the clock


class Camera:
    """A private go2rtc that ffmpeg publishes the time-coded frames to, like an RTSP camera."""

    def __init__(self, work: Path, binary: Path) -> None:
        self.port = free_port()
        self.url = f"rtsp://127.0.0.1:{self.port}/bench"
        config = work / "camera.yaml"
        config.write_text(
            f'api:\n  listen: ""\nrtsp:\n  listen: "127.0.0.1:{self.port}"\n'
            'webrtc:\n  listen: ""\nsrtp:\n  listen: ""\nstreams:\n  bench:\n'
        )
        self.go2rtc = subprocess.Popen(
            [str(binary), "-config", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._feed, daemon=True)

    def start(self) -> None:
        """Start drawing and publishing once go2rtc listens."""
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            time.sleep(0.05)
        self.thread.start()

    def _feed(self) -> None:
        raw_in = ["-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS), "-i", "-"]
        encode = ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p"]
        gop = ["-g", str(FPS), "-bf", "0"]
        ffmpeg = subprocess.Popen(
            ["ffmpeg", "-v", "error", *raw_in, *encode, *gop, "-f", "rtsp", "-rtsp_transport", "tcp", self.url],
            stdin=subprocess.PIPE,
        )
        assert ffmpeg.stdin is not None
        start, n = time.monotonic(), 0
        try:
            while not self.stop.is_set():
                ffmpeg.stdin.write(draw(int(time.time() * 1000), n))
                ffmpeg.stdin.flush()
                n += 1
                time.sleep(max(0.0, start + n / FPS - time.monotonic()))
        except BrokenPipeError:
            pass
        finally:
            with contextlib.suppress(BrokenPipeError):
                ffmpeg.stdin.close()
            ffmpeg.wait(5)

    def close(self) -> None:
        """Stop publishing and the camera's go2rtc."""
        self.stop.set()
        self.thread.join(10)
        self.go2rtc.terminate()
        self.go2rtc.wait(5)


@dataclass
class Viewer:
    """One aiortc viewer and what it measured."""

    pc: RTCPeerConnection
    posted_at: float = 0.0
    first_frame_s: float | None = None
    latencies_ms: list[float] = field(default_factory=list)
    undecodable: int = 0
    measuring: bool = False
    task: asyncio.Task[None] | None = None


async def watch(http: httpx.AsyncClient, camera_id: str, headers: dict[str, str]) -> Viewer:
    """Negotiate through the API and start reading frames."""
    viewer = Viewer(RTCPeerConnection(RTCConfiguration(iceServers=[])))
    got_track: asyncio.Future[object] = asyncio.get_running_loop().create_future()

    @viewer.pc.on("track")
    def on_track(track: object) -> None:
        if not got_track.done():
            got_track.set_result(track)

    viewer.pc.addTransceiver("video", direction="recvonly")
    await viewer.pc.setLocalDescription(await viewer.pc.createOffer())
    viewer.posted_at = time.monotonic()
    r = await http.post(
        f"/api/v1/cameras/{camera_id}/live/webrtc",
        content=viewer.pc.localDescription.sdp,
        headers={**headers, "Content-Type": "application/sdp"},
    )
    r.raise_for_status()
    await viewer.pc.setRemoteDescription(RTCSessionDescription(sdp=r.text, type="answer"))
    track = await got_track

    async def frames() -> None:
        while True:
            frame = await track.recv()  # type: ignore[attr-defined]
            now_ms = time.time() * 1000
            if viewer.first_frame_s is None:
                viewer.first_frame_s = time.monotonic() - viewer.posted_at
            if not viewer.measuring:
                continue
            drawn = read(frame.to_ndarray(format="gray"))
            if drawn is None:
                viewer.undecodable += 1
            else:
                viewer.latencies_ms.append(now_ms - drawn)

    viewer.task = asyncio.create_task(frames())
    return viewer


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(viewers: list[Viewer], pid: int, seconds: float) -> float:
    """Measure for `seconds`; returns the gateway's CPU use in percent of one core."""
    for v in viewers:
        v.measuring, v.latencies_ms, v.undecodable = True, [], 0
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0) * 100
    for v in viewers:
        v.measuring = False
    return round(cpu, 2)


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 1)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0, help="Measuring window per phase.")
    args = parser.parse_args()
    logs.configure(level="WARNING")
    # A viewer that joins mid-GOP cannot decode until the next keyframe; aiortc warns per frame.
    logging.getLogger("aiortc.rtcrtpreceiver").setLevel(logging.ERROR)
    binary = find_binary(None)
    if binary is None:  # `make bench` runs every bench; say loudly why this one measured nothing
        print("live_latency: go2rtc not found; build it with scripts/go2rtc-build", file=sys.stderr)
        print(json.dumps({"bench": "live_latency", "skipped": "go2rtc not found (scripts/go2rtc-build)"}))
        return
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

    work = Path(tempfile.mkdtemp(prefix="vms-live-bench-"))
    settings = Settings(
        data_dir=work,
        database={"url": f"sqlite+aiosqlite:///{work}/vms.db"},
        security={"argon2_time_cost": 1, "argon2_memory_kib": 1024},
        streaming={"api_port": free_port(), "rtsp_port": free_port(), "webrtc_port": free_port()},
    )
    await asyncio.to_thread(migrations.upgrade, settings.database.url)
    container = build_container(settings)
    app = create_app(container)
    gateway = build_gateway(container)
    app.state.streaming_gateway = gateway
    camera = Camera(work, binary)
    camera.start()
    gateway_task = asyncio.create_task(gateway.run())
    viewers: list[Viewer] = []
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=30) as http:
            customer = await factories.customer(container)
            viewer = await factories.account(http, container, tenant_id=customer.id, role=Role.VIEWER)
            cam = await factories.camera(container, tenant_id=customer.id, name="Time code", main_url=camera.url)
            async with asyncio.timeout(20):
                while gateway.status().state != GatewayState.RUNNING:
                    await asyncio.sleep(0.05)
            await gateway.refresh()
            pid = gateway.status().pid
            assert pid is not None
            viewers.append(await watch(http, str(cam.id), viewer.headers))
            await asyncio.sleep(2)  # settle: first keyframe, jitter buffer
            cpu_1 = await measure(viewers[:1], pid, args.seconds)
            one = list(viewers[0].latencies_ms)
            undecodable = viewers[0].undecodable
            for _ in range(3):
                viewers.append(await watch(http, str(cam.id), viewer.headers))
            await asyncio.sleep(2)
            cpu_4 = await measure(viewers, pid, args.seconds)
            four = [ms for v in viewers for ms in v.latencies_ms]
            undecodable += sum(v.undecodable for v in viewers)
            ttff = [v.first_frame_s * 1000 for v in viewers if v.first_frame_s is not None]
            streams = (await gateway._http.get("/api/streams", params={"src": str(cam.id)})).json()
    finally:
        for v in viewers:
            if v.task:
                v.task.cancel()
            await v.pc.close()
        gateway_task.cancel()
        await asyncio.gather(gateway_task, return_exceptions=True)
        await gateway.close()
        camera.close()
        await container.close()
        shutil.rmtree(work, ignore_errors=True)
    print(
        json.dumps(
            {
                "bench": "live_latency",
                "video": f"{WIDTH}x{HEIGHT}@{FPS} H.264 (x264 ultrafast zerolatency, GOP 1 s)",
                "webrtc_glass_to_glass_ms": {
                    "p50": pct(one, 50),
                    "p99": pct(one, 99),
                    "frames": len(one),
                },
                "webrtc_glass_to_glass_ms_4_viewers": {
                    "p50": pct(four, 50),
                    "p99": pct(four, 99),
                    "frames": len(four),
                },
                "time_to_first_frame_ms": {
                    "median": round(statistics.median(ttff), 1),
                    "max": round(max(ttff), 1),
                    "viewers": len(ttff),
                },
                "gateway_cpu_pct_of_one_core": {"1_viewer": cpu_1, "4_viewers": cpu_4},
                "gateway_cpu_pct_per_extra_viewer": round((cpu_4 - cpu_1) / 3, 2),
                "camera_connections": len(streams.get("producers") or []),
                "viewers_connected": len(streams.get("consumers") or []),
                "undecodable_frames": undecodable,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
