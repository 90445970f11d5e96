"""The operator console served at "/": built files, SPA fallback, cache headers, API paths kept apart."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from vms.api import web
from vms.api.app import create_app
from vms.bootstrap import Container

PROBLEM = "application/problem+json"


def _app(container: Container, dist: Path) -> FastAPI:
    app = create_app(container)
    # Point the console route at a test build: drop the default catch-all, add one for `dist`.
    app.router.routes = [r for r in app.router.routes if getattr(r, "name", "") != "web_console"]
    web.mount_console(app, dist)
    return app


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>VMS Console</title><div id=root></div>")
    (root / "assets" / "index-abc123.js").write_text("console.log('app')")
    (root / "favicon.svg").write_text("<svg/>")
    return root


async def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_root_and_client_side_routes_answer_index_html_revalidated_each_load(container, dist):
    async with await _client(_app(container, dist)) as http:
        for path in ("/", "/cameras", "/events?status=NEW", "/sign-in"):
            r = await http.get(path)
            assert r.status_code == 200, path
            assert "VMS Console" in r.text
            assert r.headers["cache-control"] == "no-cache"


async def test_hashed_assets_are_cached_for_a_year_and_other_files_revalidated(container, dist):
    async with await _client(_app(container, dist)) as http:
        r = await http.get("/assets/index-abc123.js")
        assert r.status_code == 200
        assert r.text == "console.log('app')"
        assert "immutable" in r.headers["cache-control"]
        assert "max-age=31536000" in r.headers["cache-control"]
        r = await http.get("/favicon.svg")
        assert r.status_code == 200
        assert r.headers["cache-control"] == "no-cache"


async def test_text_files_go_gzipped_to_browsers_that_accept_it(container, dist):
    script = "console.log('app');\n" * 200
    (dist / "assets" / "big-def456.js").write_text(script)
    async with await _client(_app(container, dist)) as http:
        r = await http.get("/assets/big-def456.js", headers={"accept-encoding": "gzip"})
        assert r.headers["content-encoding"] == "gzip" and "Accept-Encoding" in r.headers["vary"]
        assert r.text == script  # httpx decodes it: the bytes are real gzip of the file
        assert int(r.headers["content-length"]) < len(script) / 5
        assert r.headers["content-type"].startswith(("text/javascript", "application/javascript"))
        r = await http.get("/assets/big-def456.js", headers={"accept-encoding": "identity"})
        assert "content-encoding" not in r.headers and r.text == script
        r = await http.get("/cameras", headers={"accept-encoding": "gzip, br"})
        assert r.headers["content-encoding"] == "gzip" and "VMS Console" in r.text


async def test_a_missing_asset_is_404_not_the_index_page(container, dist):
    async with await _client(_app(container, dist)) as http:
        r = await http.get("/assets/old-chunk-zzz.js")
        assert r.status_code == 404
        assert "VMS Console" not in r.text


async def test_paths_outside_the_build_are_never_served(container, dist, tmp_path):
    (tmp_path / "secret.txt").write_text("do not serve")
    async with await _client(_app(container, dist)) as http:
        for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"):
            r = await http.get(path)
            assert "do not serve" not in r.text, path


async def test_api_paths_keep_priority_and_unknown_ones_stay_problem_json(container, dist):
    async with await _client(_app(container, dist)) as http:
        assert (await http.get("/health")).json()["status"] == "up"
        assert (await http.get("/openapi.json")).json()["info"]["title"] == "VMS Platform API"
        r = await http.get("/api/v1/no-such-thing")
        assert r.status_code == 404
        assert r.headers["content-type"] == PROBLEM
        r = await http.get("/api/v1/users")  # a real route, no token: the API answers, not the console
        assert r.status_code == 401
        assert r.headers["content-type"] == PROBLEM


async def test_without_a_build_root_says_to_run_make_web(container, tmp_path):
    async with await _client(_app(container, tmp_path / "missing")) as http:
        r = await http.get("/")
        assert r.status_code == 503
        assert "make web" in r.text
        assert r.headers["content-type"].startswith("text/html")


def test_the_console_route_is_the_last_route_and_hidden_from_openapi(container):
    app = create_app(container)
    assert getattr(app.router.routes[-1], "name", "") == "web_console"
    assert all("{path" not in p for p in app.openapi()["paths"])
