"""Real recordings for playback tests: a clip cut by the real segmenter, stored through the media service."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import socket
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from tests.media import make_clip
from vms.bootstrap import Container
from vms.kernel.tenancy import TenantScope
from vms.media import service
from vms.media.segmenter import Segmenter, SegmentInfo
from vms.uow import Actor

ORIGIN = datetime(2026, 1, 1, tzinfo=UTC)
FPS = 25
CLIP_S = 12  # cut at 5 s targets: 5 + 5 + 2 s


def cut_clip(tmp: Path, *, width: int, height: int) -> list[SegmentInfo]:
    """A 12 s clip (keyframe every second) cut into segments, timed from ORIGIN."""
    clip = make_clip(tmp / f"clip-{width}.mp4", width=width, height=height, fps=FPS, seconds=CLIP_S, gop_s=1)
    got: list[SegmentInfo] = []
    Segmenter(out_dir=tmp / f"cut-{width}", target_s=5, clock=lambda: ORIGIN).run(
        str(clip), on_segment=got.append, stop=threading.Event()
    )
    return got


async def record_run(
    container: Container,
    *,
    tenant_id: uuid.UUID,
    camera_id: uuid.UUID,
    stream: str,
    pieces: list[SegmentInfo],
    start: datetime,
    first_sequence: int,
    work: Path,
) -> datetime:
    """Store copies of `pieces` as recorded from `start` on; returns the end of the run."""
    await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
    at = start
    async with container.unit_of_work(TenantScope.of(tenant_id), Actor.system("ingest")) as uow:  # type: ignore[arg-type]
        for i, piece in enumerate(pieces):
            copy = work / f"{uuid.uuid4().hex}.mp4"
            shutil.copy(piece.path, copy)
            info = dataclasses.replace(
                piece,
                path=copy,
                sequence=first_sequence + i,
                started_at=at,
                ended_at=at + (piece.ended_at - piece.started_at),
            )
            await service.record_segment(
                uow=uow, blobs=container.blobs, tenant_id=tenant_id, camera_id=camera_id, stream=stream, info=info
            )
            at = info.ended_at
        await uow.commit()
    return at


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real loopback HTTP server (ffprobe must fetch over HTTP); yields its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no started event)
            await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)


async def run_tool(*args: str, timeout_s: float = 60) -> tuple[int, str, str]:
    """Run ffprobe/ffmpeg without blocking the loop (the server under test runs in it)."""
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(), err.decode()


def seconds_ago(s: float) -> datetime:
    """A whole-millisecond UTC time `s` seconds ago (segment names carry microseconds exactly)."""
    now = datetime.now(UTC) - timedelta(seconds=s)
    return now.replace(microsecond=(now.microsecond // 1000) * 1000)
