"""Synchronous raw-event producer (kafka-python, acks=all) shared by every inbound connector.

A connector reports success (an HTTP 200, an advanced cursor, a progress tick) only after the
broker has acknowledged the record, so nothing is acknowledged upstream that we did not store.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from types import TracebackType

from kafka import KafkaProducer
from kafka.producer.future import FutureRecordMetadata

from schemas.models import RawEnvelope

RAW_TOPIC = "social.raw"


class RawProducer:
    """Writes envelopes to ``social.raw`` keyed by ``raw_id`` and waits for acknowledgements."""

    def __init__(self, bootstrap: str | list[str], topic: str = RAW_TOPIC,
                 max_in_flight: int = 1000, **kafka_config: object) -> None:
        self.topic = topic
        self.max_in_flight = max_in_flight
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            linger_ms=5,
            client_id="porte-voix-connector",
            **kafka_config,
        )

    def send(self, envelope: RawEnvelope) -> FutureRecordMetadata:
        headers = [("schema_version", envelope.schema_version.encode()),
                   ("source", envelope.source.encode()),
                   ("trace_id", envelope.raw_id.encode()),
                   ("event_time", envelope.received_at.isoformat().encode())]
        return self._producer.send(self.topic, key=envelope.raw_id.encode(),
                                   value=envelope.model_dump_json().encode(), headers=headers)

    def send_and_wait(self, envelope: RawEnvelope, timeout: float = 30.0) -> None:
        """Send one envelope and block until the broker acknowledged it (raises otherwise)."""
        self.send(envelope).get(timeout=timeout)

    def send_all(self, envelopes: Iterable[RawEnvelope], timeout: float = 60.0) -> Iterator[int]:
        """Send many, yielding how many more were acknowledged each time a window completes."""
        pending: list[FutureRecordMetadata] = []
        for envelope in envelopes:
            pending.append(self.send(envelope))
            if len(pending) >= self.max_in_flight:
                yield self._settle(pending, timeout)
        if pending:
            yield self._settle(pending, timeout)

    def _settle(self, pending: list[FutureRecordMetadata], timeout: float) -> int:
        self._producer.flush(timeout)
        for future in pending:
            future.get(timeout=timeout)  # raises if the broker refused the record
        count = len(pending)
        pending.clear()
        return count

    def close(self) -> None:
        self._producer.close()

    def __enter__(self) -> RawProducer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
