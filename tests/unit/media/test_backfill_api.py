"""The SD-card backfill routes: refusals come back as clear 4xx before anything runs (the fill itself
is tested against the simulators in tests/integration/test_sd_backfill.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx

from tests import factories
from vms.auth.permissions import Role
from vms.bootstrap import Container
from vms.kernel.clock import utcnow

PROBLEM = "application/problem+json"


def _url(camera_id: object) -> str:
    return f"/api/v1/cameras/{camera_id}/recordings/backfill"


def _window(hours_ago: float = 2, length_min: float = 10) -> dict[str, str]:
    start = utcnow() - timedelta(hours=hours_ago)
    return {"start": start.isoformat(), "end": (start + timedelta(minutes=length_min)).isoformat()}


async def test_backfill_refusals_are_clear_and_store_nothing(client: httpx.AsyncClient, container: Container) -> None:
    a = await factories.customer(container)
    b = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=a.id, role=Role.ADMIN)
    viewer = await factories.account(client, container, tenant_id=a.id, role=Role.VIEWER)
    stranger = await factories.account(client, container, tenant_id=b.id, role=Role.ADMIN)
    camera = await factories.camera(container, tenant_id=a.id)

    r = await client.post(_url(camera.id), headers=admin.headers, params=_window())
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    assert r.json()["title"] == "Not supported by the camera"  # no control interface, so no SD card to read

    r = await client.post(_url(camera.id), headers=viewer.headers, params=_window())
    assert r.status_code == 403, r.text
    r = await client.post(_url(camera.id), headers=stranger.headers, params=_window())
    assert r.status_code == 404, r.text
    backwards = _window()
    backwards["start"], backwards["end"] = backwards["end"], backwards["start"]
    r = await client.post(_url(camera.id), headers=admin.headers, params=backwards)
    assert r.status_code == 422, r.text
    r = await client.post(_url(camera.id), headers=admin.headers, params={"start": "yesterday", "end": "today"})
    assert r.status_code == 422, r.text
    r = await client.get(f"{_url(camera.id)}/{uuid.uuid4()}", headers=admin.headers)
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, r.text
