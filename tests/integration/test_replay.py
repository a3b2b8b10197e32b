"""Replay of social.raw into versioned topics: same events, same command ids, no live writes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from connectors.producer import RawProducer
from connectors.sources.backfill import BackfillConfig, BackfillSource
from infra.broker import EmbeddedBroker
from infra.run import DEMO_TRAFFIC
from infra.topics import ensure_topics
from pipeline.normalize.brands import BrandDirectory
from pipeline.replay import replay
from pipeline.settings import get_settings
from pipeline.stages import normalize_stage
from schemas.models import EnrichedEvent, TicketCommand
from schemas.topics import TOPICS
from tests.integration.kafka_utils import WorkerProcess, read_topics

pytestmark = pytest.mark.integration


@pytest.fixture()
def fresh_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of its own: social.raw must hold only what this test wrote."""
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as b:
        ensure_topics(b.bootstrap, partitions_override=3)
        yield b


def _event_ids(bootstrap: str, topic: str) -> list[tuple[str, str]]:
    """(event_id, trace_id header) of every record on an enriched topic (edits share ids)."""
    return sorted((EnrichedEvent.model_validate_json(r.value).event.event_id,
                   dict(r.headers)["trace_id"].decode()) for r in read_topics(bootstrap, [topic]))


def _command_ids(bootstrap: str, topic: str) -> set[str]:
    return {TicketCommand.model_validate_json(r.value).command_id
            for r in read_topics(bootstrap, [topic])}


def _wait_for_pipeline(bootstrap: str, worker: WorkerProcess, events: int,
                       timeout: float = 60) -> None:
    """Until every normalized event is enriched and the route outputs stopped growing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.alive(), worker.log_tail()
        if len(read_topics(bootstrap, ["social.enriched"], quiet=1.0, timeout=10)) >= events:
            read_topics(bootstrap, ["crm.commands"], quiet=2.0, timeout=10)
            return
        time.sleep(1)
    raise AssertionError(f"the worker did not enrich {events} events\n{worker.log_tail()}")


def test_replay_into_v2_gives_the_same_events_and_command_ids_and_since_filters(
    fresh_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    envelopes = list(BackfillSource(BackfillConfig(path=DEMO_TRAFFIC)).read())
    early, late = envelopes[:40], envelopes[40:]
    brands = BrandDirectory.load(get_settings().brands_file)
    events = sum(len(normalize_stage(e.model_dump_json().encode(), brands)) for e in envelopes)
    worker = WorkerProcess({
        "KAFKA_BOOTSTRAP_SERVERS": fresh_broker.bootstrap,
        "PORTE_VOIX_APP_ID": "porte-voix-replay-it",
        "PORTE_VOIX_DELIVER_ENABLED": "false",
        "PORTE_VOIX_QUALITY_ENABLED": "false",
    }, tmp_path / "worker.log").start()
    try:
        with RawProducer(fresh_broker.bootstrap) as producer:
            assert sum(producer.send_all(early)) == len(early)
            time.sleep(1.0)
            middle = datetime.now(UTC)
            time.sleep(1.0)
            assert sum(producer.send_all(late)) == len(late)
        _wait_for_pipeline(fresh_broker.bootstrap, worker, events)
    finally:
        worker.stop()
    originals = _event_ids(fresh_broker.bootstrap, "social.enriched")
    original_commands = _command_ids(fresh_broker.bootstrap, "crm.commands")
    assert len(originals) == events and original_commands

    started = time.monotonic()
    stats = replay("social.raw", datetime(2005, 1, 1, tzinfo=UTC), "v2",
                   fresh_broker.bootstrap)
    elapsed = time.monotonic() - started
    print(f"replayed {stats.replayed} raw records in {elapsed:.1f}s (start: {stats.start}), "
          f"produced {dict(stats.produced)}")
    assert stats.replayed == len(envelopes)
    replayed = _event_ids(fresh_broker.bootstrap, "social.enriched.v2")
    assert replayed == originals, "a replay must keep event ids and trace ids, once each"
    assert _command_ids(fresh_broker.bootstrap, "crm.commands.v2") == original_commands
    assert _command_ids(fresh_broker.bootstrap, "crm.commands") == original_commands, (
        "the replay wrote to a live topic")

    consumer = KafkaConsumer(bootstrap_servers=fresh_broker.bootstrap)
    try:
        existing = set(consumer.topics())
    finally:
        consumer.close()
    versioned = {name for name in existing if name.endswith(".v2")}
    assert {"social.events.v2", "social.enriched.v2", "crm.commands.v2",
            "feedback.app.v2", "social.deadletter.v2"} <= versioned
    assert "crm.results.v2" not in versioned, "delivery is not replayed"
    assert {t.removesuffix(".v2") for t in [*versioned, *stats.produced]} <= set(TOPICS)

    since = replay("social.raw", middle, "v3", fresh_broker.bootstrap)
    print(f"since {middle.isoformat()}: read {since.read}, replayed {since.replayed} "
          f"in {since.seconds:.1f}s (start: {since.start})")
    assert since.replayed == len(late)
    late_ids = {e.raw_id for e in late}
    assert _event_ids(fresh_broker.bootstrap, "social.enriched.v3") == [
        (event_id, trace) for event_id, trace in originals if trace in late_ids]
