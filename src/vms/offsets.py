"""Committing in order when messages finish out of order.

A bus commit names a position (ports.Bus): committing a message says that it and every message
before it in its partition are done. A consumer that works on several messages of one partition at
once (the worker runs several jobs of one topic at a time) must not commit a message that finished
while an earlier one of its partition is still running: after a crash the earlier one would never
be delivered again, and at-least-once delivery would be broken.

`OffsetTracker` sits between a consumer and `Bus.consume`. Per partition it keeps the offsets
delivered and not yet committed, in delivery order; a message's `commit()` marks it finished and
commits the partition only through the contiguous prefix of finished offsets, up to the first one
still running. The rest waits until that one finishes.

- Gaps are no holes: only delivered offsets are waited for, so offsets the bus never delivers
  (retention, compaction, Kafka's transaction markers) hold nothing up.
- One commit at a time per partition, each never behind the last: a commit can be slow (a
  round trip on Kafka), and a later, shorter prefix must not land after a longer one.
- A partition whose deliveries go back (it was revoked and assigned again, and the bus resumes
  from the committed offset) starts afresh: messages delivered before that are not committed
  through this tracker any more; the bus delivers them again and the consumer's dedupe (message
  id) skips what was already done.
- A message that never finishes holds its partition's commits where they are, and every later
  offset of the partition waits behind it (in memory here): the group's lag shows it, a restart
  delivers it (and what came after it) again, and consumers therefore retry a message that failed
  to finish rather than abandon it (messaging.py, the worker). `waiting` counts what waits, and
  the tracker logs a warning each time a partition's waiting offsets grow by `warn_waiting`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable
from functools import partial

import structlog

from vms.ports import BusMessage

log = structlog.get_logger(__name__)
Commit = Callable[[], Awaitable[None]]
# Far more than a consumer keeps running at once: a partition with this many offsets waiting is stalled.
WARN_WAITING = 1_000


class PartitionOffsets:
    """The offsets of one partition delivered through the tracker and not yet committed."""

    def __init__(self, *, committed: int = -1) -> None:
        self._waiting: deque[int] = deque()  # delivered, not yet in the finished prefix; ascending
        self._finished: set[int] = set()  # those of `_waiting` that are done
        self._commits: dict[int, Commit] = {}  # each waiting offset's own bus commit
        self._ready: tuple[int, Commit] | None = None  # newest offset of the finished prefix
        self.committed = committed  # newest offset committed through this tracker
        self.last_delivered = -1
        self.retired = False  # replaced after the partition's deliveries went back
        self._lock = asyncio.Lock()

    @property
    def waiting(self) -> int:
        """How many delivered offsets are not yet committable (running, or finished behind one running)."""
        return len(self._waiting)

    @property
    def oldest(self) -> int | None:
        """The first offset not yet committable (the one holding the partition up), None when none."""
        return self._waiting[0] if self._waiting else None

    @property
    def committable(self) -> int | None:
        """The newest offset the finished prefix reaches, None while there is none."""
        return None if self._ready is None else self._ready[0]

    def deliver(self, offset: int, commit: Commit) -> None:
        """Record a delivery; `commit` is the bus's own commit of that message (through its offset)."""
        if offset <= self.last_delivered:
            raise ValueError(f"offset {offset} delivered after {self.last_delivered}: start a new PartitionOffsets")
        self._waiting.append(offset)
        self._commits[offset] = commit
        self.last_delivered = offset

    def finish(self, offset: int) -> None:
        """Mark a delivered offset done (again, or unknown: ignored); extend the finished prefix."""
        if self.retired or offset not in self._commits:
            return
        self._finished.add(offset)
        while self._waiting and self._waiting[0] in self._finished:
            first = self._waiting.popleft()
            self._finished.discard(first)
            self._ready = (first, self._commits.pop(first))

    async def flush(self) -> None:
        """Commit through the finished prefix, if it reaches past what was committed."""
        async with self._lock:  # one commit at a time, each never behind the one before
            if self.retired or self._ready is None:
                return
            offset, commit = self._ready
            if offset <= self.committed:
                return
            await commit()
            self.committed = offset


class OffsetTracker:
    """Per partition, commits only the contiguous prefix of finished messages (see the module).

    One tracker per consume stream:

    >>> tracker = OffsetTracker()
    >>> async for message in tracker.track(bus.consume(["video-jobs-high"], group="worker-fire_smoke")):
    ...     start(message)  # message.commit() commits its partition up to the first unfinished message
    """

    def __init__(self, *, warn_waiting: int = WARN_WAITING) -> None:
        self._partitions: dict[tuple[str, int], PartitionOffsets] = {}
        self.warn_waiting = warn_waiting

    @property
    def waiting(self) -> int:
        """Offsets delivered and not yet committable, over every partition (a stall shows here)."""
        return sum(offsets.waiting for offsets in self._partitions.values())

    async def track(self, stream: AsyncGenerator[BusMessage, None]) -> AsyncGenerator[BusMessage, None]:
        """The stream's messages, each with a `commit()` that commits in order; closing this closes the stream."""
        async with contextlib.aclosing(stream):
            async for message in stream:
                yield self.delivered(message)

    def delivered(self, message: BusMessage) -> BusMessage:
        """Record a delivery; return the message with a `commit()` that finishes it and commits in order."""
        key = (message.topic, message.partition)
        offsets = self._partitions.get(key)
        if offsets is None or message.offset <= offsets.last_delivered:
            if offsets is not None:  # the partition's deliveries went back: start it afresh
                offsets.retired = True
            offsets = PartitionOffsets(committed=offsets.committed if offsets is not None else -1)
            self._partitions[key] = offsets
        offsets.deliver(message.offset, message.commit)
        if offsets.waiting % self.warn_waiting == 0:  # once per `warn_waiting` more, not on every delivery
            log.warning(
                "partition commits stalled behind an unfinished message",
                topic=message.topic,
                partition=message.partition,
                oldest=offsets.oldest,
                waiting=offsets.waiting,
            )
        return dataclasses.replace(message, commit=partial(self._finish_and_flush, offsets, message.offset))

    def finish(self, message: BusMessage) -> None:
        """Mark a message done without committing yet (`flush` commits); for callers batching commits."""
        offsets = self._partitions.get((message.topic, message.partition))
        if offsets is not None:
            offsets.finish(message.offset)

    async def flush(self) -> None:
        """Commit every partition through its finished prefix."""
        for offsets in list(self._partitions.values()):
            await offsets.flush()

    def partition(self, topic: str, partition: int) -> PartitionOffsets | None:
        """The tracked state of one partition (for tests and diagnostics)."""
        return self._partitions.get((topic, partition))

    @staticmethod
    async def _finish_and_flush(offsets: PartitionOffsets, offset: int) -> None:
        offsets.finish(offset)
        await offsets.flush()
