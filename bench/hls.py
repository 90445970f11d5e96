"""HLS playlist generation for 24 h of segments and time to the first segment, against baselines
measured in the same process.

Setup: an embedded (SQLite) platform with one camera whose main stream has 24 h of 5 s segments in
the index (17,280 rows, all pointing at real stored segments). Figures:
- vod_playlist_ms: GET …/hls/vod/main.m3u8 for the 24 h (auth, token, query, text) through the ASGI app;
  baseline: the bare index query of the same rows (`media.segments_between`), the floor any playlist
  built from the index pays; ratio = playlist / query.
- playlist_text_ms: building the playlist text alone from the rows in memory.
- playlist_bytes: the 24 h media playlist as served (the media token once, in its URL's path; segments
  named relative to it); playlist_bytes_token_per_segment: the same playlist with the token repeated
  in every segment URI's query (the earlier form), and their ratio.
- first_segment_ms: what a cold player waits for before it has video: master + 24 h media playlist +
  first segment (remuxed to MPEG-TS).
- segment_request_ms: one segment request alone (token check, index lookup, remux); baseline:
  `ffmpeg -c copy -f mpegts` of the same stored segment (process start included, what a CLI-based
  packager would pay per segment); ratio = ours / ffmpeg.
Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import httpx
from tests import factories
from tests.media import make_clip

from vms import migrations
from vms.api.app import create_app
from vms.bootstrap import build_container
from vms.kernel.tenancy import TenantScope
from vms.media import service
from vms.media.models import Segment
from vms.media.segmenter import Segmenter, SegmentInfo
from vms.settings import Settings
from vms.streaming import hls
from vms.uow import Actor

HOURS, SEGMENT_S, RUNS = 24, 5, 5


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def ffmpeg_remux(segment: Path, tmp: Path) -> list[float]:
    """Seconds per `ffmpeg -c copy -f mpegts` of one segment (the CLI packager's cost)."""
    samples = []
    for _ in range(RUNS):
        t = time.perf_counter()
        subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(segment), "-c", "copy", "-f", "mpegts", "-y", str(tmp / "x.ts")],
            check=True,
        )
        samples.append(time.perf_counter() - t)
    return samples


