"""The session cache: shared sessions, memory budget with LRU eviction of idle ones, providers, threads, metrics."""

from __future__ import annotations

import logging
import threading
import types
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from tests.unit.analytics.onnx_graphs import scored_detector
from vms.analytics.sessions import CPU, CUDA, GatedSession, ModelSource, SessionCache
from vms.settings import InferenceSettings

MIB = 1024 * 1024


def model_file(folder: Path, name: str, *, mib: int = 0) -> Path:
    """A tiny valid detector whose file is about `mib` MiB (an unused weight pads it)."""
    path = folder / f"{name}.onnx"
    path.write_bytes(scored_detector([(32, 32, 10, 20, 0.9)], padding_bytes=mib * MIB))
    return path


class Recorder:
    """Creates real CPU sessions while recording what the cache asked for."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], int]] = []

    def __call__(self, source: ModelSource, options: ort.SessionOptions, providers: Sequence[str]):
        self.calls.append((tuple(providers), options.intra_op_num_threads))
        return ort.InferenceSession(source, sess_options=options, providers=[CPU])


def test_one_session_per_model_file_shared_by_every_lease(tmp_path: Path) -> None:
    cache = SessionCache()
    a, b = model_file(tmp_path, "a"), model_file(tmp_path, "b")
    with cache.lease(a) as first, cache.lease(str(a)) as again, cache.lease(b) as other:
        assert isinstance(first, GatedSession)
        assert first is again and first is not other
        out = first.run(None, {"images": np.full((2, 3, 64, 64), 0.5, np.float32)})[0]
        assert out.shape == (2, 5, 1) and np.isclose(out[1, 4, 0], 0.45)
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.resident_sessions, stats.in_use) == (1, 2, 2, 0)
    # A model given as bytes is keyed by its content.
    data = a.read_bytes()
    with cache.lease(data) as s1, cache.lease(bytes(data)) as s2:
        assert s1 is s2


def test_idle_sessions_are_evicted_least_recently_used_first_to_fit_the_budget(tmp_path: Path) -> None:
    # Each model is ~4 MiB, estimated at 2.5 × = ~10 MiB; the budget holds two of them.
    cache = SessionCache(InferenceSettings(session_memory_mb=25, session_size_factor=2.5))
    a, b, c = (model_file(tmp_path, name, mib=4) for name in "abc")
    for model in (a, b, c):
        with cache.lease(model):
            pass
    assert [Path(k.model).name for k in cache.resident()] == ["b.onnx", "c.onnx"]  # a was least recently used
    with cache.lease(b):  # b is used again: now c is the least recently used
        pass
    with cache.lease(a):
        pass
    assert [Path(k.model).name for k in cache.resident()] == ["b.onnx", "a.onnx"]
    stats = cache.stats()
    assert stats.evictions == 2 and stats.misses == 4 and stats.hits == 1
    assert stats.resident_bytes <= stats.budget_bytes


def test_a_session_in_use_is_never_evicted_and_an_overfull_cache_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = SessionCache(InferenceSettings(session_memory_mb=16, session_size_factor=2.5))
    a, b = model_file(tmp_path, "a", mib=4), model_file(tmp_path, "b", mib=4)
    with caplog.at_level(logging.WARNING):
        lease_a = cache.acquire(a)
        lease_b = cache.acquire(b)  # 20 MiB > 16: but a is in use, so both stay
    assert len(cache.resident()) == 2 and cache.stats().over_budget == 1
    assert "over their memory budget" in caplog.text
    out = lease_a.session.run(None, {"images": np.ones((1, 3, 64, 64), np.float32)})[0]
    assert np.isclose(out[0, 4, 0], 0.9)  # a still works while over budget
    lease_a.release()  # now idle: evicted at once to fit
    assert [Path(k.model).name for k in cache.resident()] == ["b.onnx"]
    lease_b.release()
    assert cache.stats().in_use == 0 and cache.stats().evictions == 1


def test_cuda_is_chosen_only_when_onnx_runtime_reports_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = model_file(tmp_path, "m")
    gpu_box = Recorder()
    cache = SessionCache(available_providers=[CUDA, CPU], create=gpu_box)
    with cache.lease(model) as session:
        assert session.gate is cache.gate((CUDA, CPU)) and session.gate.name == "cuda"
    assert gpu_box.calls[0][0] == (CUDA, CPU)
    assert cache.providers(cuda=False) == (CPU,)  # a model asking for CPU (ANPR's use_cuda=false) gets it

    off = SessionCache(InferenceSettings(use_cuda=False), available_providers=[CUDA, CPU])
    assert off.providers() == (CPU,)

    with caplog.at_level(logging.WARNING):
        cpu_box = SessionCache(available_providers=["AzureExecutionProvider", CPU])
        assert cpu_box.providers() == (CPU,) and cpu_box.providers() == (CPU,)
        with cpu_box.lease(model) as session:
            assert session.gate.name == "cpu"
    warnings = [r for r in caplog.records if "no CUDA provider" in r.getMessage()]
    assert len(warnings) == 1 and "runs on CPU" in warnings[0].getMessage()


def test_cpu_sessions_share_the_cores_between_the_gate_slots(tmp_path: Path) -> None:
    recorder = Recorder()
    cache = SessionCache(available_providers=[CPU], cpu_count=8, create=recorder)
    assert (cache.cpu_slots, cache.intra_op_threads) == (4, 2)
    with cache.lease(model_file(tmp_path, "m")):
        pass
    assert recorder.calls == [((CPU,), 2)]
    assert cache.gate((CPU,)).slots == 4
    pinned = SessionCache(InferenceSettings(cpu_slots=1, intra_op_threads=3), cpu_count=8)
    assert (pinned.cpu_slots, pinned.intra_op_threads) == (1, 3)


def test_threads_leasing_one_new_model_create_it_once(tmp_path: Path) -> None:
    cache = SessionCache()
    model = model_file(tmp_path, "m")
    sessions: list[GatedSession] = []
    start = threading.Barrier(6, timeout=10)

    def lease() -> None:
        start.wait()
        with cache.lease(model) as session:
            sessions.append(session)

    threads = [threading.Thread(target=lease) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(sessions) == 6 and len({id(s) for s in sessions}) == 1
    assert cache.stats().misses == 1 and cache.stats().hits == 5


def test_a_broken_model_raises_and_leaves_nothing_behind(tmp_path: Path) -> None:
    cache = SessionCache()
    for _ in range(2):
        with pytest.raises(Exception, match=r"(?i)protobuf|parse|load"):
            cache.acquire(b"this is not an onnx model")
    assert cache.resident() == [] and cache.stats().misses == 2
    with pytest.raises(FileNotFoundError):
        cache.acquire(tmp_path / "missing.onnx")


def test_libraries_building_their_own_sessions_get_pinned_cached_ones(tmp_path: Path) -> None:
    cache = SessionCache(InferenceSettings(session_memory_mb=16))
    library = types.SimpleNamespace(InferenceSession=ort.InferenceSession)
    model = model_file(tmp_path, "m", mib=4)
    with cache.intercept(library) as leases:  # type: ignore[arg-type]
        session = library.InferenceSession(str(model), sess_options=None, providers=["CPUExecutionProvider"])
    assert library.InferenceSession is ort.InferenceSession  # restored after construction
    assert isinstance(session, GatedSession) and len(leases) == 1
    with cache.lease(model_file(tmp_path, "other", mib=4)):  # over the 16 MiB budget together
        pass
    # The library's session is pinned: the other one, though more recently used, went to fit the budget.
    assert [Path(k.model).name for k in cache.resident()] == ["m.onnx"] and cache.stats().evictions == 1
    assert cache.evict_idle() == 0


def test_cache_and_gate_figures_are_exported_once_per_registry(tmp_path: Path) -> None:
    cache = SessionCache()
    model = model_file(tmp_path, "m")
    for _ in range(3):
        with cache.lease(model) as session:
            session.run(None, {"images": np.zeros((1, 3, 64, 64), np.float32)})
    registry = CollectorRegistry()
    cache.bind_metrics(registry)
    cache.bind_metrics(registry)  # a second worker in the process: no duplicate series
    text = generate_latest(registry).decode()
    assert "vms_inference_session_hits_total 2.0" in text
    assert "vms_inference_session_misses_total 1.0" in text
    assert f"vms_inference_session_resident_bytes {float(cache.stats().resident_bytes)}" in text
    assert 'vms_inference_gate_calls_total{device="cpu",priority="NONE"} 3.0' in text
    assert text.count("# TYPE vms_inference_session_hits_total counter") == 1
