"""Dead letters are listed with their reasons and replayed to the topic they came from."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kafka import KafkaProducer

from infra.broker import EmbeddedBroker
from pipeline.dlq import read_letters, replay, select, summary
from schemas.models import (
    DeadLetter,
    ErrorKind,
    Kind,
    Platform,
    Stage,
    TicketCommand,
)
from tests.integration.kafka_utils import read_topics

pytestmark = pytest.mark.integration


def test_crm_dead_letters_go_back_to_crm_commands_byte_for_byte(broker: EmbeddedBroker) -> None:
    command = TicketCommand(command_id="c-dlq", external_id="x:dlq", event_id="x:dlq-1",
                            brand="Croque", platform=Platform.x, kind=Kind.dm, title="t",
                            body="b", created_at=datetime(2026, 11, 14, tzinfo=UTC))
    raw = command.model_dump_json().encode()
    letters = [
        DeadLetter(stage=Stage.deliver, error_kind=ErrorKind.retriable,
                   error="CRM answered 503 eight times", raw=raw, key=b"x:dlq",
                   source_topic="crm.commands", partition=1, offset=7),
        DeadLetter(stage=Stage.deliver, error_kind=ErrorKind.bad_input,
                   error="unknown queue 'vip'", raw=raw, key=b"x:dlq",
                   source_topic="crm.commands", partition=1, offset=8),
    ]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    for letter in letters:
        producer.send("crm.deadletter", key=b"x:dlq", value=letter.model_dump_json().encode())
    producer.flush()
    producer.close()

    found = read_letters(broker.bootstrap, ["crm.deadletter"])
    assert summary(found) == {"crm.deadletter / deliver / retriable": 1,
                              "crm.deadletter / deliver / bad_input": 1}
    chosen = select(found, Stage.deliver, contains="503")
    assert len(chosen) == 1

    assert replay(broker.bootstrap, chosen) == {"crm.commands": 1}
    replayed = [r for r in read_topics(broker.bootstrap, ["crm.commands"])
                if dict(r.headers).get("pv-replayed-from")]
    assert [(r.key, r.value) for r in replayed] == [(b"x:dlq", raw)]
