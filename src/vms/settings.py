"""One nested settings tree, read from `VMS_*` environment variables (`__` nests).

Defaults run on a laptop with nothing installed (SQLite, in-process cache, local files).
Settings are built once by the entry point and passed in; domains never import this module.

    VMS_DATABASE__URL=postgresql+asyncpg://vms:vms@127.0.0.1:5432/vms
    VMS_CACHE__KIND=redis
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"
DEV_ENCRYPTION_KEY = "dev-only-encryption-key-change-me"


class ApiSettings(BaseModel):
    """The api role: HTTP server, limits and browser access."""

    host: str = Field("127.0.0.1", description="Interface to bind; loopback unless behind a proxy.")
    port: int = Field(8000, ge=1, le=65535, description="HTTP port.")
    cors_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000", "http://localhost:5173"],
        description="Origins allowed to call the API from a browser.",
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, le=1_073_741_824, description="Largest accepted request body (413 above it)."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="CIDRs of reverse proxies whose X-Forwarded-For is believed for the client IP.",
    )


class RateLimitSettings(BaseModel):
    """Request budgets per fixed one-minute window; 0 turns a limit off."""

    per_ip_per_minute: int = Field(1200, ge=0, description="Requests per client IP.")
    per_user_per_minute: int = Field(600, ge=0, description="Requests per signed-in user.")
    per_tenant_per_minute: int = Field(6000, ge=0, description="Requests per customer, all users together.")
    sign_in_per_ip_per_minute: int = Field(20, ge=0, description="Sign-in attempts per client IP.")


class DatabaseSettings(BaseModel):
    """Transactional SQL store."""

    url: str = Field(
        "sqlite+aiosqlite:///.data/vms.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path, postgresql+asyncpg://…, mssql+aioodbc://…",
    )
    echo: bool = Field(False, description="Log every SQL statement (debugging only).")
    pool_size: int = Field(10, ge=1, le=200, description="Connections per process (server databases).")


class CacheSettings(BaseModel):
    """Cache, rate-limit counters and session revocations."""

    kind: Literal["memory", "redis"] = Field("memory", description="In-process cache or Redis.")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL when kind=redis.")
    default_ttl_s: int = Field(300, ge=1, le=86_400, description="TTL for cached configuration (5 min).")


class BusSettings(BaseModel):
    """The message bus between roles (jobs, detections, events, config changes)."""

    kind: Literal["embedded", "kafka"] = Field("embedded", description="Embedded SQLite log or Apache Kafka.")
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers when kind=kafka.")
    embedded_path: Path | None = Field(None, description="Embedded log file; default <data_dir>/bus.db.")


class AuditSettings(BaseModel):
    """Where the append-only audit log lives."""

    kind: Literal["sql", "mongo"] = Field(
        "sql", description="SQL table (written in the change's own transaction) or MongoDB (after the commit)."
    )
    mongo_url: str = Field("mongodb://127.0.0.1:27017/", description="MongoDB (or FerretDB) URL when kind=mongo.")
    mongo_database: str = Field("vms", min_length=1, description="MongoDB database holding the audit_log collection.")
    chain_key: str = Field(
        "",
        description="HMAC key for the audit hash chain; empty links records with plain SHA-256. With a key, "
        "a forger with write access to the store cannot re-hash the chain after an edit. Keep it out of that store, "
        "and never change it: links written under an old key no longer verify.",
    )


class DocumentSettings(BaseModel):
    """Where event metadata and configuration history documents are mirrored (the document store)."""

    kind: Literal["sql", "mongo"] = Field(
        "sql", description="A table of JSON documents in the SQL database, or MongoDB (or FerretDB)."
    )
    mongo_url: str | None = Field(None, description="MongoDB URL when kind=mongo; unset: the audit store's URL.")
    mongo_database: str | None = Field(
        None, min_length=1, description="MongoDB database when kind=mongo; unset: the audit store's database."
    )


class OutboxSettings(BaseModel):
    """The relay that delivers what committed transactions staged (bus messages, documents)."""

    poll_interval_s: float = Field(
        1.0, gt=0, le=60, description="How often the relay looks for rows committed by other processes."
    )
    batch_size: int = Field(200, ge=1, le=10_000, description="Rows read and delivered per batch.")
    park_after_attempts: int = Field(
        100, ge=1, le=100_000, description="Failed deliveries after which a row is set aside (logged) so later rows go."
    )
    keep_sent_hours: float = Field(24.0, ge=0, le=24 * 90, description="How long delivered rows are kept.")


class SecuritySettings(BaseModel):
    """Tokens, MFA, passwords and encryption at rest."""

    jwt_secret: str = Field(DEV_JWT_SECRET, min_length=32, description="HMAC key for access tokens.")
    encryption_key: str = Field(
        DEV_ENCRYPTION_KEY,
        min_length=16,
        description="Key for secrets at rest (TOTP seeds, camera credentials).",
    )
    access_token_ttl_s: int = Field(900, ge=60, le=86_400, description="Access token lifetime (short).")
    refresh_token_ttl_s: int = Field(
        30 * 86_400, ge=3600, le=365 * 86_400, description="Refresh token lifetime; rotates on every use."
    )
    mfa_challenge_ttl_s: int = Field(300, ge=30, le=3600, description="Time to enter the MFA code.")
    mfa_issuer: str = Field("VMS Platform", description="Issuer name shown in authenticator apps.")
    password_min_length: int = Field(12, ge=8, le=128, description="Shortest password accepted.")
    argon2_time_cost: int = Field(3, ge=1, le=20, description="Argon2id passes per password hash.")
    argon2_memory_kib: int = Field(65536, ge=1024, le=1_048_576, description="Argon2id memory per hash (KiB).")
    lockout_threshold: int = Field(5, ge=1, le=100, description="Failed sign-ins before the account locks.")
    lockout_base_s: int = Field(60, ge=1, le=86_400, description="First lock length; doubles per further lock.")
    lockout_max_s: int = Field(3600, ge=1, le=7 * 86_400, description="Longest lock.")


class CloudStorageSettings(BaseModel):
    """Where the ingest role copies segments for safe keeping off the premises (media.upload)."""

    kind: Literal["none", "s3"] = Field("none", description="none: no cloud copy; s3: copy segments to a bucket.")
    s3_endpoint: str = Field("", description="S3 endpoint URL (SeaweedFS, MinIO); empty for AWS.")
    s3_bucket: str = Field("vms-cloud", min_length=3, max_length=63, description="Bucket of the cloud copies.")
    s3_access_key: str = Field("", description="S3 access key id; empty uses the AWS default credential chain.")
    s3_secret_key: str = Field("", description="S3 secret access key; empty uses the AWS default credential chain.")
    s3_region: str = Field("us-east-1", min_length=1, description="S3 region (signing; where AWS creates the bucket).")
    retry_max_s: float = Field(
        60.0, ge=0.1, le=3600, description="Longest wait between upload retries while the cloud store fails."
    )


class StorageSettings(BaseModel):
    """Blob storage for segments, clips and snapshots."""

    kind: Literal["filesystem", "s3"] = Field("filesystem", description="Local directory or an S3 bucket.")
    root: Path = Field(Path(".data/blobs"), description="Directory of the filesystem blob store.")
    s3_endpoint: str = Field(
        "http://127.0.0.1:8333", description="S3 endpoint URL when kind=s3 (SeaweedFS, MinIO); empty for AWS."
    )
    s3_bucket: str = Field(
        "vms", min_length=3, max_length=63, description="Bucket holding the blobs; created if missing."
    )
    s3_access_key: str = Field("", description="S3 access key id; empty uses the AWS default credential chain.")
    s3_secret_key: str = Field("", description="S3 secret access key; empty uses the AWS default credential chain.")
    s3_region: str = Field("us-east-1", min_length=1, description="S3 region (signing; where AWS creates the bucket).")
    cloud: CloudStorageSettings = Field(
        default_factory=CloudStorageSettings,
        description="Storage fallback 2: a cloud copy of each segment (VMS_STORAGE__CLOUD__KIND=s3); none by default.",
    )


class IceServer(BaseModel):
    """One STUN or TURN server handed to WebRTC clients (and to the gateway)."""

    urls: list[str] = Field(
        min_length=1, description="stun:host:port, turn:host:port?transport=udp or turns:host:port URLs."
    )
    username: str | None = Field(None, description="TURN username; none for STUN.")
    credential: str | None = Field(None, description="TURN password; none for STUN.")


class StreamingSettings(BaseModel):
    """The live-view gateway: a go2rtc sidecar serving WebRTC from one connection per camera stream."""

    enabled: bool = Field(True, description="Run the go2rtc sidecar with the api role; off: WebRTC answers 503.")
    go2rtc_binary: Path | None = Field(
        None, description="go2rtc executable; default .services/bin/go2rtc (built by make run), then PATH."
    )
    api_port: int = Field(11984, ge=1, le=65535, description="go2rtc HTTP API port on 127.0.0.1 (private).")
    rtsp_port: int = Field(18554, ge=1, le=65535, description="go2rtc RTSP re-stream port on 127.0.0.1.")
    webrtc_port: int = Field(18555, ge=1, le=65535, description="go2rtc WebRTC media port (UDP and TCP).")
    webrtc_host: str = Field(
        "127.0.0.1", description="Address WebRTC media binds to; a LAN address (or 0.0.0.0) serves other machines."
    )
    webrtc_candidates: list[str] = Field(
        default_factory=list,
        description="Extra host:port ICE candidates the gateway announces (e.g. a public IP behind port forwarding).",
    )
    ice_servers: list[IceServer] = Field(
        default_factory=list, description="STUN/TURN servers for clients and gateway; none by default (no public STUN)."
    )
    refresh_s: float = Field(10.0, ge=0.5, le=3600, description="How often the camera list is re-read for changes.")
    answer_timeout_s: float = Field(
        15.0, ge=1, le=120, description="Longest wait for the gateway's SDP answer (it opens the camera first)."
    )


class PlaybackSettings(BaseModel):
    """Recorded and HLS playback, exports and the signed media URLs that open them."""

    token_ttl_s: int = Field(
        900, ge=30, le=86_400, description="Lifetime of a signed media URL (HLS, thumbnails, export download)."
    )
    live_window_segments: int = Field(
        6, ge=3, le=60, description="Segments in a live HLS playlist (its sliding window, newest last)."
    )
    live_max_age_s: float = Field(
        60.0, ge=5, le=3600, description="A live playlist lists only segments this recent; older means offline."
    )
    live_hold_back_targets: float = Field(
        3.0,
        ge=1.0,
        le=10.0,
        description="How far behind the live edge HLS players play, in segment lengths (target durations); "
        "latency is about this times the segment length plus one second. 3 is the HLS spec's minimum and "
        "rides out a late segment; 2 saves one segment length on steady networks (hls.js and ffmpeg "
        "follow it, Safari's own player may keep 3).",
    )
    max_vod_window_s: int = Field(
        86_400, ge=60, le=7 * 86_400, description="Longest time range of one VOD playlist (24 h)."
    )
    max_timeline_window_s: int = Field(
        7 * 86_400, ge=60, le=31 * 86_400, description="Longest time range of one timeline request."
    )
    max_export_s: int = Field(4 * 3600, ge=10, le=7 * 86_400, description="Longest time range of one MP4 export.")
    max_exports_running: int = Field(
        2, ge=1, le=64, description="Exports cut at once by one api process; further ones wait, queued."
    )
    gap_tolerance_s: float = Field(
        1.0, ge=0, le=60, description="A hole between segments shorter than this is jitter, not a gap."
    )
    view_audit_interval_s: int = Field(
        300, ge=0, le=86_400, description="Live playlist reloads are audited once per user, camera and interval."
    )


class MetricsSettings(BaseModel):
    """The Prometheus scrape endpoint `GET /metrics`."""

    token: str = Field(
        "",
        description="Static bearer token a Prometheus scraper may send to GET /metrics (at least 24 characters); "
        "empty allows only signed-in callers with the platform:ops permission.",
        pattern=r"^$|^\S{24,}$",
    )
    port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Port on which a stand-alone role (`vms role worker|events|ingest|retention|tickets|watchdog`) "
        "serves GET /metrics and /health; 0 = off. `vms serve` and `vms role api` serve /metrics on the API port.",
    )
    host: str = Field("127.0.0.1", description="Address a stand-alone role's metrics port binds to.")


class InferenceSettings(BaseModel):
    """How analytics workers run inference: ONNX Runtime sessions, the device gate and micro-batching."""

    use_cuda: bool = Field(
        True, description="Run ONNX models on CUDA when ONNX Runtime offers CUDAExecutionProvider; else CPU."
    )
    session_memory_mb: int = Field(
        1024, ge=16, le=1_048_576, description="Memory budget of the resident ONNX Runtime sessions (MiB)."
    )
    session_size_factor: float = Field(
        2.5, ge=1.0, le=20.0, description="Estimated session memory as a multiple of its model file's size."
    )
    cpu_slots: int = Field(
        0, ge=0, le=256, description="Inference calls run at once on the CPU; 0: half the cores, at least 1."
    )
    gpu_slots: int = Field(1, ge=1, le=64, description="Inference calls run at once on the GPU.")
    intra_op_threads: int = Field(
        0, ge=0, le=256, description="ONNX Runtime threads per CPU inference call; 0: cores / cpu_slots."
    )
    max_batch: int = Field(8, ge=1, le=256, description="Most frames in one micro-batch of a non-critical model.")
    max_batch_wait_ms: float = Field(
        20.0, ge=0.0, le=1000.0, description="Longest a partial micro-batch waits for more frames before it runs."
    )
    threads_per_model: int = Field(
        2, ge=1, le=64, description="Worker threads per hosted model: jobs analysed at once, whose frames batch."
    )


class EdgePeer(BaseModel):
    """One edge server the cloud accepts uploads from: its customer and its token's SHA-256."""

    tenant_id: uuid.UUID = Field(description="The customer whose events and clips this edge delivers.")
    token_sha256: str = Field(
        description="Hex SHA-256 of the edge's token (the cloud keeps no plain token).", pattern=r"^[0-9a-f]{64}$"
    )


