"""The API as `vms role api` serves it, plus one bench-only route: the same users list with no
authentication and no tenant scope (`/bench/users`). Comparing the real route with it isolates
what authentication, the session check and tenant filtering cost on top of the query itself.

Never part of the product: the unauthenticated route exists only in this benchmark process.

    VMS_* settings in the environment; run by bench/api_latency.py.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from sqlalchemy import select

from vms import logs
from vms.api.app import create_app
from vms.api.deps import AppContainer, Paging
from vms.auth.models import User
from vms.auth.schemas import UserPage
from vms.auth.users import user_read
from vms.bootstrap import build_container
from vms.kernel.tenancy import TenantScope
from vms.roles.api import serve
from vms.settings import Settings
from vms.uow import Actor


async def main() -> None:
    settings = Settings()
    logs.configure(level=settings.logging.level)
    container = build_container(settings)
    app = create_app(container)

    bench = APIRouter()

    @bench.get("/bench/users", response_model=UserPage)
    async def bare_list(container: AppContainer, page: Paging) -> UserPage:
        async with container.unit_of_work(TenantScope.platform(), Actor.system("bench")) as uow:
            rows, total = await uow.page(select(User).order_by(User.email), limit=page.limit, offset=page.offset)
            await uow.commit()
        return UserPage(items=[user_read(u) for u in rows], total=total, limit=page.limit, offset=page.offset)

    app.router.routes[:0] = bench.routes  # ahead of any catch-all (the web console's SPA fallback)
    try:
        await serve(container, app=app)
    finally:
        await container.close()


if __name__ == "__main__":
    asyncio.run(main())
