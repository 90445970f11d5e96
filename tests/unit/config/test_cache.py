"""The config cache: the requirement keys and TTL, hits and misses, invalidation in this process
and (through the bus) in every other, background refresh of critical keys, manual refresh, and a
cache that is down (the database answers, nobody sees an error)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import structlog
from sqlalchemy import select

from tests import factories
from tests.conftest import engine_url, make_settings
from tests.unit.config.conftest import CONFIG, World, effective, patch, value_of
from vms.adapters.cache.memory import MemoryCache
from vms.adapters.cache.redis import RedisCache
from vms.bootstrap import Container, build_container
from vms.config import service
from vms.config.cache import ConfigCache
from vms.config.listener import ConfigChange, after_commit, announce, run_config_listener, stage_change
from vms.config.models import NodeConfig
from vms.config.nodes import NodeRef, model_key
from vms.kernel.ai_models import AiModel
from vms.kernel.errors import ServiceUnavailable
from vms.kernel.tenancy import TenantScope
from vms.kernel.topics import CONFIG_CHANGES
from vms.settings import Settings
from vms.uow import Actor

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: every call is refused at once


def layer_keys(world: World) -> list[str]:
    return [
        "config:system:overrides",
        f"config:customer:{world.a}:overrides",
        f"config:site:{world.site}:overrides",
        f"config:camera:{world.camera}:overrides",
    ]


async def set_row_behind_the_cache(container: Container, node_id: uuid.UUID, overrides: dict) -> None:
    """Change stored overrides directly, announcing nothing, as a lost invalidation would leave them."""
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        row = (await uow.session.execute(select(NodeConfig).where(NodeConfig.node_id == node_id))).scalar_one()
        row.overrides = overrides
        await uow.commit()


class Clock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class SwitchableCache(MemoryCache):
    """A real in-process cache that can be switched off, raising what the Redis adapter raises."""

    down = False

    def _check(self) -> None:
        if self.down:
            raise ServiceUnavailable("Cache unavailable: switched off by the test")

    async def get(self, key: str) -> bytes | None:
        self._check()
        return await super().get(key)

    async def set(self, key: str, value: bytes, *, ttl_s: float | None = None) -> None:
        self._check()
        await super().set(key, value, ttl_s=ttl_s)

    async def delete(self, *keys: str) -> None:
        self._check()
        await super().delete(*keys)

    async def delete_prefix(self, prefix: str) -> int:
        self._check()
        return await super().delete_prefix(prefix)


# --- keys, TTL, hits and misses ----------------------------------------------------------------


async def test_a_camera_read_caches_each_level_under_the_requirement_keys_with_the_settings_ttl(
    client, container, world
):
    assert container.config.ttl_s == container.settings.cache.default_ttl_s == 300
    for key in layer_keys(world):
        assert await container.cache.get(key) is None
    await effective(client, world.supervisor, world.camera_path, world.camera_params)
    for key in layer_keys(world):
        doc = json.loads(await container.cache.get(key))
        assert doc["overrides"] == {} and doc["version"] == 0


async def test_a_hit_is_served_from_the_cache_and_a_miss_from_the_database(client, container, world):
    await patch(client, world.admin, world.camera_path, {"retention.days": 7})
    assert value_of(await effective(client, world.supervisor, world.camera_path), "retention.days") == (7, "camera")
    await set_row_behind_the_cache(container, world.camera, {"retention.days": 8})
    # Hit: the cached document still answers.
    assert value_of(await effective(client, world.supervisor, world.camera_path), "retention.days") == (7, "camera")
    await container.cache.delete_prefix(f"config:camera:{world.camera}:")
    # Miss: the database answers and the cache is filled again.
    assert value_of(await effective(client, world.supervisor, world.camera_path), "retention.days") == (8, "camera")
    assert json.loads(await container.cache.get(f"config:camera:{world.camera}:overrides"))["overrides"] == {
        "retention.days": 8
    }


async def test_entries_expire_after_the_ttl(container):
    clock = Clock()
    config_cache = ConfigCache(MemoryCache(clock=clock), ttl_s=300)
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        await service.load_layers(uow=uow, config_cache=config_cache, nodes=[NodeRef.system()])
    assert await config_cache.cache.get("config:system:overrides") is not None
    clock.now += 299
    assert await config_cache.cache.get("config:system:overrides") is not None
    clock.now += 2
    assert await config_cache.cache.get("config:system:overrides") is None


async def test_a_change_drops_the_cached_value_in_this_process_at_once(client, container, world):
    await effective(client, world.supervisor, "/customer")
    assert await container.cache.get(f"config:customer:{world.a}:overrides") is not None
    await patch(client, world.admin, "/customer", {"retention.days": 12})
    assert await container.cache.get(f"config:customer:{world.a}:overrides") is None
    assert value_of(await effective(client, world.supervisor, "/customer"), "retention.days") == (12, "customer")


async def test_a_system_change_also_drops_the_model_requirements(client, container, world):
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        before = await service.model_requirements(uow=uow, config_cache=container.config, model=AiModel.ANPR)
    assert (before.min_height, before.priority, before.overlap_s) == (1080, "MEDIUM", 0.5)
    assert await container.cache.get(model_key(AiModel.ANPR)) is not None
    await patch(client, world.provider, "/system", {"models.anpr.min_height": 720, "models.anpr.priority": "HIGH"})
    assert await container.cache.get(model_key(AiModel.ANPR)) is None
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        after = await service.model_requirements(uow=uow, config_cache=container.config, model=AiModel.ANPR)
    assert (after.min_height, after.priority) == (720, "HIGH")


# --- invalidation across processes -------------------------------------------------------------


@contextlib.asynccontextmanager
async def listening(*containers: Container, settle_s: float = 10.0) -> AsyncIterator[None]:
    """Run each container's config listener (as each process does) for the duration; the second,
    settling drop comes late unless asked for, so a test sees the first drop alone."""
    tasks = [
        asyncio.create_task(run_config_listener(bus=c.bus, config_cache=c.config, settle_s=settle_s))
        for c in containers
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def wait_gone(cache, key: str, *, within_s: float) -> float:
    started = time.monotonic()
    while await cache.get(key) is not None:
        assert time.monotonic() - started < within_s, f"{key} still cached after {within_s} s"
        await asyncio.sleep(0.005)
    return time.monotonic() - started


async def test_a_change_in_one_process_reaches_another_process_cache_within_a_second(settings: Settings):
    """Two containers share the database and the bus file but each has its own in-process cache:
    only the bus can tell the second one."""
    one, two = build_container(settings), build_container(settings)
    try:
        assert one.cache is not two.cache
        customer = await factories.customer(one)
        node = NodeRef.customer(customer.id)
        async with listening(one, two):
            async with two.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
                await service.effective_config(uow=uow, config_cache=two.config, node=node)
            assert await two.cache.get(node.cache_key) is not None
            change = ConfigChange.node_changed(node)
            async with one.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
                await service.change_overrides(
                    uow=uow, config_cache=one.config, node=node, values={"retention.days": 14}, reason="fan-out"
                )
                stage_change(uow, change)
                await uow.commit()
            await after_commit(config_cache=one.config, relay=one.outbox, change=change)
            assert await one.cache.get(node.cache_key) is None  # the announcing process: at once
            await wait_gone(two.cache, node.cache_key, within_s=1.0)
            async with two.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
                config = await service.effective_config(uow=uow, config_cache=two.config, node=node)
            assert config.values["retention.days"].value == 14
    finally:
        await one.close()
        await two.close()


async def test_a_change_whose_process_died_after_the_commit_is_still_announced(settings: Settings):
    """The announcement commits with the change (the outbox): a process that dies before announcing
    leaves it pending, and another process's relay delivers it, so no cache keeps the old value."""
    one, two = build_container(settings), build_container(settings)
    try:
        customer = await factories.customer(one)
        node = NodeRef.customer(customer.id)
        async with listening(one, two):
            async with two.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
                await service.effective_config(uow=uow, config_cache=two.config, node=node)
            assert await two.cache.get(node.cache_key) is not None
            async with one.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
                await service.change_overrides(
                    uow=uow, config_cache=one.config, node=node, values={"retention.days": 15}, reason="crash"
                )
                stage_change(uow, ConfigChange.node_changed(node))
                await uow.commit()
            # `one` dies here, before dropping or announcing anything.
            assert await two.cache.get(node.cache_key) is not None
            assert await two.outbox.drain() >= 1  # the surviving process's relay (its loop, in production)
            await wait_gone(two.cache, node.cache_key, within_s=1.0)
            async with two.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
                config = await service.effective_config(uow=uow, config_cache=two.config, node=node)
            assert config.values["retention.days"].value == 15
    finally:
        await one.close()
        await two.close()


