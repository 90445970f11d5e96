"""Bus topic names and their default partition counts (DESIGN.md §4)."""

from __future__ import annotations

from vms.kernel.priority import Priority

VIDEO_JOBS = {
    Priority.CRITICAL: "video-jobs-critical",
    Priority.HIGH: "video-jobs-high",
    Priority.MEDIUM: "video-jobs-standard",  # requirements §6 has three queues; MEDIUM shares standard's
    Priority.STANDARD: "video-jobs-standard",
}
DETECTIONS = "detections"
EVENTS = "events"
CONFIG_CHANGES = "config-changes"
HEARTBEATS = "heartbeats"
INCIDENTS = "incidents"  # the watchdog's incidents as they open and resolve, for notifications
CLOUD_UPLOADS = "cloud-uploads"  # segments waiting for their cloud copy, keyed by camera (media.upload)
DEAD_LETTER = "dead-letter"

# Partitions bound a consumer group's parallelism; jobs are keyed by camera, so 12 lets up to
# 12 workers of one model share the cameras.
PARTITIONS: dict[str, int] = {
    "video-jobs-critical": 12,
    "video-jobs-high": 12,
    "video-jobs-standard": 12,
    DETECTIONS: 12,
    EVENTS: 6,
    CONFIG_CHANGES: 1,
    HEARTBEATS: 3,
    INCIDENTS: 3,
    CLOUD_UPLOADS: 12,
    DEAD_LETTER: 1,
}
