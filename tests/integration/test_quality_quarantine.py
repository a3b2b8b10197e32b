"""The quality gate in a real worker: bad records reach quality.quarantine, good ones do not."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from infra.broker import EmbeddedBroker
from infra.topics import ensure_topics
from schemas.examples import EXAMPLES
from schemas.models import EnrichedEvent, FeedbackItem, QualityResult, QuarantineRecord
from tests.integration.kafka_utils import WorkerProcess, read_topics

pytestmark = pytest.mark.integration

RECENT = (datetime.now(UTC) - timedelta(hours=2)).isoformat()


@pytest.fixture()
def fresh_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of its own: the test counts every record on the quality topics."""
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as b:
        ensure_topics(b.bootstrap, partitions_override=3)
        yield b


def _enriched(i: int, **enrichment: Any) -> tuple[str, bytes]:
    record = copy.deepcopy(EXAMPLES[EnrichedEvent])
    event_id = f"facebook:quality-{i}"
    record["event"].update(event_id=event_id, raw_id=f"raw-quality-{i}",
                           conversation_id=f"quality-{i}", created_at=RECENT)
    record["enrichment"].update(enrichment)
    return event_id, json.dumps(record, ensure_ascii=False).encode()


def _feedback(i: int, **fields: Any) -> tuple[str, bytes]:
    record = copy.deepcopy(EXAMPLES[FeedbackItem])
    record.update(feedback_id=f"fb-quality-{i}", event_id=f"app_store:quality-{i}",
                  created_at=RECENT, **fields)
    return record["feedback_id"], json.dumps(record, ensure_ascii=False).encode()


def test_bad_records_are_quarantined_with_their_failed_expectations_and_batches_reported(
    fresh_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    good_enriched = [_enriched(i) for i in range(20)]
    bad_enriched = {
        "expect_column_values_to_be_in_set": _enriched(100, lang="de"),
        "expect_column_values_to_be_between": _enriched(101, sentiment_score=3.0),
        "expect_column_values_to_not_match_regex_list": _enriched(
            102, redacted_text="appelez le 06 12 34 56 78"),
    }
    good_feedback = [_feedback(i) for i in range(5)]
    bad_feedback = {
        "expect_column_values_to_not_match_regex_list": _feedback(
            100, redacted_text="mail me at jo.martin@example.org"),
        "expect_column_values_to_be_in_set": _feedback(101, product_area="billing"),
    }
    worker = WorkerProcess({
        "KAFKA_BOOTSTRAP_SERVERS": fresh_broker.bootstrap,
        "PORTE_VOIX_APP_ID": "porte-voix-quality-it",
        "PORTE_VOIX_DELIVER_ENABLED": "false",
        "PORTE_VOIX_QUALITY_BATCH_SIZE": "50",
        "PORTE_VOIX_QUALITY_BATCH_SECONDS": "0.5",
    }, tmp_path / "worker.log").start()
    try:
        producer = KafkaProducer(bootstrap_servers=fresh_broker.bootstrap, acks="all")
        for event_id, value in [*good_enriched, *bad_enriched.values()]:
            producer.send("social.enriched", key=event_id.encode(), value=value)
        for feedback_id, value in [*good_feedback, *bad_feedback.values()]:
            producer.send("feedback.app", key=feedback_id.encode(), value=value)
        producer.flush()
        producer.close()
        bad_count = len(bad_enriched) + len(bad_feedback)
        deadline = time.monotonic() + 75
        quarantined: list[QuarantineRecord] = []
        while time.monotonic() < deadline and len(quarantined) < bad_count:
            assert worker.alive(), worker.log_tail()
            quarantined = [QuarantineRecord.model_validate_json(r.value) for r in read_topics(
                fresh_broker.bootstrap, ["quality.quarantine"], quiet=1.0, timeout=10)]
            time.sleep(1)
        results = [QualityResult.model_validate_json(r.value) for r in read_topics(
            fresh_broker.bootstrap, ["quality.results"], min_count=2, quiet=1.5, timeout=30)]
    finally:
        worker.stop()
    assert len(quarantined) >= bad_count, worker.log_tail()

    def ids(records: list[QuarantineRecord], topic: str, field: str) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for record in records:
            if record.source_topic == topic:
                value = json.loads(record.value)
                key = value["event"][field] if topic == "social.enriched" else value[field]
                found.setdefault(key, set()).update(f.expectation for f in record.failed)
        return found

    enriched_found = ids(quarantined, "social.enriched", "event_id")
    for expectation, (event_id, _) in bad_enriched.items():
        assert expectation in enriched_found.get(event_id, set()), (event_id, enriched_found)
    assert not {e for e, _ in good_enriched} & set(enriched_found), "a good record quarantined"

    feedback_found = ids(quarantined, "feedback.app", "feedback_id")
    for expectation, (feedback_id, _) in bad_feedback.items():
        assert expectation in feedback_found.get(feedback_id, set()), feedback_found
    assert not {f for f, _ in good_feedback} & set(feedback_found)

    record = next(r for r in quarantined if r.source_topic == "feedback.app")
    assert record.partition is not None and record.offset is not None and record.key

    by_topic: dict[str, list[QualityResult]] = {}
    for result in results:
        by_topic.setdefault(result.source_topic, []).append(result)
    for topic, produced in (("social.enriched", len(good_enriched) + len(bad_enriched)),
                            ("feedback.app", len(good_feedback) + len(bad_feedback))):
        batches = by_topic.get(topic, [])
        assert sum(b.records for b in batches) >= produced, (topic, batches)
        assert any(not b.success and b.failed_records for b in batches)
        assert all(b.suite == topic and b.expectations for b in batches)
