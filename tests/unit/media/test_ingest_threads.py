"""Many cameras in one process: every stream gets its own reader thread, so streams past the default
executor's size (cores + 4) are ingested too, and the executor stays free for blob writes and the like."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tests.media import make_clip
from vms.media.ingest import Backoff, StreamIngest
from vms.media.segmenter import SegmentInfo


async def test_more_streams_than_executor_workers_are_all_ingested_and_to_thread_still_runs(tmp_path: Path):
    streams = min(32, (os.cpu_count() or 1) + 4) + 2  # the default executor's size, plus two
    clip = make_clip(tmp_path / "cam.mp4", width=160, height=120, fps=10, seconds=3, gop_s=1)
    stored: dict[int, list[SegmentInfo]] = {i: [] for i in range(streams)}

    def store_for(index: int):  # type: ignore[no-untyped-def]
        async def store(info: SegmentInfo) -> None:
            # What the ingest role does with a segment: blob writes go through asyncio.to_thread.
            await asyncio.wait_for(asyncio.to_thread(info.path.stat), timeout=5)
            stored[index].append(info)

        return store

    ingests = [
        StreamIngest(
            url=str(clip),
            work_dir=tmp_path / f"w{i}",
            on_segment=store_for(i),
            target_s=1.0,
            options={},
            realtime=True,  # the reader blocks for the clip's duration, as a live camera's does
            backoff=Backoff(base_s=0.05, cap_s=0.1),
        )
        for i in range(streams)
    ]
    tasks = [asyncio.create_task(i.run()) for i in ingests]
    try:
        await asyncio.sleep(2.5)
        assert await asyncio.wait_for(asyncio.to_thread(lambda: "free"), timeout=2) == "free"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert all(stored[i] for i in range(streams)), {i: len(s) for i, s in stored.items()}
