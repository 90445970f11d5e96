"""The bus port on Apache Kafka (aiokafka): the cluster deployment's backbone.

Producer: acks=all with idempotence, so a retried send never duplicates. Consumers: manual
commits (at-least-once), earliest offset for a new group. Kafka's default partitioner (murmur2 of
the key) keeps one camera's messages in one partition. aiokafka errors become ServiceUnavailable.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from functools import partial

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from vms.kernel.errors import ServiceUnavailable
from vms.ports import BusMessage

MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # matches the broker's message.max.bytes in scripts/services


class KafkaBus:
    """Bus port on Kafka.

    >>> bus = KafkaBus("127.0.0.1:9092")
    >>> await bus.publish("detections", key=camera_id, value=payload)
    """

    def __init__(self, bootstrap: str, *, client_id: str = "vms") -> None:
        self.bootstrap = bootstrap
        self.client_id = client_id
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
        """Send and wait for the broker's acknowledgement from all in-sync replicas."""
        stamped = {"message-id": uuid.uuid4().hex, **(headers or {})}
        try:
            producer = await self._producer_started()
            await producer.send_and_wait(
                topic, value, key=key.encode(), headers=[(k, v.encode()) for k, v in stamped.items()]
            )
        except KafkaError as exc:
            raise ServiceUnavailable(f"Kafka unavailable: {exc}") from exc

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
            await producer.start()
            self._producer = producer
        return self._producer


async def _commit(consumer: AIOKafkaConsumer, topic: str, partition: int, next_offset: int) -> None:
    try:
        await consumer.commit({TopicPartition(topic, partition): next_offset})
    except KafkaError as exc:
        raise ServiceUnavailable(f"Kafka commit failed: {exc}") from exc