async def bench(tmp: Path) -> dict[str, object]:
    db = tmp / "vms.db"
    await asyncio.to_thread(migrations.upgrade, f"sqlite+aiosqlite:///{db}")
    settings = Settings(
        env="test",
        data_dir=tmp / "data",
        database={"url": f"sqlite+aiosqlite:///{db}"},  # type: ignore[arg-type]
        storage={"root": tmp / "blobs"},  # type: ignore[arg-type]
        security={"argon2_time_cost": 1, "argon2_memory_kib": 1024},  # type: ignore[arg-type]
        rate_limits={"per_ip_per_minute": 0, "per_user_per_minute": 0, "per_tenant_per_minute": 0},  # type: ignore[arg-type]
    )
    container = build_container(settings)
    app = create_app(container)
    clip = make_clip(tmp / "clip.mp4", width=1280, height=720, fps=25, seconds=10, gop_s=1)
    pieces: list[SegmentInfo] = []
    Segmenter(out_dir=tmp / "cut", target_s=SEGMENT_S, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC)).run(
        str(clip), on_segment=pieces.append, stop=threading.Event()
    )
    customer = await factories.customer(container)
    camera = await factories.camera(container, tenant_id=customer.id)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    start = end - timedelta(hours=HOURS)
    count = HOURS * 3600 // SEGMENT_S
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("bench")) as uow:  # type: ignore[arg-type]
        stored = [
            await service.record_segment(
                uow=uow, blobs=container.blobs, tenant_id=customer.id, camera_id=camera.id, stream="main",
                info=SegmentInfo(p.path, 0, start + timedelta(seconds=SEGMENT_S * i), start + timedelta(
                    seconds=SEGMENT_S * (i + 1)), p.frames, p.bytes, p.codec, p.width, p.height, p.keyframe_interval_s),
            )
            for i, p in enumerate(pieces[:1])
        ]  # fmt: skip
        template = stored[0]
        for i in range(1, count):
            at = start + timedelta(seconds=SEGMENT_S * i)
            uow.add(
                Segment(
                    tenant_id=customer.id, camera_id=camera.id, stream="main", sequence=i, started_at=at,
                    ended_at=at + timedelta(seconds=SEGMENT_S), frames=template.frames, bytes=template.bytes,
                    codec=template.codec, width=template.width, height=template.height,
                    bitrate_kbps=template.bitrate_kbps, keyframe_interval_s=template.keyframe_interval_s,
                    blob_key=template.blob_key,
                )
            )  # fmt: skip
        await uow.commit()
    segment_path = await container.blobs.local_path(template.blob_key)
    assert segment_path is not None

    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        viewer = await factories.account(client, container, tenant_id=customer.id)
        r = await client.post(
            "/api/v1/playback/urls",
            json={"camera_ids": [str(camera.id)], "start": start.isoformat(), "end": end.isoformat()},
            headers=viewer.headers,
        )
        master_url = urlsplit(r.json()["cameras"][0]["vod_master"])
        master_path = f"{master_url.path}?{master_url.query}"
        token = master_url.path.split("/hls/t/", 1)[1].split("/", 1)[0]

        first_segment: list[float] = []
        segment: list[float] = []
        playlist: list[float] = []
        media_text = ""
        for _ in range(RUNS):
            app.state.hls_codec_strings = None  # cold: read the codec from the segment again
            t = time.perf_counter()
            master = (await client.get(master_path)).text
            variant = urljoin(master_path, next(line for line in master.splitlines() if "/main.m3u8" in line))
            t_playlist = time.perf_counter()
            media_text = (await client.get(variant)).text
            playlist.append(time.perf_counter() - t_playlist)
            first = next(line for line in media_text.splitlines() if line.startswith("../segments/"))
            t_segment = time.perf_counter()
            body = (await client.get(urljoin(variant, first))).content
            segment.append(time.perf_counter() - t_segment)
            first_segment.append(time.perf_counter() - t)
            assert body[:1] == b"\x47"  # MPEG-TS sync byte

        query: list[float] = []
        text: list[float] = []
        for _ in range(RUNS):
            async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("bench")) as uow:  # type: ignore[arg-type]
                t = time.perf_counter()
                rows = await service.segments_between(uow=uow, camera_id=camera.id, start=start, end=end)
                query.append(time.perf_counter() - t)
            t = time.perf_counter()
            hls.media_playlist(rows, uri=lambda s: "../segments/" + hls.segment_name(s.stream, s.started_at), vod=True)
            text.append(time.perf_counter() - t)
        # The earlier form, the token repeated in every segment URI's query (what the path token replaced).
        query_form = hls.media_playlist(
            rows, uri=lambda s: f"../segments/{hls.segment_name(s.stream, s.started_at)}?token={token}", vod=True
        )

    ffmpeg = await asyncio.to_thread(ffmpeg_remux, segment_path, tmp)
    await container.close()
    return {
        "bench": "hls",
        "segments_in_playlist": sum(1 for line in media_text.splitlines() if line.startswith("#EXTINF")),
        "vod_playlist_ms": median_ms(playlist),
        "index_query_ms": median_ms(query),
        "playlist_vs_query_ratio": round(statistics.median(playlist) / statistics.median(query), 2),
        "playlist_text_ms": median_ms(text),
        "playlist_bytes": len(media_text.encode()),
        "playlist_bytes_token_per_segment": len(query_form.encode()),
        "playlist_size_ratio": round(len(query_form.encode()) / len(media_text.encode()), 1),
        "token_chars": len(token),
        "first_segment_ms": median_ms(first_segment),
        "segment_request_ms": median_ms(segment),
        "ffmpeg_cli_remux_ms": median_ms(ffmpeg),
        "segment_vs_ffmpeg_ratio": round(statistics.median(segment) / statistics.median(ffmpeg), 2),
        "segment": "1280x720 h264 25fps 5s",
    }


def main() -> None:
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg (Debian) is needed for the baseline: apt-get install -y ffmpeg")
    tmp = Path(tempfile.mkdtemp())
    try:
        print(json.dumps(asyncio.run(bench(tmp))))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
