"""Playlist text from the segment index: VOD with discontinuities and wall-clock times, live windows, ABR master."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from vms.kernel.errors import ValidationFailed
from vms.streaming import hls

T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


@dataclass
class Seg:
    started_at: datetime
    ended_at: datetime
    sequence: int = 0
    stream: str = "main"
    codec: str = "h264"
    width: int = 1280
    height: int = 720
    frames: int = 125
    bitrate_kbps: float = 2000.0
    blob_key: str = "k"


def run(start: datetime, count: int, *, first_seq: int = 0, seconds: float = 5.0, **kw) -> list[Seg]:
    return [
        Seg(start + timedelta(seconds=seconds * i), start + timedelta(seconds=seconds * (i + 1)), first_seq + i, **kw)
        for i in range(count)
    ]


def uri(seg) -> str:
    return hls.segment_name(seg.stream, seg.started_at)


def test_a_vod_playlist_lists_every_segment_and_marks_the_gap():
    segments = run(T0, 3) + run(T0 + timedelta(seconds=45), 2, first_seq=3)
    text = hls.media_playlist(segments, uri=uri, vod=True)
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U" and lines[-1] == "#EXT-X-ENDLIST"
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in lines and "#EXT-X-TARGETDURATION:5" in lines
    assert [line for line in lines if line.startswith("#EXTINF")] == ["#EXTINF:5.000,"] * 5
    assert lines.count("#EXT-X-DISCONTINUITY") == 1
    # wall-clock time at the start of each run: the player can seek by date across the gap
    assert [line for line in lines if "PROGRAM-DATE-TIME" in line] == [
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T12:00:00.000Z",
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T12:00:45.000Z",
    ]
    disc = lines.index("#EXT-X-DISCONTINUITY")
    assert lines[disc + 3] == hls.segment_name("main", T0 + timedelta(seconds=45))


def test_jitter_below_the_tolerance_is_no_discontinuity_but_a_resolution_change_is():
    segments = run(T0, 2)
    segments.append(Seg(segments[-1].ended_at + timedelta(seconds=0.4), segments[-1].ended_at + timedelta(seconds=5)))
    assert "#EXT-X-DISCONTINUITY" not in hls.media_playlist(segments, uri=uri, vod=True, tolerance_s=1.0)
    changed = run(T0, 2) + run(T0 + timedelta(seconds=10), 1, width=640, height=360)
    assert hls.media_playlist(changed, uri=uri, vod=True).count("#EXT-X-DISCONTINUITY\n") == 1


@pytest.mark.parametrize(("seconds", "target"), [(6.4, 6), (6.5, 7), (1.04, 1), (0.4, 1), (2.0, 2), (4.999, 5)])
def test_target_duration_is_the_longest_segment_rounded_to_the_nearest_second(seconds: float, target: int):
    """RFC 8216: each EXTINF rounded to the nearest integer must not exceed it (rounding up would double the
    live hold-back of 1 s segments whose timestamps jitter)."""
    text = hls.media_playlist(run(T0, 2, seconds=seconds), uri=uri, vod=True)
    assert f"#EXT-X-TARGETDURATION:{target}" in text.splitlines()


def test_a_live_playlist_tells_players_how_far_behind_the_edge_to_play():
    segments = run(T0, 6, seconds=1.0)
    lines = hls.media_playlist(segments, uri=uri, vod=False, hold_back_targets=2.0).splitlines()
    assert "#EXT-X-SERVER-CONTROL:HOLD-BACK=2.000" in lines  # hls.js keeps this distance from the edge
    assert "#EXT-X-START:TIME-OFFSET=-2.000" in lines  # Safari, ExoPlayer and ffmpeg start there
    vod = hls.media_playlist(segments, uri=uri, vod=True, hold_back_targets=2.0)
    assert "HOLD-BACK" not in vod and "EXT-X-START" not in vod  # a recording plays from its start


def test_seek_offset_counts_playlist_time_not_wall_time():
    segments = run(T0, 2) + run(T0 + timedelta(seconds=60), 2)
    assert hls.start_offset(segments, T0 + timedelta(seconds=7)) == 7.0
    assert hls.start_offset(segments, T0 + timedelta(seconds=63)) == 13.0  # the 50 s gap is not in the playlist
    assert hls.start_offset(segments, T0 + timedelta(seconds=30)) == 10.0  # in the gap: the next recorded moment
    assert hls.start_offset(segments, T0 + timedelta(hours=1)) is None
    text = hls.media_playlist(segments, uri=uri, vod=True, start_offset_s=13.0)
    assert "#EXT-X-START:TIME-OFFSET=13.000,PRECISE=YES" in text


def test_the_live_window_is_the_newest_run_numbered_by_the_segmenter():
    segments = run(T0, 4, first_seq=10) + run(T0 + timedelta(seconds=40), 3, first_seq=14)
    window = hls.live_window(segments, size=6, tolerance_s=1.0)
    assert [s.sequence for s in window.segments] == [14, 15, 16]  # the gap ends the window
    assert window.media_sequence == 14
    longer = run(T0, 10, first_seq=100)
    window = hls.live_window(longer, size=6, tolerance_s=1.0)
    assert [s.sequence for s in window.segments] == list(range(104, 110))
    text = hls.media_playlist(window.segments, uri=uri, vod=False, media_sequence=window.media_sequence)
    assert "#EXT-X-MEDIA-SEQUENCE:104" in text and "#EXT-X-ENDLIST" not in text and "VOD" not in text


def test_a_restarted_segment_count_ends_the_live_window():
    segments = run(T0, 3, first_seq=50) + run(T0 + timedelta(seconds=15), 2, first_seq=0)
    window = hls.live_window(segments, size=6, tolerance_s=1.0)
    assert [s.sequence for s in window.segments] == [0, 1]


def test_the_same_segment_keeps_its_number_as_the_window_slides():
    segments = run(T0, 12, first_seq=7)
    before = hls.live_window(segments[:8], size=6, tolerance_s=1.0)
    after = hls.live_window(segments[2:10], size=6, tolerance_s=1.0)  # older ones left the query, newer came
    number = {s.started_at: before.media_sequence + i for i, s in enumerate(before.segments)}
    for i, seg in enumerate(after.segments):
        if seg.started_at in number:
            assert number[seg.started_at] == after.media_sequence + i


def test_the_master_playlist_describes_both_variants_from_the_index():
    main = run(T0, 3, bitrate_kbps=3000.0)
    main[1].bitrate_kbps = 4000.0
    sub = run(T0, 3, stream="sub", width=640, height=360, bitrate_kbps=500.0)
    text = hls.master_playlist(
        [
            hls.variant("sub", sub, uri="sub.m3u8", codecs="avc1.42c01e"),
            hls.variant("main", main, uri="main.m3u8", codecs="avc1.640028"),
        ]
    )
    lines = text.splitlines()
    infs = [line for line in lines if line.startswith("#EXT-X-STREAM-INF")]
    assert len(infs) == 2
    assert "BANDWIDTH=4320000" in infs[0] and "RESOLUTION=1280x720" in infs[0]  # peak, with TS overhead
    assert 'CODECS="avc1.640028"' in infs[0] and "FRAME-RATE=25.000" in infs[0]
    assert "AVERAGE-BANDWIDTH=3600000" in infs[0]
    assert "RESOLUTION=640x360" in infs[1] and "BANDWIDTH=540000" in infs[1]
    assert lines[lines.index(infs[0]) + 1] == "main.m3u8"


def test_codec_strings_from_avcc_and_hvcc():
    assert hls.codecs_from_extradata("h264", bytes([1, 0x64, 0x00, 0x28, 0xFF])) == "avc1.640028"
    hvcc = bytes([1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93]) + bytes(10)
    assert hls.codecs_from_extradata("hevc", hvcc) == "hvc1.1.6.L93.90"
    assert hls.codecs_from_extradata("h264", b"\x00\x00\x00\x01") is None
    assert hls.codecs_from_extradata("mjpeg", b"x") is None


def test_segment_names_round_trip_and_garbage_is_a_4xx():
    at = datetime(2026, 11, 24, 12, 0, 5, 123456, tzinfo=UTC)
    assert hls.parse_segment_name(hls.segment_name("sub", at)) == ("sub", at)
    for bad in ["main-12.mp4", "other-1.ts", "main-.ts", "../x.ts", "main-99999999999999999999.ts"]:
        with pytest.raises(ValidationFailed):
            hls.parse_segment_name(bad)


def test_mjpeg_recordings_are_refused_for_hls_with_the_way_out():
    with pytest.raises(ValidationFailed, match="export"):
        hls.ensure_playable(run(T0, 1, codec="mjpeg"))