async def test_the_listener_drops_again_after_in_flight_reads_wrote_the_old_value_back(container, settings):
    other = build_container(settings)
    try:
        node = NodeRef.site(uuid.uuid4(), uuid.uuid4())
        async with listening(other, settle_s=0.3):
            await other.cache.set(node.cache_key, b'{"stale": true}')
            await announce(bus=container.bus, config_cache=container.config, change=ConfigChange.node_changed(node))
            await wait_gone(other.cache, node.cache_key, within_s=1.0)
            await other.cache.set(node.cache_key, b'{"stale": true}')  # a read that began before the commit
            await wait_gone(other.cache, node.cache_key, within_s=1.0)
    finally:
        await other.close()


async def test_the_listener_skips_unreadable_messages_and_keeps_going(container, settings):
    other = build_container(settings)
    try:
        node = NodeRef.site(uuid.uuid4(), uuid.uuid4())
        await other.cache.set(node.cache_key, b"{}")
        async with listening(other):
            await other.bus.ensure_topics({CONFIG_CHANGES: 1})
            await container.bus.publish(CONFIG_CHANGES, key="x", value=b"not json")
            await announce(bus=container.bus, config_cache=container.config, change=ConfigChange.node_changed(node))
            await wait_gone(other.cache, node.cache_key, within_s=1.0)
    finally:
        await other.close()


