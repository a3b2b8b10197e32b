"""``porte-voix dlq list|replay``: look at dead letters and put them back after a fix.

A dead letter keeps the record exactly as it was read (``raw``), its key and the topic it came
from, so replaying means producing those bytes to that topic again. Every stage is idempotent
(deterministic ids, sinks that look the target up), so a letter replayed twice does no harm.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from kafka import KafkaProducer
from pydantic import ValidationError

from connectors.reading import read_from_start
from schemas.models import DeadLetter, Stage

DEADLETTER_TOPICS = ("social.deadletter", "crm.deadletter")


@dataclass(frozen=True)
class Letter:
    """A dead letter with where it sits, so a replay can name what it replayed."""

    topic: str
    partition: int
    offset: int
    letter: DeadLetter


def read_letters(bootstrap: str | list[str], topics: Iterable[str] = DEADLETTER_TOPICS,
                 quiet: float = 0.0) -> list[Letter]:
    letters = []
    for record in read_from_start(bootstrap, list(topics), quiet=quiet):
        try:
            letter = DeadLetter.model_validate_json(record.value)
        except ValidationError:
            continue  # not ours to replay; `porte-voix tail` shows it as it is
        letters.append(Letter(record.topic, record.partition, record.offset, letter))
    return letters


def select(letters: Iterable[Letter], stage: Stage | None = None,
           contains: str | None = None) -> list[Letter]:
    """Letters of one stage and/or whose reason contains a text (case-insensitive)."""
    needle = contains.lower() if contains else None
    return [item for item in letters
            if (stage is None or item.letter.stage is stage)
            and (needle is None or needle in item.letter.error.lower())]


def summary(letters: Iterable[Letter]) -> dict[str, int]:
    """Counts per ``topic / stage / error kind``: what an operator looks at first."""
    return dict(Counter(f"{i.topic} / {i.letter.stage.value} / {i.letter.error_kind.value}"
                        for i in letters))


def replay(bootstrap: str | list[str], letters: Iterable[Letter]) -> dict[str, int]:
    """Produce each letter's raw record back to its source topic (acks=all); counts by topic."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all",
                             client_id="porte-voix-dlq")
    sent: Counter[str] = Counter()
    try:
        futures = []
        for item in letters:
            source = item.letter.source_topic
            if not source:
                raise ValueError(f"{item.topic}@{item.partition}:{item.offset} has no source "
                                 "topic to replay to")
            futures.append(producer.send(source, key=item.letter.key, value=item.letter.raw,
                                         headers=[("pv-replayed-from",
                                                   f"{item.topic}:{item.partition}:"
                                                   f"{item.offset}".encode())]))
            sent[source] += 1
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close()
    return dict(sent)
