"""VOD and live HLS played by ffmpeg again with the index on real PostgreSQL (exact segment times by name)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.unit.streaming.test_playback_api import (  # noqa: F401 - fixtures and tests run here on PostgreSQL
    pieces,
    test_a_segment_is_mpegts_stamped_with_its_wall_clock_start,
    test_ffmpeg_plays_the_live_master_playlist_over_http,
    test_ffprobe_plays_the_vod_playlist_over_http_across_the_gap,
    test_the_timeline_shows_recorded_ranges_gaps_and_events,
    world,
)
from vms.settings import Settings


@pytest.fixture
def settings(tmp_path: Path, postgres_url: str) -> Settings:
    return make_settings(tmp_path, postgres_url)