async def test_a_new_process_does_not_replay_old_changes(container, settings):
    other = build_container(settings)
    try:
        node = NodeRef.site(uuid.uuid4(), uuid.uuid4())
        old = ConfigChange.node_changed(node).model_copy(update={"at": time.time() - 3600})
        await container.bus.ensure_topics({CONFIG_CHANGES: 1})
        await container.bus.publish(CONFIG_CHANGES, key="x", value=old.model_dump_json().encode())
        await other.cache.set(node.cache_key, b"{}")
        marker = NodeRef.site(uuid.uuid4(), uuid.uuid4())
        await other.cache.set(marker.cache_key, b"{}")
        async with listening(other):
            await announce(bus=container.bus, config_cache=container.config, change=ConfigChange.node_changed(marker))
            await wait_gone(other.cache, marker.cache_key, within_s=1.0)  # the listener is past the old message
        assert await other.cache.get(node.cache_key) is not None
    finally:
        await other.close()


async def test_a_bulk_change_reaches_another_process_as_exact_keys_in_bounded_messages(container, settings):
    other = build_container(settings)
    try:
        tenant = uuid.uuid4()
        nodes = [NodeRef.camera(tenant, uuid.uuid4()) for _ in range(3_000)]
        change = ConfigChange.nodes_changed(nodes)
        assert change.prefixes == [] and len(change.keys) == 3_000
        assert [len(m.keys) for m in change.messages()] == [2_000, 1_000]
        for node in nodes:
            await other.cache.set(node.cache_key, b"{}")
        async with listening(other):
            await announce(bus=container.bus, config_cache=container.config, change=change)
            await wait_gone(other.cache, nodes[-1].cache_key, within_s=1.0)
        assert all([await other.cache.get(node.cache_key) is None for node in nodes])
    finally:
        await other.close()


async def test_a_transient_bus_error_is_retried(container, settings):
    """Two processes opening a fresh embedded log at once can see 'database is locked' once."""
    other = build_container(settings)
    real_publish, failures = container.bus.publish, [RuntimeError("database is locked")]

    async def flaky_publish(*args, **kwargs):
        if failures:
            raise failures.pop()
        await real_publish(*args, **kwargs)

    container.bus.publish = flaky_publish  # type: ignore[method-assign]
    try:
        node = NodeRef.site(uuid.uuid4(), uuid.uuid4())
        await other.cache.set(node.cache_key, b"{}")
        async with listening(other):
            await announce(bus=container.bus, config_cache=container.config, change=ConfigChange.node_changed(node))
            await wait_gone(other.cache, node.cache_key, within_s=1.0)
        assert failures == []
    finally:
        await other.close()


async def test_a_bus_that_is_down_costs_freshness_not_the_change(client, container, world):
    await container.bus.close()  # every publish now fails
    result = await patch(client, world.admin, "/customer", {"retention.days": 21})
    assert result["saved"] is True
    assert value_of(await effective(client, world.supervisor, "/customer"), "retention.days") == (21, "customer")


# --- background refresh ------------------------------------------------------------------------


