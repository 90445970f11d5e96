"""Ranged delivery of stored media: a Range request reads only its bytes from the blob store (filesystem and
S3), in bounded chunks, and a missing object is a clear error before any byte is sent."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.contract.test_blobs import drop_bucket, s3_store
from vms.adapters.blobs.filesystem import FilesystemBlobStore
from vms.kernel.errors import NotFound
from vms.ports import BlobStore
from vms.streaming import delivery_api
from vms.streaming.delivery_api import RangeNotSatisfiable, parse_range


class CountingBlobs:
    """A blob store that counts what is read through it and refuses whole-object reads."""

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner
        self.ranges: list[tuple[int, int]] = []
        self.bytes_read = 0

    async def get_range(self, key: str, first: int, last: int) -> bytes:
        data = await self.inner.get_range(key, first, last)
        self.ranges.append((first, last))
        self.bytes_read += len(data)
        return data

    async def get(self, key: str) -> bytes:
        raise AssertionError("a ranged delivery must not read the whole object")

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.fixture(params=["filesystem", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "filesystem":
        yield FilesystemBlobStore(tmp_path / "blobs")
        return
    s3 = s3_store(f"vms-test-{uuid.uuid4().hex[:12]}")
    yield s3
    await drop_bucket(s3)


async def body_of(response) -> bytes:
    return b"".join([chunk async for chunk in response.body_iterator])


async def test_a_resumed_download_reads_only_the_rest_of_the_file(store: BlobStore):
    data = os.urandom(delivery_api.CHUNK * 2 + 1234)
    await store.put("t1/exports/e.mp4", data)
    blobs = CountingBlobs(store)
    first = len(data) - 5000
    response, wanted = await delivery_api.ranged_response(
        blobs, "t1/exports/e.mp4", size=len(data), media_type="video/mp4", etag='"x"',
        range_header=f"bytes={first}-", if_range='"x"',
    )  # fmt: skip
    assert wanted == (first, len(data) - 1) and response.status_code == 206
    assert response.headers["content-range"] == f"bytes {first}-{len(data) - 1}/{len(data)}"
    assert response.headers["content-length"] == "5000"
    assert await body_of(response) == data[first:]
    assert blobs.bytes_read == 5000 and blobs.ranges == [(first, len(data) - 1)]


async def test_a_whole_download_streams_in_bounded_chunks(store: BlobStore):
    data = os.urandom(delivery_api.CHUNK * 2 + 1234)
    await store.put("t1/exports/e.mp4", data)
    blobs = CountingBlobs(store)
    response, wanted = await delivery_api.ranged_response(
        blobs, "t1/exports/e.mp4", size=len(data), media_type="video/mp4", etag='"x"',
        range_header=None, if_range=None,
    )  # fmt: skip
    assert wanted is None and response.status_code == 200
    assert blobs.ranges == [(0, delivery_api.CHUNK - 1)]  # the first chunk is read before the response starts
    assert await body_of(response) == data
    assert [last - first + 1 for first, last in blobs.ranges] == [delivery_api.CHUNK, delivery_api.CHUNK, 1234]


async def test_another_files_if_range_gets_the_whole_file(store: BlobStore):
    await store.put("t1/c.mp4", b"0123456789")
    response, wanted = await delivery_api.ranged_response(
        store, "t1/c.mp4", size=10, media_type="video/mp4", etag='"new"', range_header="bytes=5-", if_range='"old"'
    )
    assert wanted is None and response.status_code == 200 and await body_of(response) == b"0123456789"


async def test_a_missing_object_fails_before_the_response_starts(store: BlobStore):
    with pytest.raises(NotFound):
        await delivery_api.ranged_response(
            store, "t1/gone.mp4", size=100, media_type="video/mp4", etag='"x"', range_header=None, if_range=None
        )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", (0, 99)),
        ("bytes=900-", (900, 999)),
        ("bytes=900-5000", (900, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=0-1,5-6", None),  # multi-range: the whole file, as RFC 9110 allows
        ("items=0-5", None),
        ("bytes=50-10", None),
    ],
)
def test_range_headers(header: str | None, expected: tuple[int, int] | None):
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=-0"])
def test_unsatisfiable_ranges_are_416(header: str):
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, 1000)
    assert caught.value.status == 416
