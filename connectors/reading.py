"""Read whole topics from the beginning, without a consumer group.

Partitions are assigned by hand (no group join to wait for, nothing committed). Reading stops
once ``quiet`` seconds pass with nothing new: the embedded broker's end offsets (ListOffsets
LATEST) are unreliable, so we never ask for them.
"""

from __future__ import annotations

import time

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord


def read_from_start(bootstrap: str | list[str], topics: list[str], min_count: int = 0,
                    timeout: float = 60.0, quiet: float = 2.0) -> list[ConsumerRecord]:
    """Every record of ``topics`` (at least ``min_count`` unless ``timeout`` passes first)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False, auto_offset_reset="earliest")
    records: list[ConsumerRecord] = []
    try:
        partitions = [TopicPartition(name, p) for name in topics
                      for p in sorted(consumer.partitions_for_topic(name) or set())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            got = [r for recs in consumer.poll(timeout_ms=300).values() for r in recs]
            if got:
                records.extend(got)
                last_new = time.monotonic()
            elif len(records) >= min_count and time.monotonic() - last_new > quiet:
                break
    finally:
        consumer.close()
    return records
