"""Prometheus metrics: requests counted under their route template, GET /metrics access, worker SLA figures."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from tests import factories
from tests.conftest import make_settings
from tests.unit.analytics.test_worker import BrightSpot, jobs, run_until
from vms.adapters.cache.memory import MemoryCache
from vms.analytics.jobs import publish_jobs
from vms.analytics.worker import Worker
from vms.api.app import create_app
from vms.auth.permissions import Role
from vms.bootstrap import build_container
from vms.kernel.ai_models import AiModel
from vms.kernel.priority import Priority
from vms.settings import Settings
from vms.stats.metrics import Metrics

PROBLEM = "application/problem+json"
SCRAPE_TOKEN = "scrape-" + "s3cr3t" * 5


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples called `name` in a Prometheus text exposition, by their sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def count(metrics: Metrics, name: str, **labels: str) -> float:
    """One sample's value, 0 when the series does not exist yet."""
    return metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def scraped(tmp_path: Path, sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose settings carry a scrape token."""
    container = build_container(make_settings(tmp_path, sqlite_url, metrics={"token": SCRAPE_TOKEN}))
    transport = httpx.ASGITransport(app=create_app(container), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
    await container.close()


async def test_requests_are_counted_under_their_route_template_never_the_raw_path(client, container):
    home = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=home.id, role=Role.ADMIN)
    missing = uuid.uuid4()
    assert (await client.get(f"/api/v1/cameras/{missing}", headers=admin.headers)).status_code == 404
    assert (await client.get(f"/api/v1/cameras/{uuid.uuid4()}", headers=admin.headers)).status_code == 404
    assert (await client.get("/api/v1/cameras", headers=admin.headers)).status_code == 200
    assert (await client.get(f"/api/v1/no-such-thing/{missing}")).status_code == 404

    metrics = container.metrics
    template = "/api/v1/cameras/{camera_id}"
    assert count(metrics, "vms_http_requests_total", method="GET", route=template, status="404") == 2
    assert count(metrics, "vms_http_requests_total", method="GET", route="/api/v1/cameras", status="200") == 1
    assert count(metrics, "vms_http_request_seconds_count", method="GET", route=template) == 2
    assert count(metrics, "vms_http_request_seconds_sum", method="GET", route=template) > 0
    assert count(metrics, "vms_http_requests_total", method="GET", route="/{path:path}", status="404") == 1
    exposition = (await metrics.render()).decode()
    assert str(missing) not in exposition  # ids never become label values


async def test_requests_refused_before_routing_are_unmatched(tmp_path, sqlite_url):
    container = build_container(make_settings(tmp_path, sqlite_url, api={"max_body_bytes": 1024}))
    transport = httpx.ASGITransport(app=create_app(container), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        r = await http.post("/api/v1/auth/login", content=b"x" * 4096, headers={"content-type": "application/json"})
    await container.close()
    assert r.status_code == 413
    assert count(container.metrics, "vms_http_requests_total", method="POST", route="unmatched", status="413") == 1


async def test_metrics_refuse_anonymous_callers_and_customer_users(client, container):
    r = await client.get("/metrics")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith(PROBLEM)
    home = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=home.id, role=Role.ADMIN)
    r = await client.get("/metrics", headers=admin.headers)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith(PROBLEM)
    r = await client.get("/metrics", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401  # without a configured scrape token, only access tokens count


async def test_platform_staff_scrape_the_text_format(client, container):
    provider = await factories.account(client, container, tenant_id=None, role=Role.PROVIDER_ADMIN)
    await client.get("/health")
    r = await client.get("/metrics", headers=provider.headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == Metrics.CONTENT_TYPE
    health = samples(r.text, "vms_http_requests_total")[(("method", "GET"), ("route", "/health"), ("status", "200"))]
    assert health == 1


async def test_a_scraper_uses_the_static_token(scraped):
    http = scraped
    assert (await http.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}x"})).status_code == 401
    r = await http.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
    assert r.status_code == 200
    refused = samples(r.text, "vms_http_requests_total")[(("method", "GET"), ("route", "/metrics"), ("status", "401"))]
    assert refused == 1  # the refused scrape before this one was counted too


def test_a_short_scrape_token_is_refused():
    with pytest.raises(ValidationError):
        Settings(metrics={"token": "short"})  # type: ignore[arg-type]
    assert Settings().metrics.token == ""


def test_apps_have_their_own_registries(tmp_path):
    one, two = Metrics(), Metrics()
    one.observe_request(method="GET", route="/health", status=200, seconds=0.01)
    assert count(one, "vms_http_requests_total", method="GET", route="/health", status="200") == 1
    assert count(two, "vms_http_requests_total", method="GET", route="/health", status="200") == 0


async def test_the_worker_records_job_latency_outcomes_detections_and_its_lag(plant):
    bus, blobs, refs = plant
    metrics = Metrics()
    order: list[tuple[AiModel, int]] = []
    worker = Worker(
        seen=MemoryCache(),
        bus=bus,
        blobs=blobs,
        models={AiModel.MOTION: BrightSpot(AiModel.MOTION, order)},
        metrics=metrics,
    )
    await publish_jobs(bus, jobs(refs[0], [AiModel.MOTION], priorities={AiModel.MOTION: Priority.HIGH}))
    lag = samples((await metrics.render()).decode(), "vms_bus_consumer_lag")
    assert lag[(("group", worker.group), ("topic", "video-jobs-high"))] == 1  # published, not yet consumed

    await run_until(worker, lambda: worker.completed == 1)
    assert count(metrics, "vms_job_latency_seconds_count", model="motion", priority="HIGH") == 1
    latency_s = count(metrics, "vms_job_latency_seconds_sum", model="motion", priority="HIGH")
    assert 0 < latency_s == pytest.approx(worker.stats[AiModel.MOTION].latencies_ms[0] / 1000)
    assert count(metrics, "vms_jobs_total", model="motion", outcome="ok") == 1
    assert count(metrics, "vms_detections_total", model="motion") == 1
    lag = samples((await metrics.render()).decode(), "vms_bus_consumer_lag")
    assert lag[(("group", worker.group), ("topic", "video-jobs-high"))] == 0


async def test_a_failed_job_is_counted_as_failed_without_latency(plant):
    bus, blobs, refs = plant
    metrics = Metrics()
    order: list[tuple[AiModel, int]] = []
    worker = Worker(
        seen=MemoryCache(),
        bus=bus,
        blobs=blobs,
        models={AiModel.MOTION: BrightSpot(AiModel.MOTION, order)},
        metrics=metrics,
    )
    gone = refs[0].model_copy(update={"blob_key": "nowhere/x.mp4"})
    await publish_jobs(bus, jobs(gone, [AiModel.MOTION]))
    await publish_jobs(bus, jobs(refs[1], [AiModel.MOTION]))
    await run_until(worker, lambda: worker.completed == 1)
    assert count(metrics, "vms_jobs_total", model="motion", outcome="failed") == 1
    assert count(metrics, "vms_jobs_total", model="motion", outcome="ok") == 1
    assert count(metrics, "vms_job_latency_seconds_count", model="motion", priority="STANDARD") == 1
