"""The site tree, a camera's details and past discoveries, edited end to end in Debian's chromium: an
Admin builds site › building › floor › zone in the tree, renames the zone, is refused deleting it
while it holds a camera, renames the camera on its page and finds it under the zone; then runs a
discovery and opens it again from the list of past discoveries."""

from __future__ import annotations

import json

import httpx
from playwright.async_api import Page, expect

from tests.e2e.conftest import Console, Steps, sign_in_first_time


async def _camera_in(page: Page, console: Console, zone_name: str) -> str:
    """An unprobed camera in the zone called `zone_name`, through the API with the page's token."""
    token = json.loads(await page.evaluate("sessionStorage.getItem('vms.session')"))["accessToken"]
    async with httpx.AsyncClient(base_url=console.base_url, headers={"Authorization": f"Bearer {token}"}) as http:
        r = await http.get("/api/v1/nodes", params={"kind": "zone", "q": zone_name})
        assert r.status_code == 200 and r.json()["total"] == 1, r.text
        zone_id = r.json()["items"][0]["id"]
        body = {"name": "Lobby cam", "main_url": "rtsp://192.0.2.10/main", "probe": False, "zone_id": zone_id}
        r = await http.post("/api/v1/cameras", json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


async def _add_under(page: Page, parent: str, child_kind: str, name: str) -> None:
    """Add a child node through the tree's inline form."""
    parent_name = parent.split(" ", 1)[1]
    await page.get_by_role("group", name=f"Change {parent}").get_by_role("button", name=f"Add {child_kind}").click()
    await page.get_by_label(f"Name of the new {child_kind} in {parent_name}").fill(name)
    form = page.get_by_role("form", name=f"Add a {child_kind} to {parent_name}")
    await form.get_by_role("button", name="Add").click()
    await expect(page.get_by_role("button", name=f"{child_kind} {name}", exact=False).first).to_be_visible()


async def test_build_and_rename_the_tree_then_rename_a_camera_and_find_it_there(
    page: Page, console: Console, request
) -> None:
    steps = Steps(page, request.node.name)
    await sign_in_first_time(page, console, steps)
    # the dashboard's incidents panel and hourly chart answer from the real routes
    await expect(page.get_by_role("region", name="Open incidents")).to_contain_text("No open incidents")
    await expect(page.get_by_text("No events in the last 24 hours")).to_be_visible()
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Cameras").click()
    tree = page.get_by_role("list", name="Site tree")
    await expect(tree).to_contain_text("No sites yet")

    await page.get_by_role("button", name="Edit tree").click()
    await page.get_by_role("button", name="Add site").click()
    await page.get_by_label("Name of the new site").fill("HQ")
    await page.get_by_label("Name of the new site").press("Enter")
    await expect(tree.get_by_role("button", name="site HQ")).to_be_visible()
    await _add_under(page, "site HQ", "building", "Main")
    await _add_under(page, "building Main", "floor", "Ground")
    await _add_under(page, "floor Ground", "zone", "Lobby")
    await steps.shot("tree-built")

    await page.get_by_role("group", name="Change zone Lobby").get_by_role("button", name="Rename").click()
    await page.get_by_label("New name for zone Lobby").fill("Reception")
    await page.get_by_role("form", name="Rename zone Lobby").get_by_role("button", name="Rename").click()
    await expect(tree.get_by_role("button", name="zone Reception")).to_be_visible()
    await expect(tree.get_by_role("button", name="zone Lobby")).to_have_count(0)
    await steps.shot("zone-renamed")

    camera_id = await _camera_in(page, console, "Reception")
    await page.reload()
    await page.get_by_role("button", name="Edit tree").click()
    await page.get_by_role("group", name="Change zone Reception").get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("form", name="Delete zone Reception")
    await confirm.get_by_role("button", name="Delete").click()
    await expect(confirm.get_by_role("alert")).to_contain_text("still holds 1 camera; move or delete them first")
    await steps.shot("delete-refused")

    # the camera's page: rename it, then find it under its zone
    await page.goto(f"{console.base_url}/cameras/{camera_id}")
    await page.get_by_role("button", name="Edit details").click()
    form = page.get_by_role("form", name="Edit camera")
    await form.get_by_label("Name").fill("Reception desk")
    await form.get_by_label("Tags (comma-separated)").fill("desk, indoor")
    await steps.shot("camera-edit")
    await form.get_by_role("button", name="Save changes").click()
    await expect(page.get_by_test_id("edit-saved")).to_contain_text("Saved.")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Reception desk")
    await steps.shot("camera-renamed")

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Cameras").click()
    await page.get_by_role("list", name="Site tree").get_by_role("button", name="zone Reception").click()
    row = page.get_by_test_id("camera-row")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("Reception desk")
    await expect(row).to_contain_text("desk, indoor")
    await steps.shot("camera-under-zone")


async def test_a_finished_discovery_is_listed_and_opens_again(page: Page, console: Console, request) -> None:
    steps = Steps(page, request.node.name)
    await sign_in_first_time(page, console, steps)
    await page.goto(f"{console.base_url}/cameras?add=discover")
    history = page.get_by_role("region", name="Past discoveries")
    await expect(history).to_contain_text("No discoveries yet")

    # four loopback addresses on a port nothing listens on: refused at once, nothing found
    await page.get_by_role("textbox", name="Addresses", exact=True).fill("127.0.91.0/30")
    await page.get_by_role("textbox", name="Ports", exact=True).fill("9")
    await page.get_by_label("Timeout per address (s)").fill("0.5")
    await page.get_by_role("button", name="Start discovery").click()
    await expect(page.get_by_test_id("discovery-status")).to_contain_text("Finished", timeout=30_000)
    await expect(page.get_by_text("No cameras found")).to_be_visible()
    await page.get_by_role("button", name="New discovery").click()

    job = history.get_by_test_id("discovery-job")
    await expect(job).to_have_count(1)
    await expect(job).to_contain_text("Address scan")
    await expect(job).to_contain_text("127.0.91.0/30")
    await expect(job).to_contain_text("Finished")
    await steps.shot("discovery-history")
    await job.get_by_role("button", name="Open").click()
    await expect(page.get_by_test_id("discovery-status")).to_contain_text("Finished")
    assert "job=" in page.url
    await steps.shot("discovery-reopened")
