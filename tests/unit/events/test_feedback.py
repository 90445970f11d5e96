"""The false-positive feedback loop: operators' false-alarm marks become a rate per camera and model
and a proposed camera threshold, with what it would cost in genuine events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests import factories
from vms.auth.permissions import Role
from vms.events.models import Event
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor

NOW = datetime.now(UTC)


async def add_events(container, tenant_id, camera_id, marks: list[tuple[float, str]], *, model="intrusion") -> None:
    async with container.unit_of_work(TenantScope.of(tenant_id), Actor.system("test")) as uow:
        for i, (confidence, status) in enumerate(marks):
            at = NOW - timedelta(hours=1, minutes=i)
            uow.add(
                Event(
                    tenant_id=tenant_id,
                    camera_id=camera_id,
                    event_type=model,
                    confidence=confidence,
                    occurred_at=at,
                    priority="HIGH",
                    status=status,
                    object_class="person",
                    tracking_id=f"t{i}",
                    bounding_box=[0.1, 0.1, 0.2, 0.3],
                    updated_at=at,
                )
            )
        await uow.commit()


async def test_frequent_false_alarms_get_a_threshold_proposal_with_its_price(client, container):
    customer = await factories.customer(container)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    # Real cameras: the configuration service refuses overrides for cameras the customer does not have.
    noisy = (await factories.camera(container, tenant_id=customer.id)).id
    fine = (await factories.camera(container, tenant_id=customer.id)).id
    fp, ok = "FALSE_POSITIVE", "RESOLVED"
    noisy_marks = [(0.55, fp), (0.6, fp), (0.62, fp), (0.7, fp), (0.9, ok), (0.68, ok)]
    await add_events(container, customer.id, noisy, noisy_marks)
    await add_events(container, customer.id, fine, [(0.6, fp), (0.8, ok), (0.85, ok), (0.9, "NEW"), (0.7, ok)])
    await add_events(container, (await factories.customer(container)).id, noisy, [(0.9, fp)] * 5)  # another customer

    r = await client.get("/api/v1/events/feedback", headers=admin.headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["cameraId"] for i in items] == [str(noisy), str(fine)]  # worst rate first
    worst = items[0]
    assert (worst["events"], worst["falsePositives"]) == (6, 4)
    assert abs(worst["falsePositiveRate"] - 4 / 6) < 1e-3
    assert worst["currentThreshold"] == 0.5
    assert worst["proposedThreshold"] == 0.71  # just above the most confident false alarm (0.70)
    assert worst["genuineSuppressed"] == 1  # the genuine 0.68 would have been dropped too
    assert items[1]["proposedThreshold"] is None  # one false alarm in five: nothing to act on

    applied = await client.patch(
        f"/api/v1/config/camera/{noisy}",
        headers=admin.headers,
        json={"values": {"models.intrusion.confidence_threshold": worst["proposedThreshold"]}, "reason": "FP loop"},
    )
    assert applied.status_code == 200, applied.text
    again = (await client.get("/api/v1/events/feedback", headers=admin.headers)).json()["items"][0]
    assert again["currentThreshold"] == 0.71


async def test_the_window_is_checked(client, container):
    customer = await factories.customer(container)
    viewer = await factories.account(client, container, tenant_id=customer.id, role=Role.VIEWER)
    for params in (
        {"since": NOW.isoformat(), "until": (NOW - timedelta(days=1)).isoformat()},
        {"since": (NOW - timedelta(days=200)).isoformat()},
        {"min_rate": 2},
    ):
        r = await client.get("/api/v1/events/feedback", params=params, headers=viewer.headers)
        assert r.status_code == 422, params
    empty = await client.get("/api/v1/events/feedback", headers=viewer.headers)
    assert empty.status_code == 200 and empty.json()["items"] == []
