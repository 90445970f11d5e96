"""Customers and licenses, and the license checks other domains call before they act."""

from __future__ import annotations

import ipaddress
import math
import uuid
from datetime import datetime

from sqlalchemy import or_, select

from vms.kernel.ai_models import AiModel
from vms.kernel.clock import as_utc, utcnow
from vms.kernel.errors import (
    Conflict,
    Forbidden,
    LicenseExpired,
    LicenseLimitReached,
    ModelNotLicensed,
    NotFound,
    ValidationFailed,
)
from vms.kernel.paging import LIKE_ESCAPE, contains_pattern
from vms.tenants.models import License, Tenant
from vms.tenants.schemas import (
    CustomerCreate,
    CustomerRead,
    CustomerUpdate,
    LicenseRead,
    LicenseState,
    LicenseWrite,
)
from vms.uow import UnitOfWork

EXPIRY_WARNINGS_DAYS = (1, 7, 30)


async def create_customer(*, uow: UnitOfWork, data: CustomerCreate) -> CustomerRead:
    """Create a customer with its first license."""
    await _ensure_name_free(uow, data.name)
    tenant = Tenant(name=data.name, contact_email=data.contact_email, ip_allowlist=list(data.ip_allowlist))
    uow.add(tenant)
    await uow.flush()
    license_ = License(tenant_id=tenant.id, **_license_columns(data.license))
    uow.add(license_)
    await uow.flush()
    read = _read(tenant, license_)
    uow.audit("create", "customer", tenant.id, new=read, tenant_id=tenant.id)
    return read


async def list_customers(
    *, uow: UnitOfWork, query: str | None, status: str | None, limit: int, offset: int
) -> tuple[list[CustomerRead], int]:
    """Customers (not deleted), filtered by name/email text and status, by name."""
    stmt = select(Tenant).where(Tenant.deleted_at.is_(None)).order_by(Tenant.name)
    if query:
        like = contains_pattern(query)
        stmt = stmt.where(
            or_(Tenant.name.ilike(like, escape=LIKE_ESCAPE), Tenant.contact_email.ilike(like, escape=LIKE_ESCAPE))
        )
    if status:
        stmt = stmt.where(Tenant.status == status)
    tenants, total = await uow.page(stmt, limit=limit, offset=offset)
    licenses = {
        lic.tenant_id: lic
        for lic in (
            await uow.session.execute(select(License).where(License.tenant_id.in_([t.id for t in tenants])))
        ).scalars()
    }
    return [_read(t, licenses.get(t.id)) for t in tenants], total


async def get_customer(*, uow: UnitOfWork, tenant_id: uuid.UUID) -> CustomerRead:
    """One customer with its license."""
    tenant = await _tenant(uow, tenant_id)
    return _read(tenant, await _license_or_none(uow, tenant_id))


async def update_customer(*, uow: UnitOfWork, tenant_id: uuid.UUID, data: CustomerUpdate) -> CustomerRead:
    """Change a customer's name, contact, status or IP allowlist."""
    tenant = await _tenant(uow, tenant_id)
    license_ = await _license_or_none(uow, tenant_id)
    before = _read(tenant, license_)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name") and changes["name"] != tenant.name:
        await _ensure_name_free(uow, changes["name"])
    for key, value in changes.items():
        if value is not None:
            setattr(tenant, key, value)
    after = _read(tenant, license_)
    uow.audit("update", "customer", tenant.id, old=before, new=after, tenant_id=tenant.id)
    return after


async def delete_customer(*, uow: UnitOfWork, tenant_id: uuid.UUID) -> None:
    """Close a customer's account. Its data stays (evidence, retention), its users can no longer sign in."""
    tenant = await _tenant(uow, tenant_id)
    before = _read(tenant, None)
    tenant.status = "deleted"
    tenant.deleted_at = utcnow()
    uow.audit("delete", "customer", tenant.id, old=before, tenant_id=tenant.id)


async def set_ip_allowlist(
    *, uow: UnitOfWork, tenant_id: uuid.UUID, cidrs: list[str], caller_ip: str | None
) -> CustomerRead:
    """Replace a customer's IP allowlist, refusing one that would lock the caller out."""
    if cidrs and caller_ip and not ip_allowed(caller_ip, cidrs):
        raise ValidationFailed(
            f"This allowlist does not include your own address {caller_ip}; you would lock yourself out."
        )
    return await update_customer(uow=uow, tenant_id=tenant_id, data=CustomerUpdate(ip_allowlist=cidrs))


async def set_license(*, uow: UnitOfWork, tenant_id: uuid.UUID, data: LicenseWrite) -> LicenseRead:
    """Replace a customer's license terms."""
    await _tenant(uow, tenant_id)
    license_ = await _license_or_none(uow, tenant_id)
    before = license_status(license_) if license_ else None
    if license_ is None:
        license_ = License(tenant_id=tenant_id, **_license_columns(data))
        uow.add(license_)
    else:
        for key, value in _license_columns(data).items():
            setattr(license_, key, value)
        license_.updated_at = utcnow()
    after = license_status(license_)
    uow.audit("update", "license", tenant_id, old=before, new=after, tenant_id=tenant_id)
    return after


async def get_license(*, uow: UnitOfWork, tenant_id: uuid.UUID) -> LicenseRead:
    """A customer's license with its state and expiry warning."""
    license_ = await _license_or_none(uow, tenant_id)
    if license_ is None:
        raise NotFound("This customer has no license yet.")
    return license_status(license_)


