"""Blob port on a local directory: the single-box and edge default.

Writes go to a temporary file in the target directory and are renamed into place, so a crash
or a full disk never leaves a truncated object under its final key.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

from vms.adapters.blobs import check_key, check_range, past_the_end
from vms.kernel.errors import NotFound, ServiceUnavailable


class FilesystemBlobStore:
    """Objects as files under `root`, one directory level per key segment."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def put(self, key: str, data: bytes) -> int:
        """Store bytes atomically."""
        return await asyncio.to_thread(self._write, self._path(key), data)

    async def put_file(self, key: str, path: Path, *, move: bool = False) -> int:
        """Store a file; a move within one filesystem is a rename and costs nothing."""
        return await asyncio.to_thread(self._copy_or_move, path, self._path(key), move)

    async def get(self, key: str) -> bytes:
        """The object's bytes."""
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise NotFound(f"Blob {key} not found.") from exc

    async def get_range(self, key: str, first: int, last: int) -> bytes:
        """Bytes first..last (inclusive) with one seek and one read."""
        check_range(key, first, last)
        path = self._path(key)

        def read() -> bytes:
            with path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if first >= size:
                    raise past_the_end(key, first, size)
                handle.seek(first)
                return handle.read(min(last, size - 1) - first + 1)

        try:
            return await asyncio.to_thread(read)
        except FileNotFoundError as exc:
            raise NotFound(f"Blob {key} not found.") from exc

    async def size(self, key: str) -> int:
        """The file's size."""
        path = self._path(key)
        try:
            return (await asyncio.to_thread(path.stat)).st_size
        except FileNotFoundError as exc:
            raise NotFound(f"Blob {key} not found.") from exc

    async def local_path(self, key: str) -> Path | None:
        """The file itself, for zero-copy readers (PyAV, HTTP file responses)."""
        path = self._path(key)
        return path if path.exists() else None

    async def delete(self, *keys: str) -> None:
        """Remove objects."""
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    async def exists(self, key: str) -> bool:
        """Whether the object exists."""
        return self._path(key).exists()

    async def list(self, prefix: str) -> list[str]:
        """Keys under a prefix."""

        def walk() -> list[str]:
            base = self.root / prefix if prefix and prefix.endswith("/") else self.root
            if not base.exists():
                return []
            keys = (p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file())
            return sorted(k for k in keys if k.startswith(prefix) and not k.endswith(".tmp"))

        return await asyncio.to_thread(walk)

    async def ping(self) -> None:
        """Raise if the root is not writable."""
        await self.put(".health/ping", b"ok")

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key))

    @staticmethod
    def _write(target: Path, data: bytes) -> int:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temp, target)
        except OSError as exc:
            Path(temp).unlink(missing_ok=True)
            raise ServiceUnavailable(f"Blob storage write failed: {exc}") from exc
        return len(data)

    @staticmethod
    def _copy_or_move(source: Path, target: Path, move: bool) -> int:
        target.parent.mkdir(parents=True, exist_ok=True)
        size = source.stat().st_size
        try:
            if move:
                try:
                    os.replace(source, target)
                    return size
                except OSError:
                    pass  # another filesystem: copy below
            fd, temp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            os.close(fd)
            try:
                shutil.copyfile(source, temp)
                os.replace(temp, target)
            finally:
                Path(temp).unlink(missing_ok=True)  # gone after a successful replace; a leftover otherwise
            if move:
                source.unlink(missing_ok=True)
        except OSError as exc:
            raise ServiceUnavailable(f"Blob storage write failed: {exc}") from exc
        return size
