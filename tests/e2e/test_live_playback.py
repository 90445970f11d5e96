"""Live view and playback end to end in Debian's chromium, against a simulated camera.

Sign in with TOTP, add the simulator's cam1 (H.264 1080p) with cam2 (H.264 360p) as its sub stream,
start the ingest role beside the api role so the camera is recorded, then: the live wall plays over
WebRTC (sub stream in a 4-tile wall, main stream alone), and over HLS when forced with `?mode=hls`;
the playback page draws the recorded range, plays the recording from a click on the timeline, and
an MP4 export completes with a download link that serves an MP4. "Playing" is measured in the
page: the video's decoded frame count and currentTime must advance. A screenshot per step goes to
test-artifacts/e2e/<test>/.

Needs the camera simulator (`eval "$(scripts/services up cameras)"`; `make test` starts it). Without
it the test is skipped locally and fails under CI=true.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, expect

from tests.e2e.conftest import Console, Steps, _free_port, sign_in_first_time


@pytest.fixture
def streaming_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    """The api role's go2rtc on free ports, so parallel runs and other suites' gateways do not collide."""
    for name in ("API_PORT", "RTSP_PORT", "WEBRTC_PORT"):
        monkeypatch.setenv(f"VMS_STREAMING__{name}", str(_free_port()))


@pytest.fixture
async def console(streaming_ports: None, console: Console) -> Console:  # extends conftest's fixture of the same name
    return console


@pytest.fixture
async def start_ingest(tmp_path: Path, console: Console) -> AsyncIterator[object]:
    """Returns a function that starts `vms role ingest` on the console's database and data directory."""
    procs: list[asyncio.subprocess.Process] = []

    async def start() -> None:
        env = {
            **os.environ,
            "VMS_DATA_DIR": str(tmp_path),
            "VMS_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path}/vms.db",
            "VMS_LOGGING__LEVEL": "WARNING",
        }
        log = (tmp_path / "ingest.log").open("wb")
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", "vms", "role", "ingest", env=env, stdout=log, stderr=log
            )
        )

    yield start
    for proc in procs:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def frames_advance(video: Locator, seconds: float = 2.0) -> dict[str, float]:
    """Decoded frames and currentTime of a <video> now and `seconds` later; both must have grown."""
    read = """v => ({frames: v.getVideoPlaybackQuality().totalVideoFrames, time: v.currentTime,
                    width: v.videoWidth, height: v.videoHeight, paused: v.paused})"""
    before = await video.evaluate(read)
    await asyncio.sleep(seconds)
    after = await video.evaluate(read)
    assert after["frames"] > before["frames"], (before, after)
    assert after["time"] > before["time"], (before, after)
    return {**after, "frames_in_window": after["frames"] - before["frames"]}


async def add_camera(page: Page, rtsp_base: str, steps: Steps) -> None:
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Cameras").click()
    await page.get_by_role("button", name="Add camera").click()
    form = page.locator("form.add-camera")
    await form.get_by_label("Name", exact=True).fill("Gate 1")
    await form.get_by_label("RTSP address (main stream)").fill(f"{rtsp_base}/cam1")
    await form.get_by_label("Sub stream (optional)").fill(f"{rtsp_base}/cam2")
    await form.get_by_role("button", name="Add camera").click()
    result = page.get_by_test_id("probe-result")
    await expect(result).to_be_visible(timeout=60_000)
    await steps.shot("camera-added")
    await result.get_by_role("button", name="Done").click()


