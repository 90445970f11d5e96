"""SQLAlchemy declarative base, shared column types and the tenant guard.

Tenancy is enforced here, once: every table mixing in `TenantOwned` gets
`WHERE tenant_id = :scope` added to every ORM SELECT, UPDATE and DELETE a session runs while
confined to a tenant, and the flush refuses to write another tenant's row. Domains never
write tenant filters by hand, so forgetting one is impossible.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Dialect, MetaData, TypeDecorator, Uuid, event
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    with_loader_criteria,
)

from vms.kernel.clock import as_utc, utcnow
from vms.kernel.errors import Forbidden
from vms.kernel.ids import new_id
from vms.kernel.tenancy import CameraScope, TenantScope

# Stable constraint names so Alembic migrations are identical on SQLite, PostgreSQL and SQL Server.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SCOPE_KEY = "tenant_scope"


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps stored and returned in UTC on every engine.

    SQLite keeps no offset: it would store a +05:30 time as its wall-clock digits and read it
    back 5.5 hours off. Converting to UTC on the way in (naive values are taken as UTC) and
    marking UTC on the way out makes SQLite agree with PostgreSQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    """Base of every table; dialect-neutral types for ids, times and documents."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        uuid.UUID: Uuid(),
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class HasId:
    """A random UUID primary key and creation time."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TenantOwned:
    """Rows that belong to one customer; the tenant guard filters them."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(index=True)


class CameraOwned:
    """Rows about one camera (a `camera_id` attribute). A user scoped to part of the site tree sees
    only the rows of cameras under their nodes. A table that places a camera in the tree names the
    column in `placed_by` (the camera's zone): writes there must stay inside the user's subtrees."""

    placed_by: ClassVar[str | None] = None


class TreeNode:
    """Rows of the location tree (`id`). A scoped user sees their subtrees and the path above them,
    and changes none of it: the tree is the Admin's."""


def scope_of(session: Session) -> TenantScope:
    """The tenant scope a session was opened with (platform scope if none was set)."""
    scope = session.info.get(SCOPE_KEY)
    return scope if isinstance(scope, TenantScope) else TenantScope.platform()


@event.listens_for(Session, "do_orm_execute")
def _filter_by_tenant(state: ORMExecuteState) -> None:
    tenant_id = scope_of(state.session).tenant_id
    if tenant_id is None or state.is_column_load:
        return
    if (state.is_insert or state.is_update) and _targets_tenant_owned(state):
        # Bulk statements never flush, so the flush guard below cannot see what they write.
        written = _written_tenant_ids(state)
        if any(value != tenant_id for value in written) or (state.is_insert and not written):
            raise Forbidden("Write outside the current tenant refused.")
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(
            with_loader_criteria(TenantOwned, lambda cls: cls.tenant_id == tenant_id, include_aliases=True)
        )
        part = scope_of(state.session).part
        if part is not None:
            state.statement = state.statement.options(*_part_criteria(part))


def _part_criteria(part: CameraScope) -> list[Any]:
    """`camera_id IN (…)` on every camera-owned table and `id IN (…)` on the tree, one option per
    mapped class: the mixins declare no columns (each table declares its own camera_id), so the
    criteria are spelled per table rather than once on the mixin."""
    cameras, nodes = list(part.cameras), list(part.nodes)
    options: list[Any] = []
    for mapper in Base.registry.mappers:
        model: Any = mapper.class_
        if issubclass(model, CameraOwned):
            options.append(with_loader_criteria(model, model.camera_id.in_(cameras), include_aliases=True))
        elif issubclass(model, TreeNode):
            options.append(with_loader_criteria(model, model.id.in_(nodes), include_aliases=True))
    return options


def _targets_tenant_owned(state: ORMExecuteState) -> bool:
    return any(issubclass(mapper.class_, TenantOwned) for mapper in state.all_mappers)


def _written_tenant_ids(state: ORMExecuteState) -> list[Any]:
    """Every tenant_id value a bulk INSERT/UPDATE would write, from .values() and from parameters."""
    statement: Any = state.statement
    rows: list[dict[Any, Any]] = [getattr(statement, "_values", None) or {}]
    rows += [dict(row) for rows_ in (getattr(statement, "_multi_values", None) or ()) for row in rows_]
    rows += [dict(getattr(statement, "_ordered_values", None) or ())]
    params = state.parameters
    rows += params if isinstance(params, list) else [params] if isinstance(params, dict) else []
    found = []
    for row in rows:
        for key, value in row.items():
            if getattr(key, "key", key) == "tenant_id":
                found.append(getattr(value, "value", value))
    return found


@event.listens_for(Session, "before_flush")
def _refuse_cross_tenant_writes(session: Session, _context: Any, _instances: Any) -> None:
    scope = scope_of(session)
    tenant_id = scope.tenant_id
    if tenant_id is None:
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if not isinstance(obj, TenantOwned):
            continue
        if obj.tenant_id is None and obj in session.new:
            obj.tenant_id = tenant_id
        elif obj.tenant_id != tenant_id:
            raise Forbidden("Write outside the current tenant refused.")
        if scope.part is not None:
            _refuse_writes_outside_part(obj, scope.part, deleted=obj in session.deleted)


def _refuse_writes_outside_part(obj: object, part: CameraScope, *, deleted: bool) -> None:
    if isinstance(obj, TreeNode):
        raise Forbidden("Your account is limited to part of the site tree; ask an Admin to change the tree.")
    if not isinstance(obj, CameraOwned):
        return
    if obj.placed_by and not deleted:
        if getattr(obj, obj.placed_by) not in part.placeable:
            raise Forbidden("Your account is limited to part of the site tree; put the camera in one of your zones.")
    elif getattr(obj, "camera_id", None) not in part.cameras:
        raise Forbidden("Your account is limited to part of the site tree; that camera is outside it.")


@event.listens_for(Session, "after_flush")
def _keep_new_cameras_in_part(session: Session, _context: Any) -> None:
    """A camera a scoped user just added is theirs for the rest of the unit of work."""
    part = scope_of(session).part
    if part is None:
        return
    for obj in session.new:
        camera_id = getattr(obj, "camera_id", None)
        if isinstance(obj, CameraOwned) and obj.placed_by and camera_id is not None:
            part.cameras.add(camera_id)
