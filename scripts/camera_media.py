#!/usr/bin/env python3
"""Test clips for the camera simulator, made from Debian's opencv-doc pedestrian video.

    python3 scripts/camera_media.py [--media-dir DIR]     # prints one clip path per line

Each clip is encoded once (with Debian's ffmpeg) and cached under `.services/cameras/media/`;
a clip is regenerated only when its file is missing. Keyframes come exactly every second
(closed GOPs, no scene-cut keyframes, no B-frames, like a real camera), so they divide the
recorder's 5 s segments, and every clip is a whole number of GOPs long so it loops cleanly.

Nothing is downloaded: the source is `vtest.avi` from the `opencv-doc` package (installed with
apt-get when missing and we are root). Standard library only, so it runs with system python3.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MEDIA_DIR = REPO_ROOT / ".services" / "cameras" / "media"

DURATION_S = 30  # whole seconds, so a whole number of 1 s GOPs
GOP_S = 1  # keyframe interval; divides the 5 s segment length


@dataclass(frozen=True)
class Clip:
    """One encoded test stream: what a camera profile sends."""

    name: str
    codec: str  # h264 | h265 | mjpeg (the RTSP/SDP codec family)
    width: int
    height: int
    fps: int
    bitrate_kbps: int  # target for H.264/H.265; MJPEG uses a fixed quality instead
    ext: str
    role: str  # main | sub: how a VMS would use such a stream

    @property
    def gop(self) -> int:
        """Frames between keyframes (1 for MJPEG, where every frame is a keyframe)."""
        return 1 if self.codec == "mjpeg" else self.fps * GOP_S

    def path(self, media_dir: Path = DEFAULT_MEDIA_DIR) -> Path:
        return media_dir / f"{self.name}.{self.ext}"


# MPEG-TS for H.264/H.265 keeps the parameter sets (SPS/PPS/VPS) in-band before every keyframe,
# as cameras send them; MP4 would move them into the container header only.
CLIPS: tuple[Clip, ...] = (
    Clip("h264_1080p25", "h264", 1920, 1080, 25, 4000, "ts", "main"),
    Clip("h264_360p15", "h264", 640, 360, 15, 512, "ts", "sub"),
    Clip("h265_720p25", "h265", 1280, 720, 25, 1500, "ts", "main"),
    Clip("mjpeg_480p10", "mjpeg", 640, 480, 10, 0, "mkv", "main"),
)


def log(msg: str) -> None:
    print(f"camera_media: {msg}", file=sys.stderr, flush=True)


def apt_install(*packages: str) -> None:
    """Install Debian packages; only possible as root (the services script runs as root)."""
    if os.geteuid() != 0:
        raise SystemExit(f"camera_media: missing {' '.join(packages)}; run: apt-get install -y {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log("apt-get update")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=sys.stderr)
    log(f"apt-get install -y {' '.join(packages)}")
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env, stdout=sys.stderr)


def source_video() -> Path:
    """The pedestrian clip shipped by Debian's opencv-doc (768x576, 10 fps, about 80 s)."""

    def find() -> Path | None:
        listing = subprocess.run(["dpkg", "-L", "opencv-doc"], capture_output=True, text=True)
        if listing.returncode != 0:
            return None
        for line in listing.stdout.splitlines():
            if line.endswith("/vtest.avi") and Path(line).is_file():
                return Path(line)
        return None

    found = find()
    if found is None:
        apt_install("opencv-doc")
        found = find()
    if found is None:
        raise SystemExit("camera_media: opencv-doc is installed but ships no vtest.avi")
    return found


def ensure_ffmpeg() -> None:
    if shutil.which("ffmpeg") is None:
        apt_install("ffmpeg")


def codec_args(clip: Clip) -> list[str]:
    rate = ["-b:v", f"{clip.bitrate_kbps}k"]
    if clip.codec == "h264":
        return [
            "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high" if clip.role == "main" else "main",
            "-pix_fmt", "yuv420p", "-g", str(clip.gop), "-keyint_min", str(clip.gop), "-sc_threshold", "0",
            "-bf", "0", *rate, "-maxrate", f"{clip.bitrate_kbps}k", "-bufsize", f"{clip.bitrate_kbps * 2}k",
        ]  # fmt: skip
    if clip.codec == "h265":
        # ffmpeg's libx265 wrapper does not pass -maxrate/-bufsize on, so the VBV goes in x265-params.
        params = (
            f"keyint={clip.gop}:min-keyint={clip.gop}:scenecut=0:bframes=0:repeat-headers=1:"
            f"vbv-maxrate={clip.bitrate_kbps}:vbv-bufsize={clip.bitrate_kbps * 2}:log-level=error"
        )
        return ["-c:v", "libx265", "-preset", "veryfast", "-pix_fmt", "yuv420p", *rate, "-x265-params", params]
    if clip.codec == "mjpeg":
        # RTP/JPEG (RFC 2435) carries no Huffman tables and receivers assume the standard ones,
        # so the encoder must not optimise them; both quantisation tables are written for the
        # packetiser. yuvj420p is the full-range 4:2:0 JPEG layout the RTP payload format knows.
        return [
            "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-q:v", "5",
            "-huffman", "default", "-force_duplicated_matrix", "1",
        ]  # fmt: skip
    raise ValueError(f"unknown codec {clip.codec}")


def encode(clip: Clip, source: Path, dest: Path) -> None:
    """Encode CLIP from SOURCE into DEST atomically (a half-written file is never cached)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.stem}.tmp{dest.suffix}")
    # Fill the frame (scale up, crop the overflow) rather than stretch 4:3 into 16:9, so
    # people keep their shape for the detectors; then retime to the clip's frame rate.
    vf = (
        f"scale={clip.width}:{clip.height}:force_original_aspect_ratio=increase,"
        f"crop={clip.width}:{clip.height},setsar=1,fps={clip.fps}"
    )
    cmd = [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-stream_loop", "-1", "-i", str(source),   # loop the source if it is shorter than the clip
        "-t", str(DURATION_S), "-an", "-vf", vf, "-r", str(clip.fps),
        *codec_args(clip), str(tmp),
    ]  # fmt: skip
    log(f"encoding {dest.name} ({clip.codec} {clip.width}x{clip.height}@{clip.fps}, {DURATION_S}s)")
    try:
        subprocess.run(cmd, check=True)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(dest)


def ensure_clips(media_dir: Path = DEFAULT_MEDIA_DIR) -> dict[str, Path]:
    """Make every missing clip; return clip name -> path."""
    paths = {clip.name: clip.path(media_dir) for clip in CLIPS}
    missing = [clip for clip in CLIPS if not paths[clip.name].is_file()]
    if missing:
        ensure_ffmpeg()
        source = source_video()
        for clip in missing:
            encode(clip, source, paths[clip.name])
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media-dir", type=Path, default=DEFAULT_MEDIA_DIR, help="cache directory for the clips")
    args = parser.parse_args(argv)
    for path in ensure_clips(args.media_dir).values():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
