"""The embedded bus: a durable, multi-process log in one SQLite file (the single-box default).

Same semantics as Kafka (DESIGN.md §4): keyed partitions, consumer groups that each get every
message, group members sharing partitions, committed offsets, at-least-once delivery.
Processes coordinate through the file: group members heartbeat into a table with the topics they
subscribe to, and for each topic a member takes the partitions whose index matches its rank among
that topic's live subscribers (round-robin per topic, as Kafka's assignors do). A member that stops heartbeating
for `session_timeout_s` loses its partitions to the others, which resume from the committed
offsets — the same recovery Kafka's group coordinator gives.

All SQLite work runs on one dedicated thread per bus, so the event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
import uuid
import zlib
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from vms.kernel.errors import NotFound
from vms.ports import BusMessage

T = TypeVar("T")
SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (name TEXT PRIMARY KEY, partitions INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
    key TEXT NOT NULL, value BLOB NOT NULL, headers TEXT NOT NULL, ts REAL NOT NULL,
    PRIMARY KEY (topic, partition, offset)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS offsets (
    grp TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, committed INTEGER NOT NULL,
    PRIMARY KEY (grp, topic, partition)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_members (
    grp TEXT NOT NULL, member TEXT NOT NULL, topics TEXT NOT NULL, heartbeat REAL NOT NULL,
    PRIMARY KEY (grp, member)) WITHOUT ROWID;
"""


def partition_for(key: str, partitions: int) -> int:
    """Stable key → partition mapping (CRC32), identical in every process."""
    return zlib.crc32(key.encode()) % partitions


