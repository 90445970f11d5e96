"""Motion-triggered recording: what the motion detector costs per camera.

For a moving-object scene at three stream sizes, cut into 5 s segments like ingest does, one JSON line:
- `cpu_share_of_core`: CPU seconds of motion analysis per second of video (0.012 = 1.2 % of a core
  per camera);
- `vs_decode_only`: that CPU against decoding every frame of the same segments on one thread in the
  same run (the baseline: the analysis decodes too, then samples 5 frames/s at 160 px gray).

    uv run python bench/recording_motion.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.unit.media.scenes import cut, make_scene

from vms.media.motion import MotionDetector, MotionSettings

ORIGIN = datetime(2026, 1, 1, tzinfo=UTC)
SIZES = [("sub_640x360", 640, 360), ("main_1280x720", 1280, 720), ("main_1920x1080", 1920, 1080)]


def decode_only_cpu(paths: list[Path]) -> float:
    """Thread CPU seconds to decode every frame of the segments on one thread."""
    started = time.thread_time()
    for path in paths:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            for _frame in container.decode(stream):
                pass
    return time.thread_time() - started


def main() -> None:
    figures: dict[str, object] = {"bench": "recording_motion"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, width, height in SIZES:
            clip = make_scene(work / f"{name}.mp4", seconds=10, fps=15, width=width, height=height, moving=(3, 6))
            segments = cut(clip, work / name, start=ORIGIN)
            baseline = decode_only_cpu([s.path for s in segments])
            detector = MotionDetector(MotionSettings(fps=5))
            cpu = sum(detector.analyse(str(s.path), started_at=s.started_at).cpu_s for s in segments)
            video_s = sum(s.duration_s for s in segments)
            figures[name] = {"cpu_share_of_core": round(cpu / video_s, 4), "vs_decode_only": round(cpu / baseline, 2)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