async def test_live_over_webrtc_and_hls_then_playback_and_export(
    page: Page, console: Console, rtsp_base: str, start_ingest, request
):
    steps = Steps(page, request.node.name)
    await sign_in_first_time(page, console, steps)
    await add_camera(page, rtsp_base, steps)
    await start_ingest()  # records the camera from now on (HLS live and playback are built from recordings)

    # Live wall, 4 tiles: the camera plays its sub stream (cam2, 640×360) over WebRTC.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Live").click()
    await expect(page.get_by_role("heading", name="Live", exact=True)).to_be_visible()
    tile = page.get_by_test_id("live-tile")
    await expect(tile).to_have_count(1)
    await expect(
        page.get_by_role("button", name="Empty tile 2: select it, then choose a camera from the list")
    ).to_be_visible()
    await expect(tile).to_have_attribute("data-stream", "sub")
    await expect(tile).to_have_attribute("data-phase", "playing", timeout=30_000)
    await expect(tile).to_have_attribute("data-mode", "webrtc")
    seen = await frames_advance(tile.locator("video"))
    assert (seen["width"], seen["height"]) == (640, 360), seen
    await expect(tile).to_contain_text("Live · WebRTC")
    await steps.shot("live-4-webrtc-sub")

    # Key 1: one tile, the main stream (cam1, 1920×1080), still WebRTC.
    await page.locator("body").press("1")
    await expect(page.get_by_role("button", name="1 camera")).to_have_attribute("aria-pressed", "true")
    await expect(tile).to_have_attribute("data-stream", "main")
    await expect(tile).to_have_attribute("data-phase", "playing", timeout=30_000)
    await expect(tile).to_have_attribute("data-mode", "webrtc")
    seen = await frames_advance(tile.locator("video"))
    assert (seen["width"], seen["height"]) == (1920, 1080), seen
    await steps.shot("live-1-webrtc-main")

    # HLS forced by the address: the live playlist of our own recording plays in hls.js.
    await page.goto(console.base_url + "/live?layout=1&mode=hls")
    await expect(page.get_by_text("Transport forced to HLS")).to_be_visible()
    tile = page.get_by_test_id("live-tile")
    await expect(tile).to_have_attribute("data-mode", "hls")
    await expect(tile).to_have_attribute("data-phase", "playing", timeout=90_000)  # first segments take ~5-10 s
    seen = await frames_advance(tile.locator("video"))
    assert seen["width"] == 1920, seen
    await expect(tile).to_contain_text("Live · HLS")
    await steps.shot("live-1-hls")

    # Playback: the recorded range on the timeline; a click on it plays the recording from there.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Playback").click()
    await expect(page.get_by_role("heading", name="Playback", exact=True)).to_be_visible()
    ranges = page.get_by_test_id("timeline-range")
    await expect(ranges.first).to_be_visible()
    await expect(page.get_by_test_id("coverage")).to_contain_text("Gate 1:")
    box = await ranges.last.bounding_box()
    assert box is not None
    await page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    player = page.get_by_label("Recorded video of Gate 1")
    await expect(player).to_be_visible()
    await page.wait_for_function(
        "() => { const v = document.querySelector('video[aria-label=\"Recorded video of Gate 1\"]');"
        " return v && v.getVideoPlaybackQuality().totalVideoFrames > 0 && !v.paused; }",
        timeout=30_000,
    )
    await frames_advance(player)
    await expect(page.get_by_test_id("timeline-playhead")).to_be_visible()
    await steps.shot("playback-timeline-playing")

    # Export the window as MP4: progress, then a download link that serves an MP4.
    panel = page.get_by_role("region", name="Export MP4")
    await panel.get_by_role("button", name="Whole window").click()
    await panel.get_by_role("button", name="Export MP4").click()
    row = panel.get_by_test_id("export-row").first
    await expect(row).to_be_visible()
    await steps.shot("export-started")
    link = panel.get_by_test_id("export-download")
    await expect(link).to_be_visible(timeout=120_000)
    await expect(row).to_have_attribute("data-status", "done")
    await expect(link).to_contain_text("Download MP4")
    await steps.shot("export-done")
    href = await link.get_attribute("href")
    assert href and "token=" in href
    response = await page.request.get(href if href.startswith("http") else console.base_url + href)
    assert response.status == 200
    body = await response.body()
    assert body[4:8] == b"ftyp", body[:16]  # an MP4
    assert len(body) > 10_000

    # Dark theme, for the record of both themes.
    await page.get_by_role("button", name="Switch to dark theme").click()
    await steps.shot("playback-dark")
