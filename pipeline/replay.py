"""Replay history through the current normalizer, enricher and router into versioned topics.

``porte-voix replay --from social.raw --since 2026-11-01 --output-suffix v2`` reads the source
topic from ``since`` and writes what today's code makes of it to ``<topic>.<suffix>``
(``social.events.v2``, ``social.enriched.v2``, ``feedback.billing.v2``, ``crm.commands.v2``...),
created on the fly from the declared topic specs. The live topics are never written, so the live
consumers see nothing, and data teams compare ``social.enriched`` with ``social.enriched.v2``.

Tickets: commands are written to ``crm.commands.<suffix>``, which no deliver agent reads, so a
replay creates no ticket. Their ids are deterministic all the same (``stable_id`` of event id,
action and text digest, see :func:`pipeline.routing.plan.command_id`): a command that also exists
on ``crm.commands`` has the same ``command_id``, so even delivering the versioned topic would be
a no-op at the idempotent sink for every message already ticketed. Only events the new version
routes differently would make new tickets, which is the point of comparing before switching.

Where to start: ``offsets_for_times`` per partition, its answer used unless it is missing or
points at a record older than ``since`` (then the partition is read from its beginning), and
every record read is filtered by its timestamp anyway, so an early answer costs reading time,
never correctness. Measured on the embedded broker (Tansu, 5,000 raw records, 3 partitions):
it answers by arrival time, which is exact for records produced live (``since`` near the end:
10 records read); for records whose producer stamped them in the past it answers offset 0,
and the replay reads everything and keeps what is recent (5,000 read, 200 kept, ~3.6k records/s
read and filtered). The replay ends, per partition, at the end known from the fetch responses
(``connectors.reading``; end offsets are wrong on Tansu) or at the first record written after
the replay started (live traffic, which the live pipeline handles). Replaying twice into the same
suffix writes the records twice; their ids are the same, so consumers deduplicate as usual.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from connectors.reading import read_batches
from pipeline.enrich import EnrichConfig, Enricher
from pipeline.normalize.brands import BrandDirectory
from pipeline.records import Origin, Output, guarded
from pipeline.routing import RuleSet, load_rules
from pipeline.settings import Settings, get_settings
from pipeline.stages import enrich_stage, normalize_stage, route_stage
from schemas.models import Stage
from schemas.topics import TOPICS, TopicSpec

log = logging.getLogger(__name__)

#: The stages a replay runs after reading each source topic.
CHAINS: dict[str, tuple[Stage, ...]] = {
    "social.raw": (Stage.normalize, Stage.enrich, Stage.route),
    "social.events": (Stage.enrich, Stage.route),
    "social.enriched": (Stage.route,),
}
_SUFFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


def versioned(topic: str, suffix: str) -> str:
    return f"{topic}.{suffix}"


def output_specs(source_topic: str, suffix: str) -> list[TopicSpec]:
    """Versioned copies of every topic the replayed stages produce, from the declarations."""
    stages = {stage.value for stage in _chain(source_topic)}
    return [replace(spec, name=versioned(spec.name, suffix))
            for spec in TOPICS.values() if stages & set(spec.producers)]


def _chain(source_topic: str) -> tuple[Stage, ...]:
    try:
        return CHAINS[source_topic]
    except KeyError:
        raise ValueError(f"cannot replay from {source_topic!r}; "
                         f"choose one of {', '.join(CHAINS)}") from None


@dataclass
class ReplayStats:
    """What a replay did: records read and replayed, outputs per topic, how it found `since`."""

    read: int = 0
    replayed: int = 0
    produced: Counter[str] = field(default_factory=Counter)
    start: str = "offsets_for_times"
    seconds: float = 0.0


class StagePipeline:
    """The pure stages chained from a source topic; outputs renamed to the versioned topics."""

    def __init__(self, source_topic: str, suffix: str, settings: Settings,
                 enricher: Enricher | None = None) -> None:
        self.chain = _chain(source_topic)
        self.suffix = suffix
        self.brands = BrandDirectory.load(settings.brands_file)
        self.rules: RuleSet = load_rules(settings.rules_file)
        self.enricher = enricher or Enricher(EnrichConfig())

    def run(self, values: Sequence[bytes], origins: Sequence[Origin]) -> list[Output]:
        """Every output of the chain for these records, in order, on versioned topics."""
        done: list[Output] = []
        pending = list(zip(values, origins, strict=True))
        if Stage.normalize in self.chain:
            outs = [out for value, origin in pending
                    for out in guarded(Stage.normalize, self._normalize, value, origin)]
            pending, done = self._split(outs, "social.events", done)
        if Stage.enrich in self.chain and pending:
            outs = enrich_stage([v for v, _ in pending], [o for _, o in pending], self.enricher)
            pending, done = self._split(outs, "social.enriched", done)
        if Stage.route in self.chain:
            done += [out for value, origin in pending
                     for out in guarded(Stage.route, self._route, value, origin)]
        return [Output(versioned(o.topic, self.suffix), o.key, o.value,
                       [*o.headers, ("replay", self.suffix.encode())]) for o in done]

    def _normalize(self, raw: bytes) -> list[Output]:
        return normalize_stage(raw, self.brands)

    def _route(self, raw: bytes) -> list[Output]:
        return route_stage(raw, self.rules)

    @staticmethod
    def _split(outs: list[Output], next_topic: str, done: list[Output],
               ) -> tuple[list[tuple[bytes, Origin]], list[Output]]:
        """Outputs on ``next_topic`` feed the next stage; all are kept as produced records."""
        feed = [(o.value, Origin(topic=next_topic, key=o.key)) for o in outs
                if o.topic == next_topic]
        return feed, [*done, *outs]


def start_offsets(consumer: KafkaConsumer, partitions: list[TopicPartition],
                  since_ms: int) -> tuple[dict[TopicPartition, int], str]:
    """Where each partition's replay starts, and how that was found (see the module doc)."""
    beginning: dict[TopicPartition, int] = consumer.beginning_offsets(partitions)
    try:
        found: dict[TopicPartition, Any] = consumer.offsets_for_times(
            {tp: since_ms for tp in partitions})
    except KafkaError as exc:
        log.warning("offsets_for_times failed (%s): reading from the beginning", exc)
        found = {}
    starts: dict[TopicPartition, int] = {}
    trusted = 0
    for tp in partitions:
        answer = found.get(tp)
        if answer is not None and answer.timestamp >= since_ms and answer.offset >= beginning[tp]:
            starts[tp] = answer.offset
            trusted += 1
        else:
            starts[tp] = beginning[tp]
    mode = "offsets_for_times" if trusted == len(partitions) else (
        "scan" if trusted == 0 else "mixed")
    return starts, mode


