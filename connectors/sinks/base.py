"""What every CRM/helpdesk ticket sink is: a name, ``deliver(cmd) -> TicketResult``, ``close()``.

Failures are data: a sink raises :class:`DeliveryError` carrying an :class:`ErrorKind`, so the
delivery stage retries (retriable), dead-letters (bad_input) or stops (fatal) without knowing
which CRM answered. HTTP sinks sort responses with :func:`error_kind_for_status`, one table for all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any, ClassVar, Self

import requests
from pydantic_settings import BaseSettings

from connectors.http import parse_retry_after
from pipeline.errors import PipelineError
from schemas.models import ErrorKind, TicketCommand, TicketResult

__all__ = [
    "DeliveryError",
    "TicketSink",
    "error_kind_for_status",
    "parse_retry_after",
]


class DeliveryError(PipelineError):
    """A command could not be delivered; ``kind`` says whether trying again can help.

    ``body`` is the start of the CRM's answer (for the dead letter), ``retry_after`` the delay in
    seconds the CRM asked for (429/503 Retry-After), if any.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        status: int | None = None,
        body: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.body = body
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"DeliveryError(kind={self.kind.value!r}, message={self.message!r}, "
            f"status={self.status!r}, retry_after={self.retry_after!r})"
        )


# status -> kind; anything not listed falls back by class (5xx retriable, other 4xx bad input).
_STATUS_KINDS: dict[int, ErrorKind] = {
    400: ErrorKind.bad_input,
    401: ErrorKind.fatal,  # wrong or revoked token: an operator must fix the configuration
    403: ErrorKind.fatal,
    404: ErrorKind.fatal,  # on create or list: the base URL or API path is wrong
    405: ErrorKind.fatal,
    408: ErrorKind.retriable,
    409: ErrorKind.retriable,  # edit conflict: reading again and retrying resolves it
    413: ErrorKind.bad_input,
    422: ErrorKind.bad_input,
    425: ErrorKind.retriable,
    429: ErrorKind.retriable,
}


def error_kind_for_status(status: int) -> ErrorKind:
    """The one table from an HTTP error status to how the pipeline handles it."""
    if status in _STATUS_KINDS:
        return _STATUS_KINDS[status]
    if status >= 500:
        return ErrorKind.retriable
    return ErrorKind.bad_input


class Sink(ABC):
    """What every outbound sink shares: a name, settings, a shared session, ``close()``."""

    name: ClassVar[str]
    config_model: ClassVar[type[BaseSettings]]

    @classmethod
    @abstractmethod
    def from_config(cls, config: Any, session: requests.Session | None = None) -> Self:
        """Build the sink from its settings (``config_model``), sharing ``session`` if given."""

    def close(self) -> None:  # noqa: B027 - sinks without resources need no override
        """Release connections; the default has nothing to release."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class TicketSink(Sink):
    """A target system for tickets; ``deliver`` must be idempotent per ``command_id``.

    Commands are delivered at least once (a worker restarting replays uncommitted offsets), so a
    sink recognises a command it already wrote and answers ``unchanged`` instead of writing it
    twice.
    """

    @abstractmethod
    def deliver(self, cmd: TicketCommand) -> TicketResult:
        """Put the command's message into its conversation's ticket, or raise DeliveryError."""
