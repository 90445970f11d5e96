"""The events inbox end to end in Debian's chromium, against the real api role and its live push.

Sign in with TOTP, open the inbox (it connects live over the WebSocket), then store an AI event the
way the events role does — a row in the events table with its clip and snapshot in the blob store —
while the page is open: it must appear without a reload within a few seconds. Acknowledge it with
the keyboard (the row, the detail pane and the API agree), play its clip (the video's currentTime
must advance), add a note and escalate it to a ticket with the keyboard. A screenshot per step goes
to test-artifacts/e2e/<test>/.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import cv2
import httpx
import pytest
from playwright.async_api import Page, expect

from tests import factories
from tests.e2e.conftest import Console, Steps, sign_in_first_time
from tests.media import make_clip, moving_pattern
from vms.bootstrap import Container
from vms.events.models import Event
from vms.kernel.clock import utcnow
from vms.kernel.ids import TenantId
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor

ARRIVES_WITHIN_MS = 5_000


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """An 8 s H.264 MP4 and a JPEG of its first frame."""
    work = tmp_path_factory.mktemp("clip")
    clip = make_clip(work / "clip.mp4", width=640, height=360, fps=25, seconds=8, gop_s=1)
    ok, jpeg = cv2.imencode(".jpg", moving_pattern(0, 640, 360)[..., ::-1])
    assert ok
    return clip.read_bytes(), jpeg.tobytes()


async def store_event(
    container: Container, tenant_id: uuid.UUID, camera_id: uuid.UUID, clip: tuple[bytes, bytes]
) -> uuid.UUID:
    """An intrusion event with its clip and snapshot, stored as the events role stores them."""
    event_id = uuid.uuid4()
    clip_key, snapshot_key = f"{tenant_id}/clips/{event_id}.mp4", f"{tenant_id}/clips/{event_id}.jpg"
    await container.blobs.put(clip_key, clip[0])
    await container.blobs.put(snapshot_key, clip[1])
    now = utcnow()
    event = Event(
        id=event_id,
        tenant_id=tenant_id,
        camera_id=camera_id,
        event_type="intrusion",
        confidence=0.91,
        occurred_at=now,
        priority="HIGH",
        object_class="person",
        tracking_id="t1",
        bounding_box=[0.3, 0.25, 0.2, 0.5],
        clip_key=clip_key,
        snapshot_key=snapshot_key,
        updated_at=now,
        last_seen_at=now,
    )
    async with container.unit_of_work(TenantScope.of(TenantId(tenant_id)), Actor.system("events")) as uow:
        uow.add(event)
        await uow.commit()
    return event_id


async def assert_current_time_advances(page: Page, seconds: float = 1.5) -> None:
    video = page.get_by_test_id("clip-player")
    before = float(await video.evaluate("v => v.currentTime"))
    await asyncio.sleep(seconds)
    after = float(await video.evaluate("v => v.currentTime"))
    assert after > before, (before, after)


async def test_an_event_arrives_live_is_acknowledged_by_key_and_its_clip_plays(
    page: Page, console: Console, backend: Container, clip_files: tuple[bytes, bytes], request
):
    steps = Steps(page, request.node.name)
    await sign_in_first_time(page, console, steps)
    token = await page.evaluate("JSON.parse(sessionStorage.getItem('vms.session')).accessToken")
    api = httpx.AsyncClient(base_url=console.base_url, headers={"Authorization": f"Bearer {token}"})
    me = (await api.get("/api/v1/auth/me")).json()
    tenant_id = uuid.UUID(me["tenant_id"])
    camera = await factories.camera(backend, tenant_id=tenant_id, name="Gate 1")

    # The inbox, connected live, nothing new yet.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Events").click()
    await expect(page.get_by_role("heading", name="Events", exact=True)).to_be_visible()
    await expect(page.get_by_text("No new events — all caught up")).to_be_visible()
    await expect(page.get_by_test_id("live-indicator")).to_have_text("Live")
    await page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    await steps.shot("inbox-live-empty")

    # An AI event is stored while the page is open: it appears by itself, highlighted.
    started = time.monotonic()
    event_id = await store_event(backend, tenant_id, camera.id, clip_files)
    row = page.get_by_test_id("event-row")
    await expect(row).to_have_count(1, timeout=ARRIVES_WITHIN_MS)
    arrived_ms = (time.monotonic() - started) * 1000
    assert await page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    await expect(row).to_have_attribute("data-event-id", str(event_id))
    await expect(row).to_contain_text("intrusion")
    await expect(row).to_contain_text("Gate 1")
    await expect(row.get_by_test_id("event-status")).to_have_text("new")
    detail = page.get_by_test_id("event-detail")
    await expect(detail.get_by_role("heading", name="intrusion at Gate 1")).to_be_visible()
    await expect(detail.get_by_test_id("bounding-box")).to_be_visible()
    await steps.shot("event-arrived")
    print(f"event stored → row in the inbox: {arrived_ms:.0f} ms")

    # Acknowledge with the keyboard: the row and the detail change, and so does the API's record.
    await page.locator("body").press("a")
    await expect(row.get_by_test_id("event-status")).to_have_text("acknowledged")
    await expect(detail.get_by_test_id("detail-status")).to_have_text("acknowledged")
    for _ in range(50):
        stored = (await api.get(f"/api/v1/events/{event_id}")).json()
        if stored["status"] == "ACKNOWLEDGED":
            break
        await asyncio.sleep(0.1)
    assert stored["status"] == "ACKNOWLEDGED", stored
    await expect(page.get_by_test_id("announcement")).to_have_text("Acknowledged: intrusion at Gate 1")
    await steps.shot("acknowledged")

    # Play its clip (p): the signed MP4 plays in the <video>, time advances.
    video = page.get_by_test_id("clip-player")
    assert (await video.get_attribute("src") or "").startswith(f"/api/v1/events/{event_id}/clip.mp4?token=")
    await page.wait_for_function("() => document.querySelector('[data-testid=clip-player]').readyState >= 1")
    await page.locator("body").press("p")
    await page.wait_for_function("() => document.querySelector('[data-testid=clip-player]').currentTime > 0.3")
    await assert_current_time_advances(page)
    assert await video.evaluate("v => v.videoWidth") == 640
    await steps.shot("clip-playing")
    await video.evaluate("v => v.pause()")

    # A note (n, Ctrl+Enter) and a ticket (t) from the keyboard.
    await page.locator("body").press("n")
    await expect(page.get_by_label("Add a note")).to_be_focused()
    await page.keyboard.type("Guard sent to gate 1")
    await page.keyboard.press("Control+Enter")
    await expect(detail.get_by_test_id("note")).to_contain_text("Guard sent to gate 1")
    await page.locator("body").click(position={"x": 5, "y": 5})  # leave the field: keys are commands again
    await page.locator("body").press("t")
    await expect(page.get_by_label("What needs doing")).to_be_focused()
    await page.keyboard.type("Check the fence at gate 1")
    await page.get_by_role("button", name="Create ticket").click()
    await expect(detail.get_by_test_id("ticket")).to_be_visible()
    await expect(row).to_contain_text("ticket")
    stored = (await api.get(f"/api/v1/events/{event_id}")).json()
    assert stored["ticketId"], stored
    notes = (await api.get(f"/api/v1/events/{event_id}/notes")).json()
    assert [n["text"] for n in notes] == ["Guard sent to gate 1"]
    await steps.shot("note-and-ticket")

    # The shortcut list.
    await page.locator("body").press("?")
    await expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    await steps.shot("shortcuts")
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog")).to_have_count(0)

    # Dark theme, and a narrow screen: the event goes under the list.
    await page.get_by_role("button", name="Switch to dark theme").click()
    await steps.shot("dark")
    await page.set_viewport_size({"width": 420, "height": 860})
    await expect(row).to_be_visible()
    await steps.shot("narrow")
    await api.aclose()
