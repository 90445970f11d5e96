"""The default person detector batches frames and tiles of concurrent non-critical jobs into one
forward pass, gives the same boxes batched as frame by frame on real footage, and lets CRITICAL
work bypass the batcher."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tests.scenes.intrusion import footage
from vms.analytics.detect import Box
from vms.analytics.detect.persons import PersonDetector
from vms.analytics.gate import inference_priority
from vms.analytics.sessions import SessionCache
from vms.kernel.priority import Priority
from vms.settings import InferenceSettings

TOLERANCE = 1e-4  # frame fractions and scores; float sums in a batched convolution may differ in the last bits
FRAMES = [0, 40, 80, 120, 160, 200]


def detector(*, max_batch: int = 8, wait_ms: int = 1000, tiles: int = 2) -> PersonDetector:
    """A detector with a cache of its own, so its shared batcher has these limits and fresh counters."""
    cache = SessionCache(InferenceSettings(max_batch=max_batch, max_batch_wait_ms=wait_ms))
    return PersonDetector(min_score=0.3, tiles=tiles, cache=cache)  # type: ignore[arg-type]


def assert_same_boxes(got: list[list[Box]], want: list[list[Box]]) -> None:
    assert len(got) == len(want)
    for found, expected in zip(got, want, strict=True):
        assert len(found) == len(expected)
        for a, b in zip(found, expected, strict=True):
            assert a.label == b.label
            assert np.allclose((a.x, a.y, a.w, a.h, a.score), (b.x, b.y, b.w, b.h, b.score), atol=TOLERANCE)


def frame_by_frame(frames: np.ndarray, tiles: int) -> list[list[Box]]:
    """The reference: every frame and every tile in a forward pass of its own."""
    reference = PersonDetector(min_score=0.3, tiles=tiles, batch=1)  # type: ignore[arg-type]
    return [reference.detect(frames[i : i + 1])[0] for i in range(len(frames))]


def run_jobs(det: PersonDetector, clips: list[np.ndarray], priority: Priority) -> list[list[list[Box]]]:
    """Each clip detected on its own thread at `priority`, all started together (a worker's model pool)."""
    results: list[list[list[Box]]] = [[] for _ in clips]
    start = threading.Barrier(len(clips))

    def job(index: int) -> None:
        start.wait()
        with inference_priority(priority):
            results[index] = det.detect(clips[index])

    threads = [threading.Thread(target=job, args=(i,)) for i in range(len(clips))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.parametrize("tiles", [1, 2])
def test_concurrent_standard_jobs_share_forward_passes_and_get_the_frame_by_frame_boxes(tiles: int) -> None:
    frames = footage.frames(FRAMES)
    clips = [frames[0:2], frames[2:4], frames[4:6]]  # three jobs of two frames
    det = detector(tiles=tiles)
    assert det.backend == "ssdlite"
    got = run_jobs(det, clips, Priority.STANDARD)
    assert_same_boxes([boxes for job in got for boxes in job], frame_by_frame(frames, tiles))
    assert sum(len(boxes) for job in got for boxes in job) >= 6  # vtest: people in every frame
    per_job = 2 * (1 if tiles == 1 else 5)  # inputs of one job: its frames, each whole plus 2×2 tiles
    stats, forward = det.batcher.stats, det.batcher.run
    assert stats.items == 3 * per_job and stats.direct_calls == 0
    # Inputs of different jobs shared forward passes: tiles 1: one pass of 6 (not three of 2);
    # tiles 2: passes of 8, 8, 8, 6 (not two per job: 8 + 2 each).
    assert forward.calls == -(-3 * per_job // 8)
    assert forward.calls < 3 * -(-per_job // 8)
    assert stats.largest == min(8, 3 * per_job)


def test_critical_and_job_less_calls_bypass_the_batcher() -> None:
    frames = footage.frames(FRAMES[:2])
    det = detector(tiles=1)
    with inference_priority(Priority.CRITICAL):
        critical = det.detect(frames)
    plain = det.detect(frames)  # no job behind it: a bench or an evaluation
    stats = det.batcher.stats
    assert (stats.items, stats.direct_calls, det.batcher.run.calls) == (0, 0, 0)  # never touched
    assert_same_boxes(critical, frame_by_frame(frames, 1))
    assert_same_boxes(plain, critical)


def test_a_batch_runs_at_the_most_urgent_priority_of_its_jobs_at_the_cpu_gate() -> None:
    frames = footage.frames(FRAMES[:4])
    det = detector(tiles=1)
    run_jobs(det, [frames[0:2], frames[2:4]], Priority.HIGH)
    gate = det.cache.gate(("CPUExecutionProvider",))
    assert gate.served["HIGH"] == det.batcher.run.calls >= 1
    assert gate.served["STANDARD"] == 0
