"""The job maker builds requirements-§6 VideoJobs per priority group and publishes them keyed by camera."""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vms.adapters.bus.embedded import EmbeddedBus
from vms.analytics.jobs import INLINE_LIMIT_BYTES, SegmentRef, VideoJob, make_jobs, models_to_run, publish_jobs
from vms.kernel.ai_models import AiModel
from vms.kernel.priority import Priority
from vms.kernel.topics import PARTITIONS

T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
CUSTOMER, CAMERA = uuid.uuid4(), uuid.uuid4()


def ref(seq: int, seconds: float = 5.0, size: int = 2_000_000) -> SegmentRef:
    start = T0 + timedelta(seconds=5 * seq)
    return SegmentRef(
        blob_key=f"t/c/main/{seq}.mp4",
        sequence=seq,
        started_at=start,
        ended_at=start + timedelta(seconds=seconds),
        bytes=size,
    )


def jobs_for(models: list[AiModel], **kwargs) -> list[VideoJob]:
    defaults = {
        "customer_id": CUSTOMER,
        "camera_id": CAMERA,
        "segment": ref(10),
        "frames": 125,
        "codec": "h264",
        "width": 1920,
        "height": 1080,
        "models": models,
    }
    return make_jobs(**{**defaults, **kwargs})


def test_only_enabled_licensed_and_compatible_models_run():
    chosen = models_to_run(
        enabled=[AiModel.FIRE_SMOKE, AiModel.ANPR, AiModel.INTRUSION],
        licensed=[AiModel.FIRE_SMOKE, AiModel.INTRUSION, AiModel.CROWD],
        compatible=[AiModel.FIRE_SMOKE, AiModel.ANPR, AiModel.CROWD],
    )
    assert chosen == [AiModel.FIRE_SMOKE]


def test_models_are_grouped_by_priority_onto_the_three_topics():
    jobs = jobs_for([AiModel.FIRE_SMOKE, AiModel.TAMPERING, AiModel.FALLEN, AiModel.MOTION, AiModel.INTRUSION])
    assert [(j.metadata.priority, j.topic, j.metadata.enabled_models) for j in jobs] == [
        (Priority.CRITICAL, "video-jobs-critical", [AiModel.FIRE_SMOKE]),
        (Priority.HIGH, "video-jobs-high", [AiModel.TAMPERING, AiModel.FALLEN]),
        (Priority.MEDIUM, "video-jobs-standard", [AiModel.INTRUSION]),
        (Priority.STANDARD, "video-jobs-standard", [AiModel.MOTION]),
    ]


def test_a_configured_priority_overrides_the_default():
    [job] = jobs_for([AiModel.MOTION], priorities={AiModel.MOTION: Priority.CRITICAL})
    assert job.topic == "video-jobs-critical"


def test_the_job_has_exactly_the_requirements_fields_in_camel_case():
    [job] = jobs_for([AiModel.FIRE_SMOKE])
    doc = json.loads(job.model_dump_json(by_alias=True))
    assert set(doc) == {
        "jobId",
        "customerId",
        "cameraId",
        "segmentSequence",
        "timestamp",
        "videoSegment",
        "window",
        "metadata",
    }
    assert set(doc["metadata"]) == {
        "resolution",
        "bitrate",
        "duration",
        "frameCount",
        "enabledModels",
        "priority",
        "sourceQuality",
    }
    assert set(doc["metadata"]["sourceQuality"]) == {"resolution", "bitrate", "fps", "codec"}
    assert doc["metadata"]["resolution"] == "1920x1080"
    assert doc["metadata"]["sourceQuality"] == {
        "resolution": "1920x1080",
        "bitrate": 3200.0,
        "fps": 25.0,
        "codec": "h264",
    }
    assert doc["metadata"]["frameCount"] == 125 and doc["metadata"]["duration"] == 5.0
    assert VideoJob.model_validate_json(job.model_dump_json(by_alias=True)) == job


def test_the_window_covers_overlap_and_minimum_duration():
    recent = [ref(7), ref(8), ref(9)]
    fire = jobs_for([AiModel.FIRE_SMOKE], recent=recent)[0]  # overlap 2 s, min 5 s → one segment back
    missing = jobs_for([AiModel.MISSING_OBJECT], recent=recent)[0]  # min 10 s on 5 s segments → 5 s back
    tampering = jobs_for([AiModel.TAMPERING], recent=recent)[0]  # no overlap, 2 s min → nothing back
    assert [s.sequence for s in fire.window] == [9]
    assert [s.sequence for s in missing.window] == [9]
    assert tampering.window == []
    longer = jobs_for([AiModel.MISSING_OBJECT], recent=recent, segment=ref(10, seconds=2))[0]
    assert [s.sequence for s in longer.window] == [8, 9]  # 10 s minimum on a 2 s segment


def test_small_segments_travel_inline_and_large_ones_by_reference():
    small = b"\x00" * 1000
    [inline] = jobs_for([AiModel.FIRE_SMOKE], segment_bytes=small)
    [by_ref] = jobs_for([AiModel.FIRE_SMOKE], segment_bytes=b"\x00" * (INLINE_LIMIT_BYTES + 1))
    assert base64.b64decode(inline.video_segment.inline or "") == small
    assert by_ref.video_segment.inline is None
    assert by_ref.video_segment.blob_key == "t/c/main/10.mp4"


async def test_jobs_are_published_keyed_by_camera_with_headers(tmp_path: Path):
    bus = EmbeddedBus(tmp_path / "bus.db")
    try:
        await bus.ensure_topics(PARTITIONS)
        jobs = jobs_for([AiModel.FIRE_SMOKE, AiModel.MOTION])
        await publish_jobs(bus, jobs, trace_id="trace-1")
        got = {}
        for topic in ("video-jobs-critical", "video-jobs-standard"):
            async with contextlib.aclosing(bus.consume([topic], group="w")) as stream:
                async for message in stream:
                    got[topic] = message
                    break
        critical = got["video-jobs-critical"]
        assert critical.key == str(CAMERA)
        assert critical.headers["tenant"] == str(CUSTOMER)
        assert critical.headers["priority"] == "CRITICAL"
        assert critical.headers["trace"] == "trace-1"
        assert VideoJob.model_validate_json(critical.value).metadata.enabled_models == [AiModel.FIRE_SMOKE]
        assert VideoJob.model_validate_json(got["video-jobs-standard"].value).metadata.enabled_models == [
            AiModel.MOTION
        ]
    finally:
        await bus.close()
