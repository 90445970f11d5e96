"""A worker process the fault tests can kill: `python -m tests.integration.fault_worker …`.

It runs the real `Worker` on the real Kafka bus and a filesystem blob store, hosting one test model
whose behaviour the test picks: `hang-first` stalls in the first analysis (so a SIGKILL lands
mid-job), `die-on-commit` kills its own process at the first job commit, after the detections
were published (the narrowest crash window of at-least-once delivery). Every analysis appends a
line to `<state>/attempts`, so the test can see that a job was delivered again.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import signal
import time
import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from pathlib import Path
from typing import Any

from vms.adapters.blobs.filesystem import FilesystemBlobStore
from vms.adapters.bus.kafka import KafkaBus
from vms.adapters.cache.memory import MemoryCache
from vms.analytics.plugin import AnalyticsModel, Detection
from vms.analytics.worker import Worker
from vms.kernel.ai_models import AiModel
from vms.media.normalize import NormalizedClip
from vms.ports import BusMessage


class Marker(AnalyticsModel[Any]):
    """One detection per clip at a fixed box; optionally slow, and it records every attempt."""

    key = AiModel.MOTION

    def __init__(self, model: AiModel, *, attempts: Path | None = None, hang_first: bool = False, sleep_s: float = 0):
        super().__init__()
        self.model_key, self.attempts, self.hang_first, self.sleep_s = model, attempts, hang_first, sleep_s
        self.calls = 0

    def analyze(self, clip: NormalizedClip, *, camera_id: uuid.UUID, segment_sequence: int) -> list[Detection]:
        self.calls += 1
        if self.attempts is not None:
            with self.attempts.open("a") as f:
                f.write(f"{segment_sequence}\n")
                f.flush()
                os.fsync(f.fileno())
            if self.hang_first and self.attempts.read_text().count("\n") == 1:
                time.sleep(600)  # the test kills the process here
        if self.sleep_s:
            time.sleep(self.sleep_s)
        frame_time = clip.timestamps[0]
        return [Detection(self.model_key, camera_id, segment_sequence, frame_time, (0.1, 0.1, 0.2, 0.2), "thing", 0.9)]


class DieOnFirstJobCommit:
    """The Kafka bus, except that the first job commit SIGKILLs this process instead."""

    def __init__(self, bus: KafkaBus) -> None:
        self.bus = bus

    async def publish(self, topic: str, *, key: str, value: bytes, headers: Mapping[str, str] | None = None) -> None:
        await self.bus.publish(topic, key=key, value=value, headers=headers)

    async def consume(self, topics: Sequence[str], *, group: str) -> AsyncGenerator[BusMessage, None]:
        async for message in self.bus.consume(topics, group=group):
            yield dataclasses.replace(message, commit=_die)

    def __getattr__(self, name: str) -> Any:  # lag, ensure_topics, close …
        return getattr(self.bus, name)


async def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--blobs", required=True, type=Path)
    parser.add_argument("--group", required=True)
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--mode", choices=["normal", "hang-first", "die-on-commit"], default="normal")
    args = parser.parse_args()
    kafka = KafkaBus(args.bootstrap)
    bus: Any = DieOnFirstJobCommit(kafka) if args.mode == "die-on-commit" else kafka
    model = Marker(AiModel.MOTION, attempts=args.state / "attempts", hang_first=args.mode == "hang-first")
    worker = Worker(
        seen=MemoryCache(),
        bus=bus,
        blobs=FilesystemBlobStore(args.blobs),
        models={AiModel.MOTION: model},
        group=args.group,
    )
    try:
        await worker.run()
    finally:
        await kafka.close()


if __name__ == "__main__":
    asyncio.run(main())
