"""Read topics from the beginning into memory, without a consumer group.

Analytics state is rebuilt from the topics at every start instead of being restored from a
changelog (which the embedded broker can get wrong). Partitions are assigned by hand, so there
is no group join to wait for and no committed offset to trust, and end offsets are never asked
for (also unreliable): the feed just keeps polling and says when it has been idle.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.topics import TOPICS

__all__ = ["TopicFeed", "analytics_topics"]

log = logging.getLogger(__name__)

Batch = list[tuple[str, int, bytes]]
"""(topic, partition, value) of each record, in partition order."""


def analytics_topics(*names: str) -> list[str]:
    """The given topics plus every declared ``feedback.<area>`` topic."""
    return [*names, *(n for n in TOPICS if n.startswith("feedback."))]


class TopicFeed:
    """Polls ``topics`` from offset 0; each batch of (topic, partition, value) goes to
    ``on_batch``.

    ``on_idle`` is called after a poll that returned nothing: the moment to let wall-clock
    time pass (close cooled-down incidents) without racing a replay.
    """

    def __init__(self, bootstrap: Sequence[str], topics: Sequence[str],
                 on_batch: Callable[[Batch], Awaitable[None]],
                 on_idle: Callable[[], Awaitable[None]] | None = None,
                 poll_ms: int = 500, max_records: int = 2000,
                 on_assign: Callable[[list[TopicPartition]], None] | None = None) -> None:
        self.bootstrap = list(bootstrap)
        self.topics = list(topics)
        self.on_batch = on_batch
        self.on_idle = on_idle
        self.poll_ms = poll_ms
        self.max_records = max_records
        self.on_assign = on_assign
        self.records = 0
        self.caught_up = asyncio.Event()

    async def _assign(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        """Assign every partition of every topic, waiting for topics that do not exist yet."""
        while not stop.is_set():
            await consumer.topics()  # refreshes the metadata
            missing = [t for t in self.topics if not consumer.partitions_for_topic(t)]
            if not missing:
                break
            log.info("waiting for topics %s", ", ".join(missing))
            await asyncio.sleep(1.0)
        partitions = [TopicPartition(t, p) for t in self.topics
                      for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        if self.on_assign is not None:
            self.on_assign(partitions)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; a lost broker is retried, not fatal."""
        while not stop.is_set():
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                auto_offset_reset="earliest", session_timeout_ms=6000,
                heartbeat_interval_ms=2000)
            try:
                await consumer.start()
                await self._assign(consumer, stop)
                await self._poll(consumer, stop)
            except (TimeoutError, OSError) as exc:
                log.warning("topic feed lost the broker (%s); retrying", exc)
                await asyncio.sleep(2.0)
            finally:
                await consumer.stop()

    async def _poll(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=self.poll_ms,
                                             max_records=self.max_records)
            batch: Batch = [(r.topic, r.partition, r.value) for records in batches.values()
                            for r in records if r.value is not None]
            if batch:
                self.records += len(batch)
                await self.on_batch(batch)
            else:
                self.caught_up.set()
                if self.on_idle is not None:
                    await self.on_idle()
