"""The topic declaration and the schemas are one consistent contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas.export import export_schemas
from schemas.models import (
    DeadLetter,
    ErrorKind,
    Kind,
    Platform,
    ProductArea,
    RawEnvelope,
    SocialEvent,
    Stage,
    TicketCommand,
)
from schemas.topics import TOPICS, feedback_topic, topic

DESIGN_TOPICS = {"social.raw", "social.events", "social.enriched", "social.deadletter",
                 "crm.commands", "crm.results", "crm.deadletter", "moderation.queue",
                 "alerts.crisis", "connectors.health"}


def test_every_design_topic_and_one_feedback_topic_per_area_is_declared() -> None:
    assert DESIGN_TOPICS <= set(TOPICS)
    assert {feedback_topic(a) for a in ProductArea} <= set(TOPICS)


def test_every_topic_value_model_has_a_schema_version() -> None:
    for spec in TOPICS.values():
        assert spec.value_model.model_fields["schema_version"].default, spec.name
        assert spec.partitions >= 1
        assert spec.cleanup_policy in {"delete", "compact"}


def test_unknown_topic_lookup_names_the_declared_topics() -> None:
    with pytest.raises(KeyError, match=r"social\.raw"):
        topic("social.rwa")


def test_schema_export_writes_one_draft_2020_12_schema_per_topic(tmp_path: Path) -> None:
    paths = export_schemas(tmp_path)
    assert {p.stem for p in paths} == set(TOPICS)
    schema = json.loads((tmp_path / "social.events.json").read_text())
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["x-schema-version"] == "1.0"
    assert "conversation_id" in schema["properties"]


def test_committed_schemas_match_the_models(tmp_path: Path) -> None:
    committed = Path(__file__).resolve().parents[2] / "schemas" / "jsonschema"
    for path in export_schemas(tmp_path):
        assert json.loads(path.read_text()) == json.loads((committed / path.name).read_text()), (
            f"{path.name} changed: run `make schemas` and review the change")


def test_raw_envelope_keeps_payload_bytes_exactly_and_ids_are_replay_stable() -> None:
    payload = b'{"x": "caf\xc3\xa9", "bad": "\xff"}'
    first = RawEnvelope.wrap("meta_webhook", payload)
    again = RawEnvelope.wrap("meta_webhook", payload)
    assert first.raw_id == again.raw_id
    assert RawEnvelope.model_validate_json(first.model_dump_json()).payload == payload


def test_producer_typos_fail_loudly() -> None:
    with pytest.raises(ValidationError):
        SocialEvent(event_id="x:1", platform=Platform.x, kind=Kind.mention, source="t",
                    platform_item_id="1", conversation_id="1", brand="B",
                    created_at=datetime.now(UTC), txet="typo")  # type: ignore[call-arg]


def test_ticket_command_priority_is_bounded() -> None:
    with pytest.raises(ValidationError):
        TicketCommand(command_id="c", external_id="x:1", event_id="x:1", brand="B",
                      platform=Platform.x, kind=Kind.dm, title="t", body="b", priority=9,
                      created_at=datetime.now(UTC))


def test_dead_letter_needs_a_reason_and_keeps_raw_bytes() -> None:
    with pytest.raises(ValidationError):
        DeadLetter(stage=Stage.normalize, error_kind=ErrorKind.bad_input, error=" ", raw=b"x")
    letter = DeadLetter(stage=Stage.normalize, error_kind=ErrorKind.bad_input,
                        error="not JSON", raw=b"\x00\xff")
    assert DeadLetter.model_validate_json(letter.model_dump_json()).raw == b"\x00\xff"
