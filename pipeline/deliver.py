"""Delivery of ticket commands to a CRM sink: retries, dead letters and the result loop-back.

The sink itself is idempotent against the target system (it looks the conversation and the
command up there), so redelivering a command after a crash or a rebalance is harmless. Here we
decide what each failure means:

- retriable errors are retried a few times in place, with exponential backoff and jitter
  (honouring Retry-After); if the CRM is still failing, the command moves to the next retry
  topic (``crm.retry.1`` .. ``crm.retry.3``, growing delays) so a failing CRM does not hold
  up the other conversations of its partition;
- bad input, and retriable errors after the last retry topic, go to ``crm.deadletter`` with a
  ``failed`` result (``porte-voix dlq replay`` puts them back after a fix);
- fatal errors propagate so the worker stops without committing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from connectors.sinks.base import DeliveryError, TicketSink
from connectors.sinks.feedback import FeedbackSink
from pipeline.errors import BadInput
from pipeline.records import Origin, Output, dead_letter
from schemas.models import (
    ErrorKind,
    FeedbackItem,
    Stage,
    TicketCommand,
    TicketOutcome,
    TicketResult,
)

log = logging.getLogger(__name__)

RESULTS_TOPIC = "crm.results"
DEADLETTER_TOPIC = "crm.deadletter"
RETRY_TOPICS = ("crm.retry.1", "crm.retry.2", "crm.retry.3")
ATTEMPTS_HEADER = "pv-attempts"
DUE_HEADER = "pv-due-at"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: in-place attempts, their backoff, then one delay per retry topic."""

    in_place_attempts: int = 3
    backoff: float = 0.5
    backoff_max: float = 30.0
    delays: tuple[float, ...] = (10.0, 60.0, 300.0)

    def __post_init__(self) -> None:
        if len(self.delays) > len(RETRY_TOPICS):
            raise ValueError(f"at most {len(RETRY_TOPICS)} retry delays (one per retry topic)")


def retry_state(headers: list[tuple[str, bytes]] | None) -> tuple[int, datetime | None]:
    """(attempts so far, due time) carried by a record of a retry topic."""
    values = dict(headers or [])
    attempts = int(values.get(ATTEMPTS_HEADER, b"0") or 0)
    due = values.get(DUE_HEADER)
    return attempts, datetime.fromisoformat(due.decode()) if due else None


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


@dataclass(frozen=True)
class Job:
    """One thing to deliver, whatever the sink: its ids and the blocking call that does it."""

    command_id: str
    external_id: str
    event_id: str
    target: str
    send: Callable[[], TicketResult]


async def deliver_command(
    raw: bytes,
    origin: Origin,
    sink: TicketSink,
    call: Callable[[Callable[[], TicketResult]], Awaitable[TicketResult]],
    policy: RetryPolicy = RetryPolicy(),
    level: int = 0,
    prior_attempts: int = 0,
) -> list[Output]:
    """Deliver one ticket command; returns its result, or its next retry, or its dead letter.

    ``level`` is how many retry topics the command has been through. ``call`` runs the
    blocking sink call (``asyncio.to_thread`` in the worker) so the event loop keeps
    heartbeating while a slow CRM answers.
    """
    try:
        cmd = parse_command(raw)
    except BadInput as exc:
        return [dead_letter(Stage.deliver, exc, raw, origin, topic=DEADLETTER_TOPIC)]
    job = Job(cmd.command_id, cmd.external_id, cmd.event_id, sink.name,
              lambda: sink.deliver(cmd))
    return await run_job(job, raw, origin, call, policy, level, prior_attempts)


async def deliver_feedback(
    raw: bytes,
    origin: Origin,
    sink: FeedbackSink,
    call: Callable[[Callable[[], TicketResult]], Awaitable[TicketResult]],
    policy: RetryPolicy = RetryPolicy(delays=()),
) -> list[Output]:
    """File one feedback item in a product tracker (Jira); failures end in crm.deadletter."""
    try:
        item = FeedbackItem.model_validate_json(raw)
    except ValidationError as exc:
        bad = BadInput(f"not a FeedbackItem: {exc.errors()[0]['msg']}")
        return [dead_letter(Stage.deliver, bad, raw, origin, topic=DEADLETTER_TOPIC)]
    job = Job(item.feedback_id, f"feedback:{item.feedback_id}", item.event_id, sink.name,
              lambda: sink.deliver(item))
    return await run_job(job, raw, origin, call, policy, level=len(policy.delays))


async def run_job(job: Job, raw: bytes, origin: Origin,
                  call: Callable[[Callable[[], TicketResult]], Awaitable[TicketResult]],
                  policy: RetryPolicy, level: int = 0, prior_attempts: int = 0) -> list[Output]:
    """Try in place, then hand over to the next retry topic, then dead-letter."""
    attempts = 0
    try:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_is_retriable),
            stop=stop_after_attempt(policy.in_place_attempts),
            wait=_wait(policy.backoff, policy.backoff_max),
            reraise=True,
        ):
            with attempt:
                attempts = attempt.retry_state.attempt_number
                result = await call(job.send)
    except DeliveryError as exc:
        if exc.kind is ErrorKind.fatal:
            raise
        attempts += prior_attempts
        if exc.kind is ErrorKind.retriable and level < len(policy.delays):
            delay = max(policy.delays[level], exc.retry_after or 0.0)
            due = datetime.now(UTC) + timedelta(seconds=delay)
            log.warning("%s: %s still failing after %d attempt(s) (%s); retrying in %.0fs "
                        "via %s", job.command_id, job.target, attempts, exc, delay,
                        RETRY_TOPICS[level])
            return [Output(RETRY_TOPICS[level], job.external_id.encode(), raw, [
                (ATTEMPTS_HEADER, str(attempts).encode()),
                (DUE_HEADER, due.isoformat().encode()),
                ("trace_id", job.event_id.encode()),
            ])]
        failed = TicketResult(
            command_id=job.command_id, external_id=job.external_id, event_id=job.event_id,
            target=job.target, outcome=TicketOutcome.failed, attempts=attempts,
            error=f"{exc.kind.value}: {exc}"[:2000],
        )
        log.error("%s to %s failed after %d attempt(s): %s", job.command_id, job.target,
                  attempts, exc)
        return [
            dead_letter(Stage.deliver, exc, raw, origin, topic=DEADLETTER_TOPIC),
            Output.of(RESULTS_TOPIC, job.external_id, failed, trace_id=job.event_id),
        ]
    attempts += prior_attempts
    if attempts > 1:
        result = result.model_copy(update={"attempts": attempts})
    return [Output.of(RESULTS_TOPIC, job.external_id, result, trace_id=job.event_id)]
