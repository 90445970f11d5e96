"""Discovery: scan a /24 on loopback holding 100 simulated cameras — wall time, CPU, probe time per camera.

The fleet (tests/simulators/fleet.py: ONVIF open and locked, Hikvision, Dahua, bare RTSP servers)
runs in a child process so this process's CPU time is the scanner's alone. Figures, one JSON line:
- `scan`: the full scan of 127.0.77.0/24 on the fleet's two ports (RTSP 10554, HTTP 10080) —
  wall and CPU seconds (median of the runs), hosts per second, CPU milliseconds per camera found;
- `connect_sweep`: the baseline, measured in the same run: a bare TCP connect to the same hosts
  and ports with the same concurrency and no fingerprinting;
- `ratio_wall` / `ratio_cpu`: scan over sweep — what fingerprinting costs on top of connecting;
- `describe_ms`: p50/p95 of one RTSP DESCRIBE (with digest where the camera asks) per camera,
  sequentially over the 100 — the fingerprint time a camera costs on its own;
- `stream_probe_s` (only with the camera simulator, VMS_TEST_RTSP_BASE from `scripts/services up
  cameras`): the full stream probe that adding a camera runs (PyAV opens the stream and samples it
  to measure codec, size, fps, bitrate and GOP), per simulated camera — dominated by the sampling
  window, not by the network.

    uv run python bench/discovery.py [--devices 100] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import sys
import time
from collections.abc import Awaitable
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.simulators.fleet import CAMERA_MIX, FLEET_CREDENTIALS, DeviceFleet

from vms.cameras.devices.rtsp import rtsp_describe
from vms.cameras.devices.scan import parse_targets, scan
from vms.cameras.probe import PyAvProber

NETWORK = "127.0.77.0/24"
CONCURRENCY = 256


def serve_fleet(count: int, conn: Connection) -> None:
    """Child process: run the fleet until told to stop; send its device list (host, RTSP URL) when up."""

    async def run() -> None:
        async with DeviceFleet(NETWORK, count, profiles=CAMERA_MIX) as fleet:
            conn.send([(device.host, device.rtsp_url) for device in fleet.devices])
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(run())


async def connect_sweep(hosts: list[str], ports: tuple[int, ...]) -> int:
    """Baseline: TCP connect to every host:port with the scanner's concurrency; returns how many were open."""
    slots = asyncio.Semaphore(CONCURRENCY)
    loop = asyncio.get_running_loop()

    async def check(host: str, port: int) -> bool:
        async with slots:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                async with asyncio.timeout(1.0):
                    await loop.sock_connect(sock, (host, port))
                return True
            except (OSError, TimeoutError):
                return False
            finally:
                sock.close()

    results = await asyncio.gather(*(check(host, port) for host in hosts for port in ports))
    return sum(results)


async def timed(work: Awaitable[int]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of this process, and the result of one awaited piece of work."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = await work
    return time.perf_counter() - wall, time.process_time() - cpu, result


async def measure(devices: list[tuple[str, str]], runs: int) -> dict[str, object]:
    hosts = parse_targets(NETWORK)
    ports = (10554, 10080)

    async def full_scan() -> int:
        return len([d async for d in scan(hosts, ports=ports, timeout_s=1.0, concurrency=CONCURRENCY)])

    sweeps: list[tuple[float, float, int]] = []
    scans: list[tuple[float, float]] = []
    found = 0
    for _ in range(runs):  # interleaved so machine noise hits both alike
        sweeps.append(await timed(connect_sweep(hosts, ports)))
        wall, cpu, result = await timed(full_scan())
        scans.append((wall, cpu))
        found = result
    sweep_wall = statistics.median(s[0] for s in sweeps)
    sweep_cpu = statistics.median(s[1] for s in sweeps)
    scan_wall = statistics.median(s[0] for s in scans)
    scan_cpu = statistics.median(s[1] for s in scans)

    describe_ms: list[float] = []
    for _, url in devices:
        started = time.perf_counter()
        answer = await rtsp_describe(url, credentials=FLEET_CREDENTIALS, timeout_s=2.0)
        describe_ms.append((time.perf_counter() - started) * 1000)
        assert answer.status == 200, url
    q = statistics.quantiles(describe_ms, n=100)
    return {
        "bench": "discovery",
        "hosts": len(hosts),
        "ports": list(ports),
        "devices": len(devices),
        "found": found,
        "runs": runs,
        "scan": {
            "wall_s": round(scan_wall, 3),
            "cpu_s": round(scan_cpu, 3),
            "hosts_per_s": round(len(hosts) / scan_wall, 1),
            "cpu_ms_per_camera": round(scan_cpu * 1000 / max(found, 1), 2),
        },
        "connect_sweep": {"wall_s": round(sweep_wall, 3), "cpu_s": round(sweep_cpu, 3)},
        "ratio_wall": round(scan_wall / sweep_wall, 2),
        "ratio_cpu": round(scan_cpu / sweep_cpu, 2),
        "describe_ms": {"p50": round(q[49], 2), "p95": round(q[94], 2)},
        **await stream_probes(),
    }


async def stream_probes(cameras: int = 4) -> dict[str, object]:
    """PyAV probe time per camera of the real camera simulator, when it runs."""
    base = os.environ.get("VMS_TEST_RTSP_BASE")
    if not base:
        return {}
    prober = PyAvProber()
    seconds = []
    for index in range(1, cameras + 1):
        started = time.perf_counter()
        await prober.probe(f"{base}/cam{index}")
        seconds.append(time.perf_counter() - started)
    return {
        "stream_probe_s": {
            "cameras": cameras,
            "median": round(statistics.median(seconds), 2),
            "max": round(max(seconds), 2),
        }
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=serve_fleet, args=(args.devices, theirs), daemon=True)
    child.start()
    try:
        if not ours.poll(60):
            raise SystemExit("the simulated fleet did not start within 60 s")
        devices = ours.recv()
        result = asyncio.run(measure(devices, args.runs))
    finally:
        ours.send("stop")
        child.join(10)
        if child.is_alive():
            child.terminate()
    if result["found"] != args.devices:
        raise SystemExit(f"the scan found {result['found']} of {args.devices} cameras: {json.dumps(result)}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
