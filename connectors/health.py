"""Connector health: what the dashboard shows about each (connector, account).

:class:`HealthTracker` is the pure state machine (no I/O): it turns the outcome of each poll into
a :class:`ConnectorHealth` record. :class:`HealthReporter` writes those records to the compacted
topic ``connectors.health`` and waits for the ack, and also writes dead letters of pages that
could not be read, so bad input is visible to operators instead of silently skipped.

Status rules, first match wins: a 401/403 is ``auth_failed``; ``failing_after`` consecutive
errors is ``failing``; any other error or a rate limit met during a poll is ``degraded``; a token
that expires within the warning window is ``token_expiring``; otherwise ``ok``. Every record
carries ``last_success_at`` once a poll succeeded.

Records are keyed ``connector/account`` (``connector`` alone without an account), so a
connector polling several accounts keeps one status per account after compaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Literal

from kafka import KafkaProducer
from kafka.errors import KafkaError

from pipeline.errors import Retriable
from schemas.models import ConnectorHealth, DeadLetter, ErrorKind, Stage, utcnow

__all__ = ["DEADLETTER_TOPIC", "HEALTH_TOPIC", "HealthReporter", "HealthTracker", "Status"]

HEALTH_TOPIC = "connectors.health"
DEADLETTER_TOPIC = "social.deadletter"

Status = Literal["ok", "degraded", "auth_failed", "token_expiring", "failing"]


class HealthTracker:
    """Status of one (connector, account) from the outcomes of its polls."""

    def __init__(self, connector: str, account: str | None, *, failing_after: int = 3,
                 token_warning: timedelta = timedelta(hours=24),
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.connector = connector
        self.account = account
        self.failing_after = failing_after
        self.token_warning = token_warning
        self.clock = clock
        self.consecutive_errors = 0
        self.last_success_at: datetime | None = None

    def _record(self, status: Status, detail: str) -> ConnectorHealth:
        return ConnectorHealth(connector=self.connector, account=self.account, status=status,
                               detail=detail[:500], last_success_at=self.last_success_at,
                               at=self.clock())

    def success(self, *, rate_limited: str | None = None,
                token_expires_at: datetime | None = None, items: int = 0) -> ConnectorHealth:
        """A poll went through (maybe after waiting out rate limits)."""
        now = self.clock()
        self.consecutive_errors = 0
        self.last_success_at = now
        if rate_limited:
            return self._record("degraded", f"rate limited: {rate_limited}")
        if token_expires_at is not None and token_expires_at - now <= self.token_warning:
            return self._record("token_expiring",
                                f"token expires at {token_expires_at.isoformat()}")
        return self._record("ok", f"{items} new item(s)")

    def failure(self, kind: ErrorKind, detail: str, *, auth: bool = False) -> ConnectorHealth:
        """A poll failed; ``auth`` marks a refused credential (401/403, revoked token)."""
        self.consecutive_errors += 1
        if auth:
            return self._record("auth_failed", detail)
        if self.consecutive_errors >= self.failing_after:
            return self._record("failing",
                                f"{self.consecutive_errors} consecutive errors; last: {detail}")
        return self._record("degraded", f"{kind.value}: {detail}")


class HealthReporter:
    """Writes health records and page dead letters, each acknowledged by the broker."""

    def __init__(self, bootstrap: str | list[str], topic: str = HEALTH_TOPIC,
                 deadletter_topic: str = DEADLETTER_TOPIC) -> None:
        self.topic = topic
        self.deadletter_topic = deadletter_topic
        self._producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0,
                                       client_id="porte-voix-health")

    @staticmethod
    def key(record: ConnectorHealth) -> str:
        return f"{record.connector}/{record.account}" if record.account else record.connector

    def report(self, record: ConnectorHealth, timeout: float = 30.0) -> None:
        self._send(self.topic, self.key(record), record.model_dump_json().encode(), timeout)

    def dead_letter(self, letter: DeadLetter, key: str, timeout: float = 30.0) -> None:
        self._send(self.deadletter_topic, key, letter.model_dump_json().encode(), timeout)

    def _send(self, topic: str, key: str, value: bytes, timeout: float) -> None:
        try:
            self._producer.send(topic, key=key.encode(), value=value).get(timeout=timeout)
        except KafkaError as exc:
            raise Retriable(f"{topic} record {key} not acknowledged: {exc}") from exc

    def close(self) -> None:
        self._producer.close()

    def __enter__(self) -> HealthReporter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def page_dead_letter(connector: str, detail: str, body: bytes, attempts: int = 1) -> DeadLetter:
    """A page (or item) that could not be read, kept whole for a later replay."""
    return DeadLetter(stage=Stage.ingest, error_kind=ErrorKind.bad_input,
                      error=f"{connector}: {detail}", exception="BadInput", raw=body,
                      attempts=attempts)
