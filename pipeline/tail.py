"""``porte-voix tail TOPIC``: read a topic as a person would, one readable record at a time.

Each record shows where it is (partition, offset), its key, timestamp and headers, and its value
parsed with the topic's value model, so a record that breaks the contract stands out. Filters on
dotted fields (``enrichment.lang=fr``) narrow a busy topic down.

The tail never joins a consumer group (it assigns every partition itself and commits nothing),
so it cannot steal partitions from the pipeline's workers.

Limit of the embedded broker: ListOffsets LATEST answers "start of the last batch + 1" instead of
the end of the log, so ``seek_to_end`` can land inside the last batch written before the tail
started. Without ``--from-beginning`` the tail therefore also drops, per partition, the records
whose timestamp is older than the moment it started, until that partition shows a newer one. A
record produced after the start but stamped earlier (a producer clock behind the tail's, or an
explicit timestamp) can be missed that way; ``--from-beginning`` shows everything.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from pydantic import BaseModel, ValidationError

from pipeline.records import describe
from schemas.catalog import field_rows
from schemas.export import topic_schema
from schemas.topics import TOPICS, TopicSpec

__all__ = ["Filter", "matches", "parse_filters", "tail"]

try:  # rich comes with typer; plain text is the fallback
    from rich.console import Console
    from rich.markup import escape

    HAVE_RICH = True
except ImportError:  # pragma: no cover - rich is installed with the CLI
    HAVE_RICH = False


@dataclass(frozen=True)
class Filter:
    """``FIELD=VALUE`` on a dotted field; lists match when any element does."""

    path: tuple[str, ...]
    value: str

    def __str__(self) -> str:
        return f"{'.'.join(self.path)}={self.value}"


def parse_filters(filters: Iterable[str], spec: TopicSpec | None = None) -> list[Filter]:
    """Parse ``FIELD=VALUE`` filters; with ``spec``, reject fields its model does not have."""
    known: set[str] = set()
    maps: set[str] = set()
    if spec is not None:
        for row in field_rows(topic_schema(spec)):
            path = row.path.replace("[]", "")
            known.add(path)
            if row.type.startswith("map of"):
                maps.add(path)
    parsed = []
    for text in filters:
        field, sep, value = text.partition("=")
        field = field.strip()
        if not sep or not field:
            raise ValueError(f"filter {text!r} is not FIELD=VALUE")
        if spec is not None and field not in known \
                and not any(field.startswith(f"{m}.") for m in maps):
            close = sorted(k for k in known if k.split(".")[-1] == field.split(".")[-1])
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"{spec.value_model.__name__} has no field {field!r}{hint}")
        parsed.append(Filter(tuple(field.split(".")), value))
    return parsed


def _lookup(value: Any, path: tuple[str, ...]) -> list[Any]:
    if not path:
        return [value]
    if isinstance(value, list):
        return [found for item in value for found in _lookup(item, path)]
    if isinstance(value, dict) and path[0] in value:
        return _lookup(value[path[0]], path[1:])
    return []


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def matches(data: Any, filters: Iterable[Filter]) -> bool:
    """Whether a parsed value passes every filter (compared as text: ``null``, ``true``, ``3``)."""
    for condition in filters:
        found = _lookup(data, condition.path)
        flat = [v for item in found for v in (item if isinstance(item, list) else [item])]
        if not any(_as_text(v) == condition.value for v in flat):
            return False
    return True


@dataclass
class _Parsed:
    data: Any
    model: BaseModel | None
    problem: str | None


def _parse(value: bytes | None, model: type[BaseModel]) -> _Parsed:
    if value is None:
        return _Parsed(None, None, "tombstone (no value)")
    try:
        data = json.loads(value)
    except ValueError as exc:
        return _Parsed(None, None, f"not JSON: {exc}")
    try:
        record = model.model_validate_json(value)
    except ValidationError as exc:
        return _Parsed(data, None, f"not a valid {model.__name__}: {describe(exc)}")
    return _Parsed(json.loads(record.model_dump_json()), record, None)


def _text(raw: bytes | None) -> str:
    return "" if raw is None else raw.decode("utf-8", errors="replace")


class _Printer:
    """Writes records with rich when available, as plain text otherwise."""

    def __init__(self, raw: bool) -> None:
        self.raw = raw
        self.console = Console(soft_wrap=True, highlight=False) if HAVE_RICH else None

    def record(self, rec: ConsumerRecord, parsed: _Parsed) -> None:
        if self.raw:
            sys.stdout.write(_text(rec.value) + "\n")
            sys.stdout.flush()
            return
        stamp = datetime.fromtimestamp(rec.timestamp / 1000, UTC).isoformat(timespec="milliseconds")
        headers = "  ".join(f"{k}={_text(v)}" for k, v in rec.headers or [])
        where = f"{rec.topic}[{rec.partition}]@{rec.offset}"
        body = json.dumps(parsed.data, indent=2, ensure_ascii=False) \
            if parsed.data is not None else _text(rec.value)
        if self.console is None:
            print(f"{where}  key={_text(rec.key)}  {stamp}\n  {headers}")
            if parsed.problem:
                print(f"  ! {parsed.problem}")
            print(body, flush=True)
            return
        self.console.print(f"[bold cyan]{escape(where)}[/]  key=[bold]{escape(_text(rec.key))}"
                           f"[/]  [dim]{stamp}[/]")
        if headers:
            self.console.print(f"  [dim]{escape(headers)}[/]")
        if parsed.problem:
            self.console.print(f"  [bold red]! {escape(parsed.problem)}[/]")
        if parsed.data is not None:
            self.console.print_json(body)
        else:
            self.console.print(escape(body))


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def tail(bootstrap: list[str], topic: str, from_beginning: bool, filters: list[str],
         max_records: int | None, raw: bool, *, idle_seconds: float | None = None) -> int:
    """Print the records of ``topic`` until ``max_records`` matched, Ctrl-C or idle time.

    Returns 0 when done, 1 when the broker has no such topic, 2 for a bad topic or filter.
    ``idle_seconds`` stops after that long without a new record (scripts and tests).
    """
    spec = TOPICS.get(topic)
    if spec is None:
        _error(f"unknown topic {topic!r}; declared: {', '.join(sorted(TOPICS))}")
        return 2
    try:
        conditions = parse_filters(filters, spec)
    except ValueError as exc:
        _error(str(exc))
        return 2
    started_ms = int(time.time() * 1000)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False, client_id="porte-voix-tail")
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            _error(f"topic {topic!r} does not exist on {','.join(bootstrap)}: "
                   "run `porte-voix topics create`")
            return 1
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        if from_beginning:
            consumer.seek_to_beginning(*assigned)
        else:
            consumer.seek_to_end(*assigned)
        for tp in assigned:
            consumer.position(tp)  # resolve the offsets now, so "waiting" means waiting
        where = "the beginning" if from_beginning else "new records"
        shown = ", ".join(str(c) for c in conditions)
        print(f"tailing {topic} ({len(assigned)} partitions) from {where}"
              + (f", where {shown}" if shown else "") + "; Ctrl-C stops", file=sys.stderr)
        return _loop(consumer, spec, conditions, max_records, raw, idle_seconds,
                     None if from_beginning else started_ms)
    except KeyboardInterrupt:
        return 0
    finally:
        consumer.close()


def _loop(consumer: KafkaConsumer, spec: TopicSpec, conditions: list[Filter],
          max_records: int | None, raw: bool, idle_seconds: float | None,
          started_ms: int | None) -> int:
    printer = _Printer(raw)
    caught_up: set[int] = set()
    shown = 0
    last_new = time.monotonic()
    while max_records is None or shown < max_records:
        batch = consumer.poll(timeout_ms=500)
        records = [r for part in batch.values() for r in part]
        if records:
            last_new = time.monotonic()
        elif idle_seconds is not None and time.monotonic() - last_new > idle_seconds:
            break
        for rec in records:
            if started_ms is not None and rec.partition not in caught_up:
                if rec.timestamp < started_ms:  # written before the tail started
                    continue
                caught_up.add(rec.partition)
            parsed = _parse(rec.value, spec.value_model)
            if conditions and not matches(parsed.data, conditions):
                continue
            printer.record(rec, parsed)
            shown += 1
            if max_records is not None and shown >= max_records:
                break
    return 0
