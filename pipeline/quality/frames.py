"""What the quality suites look at: the columns of each topic, and records flattened to a table.

Records are read as plain JSON, not through the pydantic models: a model would reject a score of
2.0 before any expectation saw it, and the point of the gate is to say *which* expectation a
record breaks. Values are coerced per column (numbers, ISO 8601 times); a value that cannot be
coerced becomes missing, so the column's not-null expectation names it. This module imports
pandas but not great-expectations.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import pandas as pd
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.models import (
    Action,
    Intent,
    Kind,
    Lang,
    Platform,
    ProductArea,
    Sentiment,
    Urgency,
)
from schemas.topics import feedback_topic

ColumnKind = Literal["str", "float", "datetime"]

#: Column added to every frame: False when the record is not a JSON object at all.
JSON_OBJECT = "json_object"


def _values(enum: type[Any]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


class QualityConfig(BaseSettings):
    """Thresholds of the suites; environment variables ``PORTE_VOIX_QUALITY_<NAME>`` override.

    Distribution bounds are batch-level: a share outside its bounds fails the batch (a stuck
    classifier labels everything ``neutral``, a broken language detector says ``other``), but no
    single record is to blame, so none is quarantined for it.
    """

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_QUALITY_", extra="ignore")

    future_skew_seconds: float = Field(
        default=300.0, ge=0, description="How far past now a created_at may be (clock skew).")
    earliest_created_at: datetime = Field(
        default=datetime(2005, 1, 1, tzinfo=UTC),
        description="Older timestamps are parse errors or epoch zero, not history.")
    min_rows_for_distribution: int = Field(
        default=50, ge=1, description="Smaller batches skip the distribution bounds (noise).")
    lang_share: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {Lang.other.value: (0.0, 0.3)},
        description="Language -> (min, max) share of a batch.")
    sentiment_share: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {s.value: (0.0, 0.95) for s in Sentiment},
        description="Sentiment -> (min, max) share of a batch.")

    @field_validator("lang_share", "sentiment_share")
    @classmethod
    def _bounds(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for label, (low, high) in value.items():
            if not 0.0 <= low <= high <= 1.0:
                raise ValueError(f"share bounds of {label!r} must satisfy 0 <= min <= max <= 1")
        return value

    @field_validator("lang_share")
    @classmethod
    def _langs(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        unknown = set(value) - set(_values(Lang))
        if unknown:
            raise ValueError(f"unknown language(s) {sorted(unknown)}")
        return value

    @field_validator("sentiment_share")
    @classmethod
    def _sentiments(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        unknown = set(value) - set(_values(Sentiment))
        if unknown:
            raise ValueError(f"unknown sentiment(s) {sorted(unknown)}")
        return value

    def shares(self, column: str) -> dict[str, tuple[float, float]]:
        return {"lang": self.lang_share, "sentiment": self.sentiment_share}.get(column, {})


@dataclass(frozen=True)
class Column:
    """One flattened field: where it is in the record and what it must look like."""

    name: str
    path: tuple[str, ...]
    kind: ColumnKind = "str"
    required: bool = False
    enum: tuple[str, ...] | None = None
    bounds: tuple[float, float] | None = None
    pii_free: bool = False
    timestamp: bool = False


@dataclass(frozen=True)
class FrameSpec:
    """The columns of one topic, its per-batch unique key and its distribution columns."""

    suite: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    distribution: tuple[str, ...] = ()
    not_empty: tuple[str, ...] = field(default=())

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _enriched() -> FrameSpec:
    ev, en = ("event",), ("enrichment",)
    score = (0.0, 1.0)
    return FrameSpec(
        suite="social.enriched",
        key=("event_id", "raw_id"),
        not_empty=("event_id",),
        distribution=("lang", "sentiment"),
        columns=(
            Column("event_id", (*ev, "event_id"), required=True),
            Column("raw_id", (*ev, "raw_id")),
            Column("platform", (*ev, "platform"), required=True, enum=_values(Platform)),
            Column("kind", (*ev, "kind"), required=True, enum=_values(Kind)),
            Column("action", (*ev, "action"), required=True, enum=_values(Action)),
            Column("created_at", (*ev, "created_at"), "datetime", required=True, timestamp=True),
            Column("lang", (*en, "lang"), required=True, enum=_values(Lang)),
            Column("lang_confidence", (*en, "lang_confidence"), "float", bounds=score),
            Column("sentiment", (*en, "sentiment"), required=True, enum=_values(Sentiment)),
            Column("sentiment_score", (*en, "sentiment_score"), "float", required=True,
                   bounds=(-1.0, 1.0)),
            Column("sentiment_confidence", (*en, "sentiment_confidence"), "float", bounds=score),
            Column("intent", (*en, "intent"), required=True, enum=_values(Intent)),
            Column("intent_confidence", (*en, "intent_confidence"), "float", bounds=score),
            Column("product_area", (*en, "product_area"), required=True,
                   enum=_values(ProductArea)),
            Column("product_area_confidence", (*en, "product_area_confidence"), "float",
                   bounds=score),
            Column("urgency", (*en, "urgency"), required=True, enum=_values(Urgency)),
            Column("redacted_text", (*en, "redacted_text"), required=True, pii_free=True),
        ),
    )


def _feedback(area: str) -> FrameSpec:
    return FrameSpec(
        suite=feedback_topic(area),
        key=("feedback_id",),
        not_empty=("feedback_id",),
        distribution=("lang", "sentiment"),
        columns=(
            Column("feedback_id", ("feedback_id",), required=True),
            Column("event_id", ("event_id",), required=True),
            Column("platform", ("platform",), required=True, enum=_values(Platform)),
            # A feedback topic holds one area: anything else was routed to the wrong topic.
            Column("product_area", ("product_area",), required=True, enum=(area,)),
            Column("intent", ("intent",), required=True, enum=_values(Intent)),
            Column("sentiment", ("sentiment",), required=True, enum=_values(Sentiment)),
            Column("lang", ("lang",), required=True, enum=_values(Lang)),
            Column("rating", ("rating",), "float", bounds=(1.0, 5.0)),
            Column("created_at", ("created_at",), "datetime", required=True, timestamp=True),
            Column("redacted_text", ("redacted_text",), required=True, pii_free=True),
        ),
    )


def _commands() -> FrameSpec:
    return FrameSpec(
        suite="crm.commands",
        key=("command_id",),
        not_empty=("command_id",),
        columns=(
            Column("command_id", ("command_id",), required=True),
            Column("external_id", ("external_id",), required=True),
            Column("event_id", ("event_id",), required=True),
            Column("action", ("action",), required=True, enum=_values(Action)),
            Column("platform", ("platform",), required=True, enum=_values(Platform)),
            Column("kind", ("kind",), required=True, enum=_values(Kind)),
            Column("priority", ("priority",), "float", required=True, bounds=(1.0, 5.0)),
            Column("created_at", ("created_at",), "datetime", required=True, timestamp=True),
        ),
    )


FEEDBACK_PREFIX = "feedback."


def frame_spec(topic: str) -> FrameSpec:
    """The spec of a validated topic (a versioned replay topic uses its base topic's spec)."""
    if topic == "social.enriched" or topic.startswith("social.enriched."):
        return _enriched()
    if topic == "crm.commands" or topic.startswith("crm.commands."):
        return _commands()
    if topic.startswith(FEEDBACK_PREFIX):
        area = topic.removeprefix(FEEDBACK_PREFIX).split(".", 1)[0]
        if area in _values(ProductArea):
            return _feedback(area)
    raise KeyError(f"no quality suite for topic {topic!r}")


def validated_topics() -> list[str]:
    """Every declared topic that has a suite."""
    return ["social.enriched", *(feedback_topic(a) for a in ProductArea), "crm.commands"]


def share_column(column: str, value: str) -> str:
    """Name of the 0/1 indicator column whose mean is the share of ``value`` in ``column``."""
    return f"{column}_is_{value}"


@dataclass(frozen=True)
class Frame:
    """A batch as a table, plus the values as read (for readable failure details)."""

    data: pd.DataFrame
    originals: list[dict[str, Any]]


def _dig(obj: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    """Strings as they are; anything else as its JSON text, so it stays hashable and fails."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def flatten(spec: FrameSpec, records: Sequence[bytes], config: QualityConfig) -> Frame:
    """One row per record, one column per spec column, plus the share indicator columns."""
    parsed = [_parse(raw) for raw in records]
    originals = [{c.name: _dig(obj, c.path) for c in spec.columns} if obj is not None else {}
                 for obj in parsed]
    table: dict[str, Any] = {JSON_OBJECT: [obj is not None for obj in parsed]}
    for column in spec.columns:
        values = [row.get(column.name) for row in originals]
        if column.kind == "float":
            table[column.name] = pd.Series([_number(v) for v in values], dtype="float64")
        elif column.kind == "datetime":
            text = pd.Series([v if isinstance(v, str) else None for v in values], dtype="object")
            table[column.name] = pd.to_datetime(text, utc=True, errors="coerce",
                                                format="ISO8601")
        else:
            table[column.name] = pd.Series([_text(v) for v in values], dtype="object")
    data = pd.DataFrame(table, index=pd.RangeIndex(len(records)))
    for name in spec.distribution:
        for value in config.shares(name):
            data[share_column(name, value)] = (data[name] == value).astype("float64")
    return Frame(data=data, originals=originals)
