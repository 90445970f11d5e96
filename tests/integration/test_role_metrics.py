"""A stand-alone role serves its own metrics: `vms role worker` with VMS_METRICS__PORT set, as a real
process, scraped after it has done a job; and it reports its SLA figures on `heartbeats`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.media import make_clip
from vms.adapters.blobs.filesystem import FilesystemBlobStore
from vms.adapters.bus.embedded import EmbeddedBus
from vms.analytics.jobs import SegmentRef, make_jobs, publish_jobs
from vms.kernel.ai_models import AiModel
from vms.kernel.priority import Priority
from vms.kernel.topics import HEARTBEATS, PARTITIONS
from vms.media.segmenter import Segmenter, SegmentInfo
from vms.stats.board import Heartbeat

TOKEN = "role-scrape-" + "t0k3n" * 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _series(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def test_a_worker_role_serves_its_job_metrics_on_its_own_port(tmp_path: Path, sqlite_url: str):
    data = tmp_path / "data"
    blobs = FilesystemBlobStore(data / "blobs")
    clip = make_clip(tmp_path / "cam.mp4", width=320, height=240, fps=15, seconds=6)
    segments: list[SegmentInfo] = []
    Segmenter(out_dir=tmp_path / "segs", clock=lambda: datetime(2026, 11, 24, tzinfo=UTC)).run(
        str(clip), on_segment=segments.append, stop=threading.Event()
    )
    seg = segments[0]
    customer, camera = uuid.uuid4(), uuid.uuid4()
    key = f"{customer}/{camera}/main/0.mp4"
    await blobs.put_file(key, seg.path)
    bus = EmbeddedBus(data / "bus.db")
    await bus.ensure_topics(PARTITIONS)
    ref = SegmentRef(blob_key=key, sequence=0, started_at=seg.started_at, ended_at=seg.ended_at, bytes=seg.bytes)
    jobs = make_jobs(
        customer_id=customer,
        camera_id=camera,
        segment=ref,
        frames=seg.frames,
        codec="h264",
        width=320,
        height=240,
        models=[AiModel.MOTION],
        priorities={AiModel.MOTION: Priority.HIGH},
    )
    await publish_jobs(bus, jobs)

    port = _free_port()
    env = {
        **os.environ,
        "VMS_ENV": "test",
        "VMS_DATA_DIR": str(data),
        "VMS_DATABASE__URL": sqlite_url,
        "VMS_STORAGE__ROOT": str(data / "blobs"),
        "VMS_BUS__KIND": "embedded",
        "VMS_METRICS__PORT": str(port),
        "VMS_METRICS__TOKEN": TOKEN,
    }
    log = (tmp_path / "worker.log").open("wb")
    proc = _start(["role", "worker", "--models", "motion"], env=env, log=log)
    url = f"http://127.0.0.1:{port}/metrics"
    latency: dict[tuple[tuple[str, str], ...], float] = {}
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(600):  # until the job is done (model load and decode take a few seconds)
                assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
                with contextlib.suppress(httpx.TransportError):
                    r = await http.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
                    assert r.status_code == 200, r.text
                    latency = _series(r.text, "vms_job_latency_seconds_count")
                    if latency:
                        break
                await asyncio.sleep(0.1)
            assert latency == {(("model", "motion"), ("priority", "HIGH")): 1.0}
            refused = await http.get(url)
            assert refused.status_code == 401
            assert refused.headers["content-type"] == "application/problem+json"
            assert (await http.get(f"http://127.0.0.1:{port}/health")).json()["status"] == "up"
            text = (await http.get(url, headers={"Authorization": f"Bearer {TOKEN}"})).text
            assert _series(text, "vms_jobs_total")[(("model", "motion"), ("outcome", "ok"))] == 1
            lag = _series(text, "vms_bus_consumer_lag")
            assert lag[(("group", "worker-motion"), ("topic", "video-jobs-high"))] == 0
        beat = await asyncio.wait_for(_first_heartbeat(bus), 30)
        assert beat.role == "worker" and beat.detail == "worker-motion"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
        await bus.close()
    assert proc.returncode is not None


def _start(args: list[str], *, env: dict[str, str], log: BinaryIO) -> subprocess.Popen[bytes]:
    """`python -m vms <args>` as a real process, its output in `log`."""
    return subprocess.Popen([sys.executable, "-m", "vms", *args], env=env, stdout=log, stderr=subprocess.STDOUT)


async def _first_heartbeat(bus: EmbeddedBus) -> Heartbeat:
    async with contextlib.aclosing(bus.consume([HEARTBEATS], group="inspect")) as stream:
        async for message in stream:
            return Heartbeat.model_validate_json(message.value)
    raise AssertionError("no heartbeat")


def test_a_taken_metrics_port_is_a_clear_error(tmp_path: Path, sqlite_url: str):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "VMS_ENV": "test",
            "VMS_DATA_DIR": str(tmp_path / "data"),
            "VMS_DATABASE__URL": sqlite_url,
            "VMS_METRICS__PORT": str(port),
        }
        done = subprocess.run(
            [sys.executable, "-m", "vms", "role", "retention"], env=env, capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 2
    assert f"Metrics port 127.0.0.1:{port} is not available" in done.stderr
    assert "Traceback" not in done.stderr
