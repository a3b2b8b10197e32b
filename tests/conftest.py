"""Shared fixtures: a fresh embedded broker per test session, on a free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.broker import EmbeddedBroker
from infra.topics import ensure_topics


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """A real Tansu broker (memory storage) with every declared topic created."""
    log_path = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(log_path=log_path) as b:
        ensure_topics(b.bootstrap)
        yield b
