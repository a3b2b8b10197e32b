"""Shared reading of platform payloads: JSON decoding, shape checks, timestamps, event building.

Every normalizer checks its payload against small pydantic models (``Shape`` subclasses) so a
missing or mistyped field becomes one ``BadInput`` naming the source and the field path, never a
``KeyError`` or ``TypeError`` escaping into the stream processor.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from pipeline.errors import BadInput
from schemas.models import Action, Author, Kind, Platform, RawEnvelope, SocialEvent

__all__ = [
    "EventDraft",
    "Shape",
    "as_utc",
    "epoch",
    "header",
    "html_to_text",
    "join_text",
    "parse_payload",
    "parse_time",
    "read_body",
    "read_shape",
    "require_mapping",
]

S = TypeVar("S", bound=BaseModel)

# Above this an epoch number can only be milliseconds (1e11 seconds is the year 5138).
_MS_THRESHOLD = 100_000_000_000

_DATETIME = TypeAdapter(datetime)


class Shape(BaseModel):
    """Base of payload shapes: unknown fields are ignored, numeric ids are read as strings.

    Platforms add fields all the time; only the fields we read are declared and checked.
    """

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, frozen=True)


def parse_payload(raw: bytes) -> object:
    """Decode payload bytes as UTF-8 JSON, with a reason a person can act on."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"payload is not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise BadInput("payload is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"payload is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def _loc(loc: tuple[int | str, ...], prefix: str) -> str:
    parts = [prefix] if prefix else []
    parts.extend(str(p) for p in loc)
    return ".".join(parts) or "<payload>"


def read_shape(model: type[S], data: object, source: str, where: str = "") -> S:
    """Validate ``data`` against ``model``; the first problem is a BadInput naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise BadInput(
            f"{source}: {_loc(first['loc'], where)}: {first['msg']}{more}"
        ) from None


def as_utc(value: datetime) -> datetime:
    """Timezone-aware UTC; naive values are taken as UTC (what the platforms mean by them)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def epoch(value: int | float | str, source: str, field: str) -> datetime:
    """Unix time in seconds or milliseconds (Meta mixes both) to UTC."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadInput(f"{source}: {field}: not a unix timestamp: {value!r}") from None
    if number > _MS_THRESHOLD:
        number /= 1000.0
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise BadInput(f"{source}: {field}: timestamp out of range: {value!r}") from None


def parse_time(value: str, source: str, field: str) -> datetime:
    """ISO 8601 text (RFC 3339 with up to nanoseconds) to UTC."""
    try:
        return as_utc(_DATETIME.validate_python(value))
    except ValidationError:
        raise BadInput(f"{source}: {field}: not an ISO 8601 date-time: {value!r}") from None


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"br", "p", "li", "blockquote"}:
            self.parts.append("\n")


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment (Discourse ``cooked``, YouTube ``textDisplay``)."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup (HTTP header names are case-insensitive)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def join_text(*parts: str | None) -> str:
    """Title and body as one text, skipping empty parts (reviews often have only one)."""
    return "\n".join(p.strip() for p in parts if p and p.strip())


class EventDraft:
    """Fields common to every event of one envelope, so each normalizer states only the rest."""

    def __init__(self, envelope: RawEnvelope) -> None:
        self.envelope = envelope

    def event(
        self,
        *,
        platform: Platform,
        kind: Kind,
        item_id: str,
        conversation_id: str,
        brand: str,
        created_at: datetime,
        action: Action = Action.created,
        parent_id: str | None = None,
        brand_account_id: str | None = None,
        author: Author | None = None,
        text: str = "",
        rating: int | None = None,
        url: str | None = None,
    ) -> SocialEvent:
        return SocialEvent(
            event_id=SocialEvent.make_event_id(platform, item_id),
            platform=platform,
            kind=kind,
            action=action,
            source=self.envelope.source,
            platform_item_id=item_id,
            conversation_id=conversation_id,
            parent_id=parent_id,
            brand=brand,
            brand_account_id=brand_account_id,
            author=author or Author(),
            text=text,
            rating=rating,
            created_at=as_utc(created_at),
            received_at=self.envelope.received_at,
            url=url,
            raw_id=self.envelope.raw_id,
        )


def read_body(envelope: RawEnvelope, source: str, what: str) -> dict[str, Any]:
    """The envelope's payload as a JSON object; decoding errors name the source too."""
    try:
        data = parse_payload(envelope.payload)
    except BadInput as exc:
        raise BadInput(f"{source}: {exc.message}") from None
    return require_mapping(data, source, what)


def require_mapping(data: object, source: str, what: str) -> dict[str, Any]:
    """The payload must be a JSON object before any shape can be read from it."""
    if not isinstance(data, dict):
        raise BadInput(f"{source}: {what} must be a JSON object, got {type(data).__name__}")
    return data
