"""Records the stages exchange: an output to produce, where an input came from, dead letters.

Kept apart from the stages so that sinks and tools can build dead letters without loading the
enrichment models.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from pipeline.errors import BadInput, classify
from schemas.models import DeadLetter, ErrorKind, Stage

log = logging.getLogger(__name__)

DEADLETTER_TOPIC = "social.deadletter"


@dataclass(frozen=True)
class Output:
    """One record to produce: the shells send these and only then commit their input."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    @classmethod
    def of(cls, topic: str, key: str | bytes | None, model: BaseModel,
           trace_id: str | None = None, event_time: str | None = None) -> Output:
        """Serialize a model with the headers data teams join and order on."""
        version = getattr(model, "schema_version", "")
        headers = [("schema_version", str(version).encode()),
                   ("value_model", type(model).__name__.encode())]
        if trace_id:
            headers.append(("trace_id", trace_id.encode()))
        if event_time:
            headers.append(("event_time", event_time.encode()))
        raw_key = key.encode() if isinstance(key, str) else key
        return cls(topic, raw_key, model.model_dump_json().encode(), headers)


@dataclass(frozen=True)
class Origin:
    """Where an input record came from, recorded on its dead letter."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: bytes | None = None


def dead_letter(stage: Stage, exc: BaseException, raw: bytes, origin: Origin,
                topic: str = DEADLETTER_TOPIC) -> Output:
    """A typed dead letter that keeps the raw bytes and says clearly what was wrong."""
    reason = exc.message if isinstance(exc, BadInput) else describe(exc)
    letter = DeadLetter(
        stage=stage,
        error_kind=classify(exc),
        error=reason,
        exception=type(exc).__name__,
        raw=raw,
        key=origin.key,
        source_topic=origin.topic,
        partition=origin.partition,
        offset=origin.offset,
    )
    log.warning("dead letter at %s (%s:%s@%s): %s", stage.value, origin.topic,
                origin.partition, origin.offset, reason)
    return Output.of(topic, origin.key, letter)


def describe(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "value"
        return f"{exc.title}: {where}: {first['msg']} ({exc.error_count()} error(s))"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def guarded(stage: Stage, fn: Callable[[bytes], list[Output]], raw: bytes,
            origin: Origin) -> list[Output]:
    """Run one record through a stage; bad input becomes a dead letter, the rest propagates."""
    try:
        return fn(raw)
    except Exception as exc:
        if classify(exc) is not ErrorKind.bad_input:
            raise
        return [dead_letter(stage, exc, raw, origin)]