def license_status(license_: License, *, now: datetime | None = None) -> LicenseRead:
    """Compute a license's state, days left and expiry warning (30/7/1 days)."""
    now = now or utcnow()
    valid_from, valid_until = as_utc(license_.valid_from), as_utc(license_.valid_until)
    days_left = math.floor((valid_until - now).total_seconds() / 86_400)
    warning: str | None = None
    if now >= valid_until:
        state, warning = LicenseState.EXPIRED, f"The license expired on {valid_until:%Y-%m-%d}."
    elif now < valid_from:
        state = LicenseState.NOT_YET_VALID
    else:
        threshold = next((d for d in EXPIRY_WARNINGS_DAYS if days_left < d), None)
        state = LicenseState.EXPIRING if threshold else LicenseState.ACTIVE
        if threshold:
            warning = (
                f"The license expires within {threshold} day{'s' if threshold > 1 else ''} ({valid_until:%Y-%m-%d})."
            )
    return LicenseRead(
        camera_limit=license_.camera_limit,
        edge_server_limit=license_.edge_server_limit,
        valid_from=valid_from,
        valid_until=valid_until,
        models=[AiModel(m) for m in license_.models],
        state=state,
        days_left=days_left,
        warning=warning,
    )


async def ensure_license_active(*, uow: UnitOfWork, tenant_id: uuid.UUID) -> LicenseRead:
    """Raise LicenseExpired unless the customer's license is valid today."""
    license_ = await _license_or_none(uow, tenant_id)
    if license_ is None:
        raise LicenseExpired("This customer has no license; ask your provider to issue one.")
    status = license_status(license_)
    if status.state is LicenseState.EXPIRED:
        raise LicenseExpired(f"{status.warning} Ask your provider to renew it.")
    if status.state is LicenseState.NOT_YET_VALID:
        raise LicenseExpired(f"The license starts on {status.valid_from:%Y-%m-%d}.")
    return status


async def ensure_can_add_cameras(*, uow: UnitOfWork, tenant_id: uuid.UUID, current: int, adding: int = 1) -> None:
    """Raise unless the license is active and has room for `adding` more cameras beyond `current`."""
    status = await ensure_license_active(uow=uow, tenant_id=tenant_id)
    if current + adding > status.camera_limit:
        room = max(0, status.camera_limit - current)
        raise LicenseLimitReached(
            f"The license allows {status.camera_limit} cameras; {current} exist, so {room} more can be added."
        )


async def ensure_can_add_edge_servers(*, uow: UnitOfWork, tenant_id: uuid.UUID, current: int, adding: int = 1) -> None:
    """Raise unless the license has room for `adding` more edge servers."""
    status = await ensure_license_active(uow=uow, tenant_id=tenant_id)
    if current + adding > status.edge_server_limit:
        raise LicenseLimitReached(
            f"The license allows {status.edge_server_limit} edge servers; {current} are registered."
        )


async def ensure_model_licensed(*, uow: UnitOfWork, tenant_id: uuid.UUID, model: AiModel) -> None:
    """Raise ModelNotLicensed unless the customer purchased `model` and the license is active."""
    status = await ensure_license_active(uow=uow, tenant_id=tenant_id)
    if model not in status.models:
        raise ModelNotLicensed(f"The AI model '{model.value}' is not part of this customer's license.")


async def ensure_tenant_active(*, uow: UnitOfWork, tenant_id: uuid.UUID) -> Tenant:
    """The customer, if its account is open; Forbidden if suspended or closed."""
    tenant = await uow.session.get(Tenant, tenant_id)
    if tenant is None or tenant.status != "active":
        raise Forbidden("This customer account is suspended or closed; contact your provider.")
    return tenant


def access_cache_key(tenant_id: uuid.UUID) -> str:
    """Cache key of a customer's access rules (status and IP allowlist) read on every request."""
    return f"tenant-access:{tenant_id}"


async def tenant_access(*, uow: UnitOfWork, tenant_id: uuid.UUID) -> dict[str, object]:
    """A customer's status and IP allowlist, as cached for per-request checks."""
    tenant = await uow.session.get(Tenant, tenant_id)
    if tenant is None:
        return {"status": "deleted", "ip_allowlist": []}
    return {"status": tenant.status, "ip_allowlist": list(tenant.ip_allowlist)}


def ip_allowed(ip: str, cidrs: list[str]) -> bool:
    """Whether `ip` is inside one of `cidrs` (an empty list allows everything)."""
    if not cidrs:
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


async def _tenant(uow: UnitOfWork, tenant_id: uuid.UUID) -> Tenant:
    tenant = await uow.session.get(Tenant, tenant_id)
    if tenant is None or tenant.deleted_at is not None:
        raise NotFound(f"Customer {tenant_id} not found.")
    return tenant


async def _license_or_none(uow: UnitOfWork, tenant_id: uuid.UUID) -> License | None:
    return (await uow.session.execute(select(License).where(License.tenant_id == tenant_id))).scalar_one_or_none()


async def _ensure_name_free(uow: UnitOfWork, name: str) -> None:
    taken = (await uow.session.execute(select(Tenant.id).where(Tenant.name == name))).first()
    if taken:
        raise Conflict(f"A customer named {name!r} already exists.")


def _license_columns(data: LicenseWrite) -> dict[str, object]:
    return {
        "camera_limit": data.camera_limit,
        "edge_server_limit": data.edge_server_limit,
        "valid_from": data.valid_from,
        "valid_until": data.valid_until,
        "models": [m.value for m in data.models],
    }


def _read(tenant: Tenant, license_: License | None) -> CustomerRead:
    return CustomerRead(
        id=tenant.id,
        name=tenant.name,
        contact_email=tenant.contact_email,
        status=tenant.status,
        ip_allowlist=list(tenant.ip_allowlist),
        created_at=as_utc(tenant.created_at),
        license=license_status(license_) if license_ else None,
    )
