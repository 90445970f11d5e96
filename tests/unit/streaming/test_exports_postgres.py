"""The export flow again on real PostgreSQL (times, holds and the background cutter's own units of work)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.unit.streaming.test_exports import (  # noqa: F401 - fixtures and tests run here on PostgreSQL
    pieces,
    test_a_download_resumes_with_range_requests,
    test_an_evidence_export_holds_the_recordings_until_released,
    test_an_export_is_a_playable_stream_copy_of_the_range,
    world,
)
from vms.settings import Settings


@pytest.fixture
def settings(tmp_path: Path, postgres_url: str) -> Settings:
    return make_settings(tmp_path, postgres_url)
