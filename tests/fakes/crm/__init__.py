"""Local fakes of the CRMs' APIs, for the shared sink contract suite.

Each fake enforces its API's documented rules (auth, required fields, status codes, rate limits,
idempotency) and registers itself in :data:`FAKES` under the sink's registry name. A fake is a
real HTTP server on 127.0.0.1 and a free port.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from connectors.sinks.base import TicketSink


@dataclass
class FakeTicket:
    """What the fake CRM holds for one conversation, as a person would see it."""

    external_id: str
    messages: list[str] = field(default_factory=list)


class FakeCRM(Protocol):
    """What the contract suite needs from a fake CRM."""

    name: str
    supports_fault_injection: bool

    def start(self) -> object: ...

    def stop(self) -> None: ...

    def sink(self) -> TicketSink:
        """A sink configured against this fake with valid credentials."""

    def sink_with_bad_credentials(self) -> TicketSink: ...

    def tickets(self) -> list[FakeTicket]: ...

    def fail_next(self, count: int, status: int, headers: dict[str, str] | None = None,
                  body: str = "") -> None:
        """The next ``count`` API calls answer ``status`` with these headers and body."""


FAKES: dict[str, Callable[[], FakeCRM]] = {}


def register_fake(name: str) -> Callable[[Callable[[], FakeCRM]], Callable[[], FakeCRM]]:
    def decorate(factory: Callable[[], FakeCRM]) -> Callable[[], FakeCRM]:
        FAKES[name] = factory
        return factory

    return decorate
