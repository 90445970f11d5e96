"""Configuration: resolving a camera's full effective config (93 values, each with its source)
with the cache hot, cold, and down; bulk resolution; and how long a change takes to drop the
cached value in another process (embedded bus, each process with its own in-process cache).

Seeds one customer with --cameras cameras under 100 sites, 20 overrides per camera plus
customer and site overrides, on a fresh SQLite database (or PostgreSQL with --postgres, which
uses VMS_TEST_POSTGRES_URL). Redis is measured too when VMS_TEST_REDIS_URL is set.

    uv run python bench/config.py [--cameras 10000] [--samples 2000] [--changes 30]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from vms import logs, migrations
from vms.adapters.cache.redis import RedisCache
from vms.bootstrap import Container, build_container
from vms.cameras import hierarchy
from vms.cameras.models import Camera, NodeKind
from vms.cameras.schemas import NodeCreate
from vms.config import service
from vms.config.cache import ConfigCache
from vms.config.listener import ConfigChange, after_commit, announce, run_config_listener, stage_change
from vms.config.nodes import NodeRef
from vms.kernel.ai_models import AiModel
from vms.kernel.errors import ServiceUnavailable
from vms.kernel.tenancy import TenantScope
from vms.settings import Settings
from vms.uow import Actor

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests import factories
from tests.conftest import make_settings

TWENTY = {f"models.{m.value}.confidence_threshold": 0.65 for m in AiModel} | {
    f"models.{m.value}.priority": "HIGH" for m in AiModel
}
DEAD_REDIS = "redis://127.0.0.1:1/0"


def summary(samples_ms: list[float]) -> dict[str, float]:
    q = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {"p50_ms": round(q[49], 3), "p99_ms": round(q[98], 3), "max_ms": round(max(samples_ms), 3)}


async def seed(container: Container, cameras: int) -> tuple[uuid.UUID, dict[uuid.UUID, uuid.UUID]]:
    tenant = (await factories.customer(container)).id
    placed = await inventory(container, tenant, cameras=cameras, sites=100)
    sites = sorted(set(placed.values()))
    async with container.unit_of_work(TenantScope.of(tenant), Actor.system("bench")) as uow:
        await service.change_overrides(
            uow=uow,
            config_cache=container.config,
            node=NodeRef.customer(tenant),
            values={"retention.days": 45},
            reason="bench",
        )
        await service.patch_many(
            uow=uow, nodes=[NodeRef.site(tenant, s) for s in sites], values={"recording.mode": "events"}, reason="bench"
        )
        nodes = [NodeRef.camera(tenant, c) for c in placed]
        for start in range(0, len(nodes), 2000):
            await service.patch_many(uow=uow, nodes=nodes[start : start + 2000], values=TWENTY, reason="bench")
        await uow.commit()
    return tenant, placed


async def inventory(container: Container, tenant: uuid.UUID, *, cameras: int, sites: int) -> dict[uuid.UUID, uuid.UUID]:
    """Real sites (with a zone each) and camera rows spread over them: camera id → site id. The
    configuration service refuses overrides for ids the customer does not have; the camera rows
    are inserted directly, since probing and license checks are not what this measures."""
    zones: list[tuple[uuid.UUID, uuid.UUID]] = []
    async with container.unit_of_work(TenantScope.of(tenant), Actor.system("bench")) as uow:
        for n in range(sites):
            parent: uuid.UUID | None = None
            site: uuid.UUID | None = None
            for kind in (NodeKind.SITE, NodeKind.BUILDING, NodeKind.FLOOR, NodeKind.ZONE):
                data = NodeCreate(kind=kind, name=f"Site {n} {kind}", parent_id=parent)
                node = await hierarchy.create_node(uow=uow, data=data)
                parent, site = node.id, site or node.id
            assert parent is not None and site is not None
            zones.append((parent, site))
        placed: dict[uuid.UUID, uuid.UUID] = {}
        for i in range(cameras):
            zone, site = zones[i % sites]
            camera = Camera(
                id=uuid.uuid4(), tenant_id=tenant, name=f"Camera {i}", main_url=f"rtsp://192.0.2.1/{i}", zone_id=zone
            )
            uow.add(camera)
            placed[camera.id] = site
        await uow.commit()
    return placed


async def resolve_latencies(
    container: Container,
    config_cache: ConfigCache,
    tenant: uuid.UUID,
    sample: dict[uuid.UUID, uuid.UUID],
    *,
    cold: bool,
) -> list[float]:
    """Milliseconds per full resolution of each sampled camera; cold: its four keys dropped first (untimed)."""
    latencies = []
    async with container.unit_of_work(TenantScope.of(tenant), Actor.system("bench")) as uow:
        for warming in ([] if cold else [True]) + [False]:
            for camera, site in sample.items():
                node = NodeRef.camera(tenant, camera, site_id=site)
                if cold:
                    with contextlib.suppress(ServiceUnavailable):
                        await config_cache.cache.delete(*(n.cache_key for n in node.lineage()))
                started = time.perf_counter()
                await service.camera_config(
                    uow=uow, config_cache=config_cache, tenant_id=tenant, camera_id=camera, site_id=site
                )
                if not warming:
                    latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def propagation(settings: Settings, changes: int, *, tenant: uuid.UUID | None = None) -> dict[str, float]:
    """Another process (a child running its own container and listener) caches a key; this one
    announces a change of that node; the child reports when its listener dropped the key.

    Without `tenant`: the announcement alone, straight on the bus. With it: a real change of the
    customer's overrides, committed with its announcement in the outbox, then drained (what the
    config routes do) — timed from just before the commit.
    """
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--child",
        settings.model_dump_json(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdin and child.stdout
    container = build_container(settings)
    latencies = []
    try:
        await container.bus.ensure_topics({"config-changes": 1})
        for i in range(changes):
            node = NodeRef.site(uuid.uuid4(), uuid.uuid4()) if tenant is None else NodeRef.customer(tenant)
            child.stdin.write(f"{node.cache_key}\n".encode())
            await child.stdin.drain()
            assert (await child.stdout.readline()).strip() == b"armed"
            change = ConfigChange.node_changed(node)
            if tenant is None:
                sent = time.time()
                await announce(bus=container.bus, config_cache=container.config, change=change)
            else:
                async with container.unit_of_work(TenantScope.of(tenant), Actor.system("bench")) as uow:
                    await service.change_overrides(
                        uow=uow,
                        config_cache=container.config,
                        node=node,
                        values={"retention.days": 40 + i % 2},
                        reason="bench",
                    )
                    stage_change(uow, change)
                    sent = time.time()
                    await uow.commit()
                await after_commit(config_cache=container.config, relay=container.outbox, change=change)
            dropped = float((await child.stdout.readline()).decode())
            latencies.append((dropped - sent) * 1000)
    finally:
        child.stdin.close()
        await child.wait()
        await container.close()
    return summary(latencies)


async def child_main(settings_json: str) -> None:
    """The other process: cache each key it is given, then report when the listener drops it."""
    logs.configure(level="WARNING")
    container = build_container(Settings.model_validate_json(settings_json))
    listener = asyncio.create_task(run_config_listener(bus=container.bus, config_cache=container.config))
    try:
        while line := (await asyncio.to_thread(sys.stdin.readline)).strip():
            await container.cache.set(line, b"{}")
            print("armed", flush=True)
            while await container.cache.get(line) is not None:
                await asyncio.sleep(0.001)
            print(repr(time.time()), flush=True)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await container.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cameras", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=2_000, help="Cameras resolved per hot measurement.")
    parser.add_argument("--cold-samples", type=int, default=500, help="Cameras resolved per cold/down measurement.")
    parser.add_argument("--changes", type=int, default=30, help="Changes timed across two processes.")
    parser.add_argument("--postgres", action="store_true", help="Use VMS_TEST_POSTGRES_URL instead of SQLite.")
    args = parser.parse_args()
    logs.configure(level="WARNING")  # to stderr: stdout carries the one JSON line

    tmp = Path(tempfile.mkdtemp(prefix="vms-config-bench-"))
    url = f"sqlite+aiosqlite:///{tmp / 'vms.db'}"
    if args.postgres:
        url = await fresh_postgres()
    await asyncio.to_thread(migrations.upgrade, url)
    settings = make_settings(tmp, url)
    container = build_container(settings)
    result: dict[str, object] = {
        "bench": "config",
        "database": url.split(":")[0],
        "cameras": args.cameras,
        "overrides_per_camera": len(TWENTY),
        "values_per_camera": 0,
    }
    try:
        started = time.perf_counter()
        tenant, placed = await seed(container, args.cameras)
        result["seed_s"] = round(time.perf_counter() - started, 2)
        rng = random.Random(7)
        hot_sample = dict(rng.sample(sorted(placed.items()), min(args.samples, len(placed))))
        cold_sample = dict(list(hot_sample.items())[: args.cold_samples])

        async with container.unit_of_work(TenantScope.of(tenant), Actor.system("bench")) as uow:
            one = next(iter(placed.items()))
            values = await service.camera_config(
                uow=uow, config_cache=container.config, tenant_id=tenant, camera_id=one[0], site_id=one[1]
            )
            result["values_per_camera"] = len(values)
            await container.cache.delete_prefix("config:")
            started = time.perf_counter()
            await service.cameras_config(uow=uow, config_cache=container.config, tenant_id=tenant, cameras=placed)
            result["bulk_cold_all_cameras_s"] = round(time.perf_counter() - started, 3)

        resolve: dict[str, object] = {}
        resolve["hot_memory"] = summary(
            await resolve_latencies(container, container.config, tenant, hot_sample, cold=False)
        )
        resolve["cold_memory"] = summary(
            await resolve_latencies(container, container.config, tenant, cold_sample, cold=True)
        )
        down = ConfigCache(RedisCache.from_url(DEAD_REDIS), ttl_s=300)
        resolve["cache_down"] = summary(await resolve_latencies(container, down, tenant, cold_sample, cold=False))
        redis_url = os.environ.get("VMS_TEST_REDIS_URL")
        if redis_url:
            redis = ConfigCache(RedisCache.from_url(redis_url), ttl_s=300)
            try:
                resolve["hot_redis"] = summary(
                    await resolve_latencies(container, redis, tenant, hot_sample, cold=False)
                )
                resolve["cold_redis"] = summary(
                    await resolve_latencies(container, redis, tenant, cold_sample, cold=True)
                )
            finally:
                await redis.cache.delete_prefix("config:")
                await redis.cache.close()
        result["resolve_full_camera_config"] = resolve
        direct = await propagation(settings, args.changes)
        committed = await propagation(settings, args.changes, tenant=tenant)
        result["invalidation_across_two_processes"] = direct
        result["invalidation_of_a_committed_change_through_the_outbox"] = committed
        result["outbox_over_direct_p50"] = round(committed["p50_ms"] / direct["p50_ms"], 2)
    finally:
        await container.close()
        if args.postgres:
            await drop_postgres(url)
    print(json.dumps(result))


async def drop_postgres(url: str) -> None:
    import asyncpg

    base, name = url.rsplit("/", 1)
    conn = await asyncpg.connect(base.replace("postgresql+asyncpg", "postgresql") + "/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def fresh_postgres() -> str:
    import asyncpg

    base = os.environ["VMS_TEST_POSTGRES_URL"]
    name = f"vms_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(base.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base.rsplit("/", 1)[0] + "/" + name


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        asyncio.run(child_main(sys.argv[2]))
    else:
        asyncio.run(main())
