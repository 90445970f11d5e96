"""Composition root: turns Settings into a Container of adapters. The only module that names
concrete adapters; everything else depends on ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from vms.adapters.audit.mongo import MongoAuditStore
from vms.adapters.audit.sql import SqlAuditStore
from vms.adapters.blobs.filesystem import FilesystemBlobStore
from vms.adapters.blobs.tiered import TieredBlobStore
from vms.adapters.bus.embedded import EmbeddedBus
from vms.adapters.bus.kafka import KafkaBus
from vms.adapters.cache.memory import MemoryCache, MemoryRateLimiter
from vms.adapters.cache.redis import RedisCache, RedisRateLimiter
from vms.adapters.documents.mongo import MongoDocumentStore
from vms.adapters.documents.sql import SqlDocumentStore
from vms.adapters.sql.engine import make_engine, make_sessionmaker, open_session
from vms.auth.passwords import Passwords
from vms.auth.service import IdentityKit
from vms.auth.tokens import TokenSigner
from vms.cameras.probe import Prober, PyAvProber
from vms.config.cache import ConfigCache
from vms.events import edge_staging
from vms.kernel.crypto import SecretBox
from vms.kernel.tenancy import TenantScope
from vms.outbox import OutboxRelay
from vms.ports import AuditStore, BlobStore, Bus, Cache, DocumentStore, RateLimiter
from vms.settings import Settings
from vms.stats.metrics import Metrics
from vms.uow import Actor, UnitOfWork


@dataclass
class Container:
    """Every long-lived dependency of a process, built once from settings."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    cache: Cache
    rate_limiter: RateLimiter
    audit_store: AuditStore
    identity: IdentityKit
    bus: Bus
    blobs: BlobStore
    config: ConfigCache  # configuration through the cache, with this process's refresh bookkeeping
    documents: DocumentStore  # event metadata and configuration history documents
    outbox: OutboxRelay  # delivers what committed units of work staged (vms.outbox)
    prober: Prober = field(default_factory=PyAvProber)  # camera stream probe; tests swap in a fake
    metrics: Metrics = field(default_factory=Metrics)  # this process's Prometheus registry (one per container)
    cloud_blobs: BlobStore | None = None  # storage fallback 2: cloud copies of segments (media.upload); None: none

    @asynccontextmanager
    async def unit_of_work(self, scope: TenantScope, actor: Actor) -> AsyncIterator[UnitOfWork]:
        """A unit of work for background tasks and the CLI; the caller commits."""
        session = open_session(self.sessions, scope)
        try:
            yield UnitOfWork(session=session, scope=scope, actor=actor, audit_store=self.audit_store)
        finally:
            # Shielded: a background role cancelled at shutdown must still hand its connection back.
            await asyncio.shield(session.close())

    async def close(self) -> None:
        """Release connections."""
        await self.bus.close()
        await self.cache.close()
        await self.documents.close()
        if isinstance(self.audit_store, MongoAuditStore):
            await self.audit_store.close()
        await self.engine.dispose()


