"""Reading a topic to its end: the stop rules of ``connectors.reading.read_batches``.

The consumer here is an in-memory stand-in that keeps kafka-python's contract for what the
reader uses: ``poll`` returns records past the position and moves it, ``highwater`` is None
until the first fetch of a partition, then the end offset known from that fetch.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from kafka import TopicPartition

from connectors.reading import ReadTimeout, read_batches

TP0 = TopicPartition("t", 0)
TP1 = TopicPartition("t", 1)


class LogConsumer:
    """Partitions as lists of values; each poll fetches up to ``batch`` records per partition."""

    def __init__(self, logs: dict[TopicPartition, list[bytes]], batch: int = 2) -> None:
        self.logs = logs
        self.batch = batch
        self.positions = {tp: 0 for tp in logs}
        self.fetched: set[TopicPartition] = set()
        self._paused: set[TopicPartition] = set()

    def poll(self, timeout_ms: int = 0) -> dict[TopicPartition, list[tuple[int, bytes]]]:
        out = {}
        for tp, log in self.logs.items():
            if tp in self._paused:
                continue
            self.fetched.add(tp)
            start = self.positions[tp]
            records = list(enumerate(log))[start:start + self.batch]
            if records:
                self.positions[tp] = start + len(records)
                out[tp] = records
        return out

    def highwater(self, tp: TopicPartition) -> int | None:
        return len(self.logs[tp]) if tp in self.fetched else None

    def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def pause(self, *tps: TopicPartition) -> None:
        self._paused.update(tps)


def flat(batches: Iterable[list[tuple[int, bytes]]]) -> list[bytes]:
    return [value for batch in batches for _, value in batch]


def test_reading_stops_at_the_end_of_every_partition_without_waiting() -> None:
    consumer = LogConsumer({TP0: [b"a", b"b", b"c"], TP1: [b"x"]})
    got = flat(read_batches(consumer, [TP0, TP1], timeout=30))  # type: ignore[arg-type]
    assert sorted(got) == [b"a", b"b", b"c", b"x"]


def test_an_empty_partition_is_at_its_end_once_fetched() -> None:
    consumer = LogConsumer({TP0: [], TP1: [b"x"]})
    assert flat(read_batches(consumer, [TP0, TP1], timeout=30)) == [b"x"]  # type: ignore[arg-type]


def test_a_paused_partition_counts_as_finished() -> None:
    consumer = LogConsumer({TP0: [b"a", b"b", b"c", b"d"], TP1: [b"x"]}, batch=1)
    got = []
    for batch in read_batches(consumer, [TP0, TP1], timeout=30):  # type: ignore[arg-type]
        got += [value for _, value in batch]
        if b"b" in got:
            consumer.pause(TP0)  # live traffic reached: the caller stops this partition
    assert b"d" not in got and b"x" in got


def test_reading_waits_past_the_end_for_the_records_the_caller_expects() -> None:
    consumer = LogConsumer({TP0: [b"a"]})
    batches = read_batches(consumer, [TP0], timeout=5, min_count=2,  # type: ignore[arg-type]
                           poll_ms=10)
    assert flat([next(batches)]) == [b"a"]
    consumer.logs[TP0].append(b"b")  # a worker writes the second record a moment later
    assert flat(batches) == [b"b"]


def test_a_strict_read_that_cannot_reach_the_end_raises_instead_of_returning_part() -> None:
    consumer = LogConsumer({TP0: [b"a"]})
    with pytest.raises(ReadTimeout, match="t to the end"):
        list(read_batches(consumer, [TP0], timeout=0.2, min_count=5,  # type: ignore[arg-type]
                          strict=True))
    consumer = LogConsumer({TP0: [b"a"]})
    assert flat(read_batches(consumer, [TP0], timeout=0.2, min_count=5)) == [b"a"]  # type: ignore[arg-type]
