"""Base types of inbound connectors and the one name-keyed registry.

A connector is a class with a ``name`` and a pydantic ``Config`` (secrets as ``SecretStr`` read
from the environment), of one of two kinds:

- :class:`Source` (pull): ``read()`` yields :class:`schemas.models.RawEnvelope` records
  (backfill files, polled APIs);
- :class:`PushSource` (push): the platform calls us with signed webhook deliveries, and the
  connector checks a delivery's signature and turns its raw body into envelopes; the ingest
  server is only the HTTP shell around it.

Everything that lists, configures or tests connectors goes through :data:`REGISTRY`, so a
connector that is registered, of either kind, is also covered by the shared contract suite.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from schemas.models import RawEnvelope

C = TypeVar("C", bound=BaseModel)


class Source(ABC, Generic[C]):
    """An inbound connector: turns an outside source into raw envelopes, untouched."""

    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]

    def __init__(self, config: C) -> None:
        self.config = config

    @abstractmethod
    def read(self) -> Iterator[RawEnvelope]:
        """Yield every raw payload of this source, in order."""


@dataclass(frozen=True)
class Handshake:
    """The answer to a platform's subscription check (Meta's hub challenge, X's CRC).

    ``refusal`` is the reason counted and logged when ``status`` is not 200; ``body`` is then
    the detail shown to the caller.
    """

    status: int
    body: str
    content_type: str = "text/plain"
    refusal: str | None = None


class PushSource(ABC, Generic[C]):
    """An inbound connector the platform pushes to: signed deliveries into raw envelopes.

    Pure: no I/O, no clock. The HTTP shell reads the raw body, asks :meth:`check_signature`
    first and :meth:`envelopes` only for a delivery that passed, and produces the envelopes.
    """

    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    platform: ClassVar[str]  # route ``/webhooks/<platform>`` and label on the server's metrics
    signature_header: ClassVar[str]
    has_handshake: ClassVar[bool] = False

    def __init__(self, config: C) -> None:
        self.config = config

    @abstractmethod
    def check_signature(self, headers: Mapping[str, str], raw_body: bytes) -> str | None:
        """None when the delivery's signature header signs ``raw_body`` (checked in constant
        time, on the bytes as received), else why not: ``signature_missing``,
        ``signature_malformed`` or ``signature_invalid``."""

    def verify(self, headers: Mapping[str, str], raw_body: bytes) -> bool:
        """True only for a delivery signed with this connector's secret."""
        return self.check_signature(headers, raw_body) is None

    def handshake(self, query: Mapping[str, str]) -> Handshake:
        """Answer the platform's subscription check (only when ``has_handshake``)."""
        raise NotImplementedError(f"{self.name} has no verification handshake")

    @abstractmethod
    def envelopes(self, headers: Mapping[str, str], raw_body: bytes,
                  received_at: datetime) -> list[RawEnvelope]:
        """The raw envelopes of one delivery; [] when it carries nothing to store (a ping).

        Raises :class:`pipeline.errors.BadInput` for a body that cannot be a delivery of the
        platform. ``signature_verified`` on each envelope says whether :meth:`verify` passed.
        """


Connector = type[Source[Any]] | type[PushSource[Any]]

REGISTRY: dict[str, Connector] = {}

S = TypeVar("S", bound=Connector)


def register(cls: S) -> S:
    """Class decorator: add a connector to the registry under its unique ``name``."""
    name = cls.name
    if name in REGISTRY and REGISTRY[name] is not cls:
        raise ValueError(f"connector name {name!r} is already registered by {REGISTRY[name]}")
    REGISTRY[name] = cls
    return cls


def get_source(name: str) -> Connector:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown connector {name!r}; registered: {sorted(REGISTRY)}") from None


def push_sources() -> dict[str, type[PushSource[Any]]]:
    """The registered push connectors, by name."""
    return {name: cls for name, cls in REGISTRY.items() if issubclass(cls, PushSource)}