def replay(source_topic: str, since: datetime, suffix: str, bootstrap: list[str] | str, *,
           settings: Settings | None = None, timeout: float = 3600.0, batch: int = 500,
           create_topics: Callable[[list[TopicSpec]], object] | None = None) -> ReplayStats:
    """Replay ``source_topic`` from ``since`` into ``<topic>.<suffix>``; see the module doc."""
    if not _SUFFIX.match(suffix):
        raise ValueError(f"output suffix {suffix!r}: letters, digits, - and _ (up to 32)")
    settings = settings or get_settings()
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    since_ms = int(since.timestamp() * 1000)
    started = time.monotonic()
    started_ms = int(time.time() * 1000)
    specs = output_specs(source_topic, suffix)
    if create_topics is None:
        from infra.topics import ensure_topics

        ensure_topics(bootstrap, settings.topic_replication_factor,
                      settings.topic_partitions_override, specs=specs)
    else:
        create_topics(specs)
    stages = StagePipeline(source_topic, suffix, settings)
    stats = ReplayStats()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             max_poll_records=batch, client_id="porte-voix-replay")
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                             client_id="porte-voix-replay")
    try:
        partitions = [TopicPartition(source_topic, p)
                      for p in sorted(consumer.partitions_for_topic(source_topic) or ())]
        if not partitions:
            raise ValueError(f"topic {source_topic!r} does not exist")
        consumer.assign(partitions)
        starts, stats.start = start_offsets(consumer, partitions, since_ms)
        for tp, offset in starts.items():
            consumer.seek(tp, offset)
        log.info("replaying %s since %s into *.%s (start: %s)", source_topic,
                 since.isoformat(), suffix, stats.start)
        live: set[TopicPartition] = set()
        for records in read_batches(consumer, partitions, timeout=timeout):
            stats.read += len(records)
            for record in records:
                if record.timestamp > started_ms:
                    tp = TopicPartition(record.topic, record.partition)
                    if tp not in live:
                        live.add(tp)
                        consumer.pause(tp)
            chosen = sorted((r for r in records if since_ms <= r.timestamp <= started_ms),
                            key=lambda r: (r.timestamp, r.partition, r.offset))
            if not chosen:
                continue
            outputs = stages.run(
                [r.value for r in chosen],
                [Origin(topic=r.topic, partition=r.partition, offset=r.offset,
                        key=r.key if isinstance(r.key, bytes) else None) for r in chosen])
            futures = [producer.send(o.topic, key=o.key, value=o.value, headers=o.headers)
                       for o in outputs]
            producer.flush()
            for future in futures:
                future.get(timeout=30)  # raises if the broker refused a record
            stats.replayed += len(chosen)
            stats.produced.update(o.topic for o in outputs)
    finally:
        consumer.close()
        producer.close()
    stats.seconds = time.monotonic() - started
    log.info("replayed %d of %d records read in %.1fs: %s", stats.replayed, stats.read,
             stats.seconds, dict(stats.produced))
    return stats


def replay_command(source_topic: str, since: datetime, suffix: str, bootstrap: list[str]) -> int:
    """``porte-voix replay``: the number of source records replayed (see :func:`replay`)."""
    return replay(source_topic, since, suffix, bootstrap).replayed
