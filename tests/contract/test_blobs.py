"""The blob port's contract, over the filesystem adapter and S3 (SeaweedFS from scripts/services)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import engine_url
from vms.adapters.blobs.filesystem import FilesystemBlobStore
from vms.adapters.blobs.s3 import S3BlobStore
from vms.adapters.blobs.tiered import TieredBlobStore
from vms.kernel.errors import NotFound, ServiceUnavailable, ValidationFailed
from vms.ports import BlobStore


def s3_store(bucket: str) -> S3BlobStore:
    """A store on the test S3 engine (skips locally, fails under CI, when it is not running)."""
    return S3BlobStore(
        bucket=bucket,
        endpoint_url=engine_url("VMS_TEST_S3_URL"),
        access_key=os.environ.get("VMS_TEST_S3_ACCESS_KEY", ""),
        secret_key=os.environ.get("VMS_TEST_S3_SECRET_KEY", ""),
    )


async def drop_bucket(store: S3BlobStore) -> None:
    """Empty and remove a test bucket."""

    def drop() -> None:
        client = store.client
        try:
            client.head_bucket(Bucket=store.bucket)
        except ClientError:
            return  # never created (the test failed or stopped before its first write)
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket):
            objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if objects:
                client.delete_objects(Bucket=store.bucket, Delete={"Objects": objects, "Quiet": True})
        client.delete_bucket(Bucket=store.bucket)

    await asyncio.to_thread(drop)


@pytest.fixture(params=["filesystem", "s3", "tiered"])
async def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "filesystem":
        yield FilesystemBlobStore(tmp_path / "blobs")
        return
    store = s3_store(f"vms-test-{uuid.uuid4().hex[:12]}")  # a bucket per test: no leftovers between tests
    # tiered: the edge box with a cloud store behind its disk must behave as one store
    yield TieredBlobStore(FilesystemBlobStore(tmp_path / "local"), store) if request.param == "tiered" else store
    await drop_bucket(store)


async def test_a_tiered_store_reads_a_freed_local_copy_from_the_cloud_and_deletes_both(tmp_path: Path):
    local, cloud = FilesystemBlobStore(tmp_path / "local"), FilesystemBlobStore(tmp_path / "cloud")
    tiered = TieredBlobStore(local, cloud)
    key, data = "t1/cam/main/2026/11/24/12/a.mp4", bytes(range(256)) * 10
    await tiered.put(key, data)
    assert await local.exists(key) and not await cloud.exists(key)  # writes are local; the uploader copies
    await cloud.put(key, data)
    await tiered.free_local(key)
    assert not await local.exists(key) and await tiered.local_path(key) is None
    assert await tiered.get(key) == data and await tiered.get_range(key, 10, 19) == data[10:20]
    assert await tiered.size(key) == len(data) and await tiered.exists(key)
    await tiered.delete(key)
    assert not await cloud.exists(key) and not await tiered.exists(key)


async def test_put_get_round_trips_binary_data(blobs: BlobStore):
    data = bytes(range(256)) * 100
    assert await blobs.put("t1/cam/main/2026/11/24/12/a.mp4", data) == len(data)
    assert await blobs.get("t1/cam/main/2026/11/24/12/a.mp4") == data
    assert await blobs.exists("t1/cam/main/2026/11/24/12/a.mp4")


async def test_put_file_moves_or_copies(blobs: BlobStore, tmp_path: Path):
    source = tmp_path / "segment.mp4"
    source.write_bytes(b"segment")
    await blobs.put_file("t1/x/seg.mp4", source, move=True)
    assert not source.exists()
    kept = tmp_path / "kept.mp4"
    kept.write_bytes(b"kept")
    await blobs.put_file("t1/x/kept.mp4", kept)
    assert kept.exists()
    assert await blobs.get("t1/x/seg.mp4") == b"segment"
    assert await blobs.get("t1/x/kept.mp4") == b"kept"


async def test_missing_objects_are_not_found(blobs: BlobStore):
    with pytest.raises(NotFound):
        await blobs.get("t1/none")
    assert not await blobs.exists("t1/none")
    await blobs.delete("t1/none")  # ignored


async def test_list_by_prefix_and_delete(blobs: BlobStore):
    for key in ("t1/a/1", "t1/a/2", "t1/b/1", "t2/a/1"):
        await blobs.put(key, b"x")
    assert await blobs.list("t1/a/") == ["t1/a/1", "t1/a/2"]
    await blobs.delete("t1/a/1", "t1/a/2")
    assert await blobs.list("t1/") == ["t1/b/1"]


async def test_ranged_reads_return_exactly_the_bytes_asked_for(blobs: BlobStore):
    data = os.urandom(100_000)
    await blobs.put("t1/cam/export.mp4", data)
    assert await blobs.size("t1/cam/export.mp4") == len(data)
    assert await blobs.get_range("t1/cam/export.mp4", 0, 0) == data[:1]
    assert await blobs.get_range("t1/cam/export.mp4", 1000, 65_535) == data[1000:65_536]
    assert await blobs.get_range("t1/cam/export.mp4", 99_999, 99_999) == data[-1:]
    assert await blobs.get_range("t1/cam/export.mp4", 90_000, 10**12) == data[90_000:]  # an end past the end is clipped


async def test_ranged_reads_refuse_impossible_ranges_and_missing_objects(blobs: BlobStore):
    await blobs.put("t1/cam/small", b"0123456789")
    for first, last in ((10, 20), (-1, 5), (6, 5)):  # past the end, negative, backwards
        with pytest.raises(ValidationFailed):
            await blobs.get_range("t1/cam/small", first, last)
    with pytest.raises(NotFound):
        await blobs.get_range("t1/cam/none", 0, 9)
    with pytest.raises(NotFound):
        await blobs.size("t1/cam/none")


async def test_a_ranged_read_spans_the_parts_of_a_large_object(blobs: BlobStore, tmp_path: Path):
    data = os.urandom(10 * 1024 * 1024 + 12345)  # uploaded in parts on S3: a range may span parts
    source = tmp_path / "large.mp4"
    source.write_bytes(data)
    await blobs.put_file("t1/cam/large.mp4", source)
    middle = 8 * 1024 * 1024 - 100  # across the 8 MiB part boundary
    assert await blobs.get_range("t1/cam/large.mp4", middle, middle + 199) == data[middle : middle + 200]
    assert await blobs.size("t1/cam/large.mp4") == len(data)


@pytest.mark.parametrize("key", ["", "/etc/passwd", "t1/../../etc/passwd", "t1//x", "t1/./x", "t1/\x00"])
async def test_keys_cannot_escape_the_store(blobs: BlobStore, key: str):
    with pytest.raises(ValidationFailed):
        await blobs.put(key, b"x")


async def test_overwrite_is_atomic_and_leaves_no_temporary_files(blobs: BlobStore, tmp_path: Path):
    await blobs.put("t1/k", b"old")
    await blobs.put("t1/k", b"new")
    assert await blobs.get("t1/k") == b"new"
    assert not list((tmp_path / "blobs").rglob("*.tmp"))
    await blobs.ping()


async def test_large_file_round_trips_in_parts(blobs: BlobStore, tmp_path: Path):
    data = os.urandom(10 * 1024 * 1024 + 12345)  # above the S3 adapter's 8 MiB multipart threshold
    source = tmp_path / "large.mp4"
    source.write_bytes(data)
    assert await blobs.put_file("t1/cam/large.mp4", source, move=True) == len(data)
    assert not source.exists()
    assert await blobs.get("t1/cam/large.mp4") == data
    assert await blobs.list("t1/cam/") == ["t1/cam/large.mp4"]


async def test_bucket_is_created_on_first_use_and_kept():
    store = s3_store(f"vms-test-{uuid.uuid4().hex[:12]}")
    try:
        assert await store.list("t1/") == []  # the bucket did not exist before this call
        await store.put("t1/a", b"a")
        again = s3_store(store.bucket)  # a second process finds the bucket and its objects
        assert await again.get("t1/a") == b"a"
        await again.ping()
        assert await store.local_path("t1/a") is None  # readers fetch bytes, there is no file
    finally:
        await drop_bucket(store)


async def test_s3_down_is_service_unavailable_quickly():
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = S3BlobStore(
        bucket="vms-down", endpoint_url=f"http://127.0.0.1:{port}", access_key="vms", secret_key="vms-secret-key"
    )
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        await store.put("t1/a", b"a")
    with pytest.raises(ServiceUnavailable):
        await store.ping()
    assert time.monotonic() - started < 15


async def test_wrong_credentials_are_service_unavailable():
    store = s3_store(f"vms-test-{uuid.uuid4().hex[:12]}")
    store_with_wrong_secret = S3BlobStore(
        bucket=store.bucket, endpoint_url=engine_url("VMS_TEST_S3_URL"), access_key="vms", secret_key="wrong-secret"
    )
    with pytest.raises(ServiceUnavailable):
        await store_with_wrong_secret.put("t1/a", b"a")
