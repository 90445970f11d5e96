"""HTTP delivery of stored media (exports, event clips) with byte ranges, read from the blob store in chunks.

Video elements seek and download managers resume with `Range: bytes=N-`; answering them from the
blob port's ranged read means a request never loads more than one chunk into memory, and on S3 only
the bytes asked for cross the network (an export of 4 h is gigabytes; a resumed download of its last
megabyte must not fetch all of it first).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping

from fastapi.responses import StreamingResponse

from vms.kernel.errors import VmsError
from vms.ports import BlobStore

CHUNK = 4 << 20  # per ranged read: a few S3 requests per second of fast download, little memory per viewer


class RangeNotSatisfiable(VmsError):
    """An HTTP Range outside the file."""

    status = 416
    title = "Range not satisfiable"


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range (first, last) a `Range` header asks for; None for the whole file.

    One range only (what download managers and browsers resuming a download send); a multi-range or
    malformed header is ignored as RFC 9110 allows, so the client gets the whole file. A range starting
    past the end is RangeNotSatisfiable (416).
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first_s, last_s = match.groups()
    if first_s:
        first = int(first_s)
        last = min(int(last_s), size - 1) if last_s else size - 1
        if first >= size:
            raise RangeNotSatisfiable(f"The file has {size} bytes; the range starts at {first}.", size=size)
        if last < first:
            return None
        return first, last
    suffix = int(last_s)
    if suffix == 0:
        raise RangeNotSatisfiable("A suffix range of 0 bytes selects nothing.", size=size)
    return max(0, size - suffix), size - 1


async def blob_chunks(blobs: BlobStore, key: str, first: int, last: int) -> AsyncIterator[bytes]:
    """The bytes [first, last] of a blob, one ranged read of at most CHUNK bytes at a time."""
    position = first
    while position <= last:
        data = await blobs.get_range(key, position, min(last, position + CHUNK - 1))
        if not data:
            break
        position += len(data)
        yield data


async def ranged_response(
    blobs: BlobStore,
    key: str,
    *,
    size: int,
    media_type: str,
    etag: str,
    range_header: str | None,
    if_range: str | None,
    headers: Mapping[str, str] | None = None,
) -> tuple[StreamingResponse, tuple[int, int] | None]:
    """A 200 with the whole blob, or a 206 with the range asked for, and that range (None: whole).

    `If-Range` with another ETag means the client's partial copy is of another file: it gets the whole
    file again instead of a piece that would not fit (RFC 9110 §13.1.5). The first chunk is read before
    the response starts, so a missing object or an unreachable store is a clear 404/503, not a broken
    stream after a 200.
    """
    wanted = parse_range(range_header, size) if if_range in (None, etag) else None
    first, last = wanted if wanted else (0, size - 1)
    out = {
        **(headers or {}),
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Content-Length": str(max(0, last - first + 1)),
    }
    if wanted:
        out["Content-Range"] = f"bytes {first}-{last}/{size}"
    chunks = blob_chunks(blobs, key, first, last)
    head = await anext(chunks, b"")

    async def body() -> AsyncIterator[bytes]:
        if head:
            yield head
        async for chunk in chunks:
            yield chunk

    return StreamingResponse(body(), status_code=206 if wanted else 200, media_type=media_type, headers=out), wanted
