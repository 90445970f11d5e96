"""The job maker: one closed segment → VideoJobs on the priority topics (requirements §6).

For each segment, the models to run are enabled ∩ licensed ∩ compatible (the camera's choice,
the customer's purchase and the stream's quality); they are grouped by effective priority and
each group becomes one job on its topic, keyed by camera id so a camera's jobs stay in order.
The video travels as a claim-check reference to the stored segment(s) — a 5 s 1080p segment is
~2 MB, over Kafka's default message limit — with the bytes inline only when small. Each job also
names the earlier segments its models need for their overlap and minimum duration.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from vms.kernel.ai_models import MODEL_SPECS, AiModel
from vms.kernel.ids import new_id
from vms.kernel.priority import Priority
from vms.kernel.topics import VIDEO_JOBS
from vms.ports import Bus

INLINE_LIMIT_BYTES = 256 * 1024


class CamelModel(BaseModel):
    """JSON in the requirements' camelCase; Python attributes in snake_case."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class SegmentRef(CamelModel):
    """Where a segment is (claim check) and the time it covers."""

    blob_key: str
    stream: str = "main"
    sequence: int
    started_at: datetime
    ended_at: datetime
    bytes: int
    inline: str | None = Field(None, description="Base64 of the segment when under the inline limit.")


class SourceQuality(CamelModel):
    """The camera stream as measured."""

    resolution: str
    bitrate: float = Field(description="kbit/s")
    fps: float
    codec: str


class JobMetadata(CamelModel):
    """requirements §6 `metadata`."""

    resolution: str
    bitrate: float
    duration: float = Field(description="Seconds of video in `videoSegment`.")
    frame_count: int
    enabled_models: list[AiModel]
    priority: Priority
    source_quality: SourceQuality


class VideoJob(CamelModel):
    """requirements §6 VideoJob; `videoSegment` is a claim check (DESIGN.md §9), `window` the
    earlier segments needed for overlap and minimum duration, oldest first."""

    job_id: uuid.UUID
    customer_id: uuid.UUID
    camera_id: uuid.UUID
    segment_sequence: int
    timestamp: datetime
    video_segment: SegmentRef
    window: list[SegmentRef] = Field(default_factory=list)
    metadata: JobMetadata

    @property
    def topic(self) -> str:
        """The priority topic this job belongs on."""
        return VIDEO_JOBS[self.metadata.priority]


def models_to_run(
    *, enabled: Iterable[AiModel], licensed: Iterable[AiModel], compatible: Iterable[AiModel]
) -> list[AiModel]:
    """enabled ∩ licensed ∩ compatible, in a stable order."""
    chosen = set(enabled) & set(licensed) & set(compatible)
    return [m for m in AiModel if m in chosen]


def make_jobs(
    *,
    customer_id: uuid.UUID,
    camera_id: uuid.UUID,
    segment: SegmentRef,
    frames: int,
    codec: str,
    width: int,
    height: int,
    models: Sequence[AiModel],
    priorities: Mapping[AiModel, Priority] | None = None,
    recent: Sequence[SegmentRef] = (),
    overlap_s: Mapping[AiModel, float] | None = None,
    segment_bytes: bytes | None = None,
) -> list[VideoJob]:
    """One job per priority group of `models` for `segment`.

    `priorities` and `overlap_s` are the effective (configured) values per model, defaulting to
    the requirements table; `recent` are the camera's previous segments, newest last.
    """
    priorities = priorities or {}
    overlaps = overlap_s or {}
    groups: dict[Priority, list[AiModel]] = defaultdict(list)
    for model in models:
        groups[priorities.get(model, MODEL_SPECS[model].default_priority)].append(model)
    duration = (segment.ended_at - segment.started_at).total_seconds()
    video = segment
    if segment_bytes is not None and len(segment_bytes) <= INLINE_LIMIT_BYTES:
        video = segment.model_copy(update={"inline": base64.b64encode(segment_bytes).decode()})
    fps = frames / duration if duration > 0 else 0.0
    bitrate = segment.bytes * 8 / 1000 / duration if duration > 0 else 0.0
    quality = SourceQuality(resolution=f"{width}x{height}", bitrate=round(bitrate, 1), fps=round(fps, 2), codec=codec)
    jobs = []
    for priority, group in sorted(groups.items(), key=lambda item: _ORDER[item[0]]):
        lookback = max(
            max(overlaps.get(m, MODEL_SPECS[m].overlap_s), MODEL_SPECS[m].min_duration_s - duration) for m in group
        )
        jobs.append(
            VideoJob(
                job_id=new_id(),
                customer_id=customer_id,
                camera_id=camera_id,
                segment_sequence=segment.sequence,
                timestamp=segment.started_at,
                video_segment=video,
                window=_window(recent, segment.started_at, lookback),
                metadata=JobMetadata(
                    resolution=f"{width}x{height}",
                    bitrate=quality.bitrate,
                    duration=round(duration, 3),
                    frame_count=frames,
                    enabled_models=group,
                    priority=priority,
                    source_quality=quality,
                ),
            )
        )
    return jobs


async def publish_jobs(bus: Bus, jobs: Sequence[VideoJob], *, trace_id: str | None = None) -> None:
    """Put each job on its priority topic, keyed by camera, with tenant/priority/trace headers."""
    for job in jobs:
        await bus.publish(
            job.topic,
            key=str(job.camera_id),
            value=job.model_dump_json(by_alias=True).encode(),
            headers={
                "tenant": str(job.customer_id),
                "priority": job.metadata.priority.value,
                "trace": trace_id or job.job_id.hex,
                "published-at": f"{time.time():.6f}",  # for job-latency SLA measurement
            },
        )


_ORDER = {Priority.CRITICAL: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.STANDARD: 3}


def _window(recent: Sequence[SegmentRef], start: datetime, lookback_s: float) -> list[SegmentRef]:
    """The recent segments that overlap [start - lookback, start), oldest first."""
    if lookback_s <= 0:
        return []
    since = start - timedelta(seconds=lookback_s)
    return [s for s in recent if s.ended_at > since and s.started_at < start]
