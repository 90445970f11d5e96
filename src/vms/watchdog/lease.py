"""Only one watchdog evaluates at a time, across every process sharing the database.

The same lease the outbox relay holds, on its own row (`watchdog`) of the `outbox_lease` table:
taken with one conditional UPDATE when free, expired or already ours, renewed at every evaluation,
and expiring after `lease_s` when its holder dies — then a standby takes over.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy import insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms.kernel.clock import utcnow
from vms.outbox import OutboxLease

LEASE_NAME = "watchdog"


class Lease:
    """A named lease in the database.

    >>> lease = Lease(container.sessions, lease_s=45)
    >>> if await lease.hold(): ...   # ours until now + 45 s, unless renewed
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, lease_s: float, name: str = LEASE_NAME) -> None:
        self._sessions = sessions
        self.lease_s = lease_s
        self.name = name
        self.holder = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    async def hold(self) -> bool:
        """Take or renew the lease; False while another holder's lease runs."""
        now = utcnow()
        until = now + timedelta(seconds=self.lease_s)
        async with self._sessions() as session:
            result = await session.execute(
                update(OutboxLease)
                .where(
                    OutboxLease.name == self.name,
                    or_(OutboxLease.holder.is_(None), OutboxLease.holder == self.holder, OutboxLease.expires_at < now),
                )
                .values(holder=self.holder, expires_at=until)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                await session.commit()
                return True
            if await session.get(OutboxLease, self.name) is not None:
                return False
            try:  # the first watchdog ever: the row does not exist yet
                await session.execute(insert(OutboxLease).values(name=self.name, holder=self.holder, expires_at=until))
                await session.commit()
                return True
            except IntegrityError:
                return False

    async def release(self) -> None:
        """Give the lease up (on shutdown) so a standby need not wait for it to expire."""
        with contextlib.suppress(Exception):  # an unreleased lease just expires
            async with self._sessions() as session:
                await session.execute(
                    update(OutboxLease)
                    .where(OutboxLease.name == self.name, OutboxLease.holder == self.holder)
                    .values(holder=None, expires_at=None)
                )
                await session.commit()
