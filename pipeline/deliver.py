"""Delivery of ticket commands to a CRM sink: retries, dead letters and the result loop-back.

The sink itself is idempotent against the target system (it looks the conversation and the
command up there), so redelivering a command after a crash or a rebalance is harmless. Here we
decide what each failure means: retriable errors are retried with exponential backoff and jitter
(honouring Retry-After), bad input and exhausted retries go to ``crm.deadletter`` with a
``failed`` result, fatal errors propagate so the worker stops without committing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from connectors.sinks.base import DeliveryError, TicketSink
from pipeline.errors import BadInput
from pipeline.records import Origin, Output, dead_letter
from schemas.models import ErrorKind, Stage, TicketCommand, TicketOutcome, TicketResult

log = logging.getLogger(__name__)

RESULTS_TOPIC = "crm.results"
DEADLETTER_TOPIC = "crm.deadletter"


def parse_command(raw: bytes) -> TicketCommand:
    try:
        return TicketCommand.model_validate_json(raw)
    except ValidationError as exc:
        raise BadInput(f"not a TicketCommand: {exc.errors()[0]['msg']}") from exc


def _is_retriable(exc: BaseException) -> bool:
    return isinstance(exc, DeliveryError) and exc.kind is ErrorKind.retriable


def _wait(base: float, cap: float) -> Callable[[RetryCallState], float]:
    backoff = wait_exponential_jitter(multiplier=base, max=cap, jitter=base)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = exc.retry_after if isinstance(exc, DeliveryError) else None
        return min(cap, max(after or 0.0, backoff(state)))

    return wait


async def deliver_command(
    raw: bytes,
    origin: Origin,
    sink: TicketSink,
    call: Callable[[Callable[[], TicketResult]], Awaitable[TicketResult]],
    max_attempts: int = 8,
    backoff: float = 0.5,
    backoff_max: float = 30.0,
) -> list[Output]:
    """Deliver one command; returns the result record (and a dead letter when it failed).

    ``call`` runs the blocking sink call (``asyncio.to_thread`` in the worker) so the event
    loop keeps heartbeating while a slow CRM answers.
    """
    try:
        cmd = parse_command(raw)
    except BadInput as exc:
        return [dead_letter(Stage.deliver, exc, raw, origin, topic=DEADLETTER_TOPIC)]
    attempts = 0
    try:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_is_retriable),
            stop=stop_after_attempt(max_attempts),
            wait=_wait(backoff, backoff_max),
            reraise=True,
        ):
            with attempt:
                attempts = attempt.retry_state.attempt_number
                result = await call(lambda: sink.deliver(cmd))
    except DeliveryError as exc:
        if exc.kind is ErrorKind.fatal:
            raise
        failed = TicketResult(
            command_id=cmd.command_id, external_id=cmd.external_id, event_id=cmd.event_id,
            target=sink.name, outcome=TicketOutcome.failed, attempts=attempts,
            error=f"{exc.kind.value}: {exc}"[:2000],
        )
        log.error("ticket command %s failed after %d attempt(s): %s", cmd.command_id,
                  attempts, exc)
        return [
            dead_letter(Stage.deliver, exc, raw, origin, topic=DEADLETTER_TOPIC),
            Output.of(RESULTS_TOPIC, cmd.external_id, failed, trace_id=cmd.event_id),
        ]
    if attempts > 1:
        result = result.model_copy(update={"attempts": attempts})
    return [Output.of(RESULTS_TOPIC, cmd.external_id, result, trace_id=cmd.event_id)]
