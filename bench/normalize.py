"""Decode + normalise throughput per core vs ffmpeg doing the same work single-threaded.

Ours: vms.media.normalize (PyAV, one decode thread) on a 1080p H.264 25 fps clip → 640×480 RGB
letterboxed at 15 fps. Baseline, same file, same run:
    ffmpeg -threads 1 -i clip -vf fps=15,scale=640:360,pad=640:480:0:60 -pix_fmt rgb24 -f null -
Both measured in CPU seconds (this process vs the ffmpeg child), reported as source frames per
CPU-second and their ratio (goal ≥ 0.9). Prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.media import make_clip

from vms.media.normalize import normalize

SECONDS, FPS = 10, 25


def ffmpeg_cpu(clip: Path) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-threads",
            "1",
            "-i",
            str(clip),
            "-vf",
            "fps=15,scale=640:360,pad=640:480:0:60",
            "-pix_fmt",
            "rgb24",
            "-f",
            "null",
            "-",
        ],
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def ours_cpu(clip: Path) -> tuple[float, int]:
    started = time.process_time()
    result = normalize(clip, started_at=datetime.now(UTC))
    return time.process_time() - started, len(result)


def main() -> None:
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg (Debian) is needed for the baseline: apt-get install -y ffmpeg")
    clip = make_clip(Path(tempfile.mkdtemp()) / "clip.mp4", width=1920, height=1080, fps=FPS, seconds=SECONDS)
    source_frames = SECONDS * FPS
    runs = []
    for _ in range(3):  # alternate, so machine noise hits both alike
        baseline = ffmpeg_cpu(clip)
        ours, produced = ours_cpu(clip)
        runs.append((baseline, ours))
    baseline = min(r[0] for r in runs)
    ours = min(r[1] for r in runs)
    print(
        json.dumps(
            {
                "bench": "normalize",
                "source": "1920x1080 h264 25fps 10s",
                "frames_out": produced,
                "ours_source_fps_per_core": round(source_frames / ours, 1),
                "ffmpeg_source_fps_per_core": round(source_frames / baseline, 1),
                "ratio_vs_ffmpeg": round(baseline / ours, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