class EdgeSettings(BaseModel):
    """Edge buffering: an edge server's events and clips wait in its outbox until the cloud has them."""

    cloud_url: str = Field("", description="The cloud's base URL (https://…); empty: this server is no edge.")
    token: str = Field("", description="This edge's token, sent as a bearer token to the cloud (edge side).")
    edge_id: str = Field("", description="This edge's id as the cloud knows it (edge side).", pattern=r"^[\w.-]{0,64}$")
    batch_size: int = Field(100, ge=1, le=500, description="Event documents per POST to the cloud.")
    poll_s: float = Field(1.0, gt=0, le=60, description="How often the edge relay looks for new rows.")
    max_backoff_s: float = Field(60.0, ge=1, le=3600, description="Longest wait between retries while the cloud fails.")
    timeout_s: float = Field(30.0, gt=0, le=600, description="Per-request timeout towards the cloud.")
    max_clip_bytes: int = Field(
        268_435_456, ge=1024, le=4_294_967_296, description="Largest clip the cloud accepts (413 above it)."
    )
    peers: dict[str, EdgePeer] = Field(
        default_factory=dict,
        description="Cloud side: edge id -> its customer and token hash; JSON in VMS_EDGE__PEERS.",
    )

    @model_validator(mode="after")
    def _an_edge_needs_its_credentials(self) -> EdgeSettings:
        if self.cloud_url and not (self.token and self.edge_id):
            raise ValueError("VMS_EDGE__CLOUD_URL needs VMS_EDGE__TOKEN and VMS_EDGE__EDGE_ID as well.")
        return self


