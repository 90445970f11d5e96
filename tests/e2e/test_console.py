"""The operator console end to end in Debian's chromium: sign in with TOTP enrolment, add a camera by
its RTSP address (probed by the real api role), see it in the list; a screenshot per step."""

from __future__ import annotations

import os

from playwright.async_api import Page, expect

from tests.e2e.conftest import Console, Steps, sign_in_first_time


async def test_sign_in_with_totp_add_a_camera_by_rtsp_and_see_it_listed(page: Page, console: Console, request):
    steps = Steps(page, request.node.name)
    recovery = await sign_in_first_time(page, console, steps)
    assert len(set(recovery)) == 10
    await expect(page.get_by_text("No cameras yet")).to_be_visible()  # the dashboard's empty state
    await steps.shot("dashboard-empty")

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Cameras").click()
    await expect(page.get_by_role("heading", name="Cameras", exact=True)).to_be_visible()
    await expect(page.get_by_text("No cameras yet")).to_be_visible()
    await page.get_by_role("button", name="Add camera").click()
    form = page.locator("form.add-camera")
    await steps.shot("add-camera-form")

    # An address nothing answers on: the API's problem+json is shown, nothing is added.
    await form.get_by_label("Name", exact=True).fill("Nowhere")
    await form.get_by_label("RTSP address (main stream)").fill("rtsp://127.0.0.1:9/nothing")
    await form.get_by_role("button", name="Add camera").click()
    problem = form.get_by_role("alert")
    await expect(problem).to_be_visible(timeout=60_000)
    assert "127.0.0.1:9" in await problem.inner_text()
    await steps.shot("probe-error")

    rtsp_base = os.environ.get("VMS_TEST_RTSP_BASE")
    await form.get_by_label("Name", exact=True).fill("Gate 1")
    if rtsp_base:  # the camera simulator from scripts/services: a real probe
        await form.get_by_label("RTSP address (main stream)").fill(f"{rtsp_base}/cam1")
    else:
        await form.get_by_label("RTSP address (main stream)").fill("rtsp://192.0.2.10:554/main")
        await form.get_by_label("Probe the stream now", exact=False).uncheck()
    await form.get_by_role("button", name="Add camera").click()
    result = page.get_by_test_id("probe-result")
    await expect(result).to_be_visible(timeout=60_000)
    await expect(result.get_by_role("heading")).to_have_text("Added “Gate 1”")
    if rtsp_base:
        text = await result.inner_text()
        assert "Resolution" in text and "×" in text, text
        assert any(codec in text for codec in ("H264", "HEVC", "MJPEG")), text
    await steps.shot("probe-result")
    await result.get_by_role("button", name="Done").click()

    rows = page.get_by_test_id("camera-row")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Gate 1")
    await expect(page.get_by_label("Pages")).to_contain_text("1–1 of 1")
    await steps.shot("camera-list")

    # The list comes from the server, not the page's memory: a reload shows it again, still signed in.
    await page.reload()
    await expect(page.get_by_test_id("camera-row")).to_have_count(1)
    await page.get_by_label("Search").fill("no such camera")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_text("No camera matches these filters")).to_be_visible()
    await steps.shot("camera-filter-empty")

    await page.get_by_role("button", name="Switch to dark theme").click()
    assert await page.evaluate("document.documentElement.dataset.theme") == "dark"
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    await expect(page.get_by_test_id("card-cameras")).to_contain_text("1")
    await steps.shot("dashboard-dark")

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.goto(console.base_url + "/cameras")  # signed out: the console sends you back to sign-in
    await expect(page).to_have_url(console.base_url + "/sign-in")
    await steps.shot("signed-out")


async def test_the_inbox_says_all_caught_up_and_is_keyboard_reachable(page: Page, console: Console, request):
    steps = Steps(page, request.node.name)
    await sign_in_first_time(page, console, steps)
    await page.keyboard.press("Tab")  # the first stop is the skip link
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Events").click()
    await expect(page.get_by_text("No new events — all caught up")).to_be_visible()
    await steps.shot("inbox-empty")
    await page.set_viewport_size({"width": 420, "height": 800})  # a phone: the navigation folds behind Menu
    await expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    await page.get_by_role("button", name="Menu").click()
    await expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    await steps.shot("inbox-narrow-menu")
