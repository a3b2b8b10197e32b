"""Poller cursors on the compacted topic ``connectors.cursors``: one CursorState per key.

The key is ``connector/account/stream``; the latest value per key is the resume point. A poller
reads the whole topic at start (``connectors.reading``: to the high watermark of the fetch
responses, never ListOffsets, which the embedded broker answers wrongly) and keeps the last
value of each key. A commit waits for the broker's acknowledgement (acks=all),
so a cursor is never ahead of what was stored.
"""

from __future__ import annotations

import logging
from types import TracebackType

from kafka import KafkaProducer
from kafka.errors import KafkaError
from pydantic import ValidationError

from connectors.reading import ReadTimeout, iter_from_start
from pipeline.errors import Retriable
from schemas.models import CursorState

__all__ = ["CURSOR_TOPIC", "KafkaCursorStore", "cursor_key"]

log = logging.getLogger(__name__)

CURSOR_TOPIC = "connectors.cursors"


def cursor_key(connector: str, account: str, stream: str) -> str:
    """The record key of a cursor (same as ``CursorState.key``)."""
    return f"{connector}/{account}/{stream}"


class KafkaCursorStore:
    """Read every cursor once at start, then write each commit through and wait for the ack."""

    def __init__(self, bootstrap: str | list[str], topic: str = CURSOR_TOPIC,
                 read_timeout: float = 30.0) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.read_timeout = read_timeout
        self._states: dict[str, CursorState] | None = None
        self._producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0,
                                       client_id="porte-voix-cursors")

    def read_all(self) -> dict[str, CursorState]:
        """Every cursor on the topic, last value per key (tombstones delete)."""
        states: dict[str, CursorState] = {}
        try:
            for batch in iter_from_start(self.bootstrap, [self.topic], timeout=self.read_timeout,
                                         strict=True, client_id="porte-voix-cursors-read"):
                for record in batch:
                    self._apply(states, record.key, record.value)
        except (LookupError, ReadTimeout, KafkaError) as exc:
            raise Retriable(f"reading {self.topic}: {exc}") from exc
        return states

    @staticmethod
    def _apply(states: dict[str, CursorState], key: bytes | None, value: bytes | None) -> None:
        name = key.decode("utf-8", "replace") if key else ""
        if value is None:
            states.pop(name, None)
            return
        try:
            state = CursorState.model_validate_json(value)
        except ValidationError as exc:
            log.warning("ignoring unreadable cursor %r: %s", name, exc.errors()[0]["msg"])
            return
        states[state.key] = state

    def get(self, connector: str, account: str, stream: str) -> CursorState | None:
        """The cursor of one stream (the topic is read on first use)."""
        if self._states is None:
            self._states = self.read_all()
        return self._states.get(cursor_key(connector, account, stream))

    def commit(self, state: CursorState, timeout: float = 30.0) -> None:
        """Store a cursor and wait for the broker to acknowledge it."""
        try:
            self._producer.send(self.topic, key=state.key.encode(),
                                value=state.model_dump_json().encode()).get(timeout=timeout)
        except KafkaError as exc:
            raise Retriable(f"cursor {state.key} not acknowledged: {exc}") from exc
        if self._states is None:
            self._states = {}
        self._states[state.key] = state

    def close(self) -> None:
        self._producer.close()

    def __enter__(self) -> KafkaCursorStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
