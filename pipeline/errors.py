"""Errors as data: every failure is sorted once as retriable, fatal or bad input.

Stages raise these; the thin shells (faust agents, HTTP handlers, CLI) decide what happens:
bad input goes to a dead-letter topic, retriable errors are retried with backoff, fatal ones stop
the component with a clear message.
"""

from __future__ import annotations

from schemas.models import ErrorKind


class PipelineError(Exception):
    """Base class carrying its handling kind."""

    kind: ErrorKind = ErrorKind.fatal

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInput(PipelineError):
    """The record itself is wrong (malformed JSON, missing field): retrying cannot help."""

    kind = ErrorKind.bad_input


class Retriable(PipelineError):
    """A dependency is briefly unavailable (timeouts, 5xx, 429): try again later."""

    kind = ErrorKind.retriable


class Fatal(PipelineError):
    """Configuration or credentials are wrong: stop and tell an operator."""

    kind = ErrorKind.fatal


def classify(exc: BaseException) -> ErrorKind:
    """Kind of any exception; unknown exceptions are treated as bad input of that record.

    An unexpected exception while processing one record most likely comes from that record's
    content; sending it to the dead-letter topic keeps the worker alive and the record replayable.
    """
    kind = getattr(exc, "kind", None)
    if isinstance(kind, ErrorKind):
        return kind
    return ErrorKind.bad_input
