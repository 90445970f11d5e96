"""Every ONNX Runtime session of the process comes from one cache (issue 5 item 5, accelerator management).

Why one cache: a worker hosting several models (and several model instances using the same weights:
intrusion and crowd on one operator YOLO file) must not load the same graph twice, must keep the
hot models resident, and must stay inside a memory budget on a small edge box or a shared GPU.

- **Key**: the model (resolved file path, or the SHA-256 of in-memory bytes) + the execution
  providers + the intra-op thread count. Two detectors on one file share one session.
- **Memory budget** (`InferenceSettings.session_memory_mb`): a session's size is *estimated* as
  its model file's size × `session_size_factor` (2.5 by default: weights plus ONNX Runtime's
  optimised copy and arena on CPU). Measuring the RSS delta at creation was rejected: other threads
  allocate at the same time in a worker, so the delta is noise; the estimate is deterministic.
- **LRU eviction of idle sessions**: callers *lease* a session for the length of an inference
  (`with cache.lease(model) as session`); only sessions nobody holds are evicted, least recently
  used first. When every resident session is in use the new one is admitted over budget with a
  warning — a job is never failed for memory that will be free a moment later.
- **Providers**: CUDAExecutionProvider first when `onnxruntime.get_available_providers()` lists it
  and settings allow, else CPUExecutionProvider with ONE warning per cache (i.e. per process).
- **Threads**: each CPU session gets `intra_op_threads` (default cores / CPU gate slots), so the
  calls the gate lets run at once share the cores instead of oversubscribing them.
- **Priority**: `session.run` goes through the device's `InferenceGate` (gate.py) at the priority of
  the job being analysed, so CRITICAL inference never queues behind batches — on the GPU, where all
  models of the process share one gate, and on the CPU.
- **Metrics**: hits, misses, evictions, resident bytes and sessions, and gate calls by priority,
  on the process's Prometheus registry (`bind_metrics`, done by the worker).

>>> cache = default_cache()
>>> with cache.lease(store / "yolov8n.onnx") as session:
...     outputs = session.run(None, {"images": tensor})
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import onnxruntime as ort
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from vms.analytics.gate import InferenceGate, current_priority
from vms.settings import InferenceSettings

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
ModelSource = Path | str | bytes


@dataclass(frozen=True, slots=True)
class SessionKey:
    """What makes two sessions interchangeable."""

    model: str  # resolved path, or "sha256:<hex>" for a model given as bytes
    providers: tuple[str, ...]
    intra_op_threads: int


class GatedSession:
    """An ONNX Runtime session whose `run` waits for its device's priority gate; the rest is delegated."""

    def __init__(self, session: ort.InferenceSession, gate: InferenceGate, key: SessionKey) -> None:
        self.inner = session
        self.gate = gate
        self.key = key

    def run(self, output_names: Sequence[str] | None, input_feed: dict[str, Any], run_options: Any = None) -> Any:
        """`InferenceSession.run`, holding a device slot at the current job's priority."""
        with self.gate.slot(current_priority()):
            return self.inner.run(output_names, input_feed, run_options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass(eq=False)
class _Entry:
    key: SessionKey
    bytes: int
    refs: int = 0
    session: GatedSession | None = None
    error: BaseException | None = None
    ready: threading.Event = field(default_factory=threading.Event)


class Lease:
    """A session held by one user; the cache never evicts it until released."""

    def __init__(self, cache: SessionCache, entry: _Entry) -> None:
        self._cache = cache
        self._entry: _Entry | None = entry
        assert entry.session is not None
        self.session: GatedSession = entry.session

    def release(self) -> None:
        """Give the session back (idempotent); it stays resident until evicted."""
        if self._entry is not None:
            self._cache._release(self._entry)
            self._entry = None

    def __enter__(self) -> GatedSession:
        return self.session

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A snapshot of the cache's counters."""

    hits: int
    misses: int
    evictions: int
    over_budget: int  # sessions admitted while every resident one was in use
    resident_bytes: int
    resident_sessions: int
    in_use: int
    budget_bytes: int


SessionFactory = Callable[[ModelSource, ort.SessionOptions, Sequence[str]], ort.InferenceSession]


def _create_session(source: ModelSource, options: ort.SessionOptions, providers: Sequence[str]) -> ort.InferenceSession:
    return ort.InferenceSession(source, sess_options=options, providers=list(providers))


_INTERCEPT_LOCK = threading.Lock()


class SessionCache:
    """ONNX Runtime sessions within a memory budget, LRU-evicted when idle, one gate per device.

    >>> cache = SessionCache(InferenceSettings(session_memory_mb=512))
    >>> lease = cache.acquire("/models/yolov8n.onnx")   # or `with cache.lease(path) as session:`
    >>> lease.session.run(None, feeds); lease.release()
    """

    def __init__(
        self,
        settings: InferenceSettings | None = None,
        *,
        available_providers: Sequence[str] | None = None,
        cpu_count: int | None = None,
        create: SessionFactory = _create_session,
    ) -> None:
        self.settings = settings or InferenceSettings()
        self._available = tuple(available_providers) if available_providers is not None else None
        self._cores = max(1, cpu_count or os.cpu_count() or 1)
        self._create = create
        self._lock = threading.Lock()
        self._entries: OrderedDict[SessionKey, _Entry] = OrderedDict()  # least recently used first
        self._shared: dict[tuple[str, SessionKey], Any] = {}
        self._gates: dict[str, InferenceGate] = {}
        self._warned_cpu = False
        self._registries: list[CollectorRegistry] = []
        self.hits = self.misses = self.evictions = self.over_budget = 0

    # -- settings, providers, devices ---------------------------------------------------------------

    def configure(self, settings: InferenceSettings) -> None:
        """Apply new settings: the budget at once, providers and threads to sessions created from now on."""
        with self._lock:
            self.settings = settings
            self._fit_budget()

    @property
    def budget_bytes(self) -> int:
        return self.settings.session_memory_mb * 1024 * 1024

    @property
    def cpu_slots(self) -> int:
        """Inference calls the CPU gate lets run at once (default: half the cores, at least one)."""
        return self.settings.cpu_slots or max(1, self._cores // 2)

    @property
    def intra_op_threads(self) -> int:
        """ONNX Runtime threads of each CPU session: the cores shared by the calls that run at once."""
        return self.settings.intra_op_threads or max(1, self._cores // self.cpu_slots)

    def providers(self, *, cuda: bool = True) -> tuple[str, ...]:
        """CUDA first when this ONNX Runtime build offers it and settings allow; CPU otherwise (warned once)."""
        available = self._available if self._available is not None else tuple(ort.get_available_providers())
        if cuda and self.settings.use_cuda and CUDA in available:
            return (CUDA, CPU)
        if cuda and self.settings.use_cuda and not self._warned_cpu:
            self._warned_cpu = True
            log.warning(
                "ONNX Runtime has no CUDA provider here (%s); inference runs on CPU with %d slot(s) × %d thread(s)",
                ", ".join(available),
                self.cpu_slots,
                self.intra_op_threads,
            )
        return (CPU,)

    def gate(self, providers: Sequence[str]) -> InferenceGate:
        """The priority gate of the device these providers run on: one for the GPU, one for the CPU."""
        device = "cuda" if providers and providers[0] == CUDA else "cpu"
        with self._lock:
            gate = self._gates.get(device)
            if gate is None:
                slots = self.settings.gpu_slots if device == "cuda" else self.cpu_slots
                gate = self._gates[device] = InferenceGate(slots=slots, name=device)
            return gate

    def gates(self) -> dict[str, InferenceGate]:
        """The device gates created so far."""
        with self._lock:
            return dict(self._gates)

    # -- sessions -----------------------------------------------------------------------------------

    def key(self, model: ModelSource, *, cuda: bool = True) -> SessionKey:
        """The cache key `model` would be leased under."""
        providers = self.providers(cuda=cuda)
        threads = self.intra_op_threads if providers[0] == CPU else 0
        return SessionKey(_identity(model), providers, threads)

    def acquire(self, model: ModelSource, *, cuda: bool = True) -> Lease:
        """Lease the session of `model` (a path or the model's bytes), creating it on a miss."""
        key = self.key(model, cuda=cuda)
        creating = False
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry(key, _estimate(model, self.settings.session_size_factor))
                creating = True
                self.misses += 1
            else:
                self._entries.move_to_end(key)
                self.hits += 1
            entry.refs += 1
        if creating:
            self._load(entry, model)
        else:
            entry.ready.wait()  # another thread is creating it
        if entry.error is not None:
            with self._lock:
                entry.refs -= 1
            raise entry.error
        return Lease(self, entry)

    @contextmanager
    def lease(self, model: ModelSource, *, cuda: bool = True) -> Iterator[GatedSession]:
        """The session of `model` for the block; idle (evictable) again afterwards."""
        with self.acquire(model, cuda=cuda) as session:
            yield session

    def _load(self, entry: _Entry, model: ModelSource) -> None:
        # Created outside the cache lock: loading a large model takes long and other sessions' hits must not wait.
        key = entry.key
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: ONNX Runtime's warnings duplicate ours
        if key.intra_op_threads:
            options.intra_op_num_threads = key.intra_op_threads
            options.inter_op_num_threads = 1
        source: ModelSource = model if isinstance(model, bytes) else str(model)
        started = time.perf_counter()
        try:
            session = self._create(source, options, key.providers)
        except BaseException as exc:
            with self._lock:
                if self._entries.get(key) is entry:
                    del self._entries[key]
            entry.error = exc
            entry.ready.set()
            raise
        entry.session = GatedSession(session, self.gate(key.providers), key)
        with self._lock:
            self._fit_budget()
        entry.ready.set()
        log.info(
            "inference session created",
            extra={"model": key.model, "providers": key.providers, "ms": round((time.perf_counter() - started) * 1e3)},
        )

    def _release(self, entry: _Entry) -> None:
        with self._lock:
            entry.refs -= 1
            self._fit_budget()

    def _fit_budget(self) -> None:
        """Evict idle sessions, least recently used first, until the resident ones fit the budget (lock held)."""
        resident = sum(e.bytes for e in self._entries.values())
        if resident <= self.budget_bytes:
            return
        for key, entry in list(self._entries.items()):
            if resident <= self.budget_bytes:
                return
            if entry.refs == 0 and entry.ready.is_set():
                del self._entries[key]  # its shared helpers stay: they lease the session again when needed
                resident -= entry.bytes
                self.evictions += 1
        if resident > self.budget_bytes:
            self.over_budget += 1
            log.warning(
                "inference sessions over their memory budget: every resident session is in use",
                extra={"resident_mb": resident >> 20, "budget_mb": self.budget_bytes >> 20},
            )

    def evict_idle(self) -> int:
        """Drop every session nobody holds (e.g. before a model update); returns how many."""
        with self._lock:
            idle = [k for k, e in self._entries.items() if e.refs == 0 and e.ready.is_set()]
            for key in idle:
                del self._entries[key]
            self.evictions += len(idle)
            return len(idle)

    def resident(self) -> list[SessionKey]:
        """Keys of the resident sessions, least recently used first."""
        with self._lock:
            return [k for k, e in self._entries.items() if e.session is not None]

    def shared(self, kind: str, key: SessionKey, build: Callable[[], Any]) -> Any:
        """A per-session helper (e.g. its micro-batcher) shared by every user of that session."""
        with self._lock:
            found = self._shared.get((kind, key))
            if found is None:
                found = self._shared[(kind, key)] = build()
            return found

    def stats(self) -> CacheStats:
        """Counters and resident size now."""
        with self._lock:
            return CacheStats(
                hits=self.hits,
                misses=self.misses,
                evictions=self.evictions,
                over_budget=self.over_budget,
                resident_bytes=sum(e.bytes for e in self._entries.values()),
                resident_sessions=len(self._entries),
                in_use=sum(1 for e in self._entries.values() if e.refs > 0),
                budget_bytes=self.budget_bytes,
            )

    # -- libraries that create their own sessions ---------------------------------------------------

    @contextmanager
    def intercept(self, module: ModuleType, *, cuda: bool = True) -> Iterator[list[Lease]]:
        """Within the block, sessions `module` builds with its `InferenceSession` come from this cache.

        For libraries that construct sessions themselves (RapidOCR): their objects keep the session
        for life, so these leases are pinned (never released, never evicted) and yielded for the
        caller to release if it ever drops the object. The library's own session options are
        replaced by the cache's (providers, threads).
        """
        leases: list[Lease] = []

        def factory(model: ModelSource, *args: Any, **kwargs: Any) -> GatedSession:
            lease = self.acquire(model, cuda=cuda)
            leases.append(lease)
            return lease.session

        with _INTERCEPT_LOCK:
            original = getattr(module, "InferenceSession")  # noqa: B009  (a library module, not typed here)
            setattr(module, "InferenceSession", factory)  # noqa: B010
            try:
                yield leases
            finally:
                setattr(module, "InferenceSession", original)  # noqa: B010

    # -- metrics ------------------------------------------------------------------------------------

    def bind_metrics(self, registry: CollectorRegistry) -> None:
        """Expose the cache and gate figures on a Prometheus registry (once per registry)."""
        with self._lock:
            if any(r is registry for r in self._registries):
                return
            self._registries.append(registry)
        registry.register(_CacheCollector(self))


class _CacheCollector:
    """Reads the cache's counters at scrape time (nothing to update on the inference path)."""

    def __init__(self, cache: SessionCache) -> None:
        self.cache = cache

    def collect(self) -> Iterable[Metric]:
        s = self.cache.stats()
        for name, text, value in (
            ("vms_inference_session_hits", "Session leases served by a resident session.", s.hits),
            ("vms_inference_session_misses", "Session leases that had to create the session.", s.misses),
            ("vms_inference_session_evictions", "Idle sessions evicted to fit the memory budget.", s.evictions),
            ("vms_inference_session_over_budget", "Sessions admitted over budget (all in use).", s.over_budget),
        ):
            yield CounterMetricFamily(name, text, value=value)
        yield GaugeMetricFamily(
            "vms_inference_session_resident_bytes", "Estimated memory of resident sessions.", value=s.resident_bytes
        )
        yield GaugeMetricFamily("vms_inference_sessions_resident", "Resident sessions.", value=s.resident_sessions)
        yield GaugeMetricFamily("vms_inference_session_budget_bytes", "Session memory budget.", value=s.budget_bytes)
        calls = CounterMetricFamily(
            "vms_inference_gate_calls",
            "Inference calls through a device gate, by priority.",
            labels=["device", "priority"],
        )
        waited = CounterMetricFamily(
            "vms_inference_gate_waits",
            "Inference calls that found every device slot taken, by priority.",
            labels=["device", "priority"],
        )
        for device, gate in self.cache.gates().items():
            for priority, count in gate.served.items():
                calls.add_metric([device, priority], count)
            for priority, count in gate.waited.items():
                waited.add_metric([device, priority], count)
        yield calls
        yield waited


def _identity(model: ModelSource) -> str:
    if isinstance(model, bytes):
        return "sha256:" + hashlib.sha256(model).hexdigest()
    return str(Path(model).resolve())


def _estimate(model: ModelSource, factor: float) -> int:
    size = len(model) if isinstance(model, bytes) else Path(model).stat().st_size
    return int(size * factor)


_DEFAULT: SessionCache | None = None
_DEFAULT_LOCK = threading.Lock()


def default_cache() -> SessionCache:
    """The process's session cache: plugins build their detectors deep inside, so it is process-wide."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = SessionCache()
        return _DEFAULT


def configure(settings: InferenceSettings) -> SessionCache:
    """Apply the inference settings to the process's cache (call before loading models: providers, threads)."""
    cache = default_cache()
    cache.configure(settings)
    return cache
