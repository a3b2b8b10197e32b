"""Running a poller: pages -> social.raw (acked) -> cursor commit -> health, in that order.

For each (account, stream) the runner reads the cursor, fetches pages newest first, keeps the
items the cursor has not stored (:mod:`.position`), sends them with acks=all and only then
commits the new position on ``connectors.cursors``. A crash between the ack and the commit
replays that page on restart, which collapses: same bytes, same ``raw_id``; same item, same
``event_id``.

Failures are sorted per stream: bad input (an unreadable page or item) is dead-lettered with the
page bytes and the stream stops for this run; retriable errors end the stream's run and are
retried by :meth:`PollRunner.run_forever` with exponential backoff and jitter (tenacity), never
sooner than a Retry-After; fatal errors (401/403) mark the account ``auth_failed``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from kafka.errors import KafkaError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_when_event_set,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from connectors.cursors import KafkaCursorStore
from connectors.health import HealthReporter, HealthTracker, page_dead_letter
from connectors.producer import RawProducer
from connectors.sources.pollers.base import Poller, PollerConfig, PollError, Stream
from connectors.sources.pollers.position import Position
from pipeline.errors import PipelineError, Retriable
from schemas.models import ConnectorHealth, ErrorKind, utcnow

__all__ = ["PollReport", "PollRunner", "StreamOutcome"]

log = logging.getLogger(__name__)

PageHook = Callable[[Stream, int], None]


@dataclass
class StreamOutcome:
    """What one run did on one stream."""

    stream: Stream
    pages: int = 0
    new_items: int = 0
    error: PollError | None = None
    degraded: str | None = None


@dataclass
class PollReport:
    """Outcome of one run over every stream of a poller, and the health records it wrote."""

    outcomes: list[StreamOutcome] = field(default_factory=list)
    health: list[ConnectorHealth] = field(default_factory=list)

    @property
    def new_items(self) -> int:
        return sum(o.new_items for o in self.outcomes)

    @property
    def errors(self) -> list[PollError]:
        return [o.error for o in self.outcomes if o.error is not None]

    @property
    def fatal(self) -> PollError | None:
        return next((e for e in self.errors if e.kind is ErrorKind.fatal), None)

    @property
    def retriable(self) -> PollError | None:
        return next((e for e in self.errors if e.kind is ErrorKind.retriable), None)

    @property
    def exit_code(self) -> int:
        """0 all good, 1 something to retry or dead-lettered, 2 an operator must act."""
        if self.fatal is not None:
            return 2
        return 1 if self.errors else 0


class _WaitRetryAfter(wait_base):
    """Exponential backoff with jitter, but never shorter than the platform's Retry-After."""

    def __init__(self, backoff: wait_base) -> None:
        self.backoff = backoff

    def __call__(self, retry_state: RetryCallState) -> float:
        delay = float(self.backoff(retry_state))
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        asked = getattr(exc, "retry_after", None)
        return max(delay, float(asked)) if asked else delay


def _retriable(exc: BaseException) -> bool:
    return isinstance(exc, PipelineError) and exc.kind is ErrorKind.retriable


