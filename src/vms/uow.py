"""The unit of work: one SQL transaction plus the audit records it produces.

Services add and change rows and call `uow.audit(...)`; they never commit. The owner of the
unit of work (a request dependency, a worker loop) commits once, and the audit records are
written in the same transaction when the audit store is SQL, so no change goes unaudited.
Outbox rows staged in the transaction (vms.outbox) commit with it; the commit then wakes this
process's relays to deliver them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vms import outbox
from vms.kernel.clock import utcnow
from vms.kernel.errors import Conflict, NotFound
from vms.kernel.ids import new_id
from vms.kernel.orm import SCOPE_KEY
from vms.kernel.tenancy import TenantScope
from vms.ports import AuditEntry, AuditStore

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting, for audit records."""

    user_id: uuid.UUID | None = None
    email: str | None = None
    request_id: str | None = None
    ip: str | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        """A background task or CLI acting on its own."""
        return cls(email=name)


@dataclass
class UnitOfWork:
    """A session confined to a tenant scope, with pending audit records."""

    session: AsyncSession
    scope: TenantScope
    actor: Actor
    audit_store: AuditStore
    _pending: list[AuditEntry] = field(default_factory=list)

    @property
    def tenant_id(self) -> uuid.UUID | None:
        """The tenant this unit of work is confined to (None: platform scope)."""
        return self.scope.tenant_id

    def narrow(self, scope: TenantScope) -> None:
        """Confine the rest of this unit of work further (a user scoped to part of the site tree)."""
        if scope.tenant_id != self.scope.tenant_id:
            raise ValueError("A unit of work can be narrowed within its tenant only.")
        self.scope = scope
        self.session.info[SCOPE_KEY] = scope

    def add(self, obj: object) -> None:
        """Stage a new row."""
        self.session.add(obj)

    async def delete(self, obj: object) -> None:
        """Stage a row's deletion."""
        await self.session.delete(obj)

    async def get(self, model: type[T], ident: uuid.UUID, *, what: str | None = None) -> T:
        """Load a row by id within the tenant scope, or raise NotFound."""
        row = (await self.session.execute(select(model).where(model.id == ident))).scalar_one_or_none()  # type: ignore[attr-defined]
        if row is None:
            raise NotFound(f"{what or model.__name__} {ident} not found.")
        return row

    async def page(self, query: Select[T], *, limit: int, offset: int) -> tuple[list[T], int]:
        """Run a filtered query for one page and the total count.

        The total rides along as a window function, so a page costs one round trip, not two.
        """
        rows = (await self.session.execute(query.add_columns(func.count().over()).limit(limit).offset(offset))).all()
        if rows:
            return [row[0] for row in rows], int(rows[0][1])
        if offset == 0:
            return [], 0
        total = (await self.session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
        return [], int(total)

    def audit(
        self,
        action: str,
        resource_type: str,
        resource_id: object,
        *,
        old: BaseModel | dict[str, Any] | None = None,
        new: BaseModel | dict[str, Any] | None = None,
        tenant_id: uuid.UUID | None = None,
    ) -> None:
        """Record a change; written when the unit of work commits."""
        self._pending.append(
            AuditEntry(
                id=new_id(),
                at=utcnow(),
                tenant_id=tenant_id or self.scope.tenant_id,
                actor_id=self.actor.user_id,
                actor=self.actor.email,
                action=action,
                resource_type=resource_type,
                resource_id=str(resource_id),
                old_value=_as_document(old),
                new_value=_as_document(new),
                request_id=self.actor.request_id,
                ip=self.actor.ip,
            )
        )

    async def flush(self) -> None:
        """Send staged changes to the database (ids, constraints) without committing."""
        try:
            await self.session.flush()
        except IntegrityError as exc:
            await self.rollback()
            raise Conflict("The change conflicts with existing data (a duplicate or a missing reference).") from exc

    async def commit(self) -> None:
        """Flush, write audit records, commit."""
        await self.flush()
        pending, self._pending = self._pending, []
        if pending and self.audit_store.transactional:
            await self.audit_store.append(pending, session=self.session)
        try:
            await self.session.commit()
        except IntegrityError as exc:
            await self.rollback()
            raise Conflict("The change conflicts with existing data (a duplicate or a missing reference).") from exc
        if self.session.info.pop(outbox.STAGED_KEY, False):
            outbox.notify()  # this process's relays deliver what just committed
        if pending and not self.audit_store.transactional:
            await self.audit_store.append(pending, session=None)

    async def rollback(self) -> None:
        """Discard staged changes and their audit records."""
        self._pending.clear()
        self.session.info.pop(outbox.STAGED_KEY, None)
        await self.session.rollback()

    @property
    def pending_audit(self) -> Sequence[AuditEntry]:
        """Audit records not yet written (for tests and diagnostics)."""
        return tuple(self._pending)


SECRET_FIELDS = frozenset({"password", "password_hash", "totp_secret", "secret", "token", "credentials"})


def _as_document(value: BaseModel | dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    doc = value.model_dump(mode="json") if isinstance(value, BaseModel) else to_jsonable_python(value)
    # Audit logs are read by many; secrets never enter them, not even hashed.
    return {k: ("***" if k in SECRET_FIELDS else v) for k, v in doc.items()}