class EmbeddedBus:
    """Bus port on a SQLite log.

    >>> bus = EmbeddedBus(Path(".data/bus.db"))
    >>> await bus.ensure_topics({"detections": 4})
    """

    def __init__(
        self,
        path: Path,
        *,
        poll_interval_s: float = 0.02,
        heartbeat_s: float = 1.0,
        session_timeout_s: float = 10.0,
        batch_size: int = 200,
        retention_s: float = 7 * 86_400,
    ) -> None:
        self.path = path
        self.poll_interval_s = poll_interval_s
        self.heartbeat_s = heartbeat_s
        self.session_timeout_s = session_timeout_s
        self.batch_size = batch_size
        self.retention_s = retention_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedded-bus")
        self._conn: sqlite3.Connection | None = None
        self._partitions: dict[str, int] = {}
        self._published = 0
        self._new_messages: asyncio.Event | None = None

    async def ensure_topics(self, topics: Mapping[str, int]) -> None:
        """Create missing topics (existing partition counts are kept, as Kafka does)."""
        await self._run(self._ensure_topics, dict(topics))

    async def publish(self, topic: str, *, key: str, value: bytes, headers: Mapping[str, str] | None = None) -> None:
        """Append a message to its key's partition; durable when this returns."""
        stamped = {"message-id": uuid.uuid4().hex, **(headers or {})}
        await self._run(self._append, topic, key, value, stamped)
        if self._new_messages is not None:
            self._new_messages.set()  # wake this process's consumers at once; others poll

    async def consume(self, topics: Sequence[str], *, group: str) -> AsyncGenerator[BusMessage, None]:
        """Yield this member's messages from the group's committed offsets until cancelled."""
        member = uuid.uuid4().hex
        if self._new_messages is None:
            self._new_messages = asyncio.Event()
        wakeup = self._new_messages
        positions: dict[tuple[str, int], int] = {}
        next_heartbeat = 0.0
        try:
            while True:
                if time.monotonic() >= next_heartbeat:
                    owned = await self._run(self._heartbeat, group, member, list(topics))
                    positions = {tp: positions.get(tp, committed) for tp, committed in owned.items()}
                    next_heartbeat = time.monotonic() + self.heartbeat_s
                wakeup.clear()
                rows = await self._run(self._fetch, dict(positions))
                for topic, part, offset, key, value, headers, ts in rows:
                    positions[(topic, part)] = offset + 1
                    yield BusMessage(
                        topic=topic,
                        partition=part,
                        offset=offset,
                        key=key,
                        value=value,
                        headers=json.loads(headers),
                        timestamp=ts,
                        commit=partial(self._commit_async, group, topic, part, offset + 1),
                    )
                if not rows:
                    with contextlib.suppress(TimeoutError):
                        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                        # cancellation that lands as the timeout fires, and the consumer never stops.
                        async with asyncio.timeout(self.poll_interval_s):
                            await wakeup.wait()
        finally:
            await self._run(self._leave, group, member)

    async def lag(self, group: str, topics: Sequence[str]) -> dict[str, int]:
        """Uncommitted messages of `group`, per topic."""
        return await self._run(self._lag, group, list(topics))

    async def ping(self) -> None:
        """Raise if the log file cannot be read."""
        await self._run(lambda: self._db().execute("SELECT 1").fetchone())

    async def close(self) -> None:
        """Close the connection and the bus thread."""
        if self._conn is not None:
            await self._run(self._conn.close)
            self._conn = None
        self._executor.shutdown(wait=True)

    async def _commit_async(self, group: str, topic: str, part: int, next_offset: int) -> None:
        await self._run(self._commit, group, topic, part, next_offset)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, *args))

    # --- everything below runs on the bus thread -------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            for attempt in range(50):
                # Switching a new file to WAL needs a moment alone with it and does not wait on the
                # busy timeout: two processes opening a fresh bus at once would otherwise fail.
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError:
                    if attempt == 49:
                        raise
                    time.sleep(0.02 * (attempt + 1))
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives a process crash
            conn.executescript(SCHEMA)
            self._conn = conn
        return self._conn

    def _ensure_topics(self, topics: dict[str, int]) -> None:
        db = self._db()
        db.executemany("INSERT OR IGNORE INTO topics (name, partitions) VALUES (?, ?)", list(topics.items()))

    def _partition_count(self, topic: str) -> int:
        if topic not in self._partitions:
            row = self._db().execute("SELECT partitions FROM topics WHERE name = ?", (topic,)).fetchone()
            if row is None:
                raise NotFound(f"Topic {topic!r} does not exist; create it with ensure_topics first.")
            self._partitions[topic] = int(row[0])
        return self._partitions[topic]

    def _append(self, topic: str, key: str, value: bytes, headers: dict[str, str]) -> None:
        db = self._db()
        part = partition_for(key, self._partition_count(topic))
        now = time.time()
        db.execute("BEGIN IMMEDIATE")  # the writer lock makes offsets gap-free across processes
        try:
            (next_offset,) = db.execute(
                "SELECT COALESCE(MAX(offset) + 1, 0) FROM messages WHERE topic = ? AND partition = ?", (topic, part)
            ).fetchone()
            db.execute(
                "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)",
                (topic, part, next_offset, key, value, json.dumps(headers), now),
            )
            self._published += 1
            if self._published % 1000 == 0:
                # Keep the newest message of each partition so offsets never restart at 0.
                db.execute(
                    "DELETE FROM messages WHERE ts < ? AND offset < "
                    "(SELECT MAX(m.offset) FROM messages m WHERE m.topic = messages.topic "
                    "AND m.partition = messages.partition)",
                    (now - self.retention_s,),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _heartbeat(self, group: str, member: str, topics: list[str]) -> dict[tuple[str, int], int]:
        """Record liveness; return this member's partitions with their committed offsets."""
        db = self._db()
        now = time.time()
        db.execute(
            "INSERT INTO group_members VALUES (?, ?, ?, ?) "
            "ON CONFLICT (grp, member) DO UPDATE SET heartbeat = excluded.heartbeat, topics = excluded.topics",
            (group, member, json.dumps(sorted(topics)), now),
        )
        db.execute("DELETE FROM group_members WHERE grp = ? AND heartbeat < ?", (group, now - self.session_timeout_s))
        live = db.execute("SELECT member, topics FROM group_members WHERE grp = ? ORDER BY member", (group,)).fetchall()
        mine: list[tuple[str, int]] = []
        for topic in topics:
            subscribers = [m for m, subscribed in live if topic in json.loads(subscribed)]
            rank, size = subscribers.index(member), len(subscribers)
            mine += [(topic, p) for p in range(self._partition_count(topic)) if p % size == rank]
        committed = {
            (t, p): c
            for t, p, c in db.execute(
                "SELECT topic, partition, committed FROM offsets "
                f"WHERE grp = ? AND topic IN ({','.join('?' * len(topics))})",
                (group, *topics),
            )
        }
        return {tp: committed.get(tp, 0) for tp in mine}

    def _fetch(self, positions: dict[tuple[str, int], int]) -> list[tuple[Any, ...]]:
        db = self._db()
        rows: list[tuple[Any, ...]] = []
        for (topic, part), position in positions.items():
            rows += db.execute(
                "SELECT topic, partition, offset, key, value, headers, ts FROM messages "
                "WHERE topic = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?",
                (topic, part, position, self.batch_size),
            ).fetchall()
        return rows

    def _commit(self, group: str, topic: str, part: int, next_offset: int) -> None:
        self._db().execute(
            "INSERT INTO offsets VALUES (?, ?, ?, ?) ON CONFLICT (grp, topic, partition) "
            "DO UPDATE SET committed = MAX(committed, excluded.committed)",
            (group, topic, part, next_offset),
        )

    def _leave(self, group: str, member: str) -> None:
        self._db().execute("DELETE FROM group_members WHERE grp = ? AND member = ?", (group, member))

    def _lag(self, group: str, topics: list[str]) -> dict[str, int]:
        db = self._db()
        lag: dict[str, int] = {}
        for topic in topics:
            ends = dict(
                db.execute(
                    "SELECT partition, MAX(offset) + 1 FROM messages WHERE topic = ? GROUP BY partition", (topic,)
                ).fetchall()
            )
            done = dict(
                db.execute("SELECT partition, committed FROM offsets WHERE grp = ? AND topic = ?", (group, topic))
            )
            lag[topic] = sum(max(0, end - done.get(part, 0)) for part, end in ends.items())
        return lag
