"""Micro-batching and priority access on the inference device (issue 5 items 4 and 5).

1. Throughput per model, batched vs not: several jobs (threads, as in a worker's model pool) each
   detect the sampled frames of a clip through `OnnxDetector` at STANDARD priority. "unbatched" is
   the same code with `max_batch=1` (one ONNX Runtime call per frame); "batched" gathers frames of
   all jobs into calls of up to `max_batch`. Same process, same frames, rounds alternated; the
   figure is the ratio. Models: a small convolutional detector (tests/unit/analytics/onnx_graphs.py,
   seeded random weights, dynamic batch axis) at 96 (crop-sized: OCR lines, classifiers), 320 and 640 input.
2. The default person detector (SSDLite through OpenCV DNN, detect/persons.py) on real footage
   (vtest.avi, opencv-doc), the same way: `jobs` threads at STANDARD, frame by frame (`max_batch=1`:
   one forward pass per frame or tile) vs through its shared micro-batcher, whole frames (tiles 1)
   and with 2×2 tiles (5 inputs per frame). Figures in frames/s; skipped when vtest is missing.
3. CRITICAL latency while a STANDARD backlog keeps the device busy with batches: p50/p99 of a
   CRITICAL detect (4 frames) with the priority gate, compared in the same run with the CRITICAL
   requests idle (no backlog) and with CRITICAL queued like any other work (no priority).

Runs on CUDA when ONNX Runtime offers it (a GPU build), otherwise on CPU — `device` says which.

    uv run python bench/batching.py [--seconds 6] [--jobs 4] [--frames 8] [--skip-onnx]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.scenes.intrusion import footage
from tests.unit.analytics.onnx_graphs import conv_detector

from vms.analytics.detect.onnx_loader import OnnxDetector
from vms.analytics.detect.persons import PersonDetector
from vms.analytics.gate import inference_priority
from vms.analytics.sessions import SessionCache
from vms.kernel.priority import Priority
from vms.settings import InferenceSettings


def clip_frames(count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (480, 640, 3), np.uint8) for _ in range(count)]


def detector(model: bytes, size: int, **settings: Any) -> OnnxDetector:
    return OnnxDetector(model, cache=SessionCache(InferenceSettings(**settings)), input_size=(size, size), layout="v8")


def throughput(det: OnnxDetector | PersonDetector, clips: list[list[np.ndarray]], rounds: int) -> float:
    """Frames per second with one thread per job, every job detecting its clip `rounds` times."""

    def job(frames: list[np.ndarray]) -> int:
        with inference_priority(Priority.STANDARD):
            for _ in range(rounds):
                det.detect(frames)
        return len(frames) * rounds

    started = time.perf_counter()
    with ThreadPoolExecutor(len(clips)) as pool:
        done = sum(pool.map(job, clips))
    return done / (time.perf_counter() - started)


def model_figures(size: int, *, jobs: int, frames: int, seconds: float, max_batch: int) -> dict[str, Any]:
    model = conv_detector(size=size)
    unbatched = detector(model, size, max_batch=1)
    batched = detector(model, size, max_batch=max_batch, max_batch_wait_ms=20)
    clips = [clip_frames(frames, seed) for seed in range(jobs)]
    throughput(unbatched, clips, 1)  # warm-up: sessions created, caches hot
    throughput(batched, clips, 1)
    per_frame = unbatched.batcher.run
    rounds, plain, grouped = 1, [], []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:  # alternate, so both see the same machine noise
        plain.append(throughput(unbatched, clips, rounds))
        grouped.append(throughput(batched, clips, rounds))
    a, b = statistics.median(plain), statistics.median(grouped)
    stats = batched.batcher.stats
    return {
        "input": f"{size}x{size}",
        "device": unbatched.providers[0].removesuffix("ExecutionProvider"),
        "unbatched_fps": round(a, 1),
        "batched_fps": round(b, 1),
        "batched_over_unbatched": round(b / a, 2),
        "mean_batch": round(stats.items / max(1, stats.batches), 1),
        "onnx_calls": {
            "unbatched": getattr(per_frame, "calls", None),
            "batched": getattr(batched.batcher.run, "calls", None),
        },
        "rounds": len(plain),
    }


def person_figures(tiles: int, *, jobs: int, frames: int, seconds: float, max_batch: int) -> dict[str, Any]:
    """The default person detector, frame by frame vs batched across `jobs` concurrent jobs."""
    if not footage.VTEST.is_file():
        return {"tiles": tiles, "skipped": f"{footage.VTEST} missing"}

    def person_detector(batch: int) -> PersonDetector:
        cache = SessionCache(InferenceSettings(max_batch=batch, max_batch_wait_ms=20))
        return PersonDetector(min_score=0.4, tiles=tiles, cache=cache)  # type: ignore[arg-type]

    unbatched, batched = person_detector(1), person_detector(max_batch)
    clips = [list(footage.frames([(seed * frames + i) * 7 for i in range(frames)])) for seed in range(jobs)]
    throughput(unbatched, clips, 1)  # warm-up: networks loaded, batchers started
    throughput(batched, clips, 1)
    plain, grouped = [], []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or not plain:  # alternate, so both see the same machine noise
        plain.append(throughput(unbatched, clips, 1))
        grouped.append(throughput(batched, clips, 1))
    a, b = statistics.median(plain), statistics.median(grouped)
    stats = batched.batcher.stats
    return {
        "tiles": tiles,
        "inputs_per_frame": 1 if tiles == 1 else tiles * tiles + 1,
        "frame_by_frame_fps": round(a, 1),
        "batched_fps": round(b, 1),
        "batched_over_frame_by_frame": round(b / a, 2),
        "mean_batch": round(stats.items / max(1, stats.batches), 1),
        "forward_passes": {"frame_by_frame": unbatched.batcher.run.calls, "batched": batched.batcher.run.calls},
        "rounds": len(plain),
    }


def critical_latency(
    *, size: int, jobs: int, frames: int, seconds: float, max_batch: int, backlog: bool, priority: Priority
) -> dict[str, Any]:
    """Latency of a CRITICAL 4-frame detect every 100 ms, with `jobs` STANDARD jobs keeping the device busy."""
    model = conv_detector(size=size)
    det = detector(model, size, max_batch=max_batch, max_batch_wait_ms=20)
    urgent = clip_frames(4, 99)
    clips = [clip_frames(frames, seed) for seed in range(jobs)]
    det.detect(urgent)  # warm-up
    stop = threading.Event()

    def standard_job(frames_: list[np.ndarray]) -> None:
        with inference_priority(Priority.STANDARD):
            while not stop.is_set():
                det.detect(frames_)

    workers = [threading.Thread(target=standard_job, args=(c,)) for c in clips] if backlog else []
    for worker in workers:
        worker.start()
    time.sleep(0.5)  # the backlog is running
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    with inference_priority(priority):
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            det.detect(urgent)
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.1)
    stop.set()
    for worker in workers:
        worker.join()
    q = statistics.quantiles(latencies, n=100)
    gate = det.cache.gate((det.providers[0],))
    return {
        "n": len(latencies),
        "p50_ms": round(q[49], 1),
        "p99_ms": round(q[98], 1),
        "gate_waits": sum(gate.waited.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--frames", type=int, default=8, help="frames each job detects per clip (sampled frames)")
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--skip-onnx", action="store_true", help="only the person detector's figures")
    args = parser.parse_args()
    common = {"jobs": args.jobs, "frames": args.frames, "seconds": args.seconds, "max_batch": args.max_batch}
    result: dict[str, Any] = {"bench": "batching", **common}
    result["person_detector"] = [person_figures(tiles, **common) for tiles in (1, 2)]
    if args.skip_onnx:
        print(json.dumps(result))
        return
    result["models"] = [model_figures(size, **common) for size in (96, 320, 640)]
    latency = {"size": 320, **common}
    idle = critical_latency(**latency, backlog=False, priority=Priority.CRITICAL)
    gated = critical_latency(**latency, backlog=True, priority=Priority.CRITICAL)
    fifo = critical_latency(**latency, backlog=True, priority=Priority.STANDARD)
    result["critical_4_frames"] = {
        "idle": idle,
        "under_standard_backlog": gated,
        "queued_as_standard": fifo,
        "backlog_over_idle_p99": round(gated["p99_ms"] / idle["p99_ms"], 2),
        "standard_over_priority_p99": round(fifo["p99_ms"] / gated["p99_ms"], 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