class IngestSettings(BaseModel):
    """How the single box runs camera ingest (roles.ingest)."""

    processes: int = Field(
        1,
        ge=1,
        le=64,
        description="Ingest processes `vms serve` runs. 1: ingest inside the serving process. More: that many "
        "supervised `vms role ingest --shard I/N` children, each recording its share of the cameras (by camera id): "
        "a crash costs one share, not every camera, and the readers stop contending for one interpreter "
        "(docs/recording.md has the figures). About one per core on a busy edge.",
    )


class WatchdogSettings(BaseModel):
    """The watchdog: what counts as an incident (requirements §9) and how often it looks."""

    enabled: bool = Field(True, description="Run the watchdog inside `vms serve` (`vms role watchdog` always runs it).")
    evaluate_every_s: float = Field(15.0, ge=1, le=600, description="How often the rules are evaluated.")
    lease_s: float = Field(
        45.0,
        ge=5,
        le=3600,
        description="How long the evaluating watchdog's lease lasts; a standby takes over after it.",
    )
    missed_beats: int = Field(
        3, ge=2, le=100, description="Heartbeats (30 s apart) a role process may miss before it counts as failed."
    )
    forget_service_after_s: float = Field(
        3600.0, ge=300, le=30 * 86_400, description="A process silent this long is no longer tracked (decommissioned)."
    )
    latency_min_jobs: int = Field(
        20, ge=1, le=100_000, description="Finished jobs a model needs in the 5-minute window before its p99 is judged."
    )
    throughput_drop_fraction: float = Field(
        0.5, gt=0, lt=1, description="A model's segments/min this far below its learned baseline is a drop."
    )
    throughput_ewma_alpha: float = Field(
        0.1, gt=0, le=1, description="Weight of each new throughput sample in the baseline (EWMA)."
    )
    throughput_warmup_samples: int = Field(
        8, ge=1, le=10_000, description="Samples a baseline needs before drops against it are reported."
    )
    throughput_min_baseline: float = Field(
        1.0, ge=0, le=1_000_000, description="Baselines below this many segments/min are too small to judge."
    )
    lag_max_messages: int = Field(
        1000, ge=1, le=100_000_000, description="A consumer group further behind than this on a topic is an incident."
    )
    camera_grace_s: float = Field(
        120.0, ge=0, le=86_400, description="How long a camera may be offline or refuse its credentials first."
    )
    storage_check_every_s: float = Field(
        300.0, ge=15, le=86_400, description="How often retention liveness and the disk forecast are checked."
    )
    retention_interval_s: float = Field(
        3600.0, ge=60, le=7 * 86_400, description="How often the retention role is expected to run."
    )
    disk_full_alert_hours: float = Field(
        24.0, ge=0, le=24 * 365, description="Raise an incident when recording storage is forecast full sooner."
    )

    @model_validator(mode="after")
    def _the_lease_outlasts_the_pause_between_evaluations(self) -> WatchdogSettings:
        if self.lease_s <= self.evaluate_every_s:
            raise ValueError(
                "VMS_WATCHDOG__LEASE_S must be longer than VMS_WATCHDOG__EVALUATE_EVERY_S, "
                "or the evaluating watchdog loses its lease between evaluations."
            )
        return self