class PollRunner:
    """One poller wired to the broker: raw producer, cursor store, health reporter."""

    def __init__(self, poller: Poller[Any], producer: RawProducer, cursors: KafkaCursorStore,
                 health: HealthReporter, *, on_page_stored: PageHook | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.poller = poller
        self.producer = producer
        self.cursors = cursors
        self.health = health
        self.on_page_stored = on_page_stored
        self.clock = clock
        config: PollerConfig = poller.config
        self._trackers = {
            account: HealthTracker(poller.name, account, failing_after=config.failing_after,
                                   token_warning=timedelta(hours=config.token_warning_hours),
                                   clock=clock)
            for account in config.accounts
        }

    # ---------------------------------------------------------------------- one run

    def run_once(self) -> PollReport:
        """Poll every stream once; report per stream, write one health record per account."""
        report = PollReport()
        by_account: dict[str, list[StreamOutcome]] = {}
        for stream in self.poller.streams():
            outcome = self.poll_stream(stream)
            report.outcomes.append(outcome)
            by_account.setdefault(stream.account, []).append(outcome)
        for account, outcomes in by_account.items():
            record = self._health(account, outcomes)
            self.health.report(record)
            report.health.append(record)
        return report

    def _health(self, account: str, outcomes: list[StreamOutcome]) -> ConnectorHealth:
        tracker = self._trackers.setdefault(account, HealthTracker(self.poller.name, account))
        errors = [o.error for o in outcomes if o.error is not None]
        if errors:
            worst = next((e for e in errors if e.auth), None) or next(
                (e for e in errors if e.kind is ErrorKind.fatal), errors[0])
            return tracker.failure(worst.kind, worst.message, auth=worst.auth)
        degraded = "; ".join(o.degraded for o in outcomes if o.degraded) or None
        return tracker.success(rate_limited=degraded,
                               token_expires_at=self.poller.token_expires_at(),
                               items=sum(o.new_items for o in outcomes))

    def poll_stream(self, stream: Stream) -> StreamOutcome:
        """Read one stream from its cursor until known items or ``max_pages``."""
        name = self.poller.name
        outcome = StreamOutcome(stream)
        try:
            pos = Position.from_state(self.cursors.get(name, stream.account, stream.name))
        except PollError as exc:
            outcome.error = exc
            return outcome
        except PipelineError as exc:
            outcome.error = PollError(exc.kind, exc.message)
            return outcome
        retention = self.poller.retention
        if retention is not None and pos.floor is not None and (
                self.clock() - pos.floor > retention):
            outcome.degraded = (f"{stream.name}: last stored item is older than the API keeps "
                                f"({retention.days} days): items in between may be missing")
        resuming = pos.in_run
        position = pos.next
        while outcome.pages < self.poller.config.max_pages:
            try:
                page = self.poller.fetch(stream, position)
            except PollError as exc:
                if resuming and exc.status == 400:
                    # A stored page token the API no longer honours: restart this run from the
                    # top; what is re-read collapses by raw_id and event_id.
                    log.warning("%s %s: stored position refused (%s); restarting the run",
                                name, stream.name, exc.message)
                    resuming, position = False, None
                    pos = replace(pos, next=None)
                    continue
                if exc.kind is ErrorKind.bad_input and exc.body:
                    self.health.dead_letter(page_dead_letter(name, exc.message, exc.body),
                                            key=f"{name}/{stream.account}/{stream.name}")
                outcome.error = exc
                if exc.rate_limited:
                    outcome.degraded = exc.message
                return outcome
            resuming = False
            outcome.pages += 1
            if page.rate_limited:
                outcome.degraded = page.rate_limited
            fresh, done = self._fresh_items(stream, page.items, pos)
            envelopes = [self.poller.envelope(stream, item) for item, _, _ in fresh]
            try:
                for _ in self.producer.send_all(envelopes):
                    pass  # each window is acknowledged by the broker before the next starts
            except KafkaError as exc:
                raise Retriable(f"{name} {stream.name}: raw events not acknowledged: {exc}"
                                ) from exc
            if self.on_page_stored is not None:
                self.on_page_stored(stream, outcome.pages)
            pos = pos.stored([(iid, when) for _, iid, when in fresh], page.next_position, done)
            self.cursors.commit(pos.to_state(name, stream.account, stream.name))
            outcome.new_items += len(fresh)
            if not pos.in_run:
                break
            position = pos.next
        return outcome

    def _fresh_items(self, stream: Stream, items: list[Any], pos: Position,
                     ) -> tuple[list[tuple[Any, str, datetime]], bool]:
        """Items of a page the cursor has not stored, and whether the listing reached it."""
        fresh: list[tuple[Any, str, datetime]] = []
        done = False
        for item in items:
            try:
                item_id, when = self.poller.item_id(item), self.poller.item_time(item)
            except (KeyError, TypeError, ValueError, PipelineError) as exc:
                detail = f"{stream.name}: item without a readable id or time: {exc!r}"
                self.health.dead_letter(
                    page_dead_letter(self.poller.name, detail, self.poller.item_bytes(item)),
                    key=f"{self.poller.name}/{stream.account}/{stream.name}")
                continue
            if pos.below_floor(when):
                done = True
            elif pos.is_new(when, item_id):
                fresh.append((item, item_id, when))
        return fresh, done

    # ------------------------------------------------------------------- forever

    def run_forever(self, interval: float, stop: threading.Event,
                    max_backoff: float = 900.0) -> int:
        """Poll every ``interval`` seconds until ``stop``; 2 when credentials are refused."""
        backoff = _WaitRetryAfter(wait_exponential_jitter(multiplier=min(interval, 5.0),
                                                          max=max(max_backoff, interval)))
        def pause(seconds: float) -> None:
            stop.wait(seconds)

        while not stop.is_set():
            report = PollReport()
            try:
                for attempt in Retrying(retry=retry_if_exception(_retriable), wait=backoff,
                                        stop=stop_when_event_set(stop), sleep=pause,
                                        reraise=True):
                    with attempt:
                        report = self.run_once()
                        if report.fatal is None and report.retriable is not None:
                            raise report.retriable
            except PipelineError as exc:
                if exc.kind is not ErrorKind.retriable:
                    raise
                return 1  # stop was requested while retrying
            if report.fatal is not None:
                log.error("%s: %s; fix the credentials and restart", self.poller.name,
                          report.fatal.message)
                return 2
            log.info("%s: %d new item(s)", self.poller.name, report.new_items)
            stop.wait(interval)
        return 0