def build_container(settings: Settings) -> Container:
    """Pick and build the adapters the settings ask for."""
    engine = make_engine(settings.database.url, echo=settings.database.echo, pool_size=settings.database.pool_size)
    sessions = make_sessionmaker(engine)
    cache: Cache
    limiter: RateLimiter
    if settings.cache.kind == "redis":
        redis_cache = RedisCache.from_url(settings.cache.redis_url)
        cache, limiter = redis_cache, RedisRateLimiter(redis_cache.client)
    else:
        cache, limiter = MemoryCache(), MemoryRateLimiter()
    sec = settings.security
    identity = IdentityKit(
        passwords=Passwords(
            min_length=sec.password_min_length,
            time_cost=sec.argon2_time_cost,
            memory_kib=sec.argon2_memory_kib,
        ),
        signer=TokenSigner(
            secret=sec.jwt_secret,
            access_ttl_s=sec.access_token_ttl_s,
            challenge_ttl_s=sec.mfa_challenge_ttl_s,
        ),
        secrets=SecretBox(sec.encryption_key),
        cache=cache,
        mfa_issuer=sec.mfa_issuer,
        refresh_ttl_s=sec.refresh_token_ttl_s,
        lockout_threshold=sec.lockout_threshold,
        lockout_base_s=sec.lockout_base_s,
        lockout_max_s=sec.lockout_max_s,
    )
    bus = build_bus(settings)
    documents = build_documents(settings, sessions)
    cloud_blobs = build_cloud_blobs(settings)
    relay = settings.outbox
    if settings.edge.cloud_url:  # an edge server: every process queues event changes for the cloud
        edge_staging.install(engine)
    return Container(
        settings=settings,
        engine=engine,
        sessions=sessions,
        cache=cache,
        rate_limiter=limiter,
        audit_store=build_audit_store(settings, sessions),
        identity=identity,
        bus=bus,
        blobs=tiered(build_blobs(settings), cloud_blobs),
        cloud_blobs=cloud_blobs,
        config=ConfigCache(cache, ttl_s=settings.cache.default_ttl_s),
        documents=documents,
        outbox=OutboxRelay(
            sessions,
            bus=bus,
            documents=documents,
            batch_size=relay.batch_size,
            poll_s=relay.poll_interval_s,
            park_after=relay.park_after_attempts,
            keep_sent_s=relay.keep_sent_hours * 3600,
        ),
    )


def build_audit_store(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> AuditStore:
    """The audit store the settings ask for."""
    chain_key = settings.audit.chain_key.encode() or None
    if settings.audit.kind == "mongo":
        return MongoAuditStore.from_url(settings.audit.mongo_url, settings.audit.mongo_database, chain_key=chain_key)
    return SqlAuditStore(sessions, chain_key=chain_key)


def build_documents(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> DocumentStore:
    """The document store the settings ask for; MongoDB defaults to the audit store's server and database."""
    docs = settings.documents
    if docs.kind == "mongo":
        return MongoDocumentStore.from_url(
            docs.mongo_url or settings.audit.mongo_url, docs.mongo_database or settings.audit.mongo_database
        )
    return SqlDocumentStore(sessions)


def build_blobs(settings: Settings) -> BlobStore:
    """The blob store the settings ask for."""
    st = settings.storage
    if st.kind == "s3":
        from vms.adapters.blobs.s3 import S3BlobStore  # boto3 costs ~0.5 s to import; only when used

        return S3BlobStore(
            bucket=st.s3_bucket,
            endpoint_url=st.s3_endpoint,
            access_key=st.s3_access_key,
            secret_key=st.s3_secret_key,
            region=st.s3_region,
        )
    return FilesystemBlobStore(st.root)


def tiered(local: BlobStore, cloud: BlobStore | None) -> BlobStore:
    """With a cloud store, segments the edge buffer freed locally are read from the cloud (TieredBlobStore)."""
    return TieredBlobStore(local, cloud) if cloud is not None else local


def build_cloud_blobs(settings: Settings) -> BlobStore | None:
    """The cloud store segments are copied to, when the settings name one."""
    cloud = settings.storage.cloud
    if cloud.kind != "s3":
        return None
    from vms.adapters.blobs.s3 import S3BlobStore

    return S3BlobStore(
        bucket=cloud.s3_bucket,
        endpoint_url=cloud.s3_endpoint,
        access_key=cloud.s3_access_key,
        secret_key=cloud.s3_secret_key,
        region=cloud.s3_region,
    )


def build_bus(settings: Settings) -> Bus:
    """The bus adapter the settings ask for."""
    if settings.bus.kind == "kafka":
        return KafkaBus(settings.bus.kafka_bootstrap)
    return EmbeddedBus(settings.bus.embedded_path or settings.data_dir / "bus.db")
