"""License state (active, expiring with 30/7/1-day warnings, expired, not yet valid) and the
checks other domains call before adding cameras, edge servers or using an AI model."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests import factories
from vms.kernel.ai_models import AiModel
from vms.kernel.errors import LicenseExpired, LicenseLimitReached, ModelNotLicensed
from vms.kernel.tenancy import TenantScope
from vms.tenants import service as tenants
from vms.tenants.models import License
from vms.tenants.schemas import LicenseState, LicenseWrite
from vms.uow import Actor

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def _license(
    *, valid_from: datetime = NOW - timedelta(days=100), valid_until: datetime, models: list[str] | None = None
) -> License:
    return License(
        tenant_id=uuid.uuid4(),
        camera_limit=25,
        edge_server_limit=2,
        valid_from=valid_from,
        valid_until=valid_until,
        models=models if models is not None else ["intrusion", "anpr"],
    )


# --- license_status -------------------------------------------------------------------------------


def test_license_far_from_expiry_is_active_without_warning():
    status = tenants.license_status(_license(valid_until=NOW + timedelta(days=100)), now=NOW)
    assert status.state is LicenseState.ACTIVE
    assert status.warning is None
    assert status.days_left == 100
    assert (status.camera_limit, status.edge_server_limit) == (25, 2)
    assert status.models == [AiModel.INTRUSION, AiModel.ANPR]


@pytest.mark.parametrize(
    ("left", "days_left", "threshold"),
    [
        (timedelta(days=29, hours=23), 29, "30 days"),
        (timedelta(days=20), 20, "30 days"),
        (timedelta(days=7), 7, "30 days"),
        (timedelta(days=6, hours=23), 6, "7 days"),
        (timedelta(days=1), 1, "7 days"),
        (timedelta(hours=23), 0, "1 day "),
        (timedelta(minutes=1), 0, "1 day "),
    ],
)
def test_license_close_to_expiry_warns_at_30_7_and_1_days(left, days_left, threshold):
    valid_until = NOW + left
    status = tenants.license_status(_license(valid_until=valid_until), now=NOW)
    assert status.state is LicenseState.EXPIRING
    assert status.days_left == days_left
    assert status.warning is not None
    assert f"within {threshold}" in status.warning
    assert valid_until.strftime("%Y-%m-%d") in status.warning


def test_license_with_exactly_30_days_left_is_still_active():
    status = tenants.license_status(_license(valid_until=NOW + timedelta(days=30)), now=NOW)
    assert status.state is LicenseState.ACTIVE
    assert status.warning is None


@pytest.mark.parametrize("ago", [timedelta(0), timedelta(seconds=1), timedelta(days=400)])
def test_license_past_its_end_is_expired(ago):
    valid_until = NOW - ago
    status = tenants.license_status(_license(valid_from=NOW - timedelta(days=800), valid_until=valid_until), now=NOW)
    assert status.state is LicenseState.EXPIRED
    assert status.warning == f"The license expired on {valid_until:%Y-%m-%d}."
    assert status.days_left <= 0


def test_license_before_its_start_is_not_yet_valid():
    license_ = _license(valid_from=NOW + timedelta(days=3), valid_until=NOW + timedelta(days=20))
    status = tenants.license_status(license_, now=NOW)
    assert status.state is LicenseState.NOT_YET_VALID
    assert status.warning is None
    assert status.valid_from == NOW + timedelta(days=3)


def test_license_from_a_database_without_time_zones_is_read_as_utc():
    # SQLite hands back naive datetimes; they are UTC.
    license_ = _license(
        valid_from=(NOW - timedelta(days=1)).replace(tzinfo=None),
        valid_until=(NOW + timedelta(days=100)).replace(tzinfo=None),
    )
    status = tenants.license_status(license_, now=NOW)
    assert status.state is LicenseState.ACTIVE
    assert status.valid_until == NOW + timedelta(days=100)
    assert status.valid_until.tzinfo is not None


# --- enforcement through a unit of work -----------------------------------------------------------


async def _set_edge_servers(container, tenant_id: uuid.UUID, limit: int) -> None:
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        current = await tenants.get_license(uow=uow, tenant_id=tenant_id)
        await tenants.set_license(
            uow=uow,
            tenant_id=tenant_id,
            data=LicenseWrite(
                camera_limit=current.camera_limit,
                edge_server_limit=limit,
                valid_from=current.valid_from,
                valid_until=current.valid_until,
                models=current.models,
            ),
        )
        await uow.commit()


async def test_cameras_within_the_limit_are_allowed(container):
    customer = await factories.customer(container, camera_limit=3)
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
        await tenants.ensure_can_add_cameras(uow=uow, tenant_id=customer.id, current=0, adding=3)
        await tenants.ensure_can_add_cameras(uow=uow, tenant_id=customer.id, current=2)


async def test_camera_beyond_the_limit_is_refused_naming_the_limit(container):
    customer = await factories.customer(container, camera_limit=3)
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
        with pytest.raises(LicenseLimitReached, match="allows 3 cameras; 3 exist, so 0 more") as at_limit:
            await tenants.ensure_can_add_cameras(uow=uow, tenant_id=customer.id, current=3)
        with pytest.raises(LicenseLimitReached, match="allows 3 cameras; 2 exist, so 1 more"):
            await tenants.ensure_can_add_cameras(uow=uow, tenant_id=customer.id, current=2, adding=2)
    assert at_limit.value.status == 409


async def test_cameras_cannot_be_added_under_an_expired_license(container):
    customer = await factories.customer(container, valid_from_days=-40, valid_days=10)
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
        with pytest.raises(LicenseExpired, match="expired") as caught:
            await tenants.ensure_can_add_cameras(uow=uow, tenant_id=customer.id, current=0)
    assert caught.value.status == 403


async def test_cameras_cannot_be_added_before_the_license_starts(container):
    customer = await factories.customer(container, valid_from_days=5)
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
        with pytest.raises(LicenseExpired, match="starts on"):
            await tenants.ensure_can_add_cameras(uow=uow, tenant_id=customer.id, current=0)


async def test_licensed_model_is_allowed_and_unlicensed_model_refused(container):
    customer = await factories.customer(container, models=[AiModel.INTRUSION, AiModel.FIRE_SMOKE])
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
        await tenants.ensure_model_licensed(uow=uow, tenant_id=customer.id, model=AiModel.FIRE_SMOKE)
        with pytest.raises(ModelNotLicensed, match="anpr"):
            await tenants.ensure_model_licensed(uow=uow, tenant_id=customer.id, model=AiModel.ANPR)


async def test_licensed_model_is_refused_once_the_license_expired(container):
    customer = await factories.customer(container, models=[AiModel.INTRUSION], valid_from_days=-40, valid_days=10)
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
        with pytest.raises(LicenseExpired):
            await tenants.ensure_model_licensed(uow=uow, tenant_id=customer.id, model=AiModel.INTRUSION)


async def test_edge_servers_are_limited_by_the_license(container):
    customer = await factories.customer(container)
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
        with pytest.raises(LicenseLimitReached, match="allows 0 edge servers"):
            await tenants.ensure_can_add_edge_servers(uow=uow, tenant_id=customer.id, current=0)

    await _set_edge_servers(container, customer.id, 2)
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
        await tenants.ensure_can_add_edge_servers(uow=uow, tenant_id=customer.id, current=1)
        with pytest.raises(LicenseLimitReached, match="allows 2 edge servers; 2 are registered"):
            await tenants.ensure_can_add_edge_servers(uow=uow, tenant_id=customer.id, current=2)


async def test_edge_servers_cannot_be_added_under_an_expired_license(container):
    customer = await factories.customer(container, valid_from_days=-40, valid_days=10)
    async with container.unit_of_work(TenantScope.of(customer.id), Actor.system("test")) as uow:
        with pytest.raises(LicenseExpired):
            await tenants.ensure_can_add_edge_servers(uow=uow, tenant_id=customer.id, current=0)


async def test_a_tenant_cannot_borrow_another_tenants_license(container):
    # The license row is tenant-owned: checking A's license from B's scope finds none.
    rich = await factories.customer(container, camera_limit=1000)
    other = await factories.customer(container, camera_limit=1)
    async with container.unit_of_work(TenantScope.of(other.id), Actor.system("test")) as uow:
        with pytest.raises(LicenseExpired, match="no license"):
            await tenants.ensure_can_add_cameras(uow=uow, tenant_id=rich.id, current=0)
