"""Camera onboarding in the console, end to end in Debian's chromium against simulated devices.

Sign in; run an address scan over a fleet of simulated devices on 127.0.93.x plus an ONVIF PTZ camera
on 127.0.0.1 and watch progress and results arrive over SSE; add the ONVIF camera from its result (a
wrong device password first: the device's refusal is shown), with its streams on the camera simulator,
probed for real; open its camera page (both streams, the models and why the unlicensed ones are off);
drive the PTZ pad with the mouse and the keyboard, save a preset and go back to it, run a tour
(each checked on the simulator's PTZ head); import a CSV with one bad row and see the row error.
A screenshot per step goes to test-artifacts/e2e/<test>/.

The simulators run in this test's event loop; the api role (a subprocess) reaches them on loopback.
Needs the camera simulator (`eval "$(scripts/services up cameras)"`; `make test` starts it): without it
the test is skipped locally and fails under CI=true.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import Console, Steps, sign_in_first_time
from tests.simulators.fleet import DeviceFleet, Profile
from tests.simulators.onvif_device import OnvifDeviceSimulator, SimProfile

ONVIF_USER, ONVIF_PASSWORD = "installer", "Onv1f-pass"
FLEET = "127.0.93.0/29"  # 6 devices: ONVIF, Hikvision, Dahua, bare RTSP, a web server and a tarpit


async def until(check: Callable[[], bool], what: str, within_s: float = 10.0) -> None:
    """Wait until `check()` holds (the simulator's state changes when the api role has called it)."""
    try:
        async with asyncio.timeout(within_s):
            while True:  # polled: the simulator offers no event for its state
                if check():
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"not within {within_s} s: {what}") from None


