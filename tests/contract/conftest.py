"""Fixtures of the connector contract: broker clients per test, a permissive brand directory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from connectors.cursors import KafkaCursorStore
from connectors.health import HealthReporter
from connectors.producer import RawProducer
from infra.broker import EmbeddedBroker
from pipeline.normalize import BrandDirectory
from pipeline.normalize.brands import Brand


@dataclass
class BrokerIO:
    bootstrap: str
    producer: RawProducer
    health: HealthReporter

    def cursors(self) -> KafkaCursorStore:
        """A fresh store, as after a restart: it reads the topic again."""
        return KafkaCursorStore(self.bootstrap)


@pytest.fixture(scope="session")
def broker_io(broker: EmbeddedBroker) -> Iterator[BrokerIO]:
    with RawProducer(broker.bootstrap) as producer, HealthReporter(broker.bootstrap) as health:
        yield BrokerIO(broker.bootstrap, producer, health)


@pytest.fixture(scope="session")
def brands() -> BrandDirectory:
    """Every account of the tests belongs to one brand (accounts are random per test)."""
    return BrandDirectory(brands=[Brand(name="Nuvia Mobile")], default_brand="Nuvia Mobile")
