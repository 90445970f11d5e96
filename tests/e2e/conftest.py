"""Browser tests: the real api role in a subprocess serving the built console, driven by Debian's chromium.

Needs /usr/bin/chromium (`scripts/web-prereqs chromium`) and a console build (`make web`). Locally
either missing skips these tests with the reason; under CI (CI=true) it fails them. Screenshots of
each step go to test-artifacts/e2e/<test>/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyotp
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests import factories
from vms import migrations
from vms.auth.permissions import Role
from vms.bootstrap import Container, build_container
from vms.settings import Settings

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
WEB_DIST = REPO / "web" / "dist"
ARTIFACTS = REPO / "test-artifacts" / "e2e"
# Chromium leaves loopback out of WebRTC's candidates unless told (the gateway listens on 127.0.0.1),
# and videos must start without a click.
CHROMIUM_ARGS = ["--no-sandbox", "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required"]


def _require(ok: bool, message: str) -> None:
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium; never a downloaded browser."""
    _require(CHROMIUM.exists(), f"{CHROMIUM} is missing: run `scripts/web-prereqs chromium`")
    _require((WEB_DIST / "index.html").exists(), "web/dist is missing: build the console with `make web`")
    return str(CHROMIUM)


@dataclass
class Console:
    """A running api role with a seeded customer Admin who has not enrolled MFA yet."""

    base_url: str
    email: str
    password: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _seed(settings: Settings) -> str:
    container = build_container(settings)
    try:
        customer = await factories.customer(container, name="E2E Customer")
        admin = await factories.user(container, tenant_id=customer.id, role=Role.ADMIN, email="admin@e2e.example")
        return admin.email
    finally:
        await container.close()


@pytest.fixture
async def console(tmp_path: Path, chromium_path: str) -> AsyncIterator[Console]:
    """`vms role api` on 127.0.0.1:<random port>, a fresh SQLite database and a seeded Admin."""
    port = _free_port()
    database_url = f"sqlite+aiosqlite:///{tmp_path}/vms.db"
    env = {
        **os.environ,
        "VMS_DATA_DIR": str(tmp_path),
        "VMS_DATABASE__URL": database_url,
        "VMS_API__HOST": "127.0.0.1",
        "VMS_API__PORT": str(port),
        "VMS_LOGGING__LEVEL": "WARNING",
        "VMS_RATE_LIMITS__PER_IP_PER_MINUTE": "0",
        "VMS_RATE_LIMITS__PER_USER_PER_MINUTE": "0",
        "VMS_RATE_LIMITS__PER_TENANT_PER_MINUTE": "0",
        "VMS_RATE_LIMITS__SIGN_IN_PER_IP_PER_MINUTE": "0",
    }
    settings = Settings(database={"url": database_url}, data_dir=tmp_path)  # type: ignore[arg-type]
    await asyncio.to_thread(migrations.upgrade, database_url)
    email = await _seed(settings)
    log = (tmp_path / "api.log").open("wb")
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vms", "role", "api", env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as http:
            for _ in range(300):
                if server.returncode is not None:
                    raise RuntimeError(f"the api role exited: {(tmp_path / 'api.log').read_text()[-2000:]}")
                try:
                    if (await http.get("/health/live")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the api role did not start in 30 s")
        yield Console(base_url=base, email=email, password=factories.PASSWORD)
    finally:
        server.terminate()
        try:
            await asyncio.wait_for(server.wait(), 10)
        except TimeoutError:
            server.kill()
            await server.wait()
        log.close()


class Steps:
    """Numbered screenshots of a test's steps under test-artifacts/e2e/<test>/."""

    def __init__(self, page: object, name: str) -> None:
        self.page = page
        self.dir = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob("*.png"):
            old.unlink()
        self.n = 0

    async def shot(self, step: str) -> Path:
        """Save a full-page screenshot named after the step."""
        self.n += 1
        path = self.dir / f"{self.n:02d}-{step}.png"
        await self.page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        return path


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    """Debian's chromium, headless."""
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh page (its own context: no session shared between tests), light theme, desktop size."""
    context = await browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme="light")
    page = await context.new_page()
    page.set_default_timeout(30_000)
    yield page
    await context.close()


@pytest.fixture
def rtsp_base() -> str:
    """The camera simulator's RTSP base URL (scripts/services up cameras)."""
    base = os.environ.get("VMS_TEST_RTSP_BASE", "")
    _require(bool(base), 'no simulated camera: run `eval "$(scripts/services up cameras)"` first')
    return base


@pytest.fixture
async def backend(console: Console, tmp_path: Path) -> AsyncIterator[Container]:
    """A container on the api role's database and blob store, to seed what other roles would write."""
    database_url = f"sqlite+aiosqlite:///{tmp_path}/vms.db"
    container = build_container(Settings(database={"url": database_url}, data_dir=tmp_path))
    try:
        yield container
    finally:
        await container.close()


async def sign_in_first_time(page: Page, console: Console, steps: Steps) -> list[str]:
    """Password, enrol TOTP from the key shown beside the QR code, keep the recovery codes; returns them."""
    await page.goto(console.base_url + "/")
    await expect(page).to_have_url(console.base_url + "/sign-in")
    await page.get_by_label("Email").fill(console.email)
    await page.get_by_label("Password").fill(console.password)
    await steps.shot("sign-in")
    await page.get_by_role("button", name="Continue").click()

    await expect(page.get_by_role("heading", name="Set up two-step verification")).to_be_visible()
    await expect(page.get_by_role("img", name="QR code to add this account to an authenticator app")).to_be_visible()
    secret = (await page.get_by_test_id("mfa-secret").inner_text()).strip()
    await steps.shot("mfa-enrolment-qr")
    await page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    await page.get_by_role("button", name="Verify").click()

    codes = page.get_by_test_id("recovery-codes").get_by_role("listitem")
    await expect(codes).to_have_count(10)
    recovery = [c.strip() for c in await codes.all_inner_texts()]
    await steps.shot("recovery-codes")
    await page.get_by_label("I have stored my recovery codes").check()
    await page.get_by_role("button", name="Continue to the console").click()
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    return recovery
