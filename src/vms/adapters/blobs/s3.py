"""Blob port on S3 (AWS, MinIO, SeaweedFS): the scale-out store.

boto3 is synchronous, so every call runs in a worker thread (`asyncio.to_thread`); one client
serves all threads (boto3 clients are thread-safe once built). A single PUT, and a multipart
upload once completed, make the object appear whole, so readers never see a partial blob.
Vendor errors become `kernel.errors`: a missing key is NotFound, anything else the store cannot
do (unreachable, refusing credentials, failing) is ServiceUnavailable.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from vms.adapters.blobs import check_key, check_range, past_the_end
from vms.kernel.errors import NotFound, ServiceUnavailable

T = TypeVar("T")

MULTIPART_THRESHOLD = 8 * 1024 * 1024  # files above this go up in parts (8 MiB each)
DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes

# Fail fast when the store is down instead of waiting out botocore's long default retries.
DEFAULT_CONFIG = Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"})

# One boto3 session for every store: it caches the service models, so a further client costs
# milliseconds instead of ~150 ms. Sessions are not thread-safe, hence the lock around client().
_session: boto3.session.Session | None = None
_session_lock = threading.Lock()


def _client(**kwargs: Any) -> Any:
    global _session
    with _session_lock:
        if _session is None:
            _session = boto3.session.Session()
        return _session.client("s3", **kwargs)


class S3BlobStore:
    """Objects in one bucket, created on first use; keys are object keys as given."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str = "us-east-1",
        config: Config | None = None,
    ) -> None:
        """`endpoint_url` None or empty means AWS; empty keys use boto3's own credential chain."""
        self.bucket = bucket
        self.region = region
        # Self-hosted stores (SeaweedFS, MinIO) serve buckets as paths, not as sub-domains.
        style = Config(s3={"addressing_style": "path" if endpoint_url else "auto"})
        self.client: Any = _client(
            endpoint_url=endpoint_url or None,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            region_name=region,
            config=(config or DEFAULT_CONFIG).merge(style),
        )
        self._transfer = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD
        )
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()

    async def put(self, key: str, data: bytes) -> int:
        """Store bytes with one PUT."""
        check_key(key)
        await self._run(lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=data))
        return len(data)

    async def put_file(self, key: str, path: Path, *, move: bool = False) -> int:
        """Store a file (multipart above 8 MiB); `move` removes the source once the object is stored."""
        check_key(key)

        def upload() -> int:
            size = path.stat().st_size
            if size > MULTIPART_THRESHOLD:
                self.client.upload_file(str(path), self.bucket, key, Config=self._transfer)
            else:
                with path.open("rb") as body:
                    self.client.put_object(Bucket=self.bucket, Key=key, Body=body)
            if move:
                path.unlink(missing_ok=True)
            return size

        return await self._run(upload)

    async def get(self, key: str) -> bytes:
        """The object's bytes."""
        check_key(key)

        def read() -> bytes:
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _is_not_found(exc):
                    raise NotFound(f"Blob {key} not found.") from exc
                raise
            body: bytes = response["Body"].read()
            return body

        return await self._run(read)

    async def get_range(self, key: str, first: int, last: int) -> bytes:
        """Bytes first..last (inclusive) with one ranged GET: only those bytes cross the network."""
        check_key(key)
        check_range(key, first, last)

        def read() -> bytes:
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={first}-{last}")
            except ClientError as exc:
                if _is_not_found(exc):
                    raise NotFound(f"Blob {key} not found.") from exc
                if exc.response.get("Error", {}).get("Code") == "InvalidRange":  # starts past the end (416)
                    size = exc.response.get("Error", {}).get("ActualObjectSize")
                    raise past_the_end(key, first, int(size) if size else 0) from exc
                raise
            body: bytes = response["Body"].read()
            return body

        return await self._run(read)

    async def size(self, key: str) -> int:
        """The object's size from a HEAD request."""
        check_key(key)

        def head() -> int:
            try:
                response = self.client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _is_not_found(exc):
                    raise NotFound(f"Blob {key} not found.") from exc
                raise
            return int(response["ContentLength"])

        return await self._run(head)

    async def local_path(self, key: str) -> Path | None:
        """Never a local path: readers fetch the bytes."""
        check_key(key)
        return None

    async def delete(self, *keys: str) -> None:
        """Remove objects, up to 1000 per request; missing keys are no error in S3."""
        for key in keys:
            check_key(key)
        unique = list(dict.fromkeys(keys))

        def remove() -> None:
            for start in range(0, len(unique), DELETE_BATCH):
                batch = [{"Key": key} for key in unique[start : start + DELETE_BATCH]]
                response = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
                errors = response.get("Errors") or []
                if errors:
                    first = errors[0]
                    raise ServiceUnavailable(
                        f"Blob storage could not delete {len(errors)} object(s), e.g. {first.get('Key')}: "
                        f"{first.get('Code')} {first.get('Message')}"
                    )

        if unique:
            await self._run(remove)

    async def exists(self, key: str) -> bool:
        """Whether the object exists (a HEAD request)."""
        check_key(key)

        def head() -> bool:
            try:
                self.client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _is_not_found(exc):
                    return False
                raise
            return True

        return await self._run(head)

    async def list(self, prefix: str) -> list[str]:
        """Keys under a prefix, every page of the listing."""

        def walk() -> list[str]:
            keys: list[str] = []
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []))
            return sorted(keys)

        return await self._run(walk)

    async def ping(self) -> None:
        """Raise unless the bucket answers (it is created when missing)."""
        self._bucket_ready = False  # ask the store again rather than trust an earlier answer
        await self._run(lambda: None)

    async def _run(self, call: Callable[[], T]) -> T:
        """Run `call` in a worker thread after making sure the bucket exists; translate failures."""

        def guarded() -> T:
            try:
                self._ensure_bucket()
                return call()
            except (BotoCoreError, Boto3Error) as exc:  # unreachable, timed out, upload failed
                raise ServiceUnavailable(f"Blob storage (S3) is unavailable: {exc}") from exc
            except ClientError as exc:  # refused: credentials, permissions, server errors
                raise ServiceUnavailable(f"Blob storage (S3) refused the request: {exc}") from exc

        return await asyncio.to_thread(guarded)

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        with self._bucket_lock:
            if self._bucket_ready:
                return
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if not _is_not_found(exc):
                    raise
                self._create_bucket()
            self._bucket_ready = True

    def _create_bucket(self) -> None:
        extra: dict[str, Any] = {}
        if self.region != "us-east-1":  # AWS rejects an explicit us-east-1 location
            extra["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self.client.create_bucket(Bucket=self.bucket, **extra)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):  # a concurrent creator won
                raise


def _is_not_found(exc: ClientError) -> bool:
    """Whether S3 answered "no such key/bucket" (HEAD answers carry only the status code)."""
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or error.get("Code") in ("404", "NoSuchKey", "NoSuchBucket", "NotFound")