class LoggingSettings(BaseModel):
    """Structured logs."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Lowest level logged.")
    json_output: bool | None = Field(None, description="JSON lines; default: on in production, off otherwise.")


class Settings(BaseSettings):
    """Everything the platform can be told, in one tree."""

    model_config = SettingsConfigDict(env_prefix="VMS_", env_nested_delimiter="__", extra="ignore")

    env: Literal["development", "test", "production"] = Field(
        "development", description="production refuses development secrets and logs JSON."
    )
    data_dir: Path = Field(Path(".data"), description="Where the embedded engines keep their files.")
    api: ApiSettings = ApiSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    database: DatabaseSettings = DatabaseSettings()
    cache: CacheSettings = CacheSettings()
    bus: BusSettings = BusSettings()
    audit: AuditSettings = AuditSettings()
    documents: DocumentSettings = DocumentSettings()
    outbox: OutboxSettings = OutboxSettings()
    security: SecuritySettings = SecuritySettings()
    storage: StorageSettings = StorageSettings()
    streaming: StreamingSettings = StreamingSettings()
    playback: PlaybackSettings = PlaybackSettings()
    metrics: MetricsSettings = MetricsSettings()
    logging: LoggingSettings = LoggingSettings()
    inference: InferenceSettings = InferenceSettings()  # VMS_INFERENCE__USE_CUDA=false
    edge: EdgeSettings = EdgeSettings()  # VMS_EDGE__CLOUD_URL=https://cloud… makes this server an edge
    watchdog: WatchdogSettings = WatchdogSettings()  # VMS_WATCHDOG__CAMERA_GRACE_S=300
    ingest: IngestSettings = IngestSettings()  # VMS_INGEST__PROCESSES=2

    @model_validator(mode="after")
    def _refuse_development_secrets_in_production(self) -> Settings:
        if self.env == "production":
            if self.security.jwt_secret == DEV_JWT_SECRET:
                raise ValueError("VMS_SECURITY__JWT_SECRET is still the development default; set a real secret.")
            if self.security.encryption_key == DEV_ENCRYPTION_KEY:
                raise ValueError("VMS_SECURITY__ENCRYPTION_KEY is still the development default; set a real key.")
        return self

    @property
    def json_logs(self) -> bool:
        """Whether logs are JSON lines."""
        return self.logging.json_output if self.logging.json_output is not None else self.env == "production"
