"""Child processes of the single box (DESIGN.md §2): workers run apart from the API, so a model
that crashes or leaks cannot take the API down; the supervisor restarts them with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time

import structlog

from vms.media.ingest import Backoff

log = structlog.get_logger(__name__)
HEALTHY_AFTER_S = 60.0  # a child that ran this long counts as healthy: the backoff starts over


async def supervise(args: list[str], *, name: str, backoff: Backoff | None = None) -> None:
    """Run `python -m vms <args>` and restart it whenever it exits, until cancelled."""
    backoff = backoff or Backoff(base_s=1.0, cap_s=60.0)
    attempt = 0
    while True:
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "vms", *args)
        log.info("child started", child=name, pid=process.pid)
        try:
            code = await process.wait()
        except asyncio.CancelledError:
            await _stop(process)
            raise
        attempt = 1 if time.monotonic() - started >= HEALTHY_AFTER_S else attempt + 1
        delay = backoff.delay(attempt)
        log.warning("child exited; restarting", child=name, code=code, retry_in_s=round(delay, 2))
        await asyncio.sleep(delay)


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(asyncio.shield(process.wait()), 10)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
