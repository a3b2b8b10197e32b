"""The documented consumer and ``porte-voix tail`` against a real embedded broker."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
from kafka import KafkaProducer

from infra.broker import EmbeddedBroker
from pipeline.records import Output
from pipeline.tail import tail
from schemas.examples import EXAMPLES
from schemas.models import Action, EnrichedEvent, Lang, PiiKind

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "docs" / "examples" / "consume_enriched.py"
TOPIC = "social.enriched"


def enriched(brand: str, item: str, lang: Lang, raw_id: str,
             action: Action = Action.created, pii: list[PiiKind] | None = None) -> EnrichedEvent:
    """The catalog example turned into a distinct event of ``brand``."""
    base = EnrichedEvent.model_validate(EXAMPLES[EnrichedEvent])
    event = base.event.model_copy(update={
        "brand": brand, "platform_item_id": item, "event_id": f"facebook:{item}",
        "raw_id": raw_id, "action": action})
    labels = base.enrichment.model_copy(update={"lang": lang, "pii": pii or []})
    return EnrichedEvent(event=event, enrichment=labels)


def produce(bootstrap: str, records: Sequence[Output | tuple[bytes, list[tuple[str, bytes]]]],
            linger_ms: int = 0) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=linger_ms)
    try:
        for record in records:
            if isinstance(record, Output):
                producer.send(record.topic, key=record.key, value=record.value,
                              headers=record.headers)
            else:
                value, headers = record
                producer.send(TOPIC, key=b"garbage", value=value, headers=headers)
        producer.flush(30)
    finally:
        producer.close()


def out(model: EnrichedEvent) -> Output:
    event = model.event
    return Output.of(TOPIC, event.conversation_key, model, trace_id=event.raw_id,
                     event_time=event.created_at.isoformat())


@pytest.fixture(scope="module")
def seeded(broker: EmbeddedBroker) -> dict[str, object]:
    """One brand's records: 3 events, a redelivery, an edit, an invalid and a 2.0 record."""
    brand = f"Brand-{uuid.uuid4().hex[:8]}"
    first = enriched(brand, "1", Lang.fr, "raw-1", pii=[PiiKind.email])
    second = enriched(brand, "2", Lang.en, "raw-2")
    third = enriched(brand, "3", Lang.fr, "raw-3")
    edit = enriched(brand, "1", Lang.fr, "raw-1-edit", action=Action.edited)
    future = json.loads(third.model_dump_json())
    future["schema_version"] = "2.0"
    future["event"]["event_id"] = "facebook:from-the-future"
    produce(broker.bootstrap, [
        out(first), out(second), out(first), out(third), out(edit),
        (b'{"schema_version": "1.0", "event": {"brand": "' + brand.encode() + b'"}}',
         [("schema_version", b"1.0")]),
        (json.dumps(future).encode(), [("schema_version", b"2.0")]),
    ])
    return {"brand": brand, "bootstrap": broker.bootstrap}


def test_example_consumer_validates_dedups_redeliveries_and_keeps_edits(
        seeded: dict[str, object]) -> None:
    brand = str(seeded["brand"])
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--bootstrap", str(seeded["bootstrap"]),
         "--group", f"test-{uuid.uuid4().hex[:8]}", "--idle-seconds", "10"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    mine = [(r["event_id"], r["action"], r["lang"]) for r in rows if r["brand"] == brand]
    assert sorted(mine) == [("facebook:1", "created", "fr"), ("facebook:1", "edited", "fr"),
                            ("facebook:2", "created", "en"), ("facebook:3", "created", "fr")]
    counts = json.loads(done.stderr.strip().splitlines()[-1])
    assert counts["duplicate"] >= 1
    assert counts["invalid"] >= 1
    assert counts["other_version"] >= 1
    assert "skip" in done.stderr


def test_tail_from_beginning_filters_on_dotted_fields(
        seeded: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    brand = str(seeded["brand"])
    code = tail([str(seeded["bootstrap"])], TOPIC, from_beginning=True,
                filters=[f"event.brand={brand}", "enrichment.lang=fr"], max_records=None,
                raw=False, idle_seconds=4)
    assert code == 0
    captured = capsys.readouterr()
    assert "enrichment.lang=fr" in captured.err
    headers = [line for line in captured.out.splitlines() if line.startswith(f"{TOPIC}[")]
    # first, its redelivery, third, the edit and the 2.0 record: never the English one
    assert len(headers) == 5
    assert '"facebook:2"' not in captured.out
    assert "! not a valid EnrichedEvent: " in captured.out  # shown, and flagged
    assert "value_model=EnrichedEvent" in captured.out
    assert "trace_id=raw-1-edit" in captured.out


def test_tail_raw_prints_stored_values_one_per_line_and_matches_list_elements(
        seeded: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    brand = str(seeded["brand"])
    code = tail([str(seeded["bootstrap"])], TOPIC, from_beginning=True,
                filters=[f"event.brand={brand}", "enrichment.pii=email"], max_records=2,
                raw=True)
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line in lines:
        record = EnrichedEvent.model_validate_json(line)
        assert record.event.event_id == "facebook:1"


def test_tail_without_from_beginning_shows_only_records_written_after_it_started(
        broker: EmbeddedBroker, capsys: pytest.CaptureFixture[str]) -> None:
    brand = f"Live-{uuid.uuid4().hex[:8]}"
    # Five records of one conversation in one batch: the broker's LATEST offset lands inside it.
    old = [out(enriched(brand, "same-thread", Lang.en, f"old-{i}")) for i in range(5)]
    produce(broker.bootstrap, old, linger_ms=200)
    time.sleep(0.05)  # the tail starts strictly after the old records' timestamps

    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(tail(
        [broker.bootstrap], TOPIC, from_beginning=False, filters=[f"event.brand={brand}"],
        max_records=2, raw=False, idle_seconds=30)))
    worker.start()
    printed, err = "", ""
    deadline = time.monotonic() + 60
    while "tailing" not in err and time.monotonic() < deadline:
        time.sleep(0.2)
        captured = capsys.readouterr()
        printed, err = printed + captured.out, err + captured.err
    assert "from new records" in err

    new = [out(enriched(brand, "same-thread", Lang.en, f"new-{i}")) for i in range(2)]
    produce(broker.bootstrap, new)
    worker.join(60)
    assert result == [0]
    printed += capsys.readouterr().out
    assert "trace_id=old-" not in printed
    assert "trace_id=new-0" in printed and "trace_id=new-1" in printed


def test_tail_rejects_unknown_topics_and_fields_with_a_hint(
        broker: EmbeddedBroker, capsys: pytest.CaptureFixture[str]) -> None:
    assert tail([broker.bootstrap], "social.enrich", True, [], 1, False) == 2
    assert "declared:" in capsys.readouterr().err
    assert tail([broker.bootstrap], TOPIC, True, ["lang=fr"], 1, False) == 2
    assert "did you mean enrichment.lang" in capsys.readouterr().err
    assert tail([broker.bootstrap], TOPIC, True, ["enrichment.lang"], 1, False) == 2
    assert "FIELD=VALUE" in capsys.readouterr().err
