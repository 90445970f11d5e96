"""A minimal keep-alive HTTP/1.1 load generator on raw asyncio streams.

httpx's async pool spends more CPU per request than the server under test at 100 concurrent
connections, which would measure the client; this sends pipelined-free requests on N
persistent connections with almost no client overhead.
"""

from __future__ import annotations

import asyncio
import statistics
import time


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    writer.write(raw)
    await writer.drain()
    status_line = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return int(status_line.split()[1])


async def run(
    host: str, port: int, path: str, *, headers: dict[str, str], requests: int, concurrency: int
) -> dict[str, float]:
    """Send `requests` GETs over `concurrency` connections; latency percentiles and req/s."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    raw = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{head}\r\n".encode()
    latencies: list[float] = []
    errors = 0
    todo = iter(range(requests))

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for _ in todo:
                started = time.perf_counter()
                status = await _request(reader, writer, raw)
                latencies.append((time.perf_counter() - started) * 1000)
                errors += status != 200
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {"rps": round(requests / elapsed, 1), "p50_ms": round(q[49], 2), "p99_ms": round(q[98], 2), "errors": errors}
