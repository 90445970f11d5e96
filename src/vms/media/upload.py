"""Storage fallback 2: a copy of each segment in cloud storage (S3), unless the camera is fed by an NVR.

The local blob store stays primary: a segment is moved there and indexed first (media.service), then
copied to the cloud store when one is configured and the camera's `recording.cloud_upload` is true.
Cameras behind an NVR already have their recording kept on the NVR's disks; customers set the flag to
false for them so their footage stays on premises. A failed upload keeps the local segment (never
lost); `copy_to_cloud` is idempotent by key, so it can be retried.
"""

from __future__ import annotations

import uuid

from vms.config import service as config
from vms.config.cache import ConfigCache
from vms.media import service as media
from vms.media.models import Segment
from vms.media.segmenter import SegmentInfo
from vms.ports import BlobStore
from vms.uow import UnitOfWork

CLOUD_UPLOAD = "recording.cloud_upload"


async def cloud_upload_enabled(
    *, uow: UnitOfWork, config_cache: ConfigCache, tenant_id: uuid.UUID, camera_id: uuid.UUID
) -> bool:
    """The camera's effective `recording.cloud_upload` (false for NVR-fed cameras)."""
    values = await config.camera_config(
        uow=uow, config_cache=config_cache, tenant_id=tenant_id, camera_id=camera_id, keys=[CLOUD_UPLOAD]
    )
    return bool(values[CLOUD_UPLOAD].value)


async def store_segment(
    *,
    uow: UnitOfWork,
    local: BlobStore,
    cloud: BlobStore | None,
    upload: bool,
    tenant_id: uuid.UUID,
    camera_id: uuid.UUID,
    stream: str,
    info: SegmentInfo,
    kept_by: str | None = "continuous",
) -> Segment:
    """Store and index a closed segment locally, then copy it to `cloud` when there is one and `upload`."""
    row = await media.record_segment(
        uow=uow, blobs=local, tenant_id=tenant_id, camera_id=camera_id, stream=stream, info=info, kept_by=kept_by
    )
    if cloud is not None and upload:
        await copy_to_cloud(local=local, cloud=cloud, key=row.blob_key)
    return row


async def copy_to_cloud(*, local: BlobStore, cloud: BlobStore, key: str) -> int:
    """Put the local object under the same key in the cloud store (atomic there); returns its size."""
    path = await local.local_path(key)
    if path is not None:
        return await cloud.put_file(key, path)  # streamed from disk, not read into memory
    return await cloud.put(key, await local.get(key))
