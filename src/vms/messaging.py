"""Running a bus consumer: idempotent handling, retries, dead letters.

Shared by every consuming role (workers, events, notify, watchdog) so each of them gets the same
delivery guarantees: a message is handled at least once, a redelivered message whose id was
already handled is skipped, a failing message is retried with backoff and then parked on the
dead-letter topic with its error, and the consumer moves on.

Commits go through an `OffsetTracker` (offsets.py): a partition is committed only through its
contiguous prefix of finished messages, never past one still running or failed to commit.
Committing every message costs a write per message on the embedded bus (and a round trip on
Kafka). A consumer whose handler is cheap can commit in batches instead (`commit_interval_s`):
each partition's finished prefix is committed on a timer. Delivery stays at-least-once — after a
crash the uncommitted tail is delivered again, and the dedupe cache skips what was done.

A message is never abandoned while the process lives. Once its handler succeeded it is committed
even if marking it handled in the dedupe cache fails (a cache blip): a later redelivery is handled
again, which idempotent handlers allow. A message that neither finished nor became a dead letter
(the dead-letter publish failed, the dedupe cache could not be read) is tried again with a capped
backoff (`redo_delay`) instead: left unfinished, it would hold its partition's commits (and every
later offset, in the tracker's memory) until a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from vms.kernel.topics import DEAD_LETTER
from vms.offsets import OffsetTracker
from vms.ports import Bus, BusMessage, Cache

log = structlog.get_logger(__name__)
Handler = Callable[[BusMessage], Awaitable[None]]
REDO_MAX_S = 30.0  # the longest pause between two tries of a message that did not finish


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often a failing message is tried before it becomes a dead letter."""

    max_attempts: int = 3
    backoff_s: float = 0.2  # doubles per attempt


def redo_delay(retry: RetryPolicy, redone: int) -> float:
    """The pause before trying again a message that neither finished nor was dead-lettered
    (`redone` times so far): the policy's backoff, doubling, at most `REDO_MAX_S`."""
    return min(REDO_MAX_S, retry.backoff_s * 2 ** min(redone, 32))


async def run_consumer(
    bus: Bus,
    topics: Sequence[str],
    *,
    group: str,
    handler: Handler,
    seen: Cache | None,
    retry: RetryPolicy = RetryPolicy(),
    dedupe_ttl_s: float = 86_400,
    commit_interval_s: float = 0.0,
) -> None:
    """Consume until cancelled: dedupe, handle with retries, dead-letter, commit (each message, or
    in batches every `commit_interval_s`). `seen=None` skips the dedupe, for a handler that is
    idempotent by itself (it saves a cache read and write per message).

    >>> await run_consumer(bus, ["detections"], group="events", handler=on_detection, seen=cache)
    """
    tracker = OffsetTracker()  # handling is sequential here, but a commit must still never skip a message
    if commit_interval_s <= 0:
        async with contextlib.aclosing(tracker.track(bus.consume(topics, group=group))) as stream:
            async for message in stream:
                await _until_done(
                    message, bus=bus, group=group, handler=handler, seen=seen, retry=retry, dedupe_ttl_s=dedupe_ttl_s
                )
        return
    committer = asyncio.create_task(_commit_every(commit_interval_s, tracker))
    stream = tracker.track(bus.consume(topics, group=group))
    try:
        async for message in stream:
            await _until_done(
                message,
                bus=bus,
                group=group,
                handler=handler,
                seen=seen,
                retry=retry,
                dedupe_ttl_s=dedupe_ttl_s,
                commit=False,
            )
            tracker.finish(message)
    finally:
        committer.cancel()
        await asyncio.gather(committer, return_exceptions=True)
        await _commit_finished(tracker)  # while the stream is open: what was done need not be redone
        await stream.aclose()


async def _until_done(
    message: BusMessage,
    *,
    bus: Bus,
    group: str,
    handler: Handler,
    seen: Cache | None,
    retry: RetryPolicy,
    dedupe_ttl_s: float,
    commit: bool = True,
) -> None:
    """`handle_one`, tried again with a capped backoff until it returns: this consumer is sequential,
    so the partition waits in order (a bus outage stops it anyway) instead of skipping the message."""
    redone = 0
    while True:
        try:
            await handle_one(
                message,
                bus=bus,
                group=group,
                handler=handler,
                seen=seen,
                retry=retry,
                dedupe_ttl_s=dedupe_ttl_s,
                commit=commit,
            )
            return
        except Exception as exc:
            delay = redo_delay(retry, redone)
            log.error(
                "message neither done nor dead-lettered; tried again",
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                retry_in_s=delay,
                error=str(exc),
            )
            redone += 1
            await asyncio.sleep(delay)


async def _commit_every(interval_s: float, tracker: OffsetTracker) -> None:
    while True:
        await asyncio.sleep(interval_s)
        await _commit_finished(tracker)


async def _commit_finished(tracker: OffsetTracker) -> None:
    try:
        await tracker.flush()
    except Exception as exc:  # the bus closing, a rebalance: the next flush tries again, or the tail is redelivered
        log.warning("commit failed", error=str(exc))


async def handle_one(
    message: BusMessage,
    *,
    bus: Bus,
    group: str,
    handler: Handler,
    seen: Cache | None,
    retry: RetryPolicy,
    dedupe_ttl_s: float,
    commit: bool = True,
) -> None:
    """Handle one message with the guarantees above, then commit it (unless the caller batches commits)."""
    seen_key = f"bus:handled:{group}:{message.message_id}"
    if seen is not None and await seen.get(seen_key) is not None:
        if commit:
            await message.commit()  # a redelivery of something already done
        return
    error: Exception | None = None
    for attempt in range(1, retry.max_attempts + 1):
        try:
            await handler(message)
            error = None
            break
        except Exception as exc:  # a handler bug or bad payload must not stop the consumer
            error = exc
            log.warning("handler failed", topic=message.topic, offset=message.offset, attempt=attempt, error=str(exc))
            if attempt < retry.max_attempts:
                await asyncio.sleep(retry.backoff_s * 2 ** (attempt - 1))
    if error is not None:
        await bus.publish(
            DEAD_LETTER,
            key=message.key,
            value=message.value,
            headers={
                **message.headers,
                "dead-letter-topic": message.topic,
                "dead-letter-group": group,
                "dead-letter-error": f"{type(error).__name__}: {error}"[:500],
            },
        )
        log.error("message dead-lettered", topic=message.topic, offset=message.offset, group=group)
    elif seen is not None:
        try:
            await seen.set(seen_key, b"1", ttl_s=dedupe_ttl_s)
        except Exception as exc:  # the work is done: commit anyway; a redelivery (rare) is handled again
            log.warning(
                "message handled but not marked seen", topic=message.topic, offset=message.offset, error=str(exc)
            )
    if commit:
        await message.commit()
