"""Quality suites: each expectation catches its bad case, good records pass, batch bounds hold.

Bad records of a topic are validated together in one batch (great-expectations costs about the
same for 1 or 500 rows), and each test looks for its own record in the quarantine.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.enrich.pii import PiiRedactor
from pipeline.quality.frames import QualityConfig, frame_spec
from pipeline.quality.suites import pii_kinds
from pipeline.quality.validate import quality_outputs, validate_batch
from pipeline.records import Origin
from schemas.examples import EXAMPLES
from schemas.models import (
    EnrichedEvent,
    FeedbackItem,
    PiiKind,
    QualityResult,
    QuarantineRecord,
    TicketCommand,
)

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
Outcome = tuple[QualityResult, list[QuarantineRecord]]


def _set(record: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        record = record[part]
    if value is _DROP:
        del record[last]
    else:
        record[last] = value


_DROP = object()


def enriched(i: int, **changes: Any) -> bytes:
    """The example EnrichedEvent with its own ids; changes are dotted paths (``__`` = ``.``)."""
    record = copy.deepcopy(EXAMPLES[EnrichedEvent])
    record["event"]["event_id"] = f"facebook:{i}"
    record["event"]["raw_id"] = f"raw-{i}"
    record["event"]["created_at"] = (NOW - timedelta(hours=1)).isoformat()
    for path, value in changes.items():
        _set(record, path.replace("__", "."), value)
    return json.dumps(record, ensure_ascii=False).encode()


def feedback(i: int, **changes: Any) -> bytes:
    record = copy.deepcopy(EXAMPLES[FeedbackItem])  # product_area "app"
    record["feedback_id"] = f"fb-{i}"
    record["event_id"] = f"app_store:{i}"
    record.update(changes)
    return json.dumps(record, ensure_ascii=False).encode()


def command(i: int, **changes: Any) -> bytes:
    record = copy.deepcopy(EXAMPLES[TicketCommand])
    record["command_id"] = f"cmd-{i}"
    record.update(changes)
    return json.dumps(record, ensure_ascii=False).encode()


def run(topic: str, records: list[bytes], config: QualityConfig | None = None) -> Outcome:
    origins = [Origin(topic=topic, partition=0, offset=i, key=f"k{i}".encode())
               for i in range(len(records))]
    return validate_batch(topic, records, origins=origins, config=config, now=NOW)


def failures_of(outcome: Outcome, offset: int) -> set[tuple[str, str | None]]:
    for record in outcome[1]:
        if record.offset == offset:
            return {(f.expectation, f.column) for f in record.failed}
    return set()


# ------------------------------------------------------------------------ social.enriched

ENRICHED_CASES: dict[str, tuple[Callable[[int], list[bytes]], str, str]] = {
    "unknown lang": (lambda i: [enriched(i, enrichment__lang="de")],
                     "expect_column_values_to_be_in_set", "lang"),
    "unknown sentiment": (lambda i: [enriched(i, enrichment__sentiment="angry")],
                          "expect_column_values_to_be_in_set", "sentiment"),
    "unknown intent": (lambda i: [enriched(i, enrichment__intent="rant")],
                       "expect_column_values_to_be_in_set", "intent"),
    "unknown product area": (lambda i: [enriched(i, enrichment__product_area="weather")],
                             "expect_column_values_to_be_in_set", "product_area"),
    "unknown urgency": (lambda i: [enriched(i, enrichment__urgency="extreme")],
                        "expect_column_values_to_be_in_set", "urgency"),
    "unknown platform": (lambda i: [enriched(i, event__platform="myspace")],
                         "expect_column_values_to_be_in_set", "platform"),
    "unknown kind": (lambda i: [enriched(i, event__kind="story")],
                     "expect_column_values_to_be_in_set", "kind"),
    "missing lang": (lambda i: [enriched(i, enrichment__lang=_DROP)],
                     "expect_column_values_to_not_be_null", "lang"),
    "sentiment score above 1": (lambda i: [enriched(i, enrichment__sentiment_score=1.5)],
                                "expect_column_values_to_be_between", "sentiment_score"),
    "sentiment score below -1": (lambda i: [enriched(i, enrichment__sentiment_score=-1.01)],
                                 "expect_column_values_to_be_between", "sentiment_score"),
    "sentiment score not a number": (
        lambda i: [enriched(i, enrichment__sentiment_score="very")],
        "expect_column_values_to_not_be_null", "sentiment_score"),
    "confidence above 1": (lambda i: [enriched(i, enrichment__lang_confidence=1.2)],
                           "expect_column_values_to_be_between", "lang_confidence"),
    "negative confidence": (lambda i: [enriched(i, enrichment__intent_confidence=-0.1)],
                            "expect_column_values_to_be_between", "intent_confidence"),
    "created in the future": (
        lambda i: [enriched(i, event__created_at=(NOW + timedelta(hours=1)).isoformat())],
        "expect_column_values_to_be_between", "created_at"),
    "created before 2005": (lambda i: [enriched(i, event__created_at="1999-12-31T23:00:00Z")],
                            "expect_column_values_to_be_between", "created_at"),
    "created_at not a time": (lambda i: [enriched(i, event__created_at="yesterday")],
                              "expect_column_values_to_not_be_null", "created_at"),
    "missing event_id": (lambda i: [enriched(i, event__event_id=_DROP)],
                         "expect_column_values_to_not_be_null", "event_id"),
    "empty event_id": (lambda i: [enriched(i, event__event_id="")],
                       "expect_column_value_lengths_to_be_between", "event_id"),
    "email in redacted text": (
        lambda i: [enriched(i, enrichment__redacted_text="write to jo.martin@example.org")],
        "expect_column_values_to_not_match_regex_list", "redacted_text"),
    "not JSON": (lambda i: [b'{"event": {"event_id": "trunc'],
                 "expect_column_values_to_be_in_set", "json_object"),
    "duplicate id": (lambda i: [enriched(i), enriched(i)],
                     "expect_compound_columns_to_be_unique", "event_id,raw_id"),
}
GOOD_ENRICHED = 3


@pytest.fixture(scope="module")
def enriched_batch() -> tuple[Outcome, dict[str, list[int]]]:
    """Three good records, then each bad case; case name -> offsets of its records."""
    records = [enriched(i) for i in range(GOOD_ENRICHED)]
    offsets: dict[str, list[int]] = {}
    for n, (make, _, _) in enumerate(ENRICHED_CASES.values()):
        made = make(100 + n)
        offsets[list(ENRICHED_CASES)[n]] = list(range(len(records), len(records) + len(made)))
        records.extend(made)
    return run("social.enriched", records), offsets


@pytest.mark.parametrize("case", list(ENRICHED_CASES))
def test_each_enriched_expectation_quarantines_its_bad_record(
    enriched_batch: tuple[Outcome, dict[str, list[int]]], case: str
) -> None:
    outcome, offsets = enriched_batch
    _, expectation, column = ENRICHED_CASES[case]
    for offset in offsets[case]:
        assert (expectation, column) in failures_of(outcome, offset), outcome[1]


def test_good_records_in_a_bad_batch_are_not_quarantined(
    enriched_batch: tuple[Outcome, dict[str, list[int]]]
) -> None:
    (result, quarantined), offsets = enriched_batch
    bad = {o for offs in offsets.values() for o in offs}
    assert {r.offset for r in quarantined} == bad
    assert result.failed_records == len(bad)
    assert result.records == GOOD_ENRICHED + len(bad)
    assert not result.success


def test_quarantined_records_keep_their_bytes_origin_and_a_readable_reason(
    enriched_batch: tuple[Outcome, dict[str, list[int]]]
) -> None:
    (_, quarantined), offsets = enriched_batch
    by_offset = {r.offset: r for r in quarantined}
    lang = by_offset[offsets["unknown lang"][0]]
    assert lang.source_topic == "social.enriched" and lang.suite == "social.enriched"
    assert lang.partition == 0 and lang.key == f"k{lang.offset}".encode()
    assert json.loads(lang.value)["enrichment"]["lang"] == "de"
    assert lang.failed[0].detail == "lang='de' is not one of ['en', 'fr', 'other']"
    future = by_offset[offsets["created in the future"][0]].failed[0].detail
    assert "outside" in future and "2026-11-22T12:05:00+00:00" in future  # now + 300 s skew
    (not_json,) = by_offset[offsets["not JSON"][0]].failed
    assert not_json.detail == "the record is not a JSON object"
    email = by_offset[offsets["email in redacted text"][0]].failed[0].detail
    assert "email" in email and "jo.martin" not in email, "a reason must not repeat the PII"


def test_a_clean_enriched_batch_passes_every_expectation() -> None:
    result, quarantined = run("social.enriched", [enriched(i) for i in range(5)])
    assert result.success and quarantined == []
    assert result.expectations and all(result.expectations.values())
    assert "expect_column_values_to_be_in_set(urgency)" in result.expectations


def test_a_created_at_within_the_clock_skew_passes() -> None:
    soon = (NOW + timedelta(seconds=60)).isoformat()
    result, quarantined = run("social.enriched", [enriched(1, event__created_at=soon)])
    assert result.success and quarantined == []


def test_a_versioned_replay_topic_is_validated_with_its_base_suite() -> None:
    records = [enriched(1), enriched(2, enrichment__lang="xx")]
    result, quarantined = run("social.enriched.v2", records)
    assert result.suite == "social.enriched" and result.source_topic == "social.enriched.v2"
    assert [r.offset for r in quarantined] == [1]


def test_a_topic_without_suite_is_refused() -> None:
    with pytest.raises(KeyError, match="no quality suite"):
        validate_batch("moderation.queue", [b"{}"])


# ------------------------------------------------------------------- batch distributions


def test_a_batch_outside_its_language_bounds_fails_without_quarantining_anyone() -> None:
    records = [enriched(i, enrichment__lang="other") for i in range(60)]
    result, quarantined = run("social.enriched", records)
    assert not result.success
    assert result.expectations["expect_column_mean_to_be_between(lang_is_other)"] is False
    assert quarantined == []
    assert result.failed_records == 0


def test_distribution_bounds_come_from_the_config_and_skip_small_batches() -> None:
    strict = QualityConfig(sentiment_share={"negative": (0.0, 0.5)}, min_rows_for_distribution=10)
    negative = [enriched(i) for i in range(12)]  # the example is negative
    result, _ = run("social.enriched", negative, config=strict)
    assert result.expectations["expect_column_mean_to_be_between(sentiment_is_negative)"] is False
    assert not result.success
    small, _ = run("social.enriched", negative[:5], config=strict)
    assert small.success
    assert not any("mean" in name for name in small.expectations)


def test_a_mixed_batch_within_bounds_passes_the_distribution_checks() -> None:
    records = [enriched(i, enrichment__lang="other" if i % 10 == 0 else ("fr", "en")[i % 2],
                        enrichment__sentiment=("negative", "neutral", "positive")[i % 3])
               for i in range(60)]
    result, quarantined = run("social.enriched", records)
    assert result.success, result.expectations
    assert result.expectations["expect_column_mean_to_be_between(lang_is_other)"] is True
    assert quarantined == []


def test_share_bounds_must_be_ordered_within_zero_and_one() -> None:
    with pytest.raises(ValueError, match="0 <= min <= max <= 1"):
        QualityConfig(lang_share={"fr": (0.8, 0.2)})
    with pytest.raises(ValueError, match="unknown language"):
        QualityConfig(lang_share={"de": (0.0, 0.2)})


# ------------------------------------------------------------------------------ feedback

PII_TEXTS = {
    "email": "Écrivez-moi à marie.dupont+sav@example.fr pour le suivi",
    "phone": "rappelez-moi au 06 12 34 56 78 svp",
    "card": "my card 4111 1111 1111 1111 was charged twice",
    "iban": "rembourser sur FR76 3000 6000 0112 3456 7890 189 merci",
}


@pytest.mark.parametrize("kind", list(PII_TEXTS))
def test_pii_left_in_feedback_text_is_quarantined_with_its_kind(kind: str) -> None:
    records = [feedback(0), feedback(1, redacted_text=PII_TEXTS[kind])]
    result, quarantined = run("feedback.app", records)
    assert [r.offset for r in quarantined] == [1]
    (failed,) = quarantined[0].failed
    assert failed.expectation == "expect_column_values_to_not_match_regex_list"
    assert failed.column == "redacted_text"
    assert kind in failed.detail
    label = "expect_column_values_to_not_match_regex_list(redacted_text)"
    assert result.expectations[label] is False


def test_feedback_of_another_area_duplicates_and_bad_ratings_are_quarantined() -> None:
    records = [feedback(0), feedback(1, product_area="billing"), feedback(2, rating=6),
               feedback(3), feedback(3), feedback(4, lang="es")]
    outcome = run("feedback.app", records)
    assert failures_of(outcome, 0) == set()
    assert ("expect_column_values_to_be_in_set", "product_area") in failures_of(outcome, 1)
    assert ("expect_column_values_to_be_between", "rating") in failures_of(outcome, 2)
    assert ("expect_column_values_to_be_unique", "feedback_id") in failures_of(outcome, 3)
    assert ("expect_column_values_to_be_unique", "feedback_id") in failures_of(outcome, 4)
    assert ("expect_column_values_to_be_in_set", "lang") in failures_of(outcome, 5)
    assert outcome[0].suite == "feedback.app"


def _corpus() -> list[str]:
    texts = [json.loads(line)["text"] for path in sorted((REPO / "data" / "train").glob("*.jsonl"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [*texts, *PII_TEXTS.values(), "send it to GB82WEST12345698765432 please",
            "call me on +44 20 7946 0958 tonight", "appelle-moi au 514-555-0199 stp",
            "jean.dupont [at] gmail.com ou 0033 6 12 34 56 78"]


def test_the_pii_patterns_agree_with_the_pii_redactor_on_the_training_corpus() -> None:
    """Whatever the redactor finds is flagged; whatever it redacts passes the suite."""
    redactor = PiiRedactor()
    checked = {PiiKind.email, PiiKind.phone, PiiKind.card, PiiKind.iban}
    texts = _corpus()
    with_pii = [(t, {s.kind.value for s in redactor.find(t) if s.kind in checked}) for t in texts]
    with_pii = [(t, kinds) for t, kinds in with_pii if kinds]
    assert len(with_pii) >= 10, "the corpus should exercise every checked kind"
    assert {k for _, kinds in with_pii for k in kinds} == {k.value for k in checked}

    raw = [feedback(i, redacted_text=text) for i, (text, _) in enumerate(with_pii)]
    _, quarantined = run("feedback.app", raw)
    flagged = {r.offset: r.failed for r in quarantined}
    for i, (text, kinds) in enumerate(with_pii):
        assert i in flagged, f"not flagged: {text!r}"
        assert set(pii_kinds(text)) >= kinds, text

    redacted = [feedback(i, redacted_text=redactor.redact(t)[1]) for i, t in enumerate(texts)]
    _, quarantined = run("feedback.app", redacted)
    assert [redactor.redact(texts[r.offset])[1] for r in quarantined] == []


# --------------------------------------------------------------------------- crm.commands


def test_command_priorities_ids_enums_and_times_are_checked() -> None:
    records = [command(0), command(1, priority=0), command(2, priority=9),
               command(3, kind="story"), command(4, created_at="2031-01-01T00:00:00Z"),
               command(5), command(5), command(6, priority="urgent")]
    outcome = run("crm.commands", records)
    assert failures_of(outcome, 0) == set()
    assert ("expect_column_values_to_be_between", "priority") in failures_of(outcome, 1)
    assert ("expect_column_values_to_be_between", "priority") in failures_of(outcome, 2)
    assert ("expect_column_values_to_be_in_set", "kind") in failures_of(outcome, 3)
    assert ("expect_column_values_to_be_between", "created_at") in failures_of(outcome, 4)
    assert ("expect_column_values_to_be_unique", "command_id") in failures_of(outcome, 5)
    assert ("expect_column_values_to_be_unique", "command_id") in failures_of(outcome, 6)
    assert ("expect_column_values_to_not_be_null", "priority") in failures_of(outcome, 7)
    assert outcome[0].failed_records == 7


def test_good_commands_and_feedback_pass() -> None:
    for topic, records in (("crm.commands", [command(i) for i in range(4)]),
                           ("feedback.app", [feedback(i) for i in range(4)])):
        result, quarantined = run(topic, records)
        assert result.success and quarantined == [], (topic, result.expectations)
        assert all(result.expectations.values())


# ------------------------------------------------------------------- results and outputs


def test_an_empty_batch_is_a_success_without_validation() -> None:
    result, quarantined = validate_batch("crm.commands", [])
    assert result.success and result.records == 0 and quarantined == []


def test_the_batch_id_is_stable_for_the_same_offsets() -> None:
    first, _ = run("crm.commands", [command(1)])
    again, _ = run("crm.commands", [command(1)])
    assert first.batch_id == again.batch_id


def test_outputs_go_to_quarantine_by_source_key_and_results_by_topic() -> None:
    result, quarantined = run("crm.commands", [command(1), command(2, priority=0)])
    outputs = quality_outputs(result, quarantined)
    assert [(o.topic, o.key) for o in outputs] == [("quality.quarantine", b"k1"),
                                                  ("quality.results", b"crm.commands")]
    assert QuarantineRecord.model_validate_json(outputs[0].value).value == command(2, priority=0)
    assert dict(outputs[1].headers)["value_model"] == b"QualityResult"


def test_every_validated_topic_has_a_suite() -> None:
    from schemas.topics import TOPICS

    for name in TOPICS:
        if name.startswith("feedback.") or name in ("social.enriched", "crm.commands"):
            assert frame_spec(name).suite == name


# ------------------------------------------------------------------------------ the agents


def test_the_worker_registers_quality_agents_beside_the_route_and_deliver_agents() -> None:
    from pipeline.app import create_app
    from pipeline.settings import Settings

    on = create_app(Settings(app_id="quality-unit"))
    names = {agent.name for agent in on.agents.values()}
    assert {"route", "deliver", "quality-enriched", "quality-feedback",
            "quality-commands"} <= names
    off = create_app(Settings(app_id="quality-unit-off", quality_enabled=False))
    assert not any(a.name.startswith("quality") for a in off.agents.values())


def test_building_the_worker_does_not_import_great_expectations() -> None:
    """The import takes seconds: it happens in the quality agents' thread, not at start-up."""
    import subprocess
    import sys

    code = ("import sys\nfrom pipeline.app import create_app\nfrom pipeline.settings import "
            "Settings\ncreate_app(Settings(app_id='quality-lazy'))\n"
            "print('great_expectations' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=120, check=True)
    assert done.stdout.strip().splitlines()[-1] == "False", done.stderr
