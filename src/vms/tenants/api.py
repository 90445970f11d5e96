"""Routes: customers and licenses (provider staff), the customer's own account (its users)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from vms.api.deps import AppContainer, CurrentClient, CurrentUser, Paging, UoW, require
from vms.auth.permissions import Permission
from vms.auth.principal import Principal
from vms.tenants import service
from vms.tenants.schemas import (
    CustomerCreate,
    CustomerPage,
    CustomerRead,
    CustomerSecurityUpdate,
    CustomerUpdate,
    LicenseRead,
    LicenseWrite,
)

router = APIRouter(prefix="/customers", tags=["customers"])
own = APIRouter(tags=["account"])
ProviderStaff = Annotated[Principal, Depends(require(Permission.CUSTOMER_MANAGE))]


@router.post("", status_code=201, response_model=CustomerRead)
async def create_customer(body: CustomerCreate, uow: UoW, _: ProviderStaff) -> CustomerRead:
    """Onboard a customer with its license."""
    return await service.create_customer(uow=uow, data=body)


@router.get("", response_model=CustomerPage)
async def list_customers(
    uow: UoW,
    _: ProviderStaff,
    page: Paging,
    q: Annotated[str | None, Query(max_length=200, description="Text in name or contact email.")] = None,
    status: Annotated[str | None, Query(pattern="^(active|suspended)$")] = None,
) -> CustomerPage:
    """Customers, by name."""
    items, total = await service.list_customers(uow=uow, query=q, status=status, limit=page.limit, offset=page.offset)
    return CustomerPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{customer_id}", response_model=CustomerRead)
async def get_customer(customer_id: uuid.UUID, uow: UoW, _: ProviderStaff) -> CustomerRead:
    """One customer with its license state."""
    return await service.get_customer(uow=uow, tenant_id=customer_id)


@router.patch("/{customer_id}", response_model=CustomerRead)
async def update_customer(
    customer_id: uuid.UUID, body: CustomerUpdate, uow: UoW, _: ProviderStaff, container: AppContainer
) -> CustomerRead:
    """Rename, suspend/reactivate, or set the IP allowlist of a customer."""
    read = await service.update_customer(uow=uow, tenant_id=customer_id, data=body)
    await container.cache.delete(service.access_cache_key(customer_id))
    return read


@router.delete("/{customer_id}", status_code=204)
async def delete_customer(customer_id: uuid.UUID, uow: UoW, _: ProviderStaff, container: AppContainer) -> Response:
    """Close a customer's account (data is kept; sign-ins stop)."""
    await service.delete_customer(uow=uow, tenant_id=customer_id)
    await container.cache.delete(service.access_cache_key(customer_id))
    return Response(status_code=204)


@router.get("/{customer_id}/license", response_model=LicenseRead)
async def get_customer_license(customer_id: uuid.UUID, uow: UoW, _: ProviderStaff) -> LicenseRead:
    """A customer's license with state and expiry warning."""
    await service.get_customer(uow=uow, tenant_id=customer_id)
    return await service.get_license(uow=uow, tenant_id=customer_id)


@router.put("/{customer_id}/license", response_model=LicenseRead)
async def set_customer_license(customer_id: uuid.UUID, body: LicenseWrite, uow: UoW, _: ProviderStaff) -> LicenseRead:
    """Replace a customer's license terms (limits, validity, AI models)."""
    return await service.set_license(uow=uow, tenant_id=customer_id, data=body)


@own.get("/license", response_model=LicenseRead)
async def get_own_license(uow: UoW, user: CurrentUser) -> LicenseRead:
    """The caller's customer license, with expiry warnings (30/7/1 days) for the console banner."""
    return await service.get_license(uow=uow, tenant_id=user.tenant)


@own.put("/account/ip-allowlist", response_model=CustomerRead)
async def set_own_ip_allowlist(
    body: CustomerSecurityUpdate,
    uow: UoW,
    user: Annotated[Principal, Depends(require(Permission.TENANT_SETTINGS))],
    client: CurrentClient,
    container: AppContainer,
) -> CustomerRead:
    """Limit API access to the customer's networks; refuses a list that excludes the caller."""
    read = await service.set_ip_allowlist(uow=uow, tenant_id=user.tenant, cidrs=body.ip_allowlist, caller_ip=client.ip)
    await container.cache.delete(service.access_cache_key(user.tenant))
    return read