async def test_critical_keys_in_use_are_refreshed_before_they_expire(container):
    clock = Clock()
    config_cache = ConfigCache(MemoryCache(clock=clock), ttl_s=300, clock=clock)
    tenant = (await factories.customer(container)).id
    camera, site = uuid.uuid4(), uuid.uuid4()
    scope, actor = TenantScope.of(tenant), Actor.system("test")
    async with container.unit_of_work(scope, actor) as uow:
        # A critical read (the job maker's) and a read of non-critical keys only (a report's).
        await service.camera_config(
            uow=uow,
            config_cache=config_cache,
            tenant_id=tenant,
            camera_id=camera,
            site_id=site,
            keys=["models.fire_smoke.priority"],
        )
        other = uuid.uuid4()
        await service.camera_config(
            uow=uow, config_cache=config_cache, tenant_id=tenant, camera_id=other, keys=["retention.days"]
        )
    critical_key, idle_key = f"config:camera:{camera}:overrides", f"config:camera:{other}:overrides"
    assert config_cache.tracked == 4  # system, customer, site, camera of the critical read
    clock.now += 200
    assert config_cache.due() == []  # not yet within the last 20 % of the TTL
    clock.now += 50
    async with container.unit_of_work(TenantScope.platform(), actor) as uow:
        assert await service.refresh_due(uow=uow, config_cache=config_cache) == 4
    clock.now += 100  # 350 s after the first load: past the TTL
    assert await config_cache.cache.get(critical_key) is not None
    assert await config_cache.cache.get(idle_key) is None
    clock.now += 400  # nobody has read them for a whole TTL: no longer kept warm
    assert config_cache.due() == [] and config_cache.tracked == 0


async def test_the_refresher_picks_up_a_value_changed_behind_the_cache(client, container, world):
    clock = Clock()
    config_cache = ConfigCache(MemoryCache(clock=clock), ttl_s=300, clock=clock)
    await patch(client, world.admin, world.camera_path, {"video.normalize.fps": 10})
    async with container.unit_of_work(TenantScope.of(world.a), Actor.system("test")) as uow:
        config = await service.camera_config(
            uow=uow, config_cache=config_cache, tenant_id=world.a, camera_id=world.camera
        )
    assert config["video.normalize.fps"].value == 10
    await set_row_behind_the_cache(container, world.camera, {"video.normalize.fps": 12})
    clock.now += 250
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        await service.refresh_due(uow=uow, config_cache=config_cache)
        config = await service.camera_config(
            uow=uow, config_cache=config_cache, tenant_id=world.a, camera_id=world.camera
        )
    assert config["video.normalize.fps"].value == 12


# --- manual refresh ----------------------------------------------------------------------------


async def test_manual_refresh_drops_the_callers_customer_keys_only(client, container, world):
    await patch(client, world.admin, world.camera_path, {"retention.days": 7})
    await patch(client, world.b_admin, "/customer", {"retention.days": 9})
    await effective(client, world.supervisor, world.camera_path, world.camera_params)
    await effective(client, world.b_admin, "/customer")
    b_key = f"config:customer:{world.b}:overrides"
    r = await client.post(f"{CONFIG}/refresh", headers=world.supervisor.headers)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "customer" and r.json()["keys_dropped"] >= 2
    assert await container.cache.get(f"config:customer:{world.a}:overrides") is None
    assert await container.cache.get(f"config:camera:{world.camera}:overrides") is None
    assert await container.cache.get(b_key) is not None
    assert await container.cache.get("config:system:overrides") is not None


async def test_manual_refresh_by_provider_staff_drops_every_config_key(client, container, world):
    await effective(client, world.supervisor, world.camera_path, world.camera_params)
    await effective(client, world.b_admin, "/customer")
    r = await client.post(f"{CONFIG}/refresh", headers=world.provider.headers)
    assert r.status_code == 200 and r.json()["scope"] == "all"
    for key in [*layer_keys(world), f"config:customer:{world.b}:overrides"]:
        assert await container.cache.get(key) is None


async def test_manual_refresh_heals_a_change_whose_invalidation_was_lost(client, container, world):
    await patch(client, world.admin, world.camera_path, {"retention.days": 7})
    await effective(client, world.supervisor, world.camera_path)
    await set_row_behind_the_cache(container, world.camera, {"retention.days": 5})
    assert value_of(await effective(client, world.supervisor, world.camera_path), "retention.days") == (7, "camera")
    assert (await client.post(f"{CONFIG}/refresh", headers=world.supervisor.headers)).status_code == 200
    assert value_of(await effective(client, world.supervisor, world.camera_path), "retention.days") == (5, "camera")


# --- cache down --------------------------------------------------------------------------------


@pytest.fixture
def dead_cache(container: Container) -> ConfigCache:
    """The config cache on a Redis that refuses every connection."""
    container.config = ConfigCache(RedisCache.from_url(DEAD_REDIS), ttl_s=300)
    return container.config


