"""Base types of inbound connectors and the one name-keyed registry.

A connector is a class with a ``name``, a pydantic ``Config`` (secrets as ``SecretStr`` read from
the environment) and ``read()`` yielding :class:`schemas.models.RawEnvelope` records. Everything
that lists, configures or tests connectors goes through :data:`REGISTRY`, so a connector that is
registered is also covered by the shared contract suite.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import ClassVar, Generic, TypeVar

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


REGISTRY: dict[str, type[Source[BaseModel]]] = {}

S = TypeVar("S", bound=type[Source])  # type: ignore[type-arg]


def register(cls: S) -> S:
    """Class decorator: add a connector to the registry under its unique ``name``."""
    name = cls.name
    if name in REGISTRY and REGISTRY[name] is not cls:
        raise ValueError(f"connector name {name!r} is already registered by {REGISTRY[name]}")
    REGISTRY[name] = cls
    return cls


def get_source(name: str) -> type[Source[BaseModel]]:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown connector {name!r}; registered: {sorted(REGISTRY)}") from None
