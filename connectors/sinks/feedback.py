"""What every product-feedback sink is: ``deliver(FeedbackItem) -> TicketResult``, and its registry.

Product feedback (``feedback.<area>`` topics) goes to the product teams' tracker, not to support's
CRM, so it has its own sink kind and registry. The result reuses :class:`TicketResult` (the
issue key as ``ticket_id``, its page as ``ticket_url``) so dashboards read one shape. Failures are
:class:`~connectors.sinks.base.DeliveryError` with an ErrorKind, exactly as for ticket sinks, and
``deliver`` must be idempotent per ``feedback_id`` (items are delivered at least once).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TypeVar

import requests
from pydantic_settings import BaseSettings

from connectors.sinks.base import Sink
from schemas.models import FeedbackItem, TicketResult

__all__ = [
    "FEEDBACK_SINKS",
    "FeedbackSink",
    "feedback_sink_class",
    "make_feedback_sink",
    "register_feedback_sink",
]


class FeedbackSink(Sink):
    """A product tracker; ``deliver`` files one item once (``unchanged`` when it already did)."""

    @abstractmethod
    def deliver(self, item: FeedbackItem) -> TicketResult:
        """File the item in the tracker, or raise DeliveryError."""


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