async def test_with_the_cache_down_reads_and_changes_still_work_and_a_warning_is_logged(
    client, container, world, dead_cache
):
    with structlog.testing.capture_logs() as logs:
        await patch(client, world.admin, "/customer", {"retention.days": 45})
        await patch(client, world.admin, world.camera_path, {"retention.days": 7}, params=world.camera_params)
        config = await effective(client, world.supervisor, world.camera_path, world.camera_params)
        customer = await effective(client, world.supervisor, "/customer")
    assert value_of(config, "retention.days") == (7, "camera")
    assert value_of(customer, "retention.days") == (45, "customer")
    warnings = [e for e in logs if e["log_level"] == "warning" and "config cache unavailable" in e["event"]]
    assert warnings and "Cache unavailable" in warnings[0]["error"]


async def test_an_invalidation_owed_while_the_cache_was_down_is_delivered_before_it_is_trusted(container):
    switchable = SwitchableCache()
    config_cache = ConfigCache(switchable, ttl_s=300, breaker_reset_s=0)
    tenant = (await factories.customer(container)).id
    node = NodeRef.customer(tenant)

    async def read() -> object:
        async with container.unit_of_work(TenantScope.of(tenant), Actor.system("test")) as uow:
            config = await service.effective_config(uow=uow, config_cache=config_cache, node=node)
        return config.values["retention.days"].value

    assert await read() == 30  # cached: empty customer layer
    switchable.down = True
    async with container.unit_of_work(TenantScope.of(tenant), Actor.system("test")) as uow:
        await service.change_overrides(
            uow=uow, config_cache=config_cache, node=node, values={"retention.days": 3}, reason="while down"
        )
        await uow.commit()
    await config_cache.invalidate(prefixes=[node.cache_prefix])  # cannot be delivered: owed
    assert await read() == 3  # down: the database answers
    switchable.down = False
    assert await switchable.get(node.cache_key) is not None  # the stale entry survived the outage
    assert await read() == 3  # the owed drop goes first, so the stale entry is never served
    assert json.loads(await switchable.get(node.cache_key))["overrides"] == {"retention.days": 3}


async def test_the_api_process_listens_for_changes_while_it_serves(app, container, settings):
    """The config router's lifespan runs the listener and the refresher in the api role."""
    other = build_container(settings)
    try:
        node = NodeRef.site(uuid.uuid4(), uuid.uuid4())
        await container.cache.set(node.cache_key, b"{}")
        async with app.router.lifespan_context(app):
            await announce(bus=other.bus, config_cache=other.config, change=ConfigChange.node_changed(node))
            await wait_gone(container.cache, node.cache_key, within_s=1.0)
        await container.cache.set(node.cache_key, b"{}")
        await announce(bus=other.bus, config_cache=other.config, change=ConfigChange.node_changed(node))
        await asyncio.sleep(0.3)
        assert await container.cache.get(node.cache_key) is not None  # stopped with the app
    finally:
        await other.close()


@pytest.mark.engines
async def test_on_redis_entries_carry_the_ttl_and_a_change_is_seen_by_every_process(tmp_path, sqlite_url):
    """Two processes sharing Redis (and the bus file): one's change is dropped from the shared cache."""
    settings = make_settings(
        tmp_path, sqlite_url, cache={"kind": "redis", "redis_url": engine_url("VMS_TEST_REDIS_URL")}
    )
    one, two = build_container(settings), build_container(settings)
    try:
        customer = await factories.customer(one)
        node = NodeRef.customer(customer.id)
        scope, actor = TenantScope.of(customer.id), Actor.system("test")
        async with two.unit_of_work(scope, actor) as uow:
            await service.effective_config(uow=uow, config_cache=two.config, node=node)
        assert isinstance(one.cache, RedisCache)
        assert 299_000 <= await one.cache.client.pttl(node.cache_key) <= 300_000
        async with one.unit_of_work(scope, actor) as uow:
            await service.change_overrides(
                uow=uow, config_cache=one.config, node=node, values={"retention.days": 17}, reason="redis"
            )
            await uow.commit()
        await announce(bus=one.bus, config_cache=one.config, change=ConfigChange.node_changed(node))
        assert await two.cache.get(node.cache_key) is None
        async with two.unit_of_work(scope, actor) as uow:
            config = await service.effective_config(uow=uow, config_cache=two.config, node=node)
        assert config.values["retention.days"].value == 17
    finally:
        await one.close()
        await two.close()
