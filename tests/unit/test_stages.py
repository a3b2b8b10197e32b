"""The stages as pure functions: outputs, headers, dead letters and repeat collapsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pipeline.enrich import Enricher
from pipeline.normalize.brands import BrandDirectory
from pipeline.records import Origin
from pipeline.repeats import RepeatFilter
from pipeline.routing import load_rules
from pipeline.settings import DEFAULT_BRANDS, DEFAULT_RULES
from pipeline.stages import enrich_stage, guarded, normalize_stage, route_stage
from schemas.models import (
    Action,
    DeadLetter,
    EnrichedEvent,
    ErrorKind,
    Kind,
    Platform,
    RawEnvelope,
    SocialEvent,
    Stage,
)

BRANDS = BrandDirectory.load(DEFAULT_BRANDS)


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher()


def _messenger(text: str, mid: str = "m_1") -> bytes:
    body = {"object": "page", "entry": [{"id": "104857600123402", "time": 1763000000000,
            "messaging": [{"sender": {"id": "7012345600000999"},
                           "recipient": {"id": "104857600123402"},
                           "timestamp": 1763000000000,
                           "message": {"mid": mid, "text": text}}]}]}
    return RawEnvelope.wrap("meta_webhook", json.dumps(body).encode()).model_dump_json().encode()


def _event(text: str, action: Action = Action.created) -> SocialEvent:
    return SocialEvent(event_id="x:1", platform=Platform.x, kind=Kind.mention, source="t",
                       action=action, platform_item_id="1", conversation_id="1", brand="Croque",
                       text=text, created_at=datetime(2026, 11, 1, tzinfo=UTC))


def test_normalize_keys_events_by_conversation_and_sets_contract_headers() -> None:
    [out] = normalize_stage(_messenger("Ma commande n'est jamais arrivée"), BRANDS)
    event = SocialEvent.model_validate_json(out.value)
    assert out.topic == "social.events"
    assert out.key == event.conversation_key.encode()
    headers = dict(out.headers)
    assert headers["schema_version"] == b"1.0"
    assert headers["value_model"] == b"SocialEvent"
    assert headers["trace_id"] == event.raw_id.encode()
    assert headers["event_time"].startswith(b"2025-11")


def test_a_malformed_raw_record_becomes_a_typed_dead_letter_with_its_bytes() -> None:
    raw = b'{"schema_version": "1.0", "raw_id": "x"'
    [out] = guarded(Stage.normalize, lambda r: normalize_stage(r, BRANDS), raw,
                    Origin("social.raw", 2, 41, b"k"))
    letter = DeadLetter.model_validate_json(out.value)
    assert out.topic == "social.deadletter"
    assert (letter.stage, letter.error_kind) == (Stage.normalize, ErrorKind.bad_input)
    assert letter.raw == raw and (letter.partition, letter.offset) == (2, 41)
    assert "RawEnvelope" in letter.error


def test_enrich_drops_exact_redeliveries_but_passes_edits(enricher: Enricher) -> None:
    repeats = RepeatFilter()
    first = _event("my order never came").model_dump_json().encode()
    edit = _event("my order never came, 2 hours now", Action.edited).model_dump_json().encode()
    outs = enrich_stage([first, first, edit], [Origin()] * 3, enricher, repeats)
    assert [o.topic for o in outs] == ["social.enriched", "social.enriched"]
    assert repeats.dropped == 1
    texts = [EnrichedEvent.model_validate_json(o.value).event.text for o in outs]
    assert texts == ["my order never came", "my order never came, 2 hours now"]


def test_enrich_dead_letters_what_is_not_an_event_and_keeps_the_rest(enricher: Enricher) -> None:
    good = _event("where is my refund?").model_dump_json().encode()
    outs = enrich_stage([b"{}", good], [Origin("social.events", 0, 1), Origin()], enricher)
    assert [o.topic for o in outs] == ["social.deadletter", "social.enriched"]


def test_route_turns_a_complaint_into_a_ticket_command_keyed_by_conversation(
    enricher: Enricher,
) -> None:
    [enriched] = enrich_stage([_event(
        "Commande #CRQ-1234-5678 jamais livrée, je veux être remboursé, appelez-moi au "
        "06 12 34 56 78").model_dump_json().encode()], [Origin()], enricher)
    outs = route_stage(enriched.value, load_rules(DEFAULT_RULES))
    commands = [o for o in outs if o.topic == "crm.commands"]
    assert len(commands) == 1
    assert commands[0].key == b"x:1"
    for out in outs:
        if out.topic != "crm.commands":  # only the CRM may see the raw text
            assert b"06 12 34 56 78" not in out.value
