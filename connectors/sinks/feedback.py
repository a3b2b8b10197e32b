"""What every product-feedback sink is: ``deliver(FeedbackItem) -> TicketResult``, and its registry.

Product feedback (``feedback.<area>`` topics) goes to the product teams' tracker, not to support's
CRM, so it has its own sink kind and registry. The result reuses :class:`TicketResult` (the
issue key as ``ticket_id``, its page as ``ticket_url``) so dashboards read one shape. Failures are
:class:`~connectors.sinks.base.DeliveryError` with an ErrorKind, exactly as for ticket sinks, and
``deliver`` must be idempotent per ``feedback_id`` (items are delivered at least once).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any, ClassVar, TypeVar

import requests
from pydantic_settings import BaseSettings

from schemas.models import FeedbackItem, TicketResult

__all__ = [
    "FEEDBACK_SINKS",
    "FeedbackSink",
    "feedback_sink_class",
    "make_feedback_sink",
    "register_feedback_sink",
]


class FeedbackSink(ABC):
    """A product tracker; ``deliver`` files one item once (``unchanged`` when it already did)."""

    name: ClassVar[str]
    config_model: ClassVar[type[BaseSettings]]

    @classmethod
    @abstractmethod
    def from_config(cls, config: Any, session: requests.Session | None = None) -> FeedbackSink:
        """Build the sink from its settings (``config_model``), sharing ``session`` if given."""

    @abstractmethod
    def deliver(self, item: FeedbackItem) -> TicketResult:
        """File the item in the tracker, or raise DeliveryError."""

    def close(self) -> None:  # noqa: B027 - sinks without resources need no override
        """Release connections; the default has nothing to release."""

    def __enter__(self) -> FeedbackSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


FEEDBACK_SINKS: dict[str, type[FeedbackSink]] = {}

T = TypeVar("T", bound=type[FeedbackSink])


def register_feedback_sink(cls: T) -> T:
    """Class decorator: add a feedback sink under its unique ``name``."""
    if cls.name in FEEDBACK_SINKS and FEEDBACK_SINKS[cls.name] is not cls:
        raise ValueError(
            f"feedback sink {cls.name!r} is already registered by {FEEDBACK_SINKS[cls.name]}")
    FEEDBACK_SINKS[cls.name] = cls
    return cls


def feedback_sink_class(name: str) -> type[FeedbackSink]:
    import connectors.sinks  # noqa: F401  (importing the package registers every sink)

    try:
        return FEEDBACK_SINKS[name]
    except KeyError:
        raise KeyError(
            f"unknown feedback sink {name!r}; registered: {sorted(FEEDBACK_SINKS)}") from None


def make_feedback_sink(name: str, config: BaseSettings | None = None,
                       session: requests.Session | None = None) -> FeedbackSink:
    """Build the named feedback sink from its settings (read from the environment if not given)."""
    cls = feedback_sink_class(name)
    return cls.from_config(config or cls.config_model(), session=session)