async def test_discover_add_probe_ptz_and_import(
    page: Page,
    console: Console,
    rtsp_base: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    steps = Steps(page, request.node.name)
    await sign_in_first_time(page, console, steps)
    profiles = [
        SimProfile(token="main", name="Main", rtsp_url=f"{rtsp_base}/cam1", width=1920, height=1080),
        SimProfile(token="sub", name="Sub", rtsp_url=f"{rtsp_base}/cam2", width=640, height=360),
    ]
    fleet_mix: tuple[Profile, ...] = ("onvif_auth", "hikvision", "dahua", "rtsp", "web", "tarpit")
    async with (
        DeviceFleet(FLEET, 6, profiles=fleet_mix) as fleet,
        OnvifDeviceSimulator(username=ONVIF_USER, password=ONVIF_PASSWORD, profiles=profiles) as ptz_camera,
    ):
        # 1. Discovery: an address scan; progress and results stream in while the tarpit holds the job open.
        await page.goto(console.base_url + "/cameras")
        await page.get_by_role("button", name="Add camera").click()
        await page.get_by_role("tab", name="Discover on the network").click()
        await page.get_by_label("Addresses", exact=True).fill(f"{FLEET}, 127.0.0.1")
        ports = f"{fleet.rtsp_port}, {fleet.http_port}, {ptz_camera.address.port}"
        await page.get_by_label("Ports", exact=True).fill(ports)
        await page.get_by_label("Timeout per address (s)").fill("3")
        await steps.shot("discovery-form")
        await page.get_by_role("button", name="Start discovery").click()

        status = page.get_by_test_id("discovery-status")
        rows = page.get_by_test_id("discovered-row")
        await expect(page.get_by_role("progressbar", name="Discovery progress")).to_be_visible()
        await expect(rows.first).to_be_visible(timeout=30_000)
        await expect(status).to_contain_text("Searching")  # results shown before the job has finished
        await expect(page.get_by_role("button", name="Cancel")).to_be_visible()
        await steps.shot("discovery-results-arriving")
        await expect(status).to_contain_text("Finished", timeout=60_000)
        await expect(status).to_contain_text("7 of 7 addresses checked · 5 devices found")
        await expect(rows).to_have_count(5)  # 4 fleet cameras + the PTZ camera; not the web server or the tarpit
        for kind, host in (("ONVIF", "127.0.0.1"), ("HIKVISION", "127.0.93.2"), ("DAHUA", "127.0.93.3")):
            await expect(rows.filter(has_text=host)).to_contain_text(kind)
        await expect(page.get_by_role("progressbar", name="Discovery progress")).to_have_attribute("value", "1")
        await steps.shot("discovery-finished")

        # 2. Add the ONVIF camera in one call: a wrong device password is refused by the device itself.
        await page.get_by_role("button", name="Add 127.0.0.1").click()
        form = page.get_by_role("form", name="Add 127.0.0.1 as a camera")
        await form.get_by_label("Name", exact=True).fill("Gate PTZ")
        await form.get_by_label("Device username").fill(ONVIF_USER)
        await form.get_by_label("Device password").fill("wrong")
        await form.get_by_role("button", name="Add this camera").click()
        await expect(form.get_by_role("alert")).to_contain_text("Camera device refused the credentials", timeout=30_000)
        await steps.shot("add-refused-credentials")
        await form.get_by_label("Device password").fill(ONVIF_PASSWORD)
        await form.get_by_role("button", name="Add this camera").click()
        result = page.get_by_test_id("probe-result")
        await expect(result).to_contain_text("Added “Gate PTZ”", timeout=60_000)
        await expect(result).to_contain_text("1920×1080")
        await expect(rows.filter(has_text="127.0.0.1").get_by_role("link", name="Added")).to_be_visible()
        await steps.shot("added-with-probe")

        # 3. The camera page: both streams as probed, the control interface, models with reasons.
        await result.get_by_role("link", name="Open the camera page").click()
        await expect(page.get_by_role("heading", name="Gate PTZ")).to_be_visible()
        streams = page.get_by_test_id("streams")
        await expect(streams.get_by_role("row", name="Main")).to_contain_text("H264")
        await expect(streams.get_by_role("row", name="Main")).to_contain_text("1920×1080")
        await expect(streams.get_by_role("row", name="Sub")).to_contain_text("640×360")
        await expect(page.get_by_text(ptz_camera.device_url)).to_be_visible()
        crowd = page.get_by_role("switch", name="Crowd Detection")
        await expect(crowd).to_be_disabled()
        await expect(crowd).to_have_accessible_description(
            "The AI model 'crowd' is not part of this customer's license."
        )
        await expect(page.get_by_test_id("ptz-status")).to_contain_text("Pan +0.00")
        await steps.shot("camera-page")

        # 4. PTZ pad: press and hold moves, release stops — with the mouse, then with the arrow keys.
        right = page.get_by_role("button", name="Pan right")
        await right.hover()
        await page.mouse.down()
        await until(lambda: ptz_camera.ptz_moving and ptz_camera.ptz_velocity[0] > 0, "pans right while held")
        assert ptz_camera.ptz_timeout_s is not None  # a dropped connection cannot leave it spinning
        await page.mouse.up()
        await until(lambda: not ptz_camera.ptz_moving, "stops on release")
        pad = page.get_by_role("group", name="PTZ pad")
        await pad.focus()
        await page.keyboard.down("ArrowUp")
        await until(lambda: ptz_camera.ptz_moving and ptz_camera.ptz_velocity[1] > 0, "tilts up while the key is held")
        await steps.shot("ptz-moving")
        await page.keyboard.up("ArrowUp")
        await until(lambda: not ptz_camera.ptz_moving, "stops when the key is released")

        # 5. Presets: store where the head points, move away, go back. The simulator does not integrate
        #    continuous moves into a position, so the test places the head as if the pad had moved it.
        ptz_camera.ptz_position = (0.5, -0.25, 0.3)
        await page.get_by_label("Preset name").fill("Gate view")
        await page.get_by_role("button", name="Save current position").click()
        await expect(page.get_by_test_id("preset").filter(has_text="Gate view")).to_be_visible()
        assert [name for name, _ in ptz_camera.presets.values()] == ["Gate view"]
        ptz_camera.ptz_position = (0.0, 0.0, 0.0)
        await page.get_by_label("Preset name").fill("Home")
        await page.get_by_role("button", name="Save current position").click()
        await expect(page.get_by_test_id("preset")).to_have_count(2)
        ptz_camera.ptz_position = (-0.9, 0.9, 0.0)
        await page.get_by_role("button", name="Go to Gate view").click()
        await until(lambda: ptz_camera.ptz_position == pytest.approx((0.5, -0.25, 0.3)), "back at Gate view")
        await expect(page.get_by_test_id("ptz-status")).to_contain_text("Pan +0.50 · tilt −0.25 · zoom +0.30")
        await steps.shot("ptz-presets")

        # 6. A tour: Home for 1 s, then Gate view; the server drives the head through them.
        await page.get_by_role("button", name="New tour").click()
        await page.get_by_label("Tour name").fill("Gate round")
        await page.get_by_label("Step 1 preset").select_option(label="Home")
        await page.get_by_label("Step 1 dwell in seconds").fill("1")
        await page.get_by_label("Step 2 preset").select_option(label="Gate view")
        await page.get_by_role("button", name="Create the tour").click()
        tour = page.get_by_test_id("tour").filter(has_text="Gate round")
        await expect(tour).to_contain_text("Home 1 s → Gate view 10 s ↻")
        ptz_camera.ptz_position = (-0.9, 0.9, 0.0)
        await tour.get_by_role("button", name="Start tour Gate round").click()
        await expect(tour).to_contain_text("Running")
        await until(lambda: ptz_camera.ptz_position == pytest.approx((0.0, 0.0, 0.0)), "the tour's first step: Home")
        await until(lambda: ptz_camera.ptz_position == pytest.approx((0.5, -0.25, 0.3)), "then Gate view, 1 s later")
        await steps.shot("ptz-tour-running")
        await tour.get_by_role("button", name="Stop tour Gate round").click()
        await expect(tour).to_contain_text("Stopped")

    # 7. Import a sheet with one bad row: a dry run reports the row, then the good row is imported.
    sheet = tmp_path / "cameras.csv"
    sheet.write_text(
        f"name,main_url,external_id\nLobby,{rtsp_base}/cam2,lobby-1\nBroken,ftp://10.0.0.9/stream,broken-1\n",
        encoding="utf-8",
    )
    await page.goto(console.base_url + "/cameras?add=import")
    await page.get_by_label("CSV or Excel file").set_input_files(str(sheet))
    await page.get_by_role("button", name="Check the file").click()
    report = page.get_by_test_id("import-report")
    await expect(report).to_contain_text("Dry run: nothing has been written yet")
    await expect(report).to_contain_text("1 would be created")
    error = report.get_by_test_id("row-error")
    await expect(error).to_have_count(1)
    await expect(error.get_by_role("rowheader")).to_have_text("3")
    await expect(error).to_contain_text("main_url")
    await steps.shot("import-dry-run")
    await page.get_by_role("button", name="Import 1 camera, skip 1 bad row").click()
    await expect(report).to_contain_text("Import finished")
    await expect(report).to_contain_text("1 created")
    await steps.shot("import-done")
    await page.get_by_role("button", name="Close").click()
    await expect(page.get_by_test_id("camera-row")).to_have_count(2)
    await expect(page.get_by_test_id("camera-row").filter(has_text="Lobby")).to_be_visible()
    await steps.shot("camera-list")

    await page.get_by_role("button", name="Switch to dark theme").click()
    await page.get_by_role("link", name="Gate PTZ").click()
    await expect(page.get_by_role("heading", name="Gate PTZ")).to_be_visible()
    await steps.shot("camera-page-dark")
    await page.set_viewport_size({"width": 400, "height": 800})  # a phone: one column, nothing wider than the screen
    await expect(page.get_by_role("heading", name="Gate PTZ")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await steps.shot("camera-page-narrow")
