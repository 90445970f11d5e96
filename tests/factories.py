"""Test data made through the real services (never raw inserts), and signed-in API clients."""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pyotp

from vms.auth import users
from vms.auth.permissions import Role
from vms.auth.schemas import UserCreate, UserRead
from vms.bootstrap import Container
from vms.kernel.ai_models import AiModel
from vms.kernel.clock import utcnow
from vms.kernel.tenancy import TenantScope
from vms.tenants import service as tenants
from vms.tenants.schemas import CustomerCreate, CustomerRead, LicenseWrite
from vms.uow import Actor

PASSWORD = "Correct-Horse-Battery-9"
_seq = itertools.count(1)


async def customer(
    container: Container,
    *,
    name: str | None = None,
    camera_limit: int = 10,
    models: list[AiModel] | None = None,
    valid_from_days: int = -1,
    valid_days: int = 365,
    ip_allowlist: list[str] | None = None,
) -> CustomerRead:
    """A customer with a license valid from `valid_from_days` (relative to now) for `valid_days`."""
    start = utcnow() + timedelta(days=valid_from_days)
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        read = await tenants.create_customer(
            uow=uow,
            data=CustomerCreate(
                name=name or f"Customer {next(_seq)} {uuid.uuid4().hex[:6]}",
                ip_allowlist=ip_allowlist or [],
                license=LicenseWrite(
                    camera_limit=camera_limit,
                    valid_from=start,
                    valid_until=start + timedelta(days=valid_days),
                    models=models if models is not None else [AiModel.INTRUSION, AiModel.FIRE_SMOKE],
                ),
            ),
        )
        await uow.commit()
    return read


async def user(
    container: Container,
    *,
    tenant_id: uuid.UUID | None,
    role: Role = Role.VIEWER,
    email: str | None = None,
    password: str = PASSWORD,
) -> UserRead:
    """A user of a customer (or provider staff when tenant_id is None)."""
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        read = await users.create_user(
            uow=uow,
            kit=container.identity,
            tenant_id=tenant_id,
            data=UserCreate(
                email=email or f"user{next(_seq)}-{uuid.uuid4().hex[:6]}@example.com", role=role, password=password
            ),
        )
        await uow.commit()
    return read


@dataclass
class Authenticator:
    """A user's authenticator app: makes TOTP codes, never reusing a time step."""

    secret: str
    last_step: int = 0

    def code(self) -> str:
        """The code for the next unused time step (current, or the one after if current was used)."""
        totp = pyotp.TOTP(self.secret)
        step = max(int(time.time() // totp.interval), self.last_step + 1)
        self.last_step = step
        return totp.generate_otp(step)


@dataclass
class SignedIn:
    """A signed-in user: their tokens, authenticator and recovery codes."""

    user: UserRead
    password: str
    authenticator: Authenticator
    access_token: str
    refresh_token: str
    session_id: str
    recovery_codes: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        """Authorization header for API calls."""
        return {"Authorization": f"Bearer {self.access_token}"}


async def sign_in(
    client: httpx.AsyncClient,
    account: UserRead,
    *,
    password: str = PASSWORD,
    authenticator: Authenticator | None = None,
) -> SignedIn:
    """Sign in through the API: password, then TOTP (enrolling on first sign-in)."""
    r = await client.post("/api/v1/auth/login", json={"email": account.email, "password": password})
    assert r.status_code == 200, r.text
    challenge = r.json()
    if challenge["enrollment_required"]:
        authenticator = Authenticator(challenge["secret"])
    assert authenticator is not None, "an enrolled user needs their authenticator"
    r = await client.post("/api/v1/auth/mfa", json={"mfa_token": challenge["mfa_token"], "code": authenticator.code()})
    assert r.status_code == 200, r.text
    tokens: dict[str, Any] = r.json()
    return SignedIn(
        user=account,
        password=password,
        authenticator=authenticator,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        session_id=tokens["session_id"],
        recovery_codes=tokens.get("recovery_codes") or [],
    )


async def account(
    client: httpx.AsyncClient, container: Container, *, tenant_id: uuid.UUID | None, role: Role = Role.VIEWER
) -> SignedIn:
    """Create a user and sign them in."""
    return await sign_in(client, await user(container, tenant_id=tenant_id, role=role))


async def camera(
    container: Container,
    *,
    tenant_id: uuid.UUID,
    name: str | None = None,
    main_url: str = "rtsp://192.0.2.10:554/main",
    status: str = "unknown",
    **fields: Any,
) -> Any:
    """A camera of a customer, added through the camera service without probing (stream info stays empty).

    `fields` are further CameraCreate fields (zone_id, tags, sub_url, auth, enabled_models …); `status`
    is what the ingest role would have recorded. Returns the CameraRead.
    """
    from vms.cameras import service as cameras
    from vms.cameras.models import CameraStatus
    from vms.cameras.schemas import CameraCreate

    async with container.unit_of_work(TenantScope.of(tenant_id), Actor.system("test")) as uow:  # type: ignore[arg-type]
        read = await cameras.create_camera(
            uow=uow,
            tenant_id=tenant_id,
            secrets=container.identity.secrets,
            prober=container.prober,
            data=CameraCreate(name=name or f"Camera {next(_seq)}", main_url=main_url, probe=False, **fields),
        )
        if status != CameraStatus.UNKNOWN:
            await cameras.set_status(uow=uow, camera_id=read.id, status=CameraStatus(status))
            read = await cameras.get_camera(uow=uow, camera_id=read.id)
        await uow.commit()
    return read


async def camera_overrides(
    container: Container, *, tenant_id: uuid.UUID, camera_id: uuid.UUID, values: dict[str, Any], reason: str
) -> None:
    """Configuration overrides on one camera, set through the configuration service (audited, caches told)."""
    from vms.config import service as config
    from vms.config.nodes import NodeRef

    async with container.unit_of_work(TenantScope.of(tenant_id), Actor.system("test")) as uow:  # type: ignore[arg-type]
        await config.change_overrides(
            uow=uow,
            config_cache=container.config,
            node=NodeRef.camera(tenant_id, camera_id),
            values=values,
            reason=reason,
        )
        await uow.commit()


async def event(
    container: Container,
    *,
    tenant_id: uuid.UUID,
    camera_id: uuid.UUID | str | None = None,
    at: datetime | None = None,
    event_type: str = "intrusion",
    updated_at: datetime | None = None,
    **fields: Any,
) -> Any:
    """An event row as the events role stores it (readers take the table, whoever wrote it): a person
    seen by `camera_id` (a random id when None) at `at` (now when None). Returns the Event."""
    from vms.events.models import Event

    at = at or utcnow()
    row = Event(
        tenant_id=tenant_id,
        camera_id=uuid.UUID(str(camera_id)) if camera_id is not None else uuid.uuid4(),
        event_type=event_type,
        confidence=fields.pop("confidence", 0.9),
        occurred_at=at,
        priority=fields.pop("priority", "HIGH"),
        object_class="person",
        tracking_id=fields.pop("tracking_id", "t1"),
        bounding_box=[0.1, 0.1, 0.2, 0.3],
        updated_at=updated_at or at,
        **fields,
    )
    async with container.unit_of_work(TenantScope.of(tenant_id), Actor.system("test")) as uow:  # type: ignore[arg-type]
        uow.add(row)
        await uow.commit()
    return row
