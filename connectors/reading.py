"""Read topics to their end, without a consumer group: the one way Porte-Voix does it.

Partitions are assigned by hand (no group join to wait for, nothing committed). A partition
is read to its end when the consumer's position reaches the high watermark that came back
with the last fetch response for it. That figure is exact on the embedded broker, unlike its
end offsets (ListOffsets LATEST), which we therefore never ask for. Used by the cursor store,
the dead-letter tools, ``porte-voix replay`` and the integration tests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord


class ReadTimeout(TimeoutError):
    """The topics were not read to their end in time (broker slow or unreachable)."""


def _at_end(consumer: KafkaConsumer, tp: TopicPartition) -> bool:
    end = consumer.highwater(tp)  # from the last fetch response; None before the first one
    return end is not None and consumer.position(tp) >= end


def read_batches(consumer: KafkaConsumer, partitions: Sequence[TopicPartition], *,
                 timeout: float = 60.0, min_count: int = 0, quiet: float = 0.0,
                 strict: bool = False, poll_ms: int = 200) -> Iterator[list[ConsumerRecord]]:
    """Batches of records from the consumer's positions until every partition is at its end.

    A partition the caller paused counts as finished (replay pauses one once it reaches live
    traffic). Reading goes on past the end until ``min_count`` records came and nothing new
    came for ``quiet`` seconds: tests wait that way for what a worker is still writing.
    When ``timeout`` passes first, reading stops, or raises ``ReadTimeout`` if ``strict``.
    """
    deadline = time.monotonic() + timeout
    last_new = time.monotonic()
    count = 0
    while True:
        batch = [r for records in consumer.poll(timeout_ms=poll_ms).values() for r in records]
        if batch:
            count += len(batch)
            last_new = time.monotonic()
            yield batch
        paused = consumer.paused()
        if (count >= min_count and time.monotonic() - last_new >= quiet
                and all(tp in paused or _at_end(consumer, tp) for tp in partitions)):
            return
        if time.monotonic() > deadline:
            if strict:
                names = ", ".join(sorted({tp.topic for tp in partitions}))
                raise ReadTimeout(f"reading {names} to the end took longer than {timeout}s")
            return


def assign_from_start(consumer: KafkaConsumer, topics: Sequence[str],
                      missing_ok: bool = False) -> list[TopicPartition]:
    """Assign every partition of ``topics`` and seek to the beginning.

    A topic that does not exist raises ``LookupError``, or is skipped with ``missing_ok``.
    """
    partitions: list[TopicPartition] = []
    for name in topics:
        ids = consumer.partitions_for_topic(name)
        if not ids:
            if missing_ok:
                continue
            raise LookupError(f"topic {name} does not exist or has no partitions yet")
        partitions += [TopicPartition(name, p) for p in sorted(ids)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    return partitions


def iter_from_start(bootstrap: str | list[str], topics: list[str], min_count: int = 0,
                    timeout: float = 60.0, quiet: float = 0.0, *, strict: bool = False,
                    client_id: str = "porte-voix-read") -> Iterator[list[ConsumerRecord]]:
    """Batches of ``topics`` from the beginning to the end (see ``read_batches``), on a
    consumer of its own. Topics that do not exist yet read as empty, unless ``strict``.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             fetch_max_wait_ms=100, client_id=client_id)
    try:
        partitions = assign_from_start(consumer, topics, missing_ok=not strict)
        yield from read_batches(consumer, partitions, timeout=timeout, min_count=min_count,
                                quiet=quiet, strict=strict)
    finally:
        consumer.close()


def read_from_start(bootstrap: str | list[str], topics: list[str], min_count: int = 0,
                    timeout: float = 60.0, quiet: float = 0.0, *, strict: bool = False,
                    client_id: str = "porte-voix-read") -> list[ConsumerRecord]:
    """Every record of ``topics``, from the beginning to the end (see ``iter_from_start``)."""
    return [record for batch in iter_from_start(bootstrap, topics, min_count, timeout, quiet,
                                                strict=strict, client_id=client_id)
            for record in batch]
