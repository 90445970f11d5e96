"""The blob port's contract; the S3 adapter joins the parametrisation when it lands."""

from __future__ import annotations

from pathlib import Path

import pytest

from vms.adapters.blobs.filesystem import FilesystemBlobStore
from vms.kernel.errors import NotFound, ValidationFailed
from vms.ports import BlobStore


@pytest.fixture(params=["filesystem"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    return FilesystemBlobStore(tmp_path / "blobs")


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
