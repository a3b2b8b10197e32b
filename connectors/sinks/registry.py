"""The one name-keyed registry of CRM / helpdesk ticket sinks.

Each sink class declares a ``config_model`` (pydantic-settings, secrets as ``SecretStr``, env
prefix ``PORTE_VOIX_<NAME>_``) and builds itself from it with ``from_config``. The worker picks
its sink by name (``PORTE_VOIX_CRM_SINK``), and the shared contract suite runs over every
registered sink, so a sink that is registered is also tested.
"""

from __future__ import annotations

from typing import TypeVar

import requests
from pydantic_settings import BaseSettings

from connectors.sinks.base import TicketSink

SINKS: dict[str, type[TicketSink]] = {}

T = TypeVar("T", bound=type[TicketSink])


def register_sink(cls: T) -> T:
    """Class decorator: add a sink under its unique ``name``."""
    if cls.name in SINKS and SINKS[cls.name] is not cls:
        raise ValueError(f"sink name {cls.name!r} is already registered by {SINKS[cls.name]}")
    SINKS[cls.name] = cls
    return cls


def _load_all() -> None:
    import connectors.sinks  # noqa: F401  (importing the package registers every sink)


def sink_class(name: str) -> type[TicketSink]:
    _load_all()
    try:
        return SINKS[name]
    except KeyError:
        raise KeyError(f"unknown CRM sink {name!r}; registered: {sorted(SINKS)}") from None


def make_sink(name: str, config: BaseSettings | None = None,
              session: requests.Session | None = None) -> TicketSink:
    """Build the named sink from its settings (read from the environment when not given)."""
    cls = sink_class(name)
    return cls.from_config(config or cls.config_model(), session=session)
