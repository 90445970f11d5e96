"""API latency: an authenticated, tenant-filtered list endpoint vs bare endpoints of the same app.

Starts the API (bench/api_latency_server.py: the app `vms role api` serves, uvicorn, one worker)
on a fresh SQLite database in a subprocess, seeds two customers with 100 users each, signs in
with MFA, then drives three endpoints alternately in rounds with 100 concurrent clients:

- `bare`: /health/live, which does nothing (the HTTP + middleware floor);
- `bare_list`: the same users query with no authentication and no tenant scope (bench-only route);
- `authenticated_list`: GET /api/v1/users?limit=20 as a customer Admin (JWT, session check,
  tenant access check, tenant-filtered query).

Prints one JSON line: req/s and p50/p99 per endpoint and the p99/p50/req-s ratios of the
authenticated list against each bare endpoint (issue goal: p99 ratio <= 1.5).

    uv run python bench/api_latency.py [--requests 3000] [--concurrency 100]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pyotp

from vms import migrations
from vms.auth.permissions import Role
from vms.bootstrap import build_container
from vms.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import factories

from bench import http_load

SERVER = str(Path(__file__).with_name("api_latency_server.py"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def seed(settings: Settings) -> tuple[str, str]:
    container = build_container(settings)
    try:
        customers = [await factories.customer(container) for _ in range(2)]
        for c in customers:
            for _ in range(100):
                await factories.user(container, tenant_id=c.id)
        admin = await factories.user(container, tenant_id=customers[0].id, role=Role.ADMIN)
        return admin.email, factories.PASSWORD
    finally:
        await container.close()


async def wait_until_up(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        for _ in range(200):
            try:
                if (await http.get("/health/live")).status_code == 200:
                    return
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    raise RuntimeError("the API did not start")


async def sign_in(base: str, email: str, password: str) -> str:
    async with httpx.AsyncClient(base_url=base) as http:
        challenge = (await http.post("/api/v1/auth/login", json={"email": email, "password": password})).json()
        code = pyotp.TOTP(challenge["secret"]).now()
        r = await http.post("/api/v1/auth/mfa", json={"mfa_token": challenge["mfa_token"], "code": code})
        r.raise_for_status()
        return str(r.json()["access_token"])


def merge(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000, help="Requests per endpoint per round.")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database-url",
        default=None,
        help="An empty database to use instead of a fresh SQLite file (e.g. a scratch PostgreSQL database).",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="vms-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "VMS_DATA_DIR": str(tmp),
        "VMS_DATABASE__URL": args.database_url or f"sqlite+aiosqlite:///{tmp}/vms.db",
        "VMS_API__PORT": str(port),
        "VMS_LOGGING__LEVEL": "WARNING",
        "VMS_RATE_LIMITS__PER_IP_PER_MINUTE": "0",
        "VMS_RATE_LIMITS__PER_USER_PER_MINUTE": "0",
        "VMS_RATE_LIMITS__PER_TENANT_PER_MINUTE": "0",
    }
    settings = Settings(database={"url": env["VMS_DATABASE__URL"]}, data_dir=tmp)  # type: ignore[arg-type]
    await asyncio.to_thread(migrations.upgrade, settings.database.url)
    email, password = await seed(settings)
    server = subprocess.Popen([sys.executable, SERVER], env=env)  # noqa: ASYNC220
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_until_up(base)
        token = await sign_in(base, email, password)
        auth = {"Authorization": f"Bearer {token}"}
        runs = {
            "bare": functools.partial(http_load.run, "127.0.0.1", port, "/health/live", headers={}),
            "bare_list": functools.partial(http_load.run, "127.0.0.1", port, "/bench/users?limit=20", headers={}),
            "authenticated_list": functools.partial(
                http_load.run, "127.0.0.1", port, "/api/v1/users?limit=20", headers=auth
            ),
        }
        results: dict[str, list[dict[str, float]]] = {name: [] for name in runs}
        for run in runs.values():  # warm-up
            await run(requests=300, concurrency=args.concurrency)
        for _ in range(args.rounds):  # alternate, so machine noise hits all alike
            for name, run in runs.items():
                results[name].append(await run(requests=args.requests, concurrency=args.concurrency))
    finally:
        server.terminate()
        server.wait(10)
    figures = {name: merge(r) for name, r in results.items()}
    a = figures["authenticated_list"]
    ratios = {
        f"vs_{base}": {
            "p99_ratio": round(a["p99_ms"] / figures[base]["p99_ms"], 2),
            "p50_ratio": round(a["p50_ms"] / figures[base]["p50_ms"], 2),
            "rps_ratio": round(a["rps"] / figures[base]["rps"], 2),
        }
        for base in ("bare", "bare_list")
    }
    line = {"bench": "api_latency", "concurrency": args.concurrency, "database": env["VMS_DATABASE__URL"].split(":")[0]}
    print(json.dumps({**line, **figures, **ratios}))


if __name__ == "__main__":
    asyncio.run(main())
