"""The bus port on Apache Kafka (aiokafka): the cluster deployment's backbone.

Producer: acks=all with idempotence, so a retried send never duplicates. Consumers: manual
commits (at-least-once), earliest offset for a new group. Kafka's default partitioner (murmur2 of
the key) keeps one camera's messages in one partition. aiokafka errors become ServiceUnavailable.

A publish rides out a broker restart or a leader election: retriable errors (no leader yet, the
connection refused, a request timed out) are retried with backoff for up to `publish_timeout_s`
before ServiceUnavailable is raised. aiokafka's own retries stop at the first LeaderNotAvailable
answer of a restarting broker, and a job lost there would be lost for good; and a producer whose
sequence state the restarted broker rejects (OutOfOrderSequenceNumber) is replaced, since aiokafka's
sender never recovers from it. Each retry carries the same `message-id`, so if an earlier attempt
did land after all, consumers drop the repeat; a retried message may land after a later one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from functools import partial

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    KafkaError,
    KafkaTimeoutError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    TopicAlreadyExistsError,
    UnknownProducerId,
    UnknownTopicOrPartitionError,
)

from vms.kernel.errors import NotFound, ServiceUnavailable
from vms.ports import BusMessage

log = structlog.get_logger(__name__)
MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # matches the broker's message.max.bytes in scripts/services
PUBLISH_BACKOFF_S = (0.1, 2.0)  # first and longest pause between publish attempts
# The broker no longer accepts this producer's idempotence state (e.g. a batch in flight while it
# restarted). aiokafka's sender stops for good on these, so a fresh producer (a new id) takes over.
PRODUCER_STATE_ERRORS = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    ProducerFenced,
)


class KafkaBus:
    """Bus port on Kafka.

    >>> bus = KafkaBus("127.0.0.1:9092")
    >>> await bus.publish("detections", key=camera_id, value=payload)
    """

    def __init__(self, bootstrap: str, *, client_id: str = "vms", publish_timeout_s: float = 60.0) -> None:
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.publish_timeout_s = publish_timeout_s
        self._producer: AIOKafkaProducer | None = None

    async def ensure_topics(self, topics: Mapping[str, int]) -> None:
        """Create missing topics with their partition counts (replication 1 here; more in production)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=self.client_id)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [
                NewTopic(name, num_partitions=n, replication_factor=1)
                for name, n in topics.items()
                if name not in existing
            ]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):  # another process was quicker
                    await admin.create_topics(missing)
        except KafkaError as exc:
            raise ServiceUnavailable(f"Kafka unavailable: {exc}") from exc
        finally:
            await admin.close()

    async def publish(self, topic: str, *, key: str, value: bytes, headers: Mapping[str, str] | None = None) -> None:
        """Send and wait for the broker's acknowledgement from all in-sync replicas, retrying through
        a broker restart for up to `publish_timeout_s`."""
        stamped = {"message-id": uuid.uuid4().hex, **(headers or {})}  # one id for every attempt
        encoded = [(k, v.encode()) for k, v in stamped.items()]
        deadline = time.monotonic() + self.publish_timeout_s
        pause, longest = PUBLISH_BACKOFF_S
        while True:
            producer = None
            try:
                producer = await self._producer_started()
                await producer.send_and_wait(topic, value, key=key.encode(), headers=encoded)
                return
            except KafkaError as exc:
                # aiokafka says "unknown topic" when its metadata wait ran out: a missing topic, or no broker.
                if isinstance(exc, UnknownTopicOrPartitionError) and await self._topic_missing(topic):
                    raise NotFound(f"Topic {topic!r} does not exist; create it with ensure_topics first.") from exc
                if isinstance(exc, PRODUCER_STATE_ERRORS) and producer is not None:
                    await self._discard_producer(producer)
                # A batch that timed out inside the producer is worth another try as well.
                retriable = exc.retriable or isinstance(exc, (KafkaTimeoutError, *PRODUCER_STATE_ERRORS))
                if not retriable or time.monotonic() + pause > deadline:
                    raise ServiceUnavailable(f"Kafka unavailable: {exc}") from exc
                log.warning("kafka publish retried", topic=topic, error=type(exc).__name__, pause_s=pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, longest)

    async def consume(self, topics: Sequence[str], *, group: str) -> AsyncGenerator[BusMessage, None]:
        """Yield this member's messages; Kafka's group coordinator assigns the partitions."""
        consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
            fetch_max_wait_ms=50,  # latency over batching: CRITICAL jobs have a 500 ms budget
            max_partition_fetch_bytes=MAX_MESSAGE_BYTES,
        )
        try:
            await consumer.start()
        except KafkaError as exc:
            await consumer.stop()
            raise ServiceUnavailable(f"Kafka unavailable: {exc}") from exc
        try:
            async for record in consumer:
                yield BusMessage(
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    key=(record.key or b"").decode(),
                    value=record.value or b"",
                    headers={k: v.decode() for k, v in record.headers},
                    timestamp=record.timestamp / 1000,
                    commit=partial(_commit, consumer, record.topic, record.partition, record.offset + 1),
                )
        finally:
            await consumer.stop()

    async def lag(self, group: str, topics: Sequence[str]) -> dict[str, int]:
        """End offsets minus the group's committed offsets, per topic."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=self.client_id)
        probe = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, client_id=self.client_id)
        try:
            await admin.start()
            await probe.start()
            committed = await admin.list_consumer_group_offsets(group)
            partitions = [
                TopicPartition(str(desc["topic"]), int(part["partition"]))
                for desc in await admin.describe_topics(list(topics))
                for part in desc.get("partitions", [])
            ]
            ends = await probe.end_offsets(partitions) if partitions else {}
        except KafkaError as exc:
            raise ServiceUnavailable(f"Kafka unavailable: {exc}") from exc
        finally:
            await probe.stop()
            await admin.close()
        lag = dict.fromkeys(topics, 0)
        for tp, end in ends.items():
            done = committed.get(tp)
            lag[tp.topic] += max(0, end - (done.offset if done is not None and done.offset >= 0 else 0))
        return lag

    async def ping(self) -> None:
        """Raise if the cluster's metadata cannot be fetched."""
        try:
            producer = await self._producer_started()
            await producer.client.fetch_all_metadata()
        except KafkaError as exc:
            raise ServiceUnavailable(f"Kafka unavailable: {exc}") from exc

    async def close(self) -> None:
        """Flush and stop the producer."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def _topic_missing(self, topic: str) -> bool:
        """Whether the cluster answers and has no `topic` (False while it does not answer)."""
        try:
            producer = await self._producer_started()
            metadata = await producer.client.fetch_all_metadata()
        except KafkaError:
            return False
        return topic not in metadata.topics()

    async def _discard_producer(self, producer: AIOKafkaProducer) -> None:
        """Drop a broken producer (once, however many sends saw it fail); the next send starts a new one."""
        current = self._producer is producer  # (a bool: `is` would narrow `producer` to Optional for mypy)
        if not current:
            return
        self._producer = None
        log.warning("kafka producer replaced after a producer-state error")
        with contextlib.suppress(Exception):  # its sender is already dead; stopping only frees resources
            await producer.stop()

    async def _producer_started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                client_id=self.client_id,
                acks="all",
                enable_idempotence=True,
                max_request_size=MAX_MESSAGE_BYTES,
                linger_ms=0,
                request_timeout_ms=10_000,
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()  # a producer that could not start still holds a client and tasks
                raise
            self._producer = producer
        return self._producer


async def _commit(consumer: AIOKafkaConsumer, topic: str, partition: int, next_offset: int) -> None:
    try:
        await consumer.commit({TopicPartition(topic, partition): next_offset})
    except KafkaError as exc:
        raise ServiceUnavailable(f"Kafka commit failed: {exc}") from exc
