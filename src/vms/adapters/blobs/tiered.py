"""Blob port over a local store with a cloud store behind it: the edge box with storage fallback 2.

Segments are written locally and copied to the cloud by the uploader (media.upload). Retention's
edge-buffer rule then frees local copies the cloud holds whole (media.retention), keeping their index
rows: this store reads such a segment from the cloud, so playback, clips, exports and AI jobs find
every indexed segment wherever its bytes are. Deleting a segment (retention by age, watermark,
recording mode) removes both copies, so the cloud keeps nothing the index has forgotten.
"""

from __future__ import annotations

from pathlib import Path

import structlog

from vms.kernel.errors import NotFound
from vms.ports import BlobStore

log = structlog.get_logger(__name__)


class TieredBlobStore:
    """`local` first, `cloud` for what is no longer local; writes go to `local`."""

    def __init__(self, local: BlobStore, cloud: BlobStore) -> None:
        self.local = local
        self.cloud = cloud

    async def put(self, key: str, data: bytes) -> int:
        """Store bytes locally (the uploader copies segments to the cloud)."""
        return await self.local.put(key, data)

    async def put_file(self, key: str, path: Path, *, move: bool = False) -> int:
        """Store a file locally."""
        return await self.local.put_file(key, path, move=move)

    async def get(self, key: str) -> bytes:
        """The local copy, else the cloud's."""
        try:
            return await self.local.get(key)
        except NotFound:
            return await self.cloud.get(key)

    async def get_range(self, key: str, first: int, last: int) -> bytes:
        """A byte range of the local copy, else of the cloud's."""
        try:
            return await self.local.get_range(key, first, last)
        except NotFound:
            return await self.cloud.get_range(key, first, last)

    async def size(self, key: str) -> int:
        """The local copy's size, else the cloud's."""
        try:
            return await self.local.size(key)
        except NotFound:
            return await self.cloud.size(key)

    async def local_path(self, key: str) -> Path | None:
        """The local file while there is one (readers fall back to `get` when None)."""
        return await self.local.local_path(key)

    async def delete(self, *keys: str) -> None:
        """Remove both copies; a cloud that cannot be reached keeps its copy (the bucket's lifecycle
        policy is the backstop), and says so."""
        await self.local.delete(*keys)
        try:
            await self.cloud.delete(*keys)
        except Exception as exc:
            log.warning("cloud copies not deleted", keys=len(keys), first=keys[0] if keys else None, error=str(exc))

    async def free_local(self, *keys: str) -> None:
        """Remove only the local copies (the edge buffer, once the cloud holds them)."""
        await self.local.delete(*keys)

    async def exists(self, key: str) -> bool:
        """Whether either store holds `key`."""
        return await self.local.exists(key) or await self.cloud.exists(key)

    async def list(self, prefix: str) -> list[str]:
        """Local keys (the orphan sweep looks after local storage; the cloud's belong to its lifecycle)."""
        return await self.local.list(prefix)

    async def ping(self) -> None:
        """The local store must be writable; a cloud outage does not stop recording."""
        await self.local.ping()
