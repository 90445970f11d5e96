"""Settings end to end in Debian's chromium: an Admin changes a camera's fire/smoke confidence threshold
through review-diff-save, sees the camera level badge, rolls back; then creates a Viewer scoped to a site."""

from __future__ import annotations

import json

import httpx
from playwright.async_api import Page, expect

from tests.e2e.conftest import Console, Steps, sign_in_first_time

KEY = "models.fire_smoke.confidence_threshold"


async def _seed_site_and_camera(page: Page, console: Console) -> tuple[str, str]:
    """A site › building › floor › zone and an unprobed camera in the zone, through the API with the page's token."""
    token = json.loads(await page.evaluate("sessionStorage.getItem('vms.session')"))["accessToken"]
    async with httpx.AsyncClient(base_url=console.base_url, headers={"Authorization": f"Bearer {token}"}) as http:
        parent = None
        ids = {}
        for kind, name in [("site", "HQ"), ("building", "Main"), ("floor", "Ground"), ("zone", "Lobby")]:
            r = await http.post("/api/v1/nodes", json={"kind": kind, "name": name, "parent_id": parent})
            assert r.status_code == 201, r.text
            parent = ids[kind] = r.json()["id"]
        r = await http.post(
            "/api/v1/cameras",
            json={"name": "Lobby cam", "main_url": "rtsp://192.0.2.10/main", "probe": False, "zone_id": ids["zone"]},
        )
        assert r.status_code == 201, r.text
        return ids["site"], r.json()["id"]


async def test_config_review_save_rollback_and_scoped_viewer(page: Page, console: Console, request):
    steps = Steps(page, request.node.name)
    await sign_in_first_time(page, console, steps)
    site_id, camera_id = await _seed_site_and_camera(page, console)

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Configuration").click()
    await page.get_by_label("Level").select_option("camera")
    row = page.get_by_test_id(f"param-{KEY}")
    await page.get_by_label("Find a parameter").fill("fire_smoke.confidence")
    await expect(row.locator(".badge-level")).to_have_text("default")
    await row.get_by_label(KEY).fill("0.85")
    await page.get_by_role("button", name="Review changes").click()
    diff = page.get_by_test_id("effective-diff")
    await expect(diff).to_contain_text("0.85")
    await expect(diff.locator(".diff-after .badge-level")).to_have_text("camera")
    await steps.shot("review-diff")
    await page.get_by_label("Reason for the change").fill("Fewer false alarms in the lobby")
    await page.get_by_role("button", name="Save as a new version").click()
    await expect(page.get_by_text("Saved as version 1.")).to_be_visible()
    await expect(row.locator(".badge-level")).to_have_text("camera")
    await expect(row).to_contain_text("0.85")
    await steps.shot("saved-camera-level")

    # A second change, then back to version 1.
    await row.get_by_label(KEY).fill("0.6")
    await page.get_by_role("button", name="Review changes").click()
    await page.get_by_label("Reason for the change").fill("Try a lower threshold")
    await page.get_by_role("button", name="Save as a new version").click()
    await expect(page.get_by_text("Saved as version 2.")).to_be_visible()
    await page.get_by_role("button", name="Roll back to v1").click()
    dialog = page.get_by_role("alertdialog")
    await dialog.get_by_label("Reason for the rollback").fill("Back to the lobby setting")
    await steps.shot("rollback-confirm")
    await dialog.get_by_role("button", name="Roll back to v1").click()
    await expect(row).to_contain_text("0.85")
    await expect(page.get_by_test_id("versions")).to_contain_text("rollback to v1")
    await steps.shot("rolled-back")

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    await page.get_by_role("button", name="Add user").click()
    form = page.get_by_role("form", name="New user")
    await form.get_by_label("E-mail").fill("viewer@e2e.example")
    await form.get_by_label("Role").select_option("viewer")
    await form.get_by_label("Initial password").fill("Lobby-watch-2026!")
    await form.get_by_label("HQ").check()
    await steps.shot("new-viewer")
    await form.get_by_role("button", name="Create user").click()
    await expect(page.get_by_text("viewer@e2e.example was created.")).to_be_visible()
    users = page.get_by_test_id("users")
    await expect(users.get_by_role("row", name="viewer@e2e.example")).to_contain_text("1 site(s)")
    await steps.shot("users-list")
    await page.get_by_role("button", name="Switch to dark theme").click()
    await page.set_viewport_size({"width": 420, "height": 860})
    await page.get_by_role("button", name="Menu").click()
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Configuration").click()
    await expect(page.get_by_role("heading", name="Configuration")).to_be_visible()
    await steps.shot("config-dark-narrow")

    token = json.loads(await page.evaluate("sessionStorage.getItem('vms.session')"))["accessToken"]
    async with httpx.AsyncClient(base_url=console.base_url, headers={"Authorization": f"Bearer {token}"}) as http:
        listed = (await http.get("/api/v1/users", params={"q": "viewer@e2e"})).json()["items"]
        assert [(u["role"], u["scope_node_ids"]) for u in listed] == [("viewer", [site_id])]
        config = (await http.get(f"/api/v1/config/camera/{camera_id}", params={"site_id": site_id})).json()
        assert config["values"][KEY] == {"value": 0.85, "level": "camera"}
