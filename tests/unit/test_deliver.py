"""Delivery policy: retriable errors are retried, bad input and exhaustion dead-letter."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from connectors.sinks.base import DeliveryError, TicketSink
from pipeline.deliver import RETRY_TOPICS, RetryPolicy, deliver_command, retry_state
from pipeline.records import Origin
from schemas.models import (
    DeadLetter,
    ErrorKind,
    Kind,
    Platform,
    Stage,
    TicketCommand,
    TicketOutcome,
    TicketResult,
)

CMD = TicketCommand(command_id="c1", external_id="facebook:t1", event_id="facebook:m1",
                    brand="Croque", platform=Platform.facebook, kind=Kind.dm, title="t",
                    body="b", created_at=datetime(2026, 11, 1, tzinfo=UTC))


class ScriptedSink(TicketSink):
    """Fails with the scripted errors first, then succeeds."""

    name = "scripted"

    @classmethod
    def from_config(cls, config: object, session: object = None) -> ScriptedSink:
        return cls([])

    def __init__(self, errors: list[DeliveryError]) -> None:
        self.errors = list(errors)
        self.calls = 0

    def deliver(self, cmd: TicketCommand) -> TicketResult:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return TicketResult(command_id=cmd.command_id, external_id=cmd.external_id,
                            event_id=cmd.event_id, target=self.name,
                            outcome=TicketOutcome.created, ticket_id="7")


async def _direct(fn: Callable[[], TicketResult]) -> TicketResult:
    return fn()


def _run(sink: TicketSink, raw: bytes = CMD.model_dump_json().encode(), attempts: int = 4,
         delays: tuple[float, ...] = (), level: int = 0, prior: int = 0):
    policy = RetryPolicy(in_place_attempts=attempts, backoff=0.001, backoff_max=0.01,
                         delays=delays)
    return asyncio.run(deliver_command(raw, Origin("crm.commands", 0, 5), sink, _direct,
                                       policy, level, prior))


def test_retriable_failures_are_retried_until_the_crm_accepts() -> None:
    sink = ScriptedSink([DeliveryError(ErrorKind.retriable, "503", status=503)] * 2)
    outputs = _run(sink)
    assert sink.calls == 3
    assert [o.topic for o in outputs] == ["crm.results"]
    result = TicketResult.model_validate_json(outputs[0].value)
    assert result.outcome is TicketOutcome.created
    assert result.attempts == 3


def test_exhausted_retries_give_a_dead_letter_and_a_failed_result() -> None:
    sink = ScriptedSink([DeliveryError(ErrorKind.retriable, "timeout")] * 10)
    outputs = _run(sink, attempts=3)
    assert sink.calls == 3
    letter = DeadLetter.model_validate_json(outputs[0].value)
    assert outputs[0].topic == "crm.deadletter"
    assert letter.stage is Stage.deliver and letter.error_kind is ErrorKind.retriable
    assert letter.offset == 5
    failed = TicketResult.model_validate_json(outputs[1].value)
    assert failed.outcome is TicketOutcome.failed and failed.attempts == 3


def test_bad_input_is_not_retried() -> None:
    sink = ScriptedSink([DeliveryError(ErrorKind.bad_input, "unknown queue", status=400)])
    outputs = _run(sink)
    assert sink.calls == 1
    assert DeadLetter.model_validate_json(outputs[0].value).error_kind is ErrorKind.bad_input


def test_fatal_errors_propagate_so_the_worker_stops_without_committing() -> None:
    sink = ScriptedSink([DeliveryError(ErrorKind.fatal, "401 bad token", status=401)])
    with pytest.raises(DeliveryError):
        _run(sink)


def test_a_record_that_is_not_a_command_is_dead_lettered_without_calling_the_crm() -> None:
    sink = ScriptedSink([])
    outputs = _run(sink, raw=b'{"nope": 1}')
    assert sink.calls == 0
    assert "TicketCommand" in DeadLetter.model_validate_json(outputs[0].value).error


def test_retry_after_is_honoured_as_a_minimum_wait() -> None:
    sink = ScriptedSink([DeliveryError(ErrorKind.retriable, "429", status=429, retry_after=0.3)])
    loop = asyncio.new_event_loop()
    try:
        t0 = loop.time()
        loop.run_until_complete(deliver_command(
            CMD.model_dump_json().encode(), Origin(), sink, _direct,
            RetryPolicy(in_place_attempts=3, backoff=0.001, backoff_max=5)))
        waited = loop.time() - t0
    finally:
        loop.close()
    assert waited >= 0.3


def test_a_crm_still_failing_moves_the_command_to_the_next_retry_topic() -> None:
    sink = ScriptedSink([DeliveryError(ErrorKind.retriable, "503", status=503)] * 10)
    [out] = _run(sink, attempts=2, delays=(10.0, 60.0), level=1, prior=2)
    assert out.topic == RETRY_TOPICS[1]
    assert out.key == CMD.external_id.encode()
    assert out.value == CMD.model_dump_json().encode()
    attempts, due = retry_state(out.headers)
    assert attempts == 4
    assert due is not None


def test_retry_after_longer_than_the_topic_delay_pushes_the_due_time() -> None:
    sink = ScriptedSink([DeliveryError(ErrorKind.retriable, "429", retry_after=3600)] * 10)
    [out] = _run(sink, attempts=1, delays=(10.0,))
    _, due = retry_state(out.headers)
    assert due is not None
    assert (due - datetime.now(UTC)).total_seconds() > 3000


def test_after_the_last_retry_topic_the_command_is_dead_lettered_with_every_attempt() -> None:
    sink = ScriptedSink([DeliveryError(ErrorKind.retriable, "503", status=503)] * 10)
    letter, result = _run(sink, attempts=2, delays=(10.0,), level=1, prior=5)
    assert letter.topic == "crm.deadletter"
    assert TicketResult.model_validate_json(result.value).attempts == 7


def test_a_retried_command_that_succeeds_reports_all_its_attempts() -> None:
    [out] = _run(ScriptedSink([]), level=2, prior=6)
    assert TicketResult.model_validate_json(out.value).attempts == 7
