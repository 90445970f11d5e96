"""First-run accounts for the single box, so `make run` ends with something to sign in to.

Creates, only when the database has no users: a provider admin, a demo customer licensed for all
ten AI models, and that customer's Admin. Passwords are random, printed once and written to
`<data_dir>/first-sign-in.txt` (mode 600).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from vms.auth import users
from vms.auth.models import User
from vms.auth.permissions import Role
from vms.auth.schemas import UserCreate
from vms.bootstrap import Container
from vms.kernel.ai_models import AiModel
from vms.kernel.clock import utcnow
from vms.kernel.tenancy import TenantScope
from vms.tenants import service as tenants
from vms.tenants.schemas import CustomerCreate, LicenseWrite
from vms.uow import Actor


@dataclass(frozen=True)
class Credentials:
    """An account created for the first sign-in."""

    label: str
    email: str
    password: str


def new_password() -> str:
    """A random password that meets the policy."""
    return f"Vms-{secrets.token_urlsafe(12)}-9a"


async def ensure_first_accounts(container: Container) -> list[Credentials]:
    """Create the first accounts if there are no users yet; return what was created."""
    async with container.unit_of_work(TenantScope.platform(), Actor.system("first-run")) as uow:
        if (await uow.session.execute(select(func.count()).select_from(User))).scalar_one():
            return []
        kit = container.identity
        provider = Credentials("Provider admin", "provider@vms.example", new_password())
        await users.create_user(
            uow=uow,
            kit=kit,
            tenant_id=None,
            data=UserCreate(
                email=provider.email, role=Role.PROVIDER_ADMIN, full_name="Provider Admin", password=provider.password
            ),
        )
        now = utcnow()
        customer = await tenants.create_customer(
            uow=uow,
            data=CustomerCreate(
                name="Demo Customer",
                license=LicenseWrite(
                    camera_limit=16,
                    edge_server_limit=1,
                    valid_from=now,
                    valid_until=now + timedelta(days=365),
                    models=list(AiModel),
                ),
            ),
        )
        admin = Credentials("Demo customer admin", "admin@demo.example", new_password())
        await users.create_user(
            uow=uow,
            kit=kit,
            tenant_id=customer.id,
            data=UserCreate(email=admin.email, role=Role.ADMIN, full_name="Demo Admin", password=admin.password),
        )
        await uow.commit()
    created = [provider, admin]
    _write_note(container.settings.data_dir / "first-sign-in.txt", created)
    return created


def _write_note(path: Path, created: list[Credentials]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{c.label}: {c.email} / {c.password}\n" for c in created))
    path.chmod(0o600)
